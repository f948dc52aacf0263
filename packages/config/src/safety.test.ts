import { describe, expect, it } from 'vitest';
import { ConfigError, DEMO_API_KEY, DEMO_ENCRYPTION_KEY, loadIngestConfig, loadWorkerConfig } from './index.js';

const OWN_KEY = Buffer.alloc(32, 1).toString('base64');
const collect = () => {
  const warnings: string[] = [];
  return { warnings, warn: (message: string) => warnings.push(message) };
};
const refusal = (load: () => unknown): ConfigError => {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the loader to refuse');
};

describe('production-safe defaults', () => {
  it('refuses the demo API key in production, whether defaulted or set, naming the variable', () => {
    const defaulted = refusal(() => loadIngestConfig({ NODE_ENV: 'production', ENCRYPTION_KEY: OWN_KEY }));
    expect(defaulted.problems).toEqual([expect.stringMatching(/^API_KEYS: contains the public demo key "demo-api-key"/)]);
    const listed = refusal(() => loadIngestConfig({ NODE_ENV: 'production', ENCRYPTION_KEY: OWN_KEY, API_KEYS: `mine,${DEMO_API_KEY}` }));
    expect(listed.message).toMatch(/API_KEYS/);
    expect(() => loadIngestConfig({ NODE_ENV: 'production', ENCRYPTION_KEY: OWN_KEY, API_KEYS: 'mine' }, collect())).not.toThrow();
  });

  it('refuses the demo encryption key in production for ingest and worker', () => {
    expect(refusal(() => loadWorkerConfig({ NODE_ENV: 'production' })).problems).toEqual([expect.stringMatching(/^ENCRYPTION_KEY: is the public demo key/)]);
    expect(refusal(() => loadWorkerConfig({ NODE_ENV: 'production', ENCRYPTION_KEY: DEMO_ENCRYPTION_KEY })).message).toMatch(/ENCRYPTION_KEY/);
    const both = refusal(() => loadIngestConfig({ NODE_ENV: 'production' }));
    expect(both.problems.map((problem) => problem.split(':')[0])).toEqual(['API_KEYS', 'ENCRYPTION_KEY']);
    expect(() => loadWorkerConfig({ NODE_ENV: 'production', ENCRYPTION_KEY: OWN_KEY, GRAPH_API_BASE_URL: 'https://graph.facebook.com' }, collect())).not.toThrow();
  });

  it('outside production, starts with the demo keys but warns about the demo encryption key', () => {
    const { warnings, warn } = collect();
    const config = loadWorkerConfig({}, { warn });
    expect(config.ENCRYPTION_KEY).toBe(DEMO_ENCRYPTION_KEY);
    expect(warnings).toEqual([expect.stringMatching(/^ENCRYPTION_KEY is unset: Page secrets are encrypted with the public demo key/)]);
    const own = collect();
    loadIngestConfig({ ENCRYPTION_KEY: OWN_KEY }, own);
    expect(own.warnings).toEqual([]);
  });

  it('warns in production when GRAPH_API_BASE_URL points at a sandbox or localhost', () => {
    const base = { NODE_ENV: 'production', ENCRYPTION_KEY: OWN_KEY, API_KEYS: 'mine' };
    for (const url of ['http://127.0.0.1:3100', 'http://localhost:3100', 'http://messenger-sandbox:3100', 'http://[::1]:3100']) {
      const { warnings, warn } = collect();
      loadIngestConfig({ ...base, GRAPH_API_BASE_URL: url }, { warn });
      expect(warnings, url).toEqual([expect.stringContaining(`GRAPH_API_BASE_URL is ${url}`)]);
    }
    const meta = collect();
    loadIngestConfig({ ...base, GRAPH_API_BASE_URL: 'https://graph.facebook.com' }, meta);
    expect(meta.warnings).toEqual([]);
    // Not in production: the sandbox is the expected default.
    const dev = collect();
    loadIngestConfig({ ENCRYPTION_KEY: OWN_KEY }, dev);
    expect(dev.warnings).toEqual([]);
  });
});
