#!/usr/bin/env node
// Starts the Messenger sandbox, the ingest and a worker from their builds, wires them to each other,
// registers the sandbox's demo Page with Renotify, and prints where to look. Ctrl-C stops all three gracefully.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = {
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/renotify',
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
};
const INGEST = `http://${env.INGEST_HOST ?? '127.0.0.1'}:${env.INGEST_PORT ?? 3000}`;
const SANDBOX = `http://${env.SANDBOX_HOST ?? '127.0.0.1'}:${env.SANDBOX_PORT ?? 3100}`;
const WORKER = `http://${env.WORKER_HOST ?? '127.0.0.1'}:${env.WORKER_PORT ?? 3001}`;
const API_KEY = (env.API_KEYS ?? 'demo-api-key').split(',')[0].trim();

const children = [];
function start(name, app) {
  const child = spawn(process.execPath, ['dist/main.js'], { cwd: path.join(root, 'apps', app), env, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `[${name}]`.padEnd(10);
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) console.log(prefix, summarise(line));
    });
  }
  child.on('exit', (code, signal) => {
    console.log(prefix, `exited (${code ?? signal})`);
    if (!stopping) stopAll(1);
  });
  children.push(child);
}

/** pino JSON → one readable line: time, level, message, and the ids that matter. */
function summarise(line) {
  try {
    const { time, level, msg, service: _s, pid: _p, hostname: _h, name: _n, ...rest } = JSON.parse(line);
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
    return `${String(time).slice(11, 19)} ${level.padEnd(5)} ${msg ?? ''} ${extra}`;
  } catch {
    return line;
  }
}

async function waitHealthy(url, what) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} did not become healthy at ${url}`);
}

async function api(method, route, body) {
  const response = await fetch(`${INGEST}${route}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

let stopping = false;
function stopAll(code = 0) {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  Promise.all(children.map((child) => (child.exitCode === null ? new Promise((r) => child.on('exit', r)) : null))).then(() => process.exit(code));
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

start('sandbox', 'messenger-sandbox');
start('ingest', 'ingest');
start('worker', 'worker');
await Promise.all([waitHealthy(SANDBOX, 'sandbox'), waitHealthy(INGEST, 'ingest'), waitHealthy(WORKER, 'worker')]);

// Register the sandbox's demo Page with Renotify (idempotent), so its webhooks are accepted.
const demoPage = { id: '100000000000001', name: 'Demo Shoe Shop', accessToken: 'demo-page-access-token', appSecret: 'demo-app-secret' };
const registered = await api('POST', '/v1/pages', demoPage);
const pageNote =
  registered.status === 201 || registered.status === 200 || registered.status === 409
    ? `demo Page ${demoPage.id} registered`
    : `Page registration not available yet (HTTP ${registered.status})`;

console.log(`
──────────────────────────────────────────────────────────────────────────────
 Renotify demo is running                      (${pageNote})

 Messenger user (open in a browser):  ${SANDBOX}/?page=${demoPage.id}&psid=demo-user-1
 Renotify API:                        ${INGEST}   (Authorization: Bearer ${API_KEY})
 Worker health:                       ${WORKER}/healthz

 Try it: on the user page tap "Notify me", then post an event:
   curl -s -X POST ${INGEST}/v1/events -H 'authorization: Bearer ${API_KEY}' \\
     -H 'content-type: application/json' \\
     -d '{"id":"evt-1","type":"back_in_stock","pageId":"${demoPage.id}","productId":"sneaker-42","productName":"Trail Sneaker","variant":"42"}'
 and watch the notification arrive on the user page.     Ctrl-C stops everything.
──────────────────────────────────────────────────────────────────────────────
`);
