import { describe, expect, it } from 'vitest';
import { ConfigError, DEMO_API_KEY, loadIngestConfig, loadSandboxConfig, loadWorkerConfig } from './index.js';

describe('config', () => {
  it('starts locally with no environment at all', () => {
    const ingest = loadIngestConfig({});
    expect(ingest.DATABASE_URL).toBe('postgresql://postgres@127.0.0.1:5432/renotify');
    expect(ingest.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(ingest.INGEST_HOST).toBe('127.0.0.1');
    expect(ingest.INGEST_PORT).toBe(3000);
    expect(ingest.API_KEYS).toEqual([DEMO_API_KEY]);
    expect(loadSandboxConfig({}).SANDBOX_PORT).toBe(3100);
    expect(loadWorkerConfig({}).WORKER_PORT).toBe(3001);
  });

  it('coerces numbers and splits lists', () => {
    const ingest = loadIngestConfig({ INGEST_PORT: '8080', API_KEYS: 'a, b,,c' });
    expect(ingest.INGEST_PORT).toBe(8080);
    expect(ingest.API_KEYS).toEqual(['a', 'b', 'c']);
  });

  it('treats an empty value as unset', () => {
    expect(loadIngestConfig({ INGEST_PORT: '' }).INGEST_PORT).toBe(3000);
  });

  it('fails fast naming every bad variable and its value', () => {
    let error: unknown;
    try {
      loadIngestConfig({ INGEST_PORT: 'eighty', REDIS_URL: 'http://x', ENCRYPTION_KEY: 'short' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('INGEST_PORT');
    expect(message).toContain('"eighty"');
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('ENCRYPTION_KEY');
    expect((error as ConfigError).problems).toHaveLength(3);
  });

  it('rejects an out-of-range port and an unknown log level', () => {
    expect(() => loadWorkerConfig({ WORKER_PORT: '70000' })).toThrow(/WORKER_PORT/);
    expect(() => loadWorkerConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });
});
