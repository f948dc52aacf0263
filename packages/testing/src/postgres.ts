import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { dockerLikelyAvailable } from './docker.js';
import { readMigrations } from './migrations.js';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

let serverUrlPromise: Promise<string> | undefined;

/** The Postgres server for tests: DATABASE_URL when set, else a testcontainers Postgres when Docker answers. */
function postgresServerUrl(): Promise<string> {
  serverUrlPromise ??= (async () => {
    if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
    if (!dockerLikelyAvailable()) {
      throw new Error('Set DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres) or make a Docker engine reachable for testcontainers.');
    }
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:15-alpine').start();
    return container.getConnectionUri();
  })();
  return serverUrlPromise;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the migrated template once per migration set; parallel test files race on an advisory lock. */
async function ensureTemplate(serverUrl: string): Promise<string> {
  const { sql, hash } = readMigrations();
  const template = `renotify_template_${hash}`;
  await withAdmin(serverUrl, async (admin) => {
    await admin.query('SELECT pg_advisory_lock(727274)');
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
      if (exists.rowCount) return;
      const building = `${template}_building`;
      await admin.query(`DROP DATABASE IF EXISTS "${building}"`);
      await admin.query(`CREATE DATABASE "${building}"`);
      const client = new pg.Client({ connectionString: withDatabase(serverUrl, building) });
      await client.connect();
      try {
        for (const migration of sql) await client.query(migration);
      } finally {
        await client.end();
      }
      await admin.query(`ALTER DATABASE "${building}" RENAME TO "${template}"`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock(727274)');
    }
  });
  return template;
}

/** A fresh, migrated database of its own for one test file. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const serverUrl = await postgresServerUrl();
  const template = await ensureTemplate(serverUrl);
  const name = `renotify_${label.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20)}_${randomUUID().slice(0, 8)}`;
  await withAdmin(serverUrl, async (admin) => {
    // CREATE DATABASE ... TEMPLATE fails while another session is connected to the template: retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        return;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  });
  return {
    url: withDatabase(serverUrl, name),
    name,
    drop: () => withAdmin(serverUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
