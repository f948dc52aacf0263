import { defineConfig } from 'vitest/config';

/**
 * For StrykerJS only (pnpm mutation): Stryker runs the tests in a copy of this package, where the shared
 * ../../vitest.base.ts does not resolve. These unit tests need none of its aliases or timeouts.
 */
export default defineConfig({ test: { include: ['src/errors.test.ts'], pool: 'forks', maxWorkers: 1 } });
