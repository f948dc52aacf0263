export { createTestDatabase, type TestDatabase } from './postgres.js';
export { createTestRedis, type TestRedis } from './redis.js';
export { dockerLikelyAvailable } from './docker.js';
export { readMigrations } from './migrations.js';
export { waitFor } from './wait-for.js';
export { createTestServices, type Env, type TestServices } from './services.js';
