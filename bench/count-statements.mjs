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
  // Also by kind (the statement's first words), written next to the count: which statements a delivery costs.
  const byKind = new Map();
  const kindOf = (sql) => String(typeof sql === 'object' && sql !== null ? sql.text : sql).replace(/\s+/g, ' ').trim().slice(0, 72);
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function countedQuery(...args) {
    statements++;
    const kind = kindOf(args[0]);
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    return query.apply(this, args);
  };
  setInterval(() => {
    writeFileSync(file, String(statements));
    writeFileSync(`${file}.kinds`, JSON.stringify(Object.fromEntries(byKind)));
  }, 100).unref();
}
