import { ConfigError, parseEnv, type Env } from './parse-env.js';
import { configWarnings, emitProcessWarning, productionRefusals, type ConfigWarn } from './safety.js';
import {
  ingestSchema,
  sandboxSchema,
  workerSchema,
  type CommonConfig,
  type IngestConfig,
  type SandboxConfig,
  type WorkerConfig,
} from './schemas.js';

export { ConfigError, parseEnv, type Env } from './parse-env.js';
export * from './schemas.js';
export * from './retention.js';
export { DEMO_API_KEY, DEMO_ENCRYPTION_KEY } from './fields.js';
export { configWarnings, emitProcessWarning, looksLikeSandbox, productionRefusals, type ConfigWarn } from './safety.js';

export interface LoadOptions {
  /** Where warnings about risky-but-allowed settings go; Node's process warning (stderr) by default. */
  warn?: ConfigWarn;
}

/** Refuses unsafe production settings (ConfigError naming the variable), then reports the warnings. */
function checked<T extends CommonConfig & { API_KEYS?: string[] }>(config: T, { warn = emitProcessWarning }: LoadOptions): T {
  const refusals = productionRefusals(config);
  if (refusals.length > 0) throw new ConfigError(refusals);
  for (const warning of configWarnings(config)) warn(warning);
  return config;
}

export const loadIngestConfig = (env: Env = process.env, options: LoadOptions = {}): IngestConfig => checked(parseEnv(ingestSchema, env), options);
export const loadWorkerConfig = (env: Env = process.env, options: LoadOptions = {}): WorkerConfig => checked(parseEnv(workerSchema, env), options);
export const loadSandboxConfig = (env: Env = process.env): SandboxConfig => parseEnv(sandboxSchema, env);
