#!/usr/bin/env node
// One entry point for setup, tests and the demo, using only Node's standard library until
// dependencies are installed, so `npm test` / `npm run demo` work on a machine without pnpm.
import { execSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LOCAL_POSTGRES = 'postgresql://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

function run(command, env = process.env) {
  console.log(`\n$ ${command}`);
  const result = spawnSync(command, { cwd: root, stdio: 'inherit', shell: true, env });
  // Ctrl-C on the demo is how it is meant to stop.
  if (result.signal === 'SIGINT' || result.signal === 'SIGTERM') process.exit(0);
  if (result.status !== 0) {
    console.error(`\n✗ "${command}" failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

function has(command) {
  try {
    execSync(`command -v ${command}`, { stdio: 'ignore', shell: '/bin/sh' });
    return true;
  } catch {
    return false;
  }
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.setTimeout(1_000, () => (socket.destroy(), resolve(false)));
  });
}

/** Install pnpm, dependencies, the Prisma client, and apply migrations. Idempotent and quick when done. */
async function setup({ build }) {
  if (process.platform === 'linux') run('bash scripts/ensure-machine.sh');
  if (!has('pnpm')) run('npm install -g pnpm@10 --no-fund --no-audit');
  run(`pnpm install ${process.env.CI ? '--frozen-lockfile' : '--prefer-offline'}`);
  const env = { ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/renotify' };
  run('pnpm exec prisma generate', env);
  if (await portOpen(5432) || process.env.DATABASE_URL) run('node scripts/db-migrate.mjs', env);
  if (build) run('pnpm exec turbo run build');
}

/**
 * Tests use DATABASE_URL / REDIS_URL when set; otherwise the local services when they answer;
 * otherwise they are left unset and the harness starts testcontainers (needs a Docker engine).
 */
async function testEnv() {
  const env = { ...process.env };
  if (!env.DATABASE_URL && (await portOpen(5432))) env.DATABASE_URL = LOCAL_POSTGRES;
  if (!env.REDIS_URL && (await portOpen(6379))) env.REDIS_URL = LOCAL_REDIS;
  return env;
}

/**
 * Runs the test command, passing its output through, and ends with one plain summary line summed over every
 * package's vitest run ("Tests: N passed, N failed"), so CI can read the totals.
 */
function runTests(command, env) {
  console.log(`\n$ ${command}`);
  return new Promise((resolve) => {
    const child = spawn(command, { cwd: root, shell: true, env, stdio: ['ignore', 'pipe', 'inherit'] });
    const totals = { passed: 0, failed: 0, skipped: 0 };
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const plain = line.replace(/\x1b\[[0-9;]*m/g, '');
        if (!/\bTests\s+\d/.test(plain)) continue;
        for (const [, count, kind] of plain.matchAll(/(\d+) (passed|failed|skipped)/g)) totals[kind] += Number(count);
      }
    });
    child.on('exit', (code) => {
      console.log(`\nTests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
      resolve(code ?? 1);
    });
  });
}

const command = process.argv[2];
switch (command) {
  case 'setup':
    await setup({ build: true });
    break;
  case 'test': {
    await setup({ build: true });
    // Rules that are not checked decay: types and lint rules (e.g. no SQL outside packages/db) gate the tests.
    run('pnpm exec turbo run typecheck lint --output-logs=errors-only');
    const code = await runTests('pnpm exec turbo run test --concurrency=1 --continue', await testEnv());
    if (code !== 0) process.exit(code);
    break;
  }
  case 'demo':
    await setup({ build: true });
    run('node scripts/demo.mjs');
    break;
  default:
    console.error('usage: node scripts/run.mjs setup|test|demo');
    process.exit(2);
}
if (!existsSync(path.join(root, 'node_modules'))) process.exit(1);
