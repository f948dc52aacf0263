// Prisma CLI configuration. Uses the JS (WASM) engine and a driver adapter, so `prisma generate`
// and `prisma migrate deploy` need no native engine download: they run in air-gapped networks.
import path from 'node:path';
import { defineConfig } from 'prisma/config';

// The CLI must see DATABASE_URL even for `generate`: without it Prisma 6.19 falls back to downloading
// native engines, which fails offline. So a default is put into the environment here.
process.env.DATABASE_URL ||= 'postgresql://postgres@127.0.0.1:5432/renotify';
const databaseUrl = process.env.DATABASE_URL;

// PRISMA_CLI_ENGINE=classic: Prisma's native engines, for networks where they can be downloaded.
const classic = process.env.PRISMA_CLI_ENGINE === 'classic';

export default defineConfig(classic ? {
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  engine: 'classic',
  datasource: { url: databaseUrl },
} : {
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  engine: 'js',
  experimental: { adapter: true },
  // @prisma/adapter-pg 6.19 cannot read Postgres' `name` type (prisma/orm#27403), which
  // migrate deploy needs; the CLI gets adapter-pg 7 through the npm alias @prisma/adapter-pg-cli.
  async adapter() {
    const { PrismaPg } = await import('@prisma/adapter-pg-cli');
    const factory = new PrismaPg({ connectionString: databaseUrl });
    // adapter-pg's executeScript splits a migration on every ";", which breaks function bodies ($$ … $$, the
    // outbound-webhook triggers) and comments. Postgres runs a whole multi-statement script in one simple query
    // (one implicit transaction, so a failed migration leaves nothing half-applied): send it whole.
    const connect = factory.connect.bind(factory);
    factory.connect = async () => {
      const adapter = await connect();
      const whole = adapter as unknown as { client: { query(sql: string): Promise<unknown> }; onError(error: unknown): never };
      adapter.executeScript = async (script: string) => {
        try {
          await whole.client.query(script);
        } catch (error) {
          whole.onError(error);
        }
      };
      return adapter;
    };
    return factory;
  },
});
