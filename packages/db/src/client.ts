import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { withTimeout } from '@renotify/domain';
import { PrismaClient } from './generated/prisma/client.js';

// Prisma stores DateTime as `timestamp(3)` in UTC. Raw queries through the same pool must agree whatever the
// process TZ: send Dates as UTC, read `timestamp` columns as UTC, and run sessions in UTC.
pg.defaults.parseInputDatesAsUTC = true;
pg.types.setTypeParser(pg.types.builtins.TIMESTAMP, (value: string) => new Date(`${value.replace(' ', 'T')}Z`));

export interface Database {
  /** Typed access for ordinary reads and writes. */
  prisma: PrismaClient;
  /** The same pool, for the hot paths that need one set-based SQL statement (fan-out, claim, outcomes). */
  pool: pg.Pool;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  maxConnections?: number;
  applicationName?: string;
}

export function createDatabase(databaseUrl: string, options: DatabaseOptions = {}): Database {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    application_name: options.applicationName ?? 'renotify',
    options: '-c TimeZone=UTC',
    // An idle connection killed by Postgres or a proxy must not crash the process.
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', () => undefined);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  let closed = false;
  return {
    prisma,
    pool,
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/** Readiness probe: true when a trivial query answers within `timeoutMs`. */
export async function isDatabaseReachable(db: Pick<Database, 'pool'>, timeoutMs = 2_000): Promise<boolean> {
  try {
    await withTimeout(db.pool.query('SELECT 1'), timeoutMs, 'database ping');
    return true;
  } catch {
    return false;
  }
}
