import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../prisma/migrations');

/** The committed migrations in order; their hash names the template database, so a new migration makes a new template. */
export function readMigrations(): { sql: string[]; hash: string } {
  const names = readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const sql = names.map((name) => readFileSync(path.join(migrationsDir, name, 'migration.sql'), 'utf8'));
  const hash = createHash('sha256').update(sql.join('\n--\n')).digest('hex').slice(0, 12);
  return { sql, hash };
}
