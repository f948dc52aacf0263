import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Data access has one home (docs/architecture.md): SQL and Prisma live in packages/db as named operations.
 * Apps and the other packages call those operations; they never see the pool, the Prisma client or a driver. Tests may still read
 * tables directly to assert on them.
 */
const DATA_ACCESS_IN_DB = 'Data access lives in packages/db: call (or add) a named operation there.';
const appDataAccessRules = {
  'no-restricted-imports': [
    'error',
    {
      paths: [
        { name: 'pg', message: DATA_ACCESS_IN_DB },
        { name: '@prisma/client', message: DATA_ACCESS_IN_DB },
        { name: '@prisma/adapter-pg', message: DATA_ACCESS_IN_DB },
      ],
      patterns: [{ group: ['@prisma/*', '**/generated/prisma/**'], message: DATA_ACCESS_IN_DB }],
    },
  ],
  'no-restricted-syntax': [
    'error',
    { selector: "MemberExpression[property.name='pool']", message: `No \`.pool\` outside packages/db. ${DATA_ACCESS_IN_DB}` },
    { selector: "MemberExpression[property.name='prisma']", message: `No \`.prisma\` outside packages/db. ${DATA_ACCESS_IN_DB}` },
    { selector: 'MemberExpression[property.name=/^\\$(queryRaw|executeRaw|queryRawUnsafe|executeRawUnsafe|transaction)$/]', message: `No raw Prisma outside packages/db. ${DATA_ACCESS_IN_DB}` },
    // SQL text handed to a transaction client (`client.query('UPDATE …')`) is data access too.
    { selector: "CallExpression[callee.property.name='query'][arguments.0.type=/^(Literal|TemplateLiteral)$/]", message: `No SQL outside packages/db. ${DATA_ACCESS_IN_DB}` },
  ],
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Every app and every package but db itself (and the test harnesses, which create and inspect databases).
    files: ['apps/*/src/**/*.ts', 'packages/*/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test-support/**', 'packages/db/**', 'packages/testing/**', 'packages/system-tests/**'],
    rules: appDataAccessRules,
  },
);
