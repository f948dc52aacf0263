#!/usr/bin/env node
// Applies prisma/migrations with `prisma migrate deploy`, creating the database first if it is missing.
// The CLI runs on Prisma's WASM engine through a driver adapter (prisma.config.ts), so no engine download
// is needed. PRISMA_CLI_ENGINE=classic uses Prisma's native engines instead, where they can be downloaded.
import { spawnSync } from 'node:child_process';
import pg from 'pg';

const databaseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/renotify';
const target = new URL(databaseUrl);
const database = decodeURIComponent(target.pathname.slice(1));
const admin = new URL(databaseUrl);
admin.pathname = '/postgres';

const client = new pg.Client({ connectionString: admin.toString() });
try {
  await client.connect();
  const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  if (!exists.rowCount) {
    await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
    console.log(`created database ${database}`);
  }
} catch (error) {
  console.warn(`could not check/create database ${database} (${error.message}); trying the migration anyway`);
} finally {
  await client.end().catch(() => undefined);
}

const result = spawnSync('pnpm', ['exec', 'prisma', 'migrate', 'deploy'], {
  stdio: 'inherit',
  env: { ...process.env, DATABASE_URL: databaseUrl },
});
process.exit(result.status ?? 1);
