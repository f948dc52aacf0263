import { parseEnv, type Env } from './parse-env.js';
import { ingestSchema, sandboxSchema, workerSchema, type IngestConfig, type SandboxConfig, type WorkerConfig } from './schemas.js';

export { ConfigError, parseEnv, type Env } from './parse-env.js';
export * from './schemas.js';
export { DEMO_API_KEY, DEMO_ENCRYPTION_KEY } from './fields.js';

export const loadIngestConfig = (env: Env = process.env): IngestConfig => parseEnv(ingestSchema, env);
export const loadWorkerConfig = (env: Env = process.env): WorkerConfig => parseEnv(workerSchema, env);
export const loadSandboxConfig = (env: Env = process.env): SandboxConfig => parseEnv(sandboxSchema, env);
