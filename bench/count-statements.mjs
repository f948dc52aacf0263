/**
 * Measuring instrument for bench/fanout.ts, preloaded into the worker process (NODE_OPTIONS=--import=…): counts the
 * SQL statements the process sends to Postgres (every node-postgres Client#query: pool queries, Prisma's adapter,
 * BEGIN/COMMIT included) and writes the running count to BENCH_STATEMENTS_FILE every 100 ms. pg_stat_statements
 * would give the same from the server side, but it is not loaded on every Postgres.
 */
import { writeFileSync } from 'node:fs';
import process from 'node:process';
import { setInterval } from 'node:timers';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const file = process.env.BENCH_STATEMENTS_FILE;
if (file) {
  // The pg that packages/db loads (one instance in the workspace), so its Client is the one patched.
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const pg = createRequire(path.join(root, 'packages/db/package.json'))('pg');
  let statements = 0;
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function countedQuery(...args) {
    statements++;
    return query.apply(this, args);
  };
  setInterval(() => writeFileSync(file, String(statements)), 100).unref();
}
