export { createDatabase, isDatabaseReachable, type Database, type DatabaseOptions } from './client.js';
export { SecretBox } from './secret-box.js';
export * from './generated/prisma/client.js';
export * from './pages.js';
export * from './events.js';
export * from './tokens.js';
export type { PoolClient, QueryResult } from 'pg';
export * from './campaigns.js';
export * from './dead-letters.js';
