import { z } from 'zod';

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const url = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((value) => URL.canParse(value), 'must be a URL');

export const postgresUrl = url('postgresql://postgres@127.0.0.1:5432/renotify').refine(
  (value) => /^postgres(ql)?:\/\//.test(value),
  'must be a postgres:// or postgresql:// URL',
);

export const redisUrl = url('redis://127.0.0.1:6379').refine(
  (value) => /^rediss?:\/\//.test(value),
  'must be a redis:// or rediss:// URL',
);

export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

export const commaList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    );

export const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1');

/** Documented demo key: anyone can read it, so production deployments must set API_KEYS. */
export const DEMO_API_KEY = 'demo-api-key';

/** Documented demo key (base64 of 32 bytes). Production deployments must set ENCRYPTION_KEY. */
export const DEMO_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

export const encryptionKey = z
  .string()
  .default(DEMO_ENCRYPTION_KEY)
  .refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)');
