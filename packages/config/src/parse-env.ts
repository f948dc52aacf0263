import { z } from 'zod';

/** Thrown when the environment does not satisfy an app's schema; the message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/**
 * Parses `env` with `schema`. Empty strings count as unset so that `FOO=` in a compose file falls back
 * to the default instead of failing on an empty value.
 */
export function parseEnv<T extends z.ZodType>(schema: T, env: Env = process.env): z.infer<T> {
  const cleaned: Env = {};
  for (const [key, value] of Object.entries(env)) if (value !== '') cleaned[key] = value;
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = issue.path.join('.') || '(environment)';
      const received = cleaned[String(issue.path[0])];
      return `${variable}: ${issue.message}${received === undefined ? '' : ` (got "${received}")`}`;
    }),
  );
}
