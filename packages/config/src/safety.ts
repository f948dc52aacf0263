import { DEMO_API_KEY, DEMO_ENCRYPTION_KEY } from './fields.js';
import type { CommonConfig } from './schemas.js';

/*
 * Production-safe defaults. The demo keys are printed in the README, so a process that runs with them in
 * production hands its API and its Page secrets (decryptable from any database dump) to anyone who reads it.
 */

/** Settings that are fatal with NODE_ENV=production; each message names the variable and the fix. */
export function productionRefusals(config: CommonConfig & { API_KEYS?: string[] }): string[] {
  if (config.NODE_ENV !== 'production') return [];
  const problems: string[] = [];
  if (config.API_KEYS?.includes(DEMO_API_KEY)) {
    problems.push(
      `API_KEYS: contains the public demo key "${DEMO_API_KEY}" (the default when API_KEYS is unset); NODE_ENV=production refuses it. ` +
        'Set API_KEYS to your own keys, e.g. $(openssl rand -hex 32).',
    );
  }
  if (config.ENCRYPTION_KEY === DEMO_ENCRYPTION_KEY) {
    problems.push(
      'ENCRYPTION_KEY: is the public demo key (the default when ENCRYPTION_KEY is unset); NODE_ENV=production refuses it. ' +
        'Set ENCRYPTION_KEY to a secret of your own: openssl rand -base64 32.',
    );
  }
  return problems;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '0.0.0.0']);

/** True when the Graph API base URL looks like the local Messenger sandbox rather than Meta. */
export function looksLikeSandbox(graphApiBaseUrl: string): boolean {
  const { hostname } = new URL(graphApiBaseUrl);
  return LOCAL_HOSTS.has(hostname) || hostname.endsWith('.localhost') || hostname.includes('sandbox');
}

/** Settings that are allowed but worth an operator's attention; one sentence each. */
export function configWarnings(config: CommonConfig): string[] {
  const warnings: string[] = [];
  if (config.ENCRYPTION_KEY === DEMO_ENCRYPTION_KEY) {
    warnings.push('ENCRYPTION_KEY is unset: Page secrets are encrypted with the public demo key. Set ENCRYPTION_KEY (openssl rand -base64 32) before storing real Pages.');
  }
  if (config.NODE_ENV === 'production' && config.ENCRYPTION_KEYS_PREVIOUS.includes(DEMO_ENCRYPTION_KEY)) {
    warnings.push('ENCRYPTION_KEYS_PREVIOUS contains the public demo key: finish re-encrypting Page secrets and remove it.');
  }
  if (config.NODE_ENV === 'production' && looksLikeSandbox(config.GRAPH_API_BASE_URL)) {
    warnings.push(
      `GRAPH_API_BASE_URL is ${config.GRAPH_API_BASE_URL}, which looks like the Messenger sandbox, with NODE_ENV=production. Use https://graph.facebook.com to reach Meta.`,
    );
  }
  return warnings;
}

export type ConfigWarn = (message: string) => void;

const alreadyWarned = new Set<string>();

/**
 * Default sink for config warnings: Node's process warning (stderr), once per message per process. Apps with a
 * logger pass their own `warn` to the loader so the warning lands in the structured log.
 */
export const emitProcessWarning: ConfigWarn = (message) => {
  if (alreadyWarned.has(message)) return;
  alreadyWarned.add(message);
  process.emitWarning(message, { code: 'RENOTIFY_CONFIG' });
};
