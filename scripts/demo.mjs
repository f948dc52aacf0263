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

async function control(route, body) {
  const response = await fetch(`${SANDBOX}/__sandbox${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json().catch(() => null) };
}
const step = (text) => console.log(`\n▶ ${text}`);

// 1. Register the sandbox's demo Page with Renotify (idempotent), so its webhooks are accepted.
const demoPage = { id: '100000000000001', name: 'Demo Shoe Shop', accessToken: 'demo-page-access-token', appSecret: 'demo-app-secret' };
const PSID = 'demo-user-1';
step(`registering the demo Page ${demoPage.id} with Renotify`);
const registered = await api('POST', '/v1/pages', demoPage);
console.log(`  → HTTP ${registered.status}${registered.status === 409 ? ' (already registered)' : ''}`);

// 2. The person writes to the shop: that opens Meta's 24h window, which opt-in requests need.
step(`the Messenger user ${PSID} says "Hi" (a signed webhook from the sandbox → ingest → worker)`);
await control('/webhooks/trigger', { type: 'message', pageId: demoPage.id, psid: PSID, text: 'Hi! Do you have the Trail Sneaker in 42?' });
let windowOpen = false;
for (let i = 0; i < 50 && !windowOpen; i++) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  windowOpen = Boolean((await api('GET', `/v1/pages/${demoPage.id}/subscribers/${PSID}`)).body?.subscriber?.lastUserMessageAt);
}
console.log(`  → 24h window ${windowOpen ? 'open' : 'not confirmed yet'}`);

// 3. The shop asks for permission: a one-time "back in stock" request and a recurring "daily deals" one.
step('the shop sends two opt-in requests through Renotify');
const oneTime = await api('POST', '/v1/optin-requests', {
  pageId: demoPage.id, psid: PSID, kind: 'one_time', title: 'Trail Sneaker 42 is back in stock',
  subject: { type: 'back_in_stock', productId: 'sneaker', variant: '42' },
});
console.log(`  → one-time request: HTTP ${oneTime.status}${oneTime.status >= 400 ? ` ${oneTime.body?.error?.message}` : ''}`);
const recurring = await api('POST', '/v1/optin-requests', {
  pageId: demoPage.id, psid: PSID, kind: 'recurring', title: 'Daily deals', topic: 'daily-deals', frequency: 'DAILY',
});
console.log(`  → recurring request: HTTP ${recurring.status}${recurring.status >= 400 ? ` ${recurring.body?.error?.message}` : ''}`);

const userPage = `${SANDBOX}/user?page=${demoPage.id}&psid=${PSID}`;
console.log(`
──────────────────────────────────────────────────────────────────────────────
 Renotify demo is running

 1. Open the Messenger user page:   ${userPage}
    Tap "Notify me" (and "Get updates" for daily deals). Renotify stores the tokens:
      curl -s ${INGEST}/v1/pages/${demoPage.id}/optins -H 'authorization: Bearer ${API_KEY}'

 2. Tell Renotify the sneaker is back in stock:
      curl -s -X POST ${INGEST}/v1/events -H 'authorization: Bearer ${API_KEY}' \\
        -H 'content-type: application/json' \\
        -d '{"id":"restock-1","type":"back_in_stock","pageId":"${demoPage.id}","productId":"sneaker","variant":"42","productName":"Trail Sneaker"}'
    The notification appears on the user page. Post it again: nothing new is sent (one-time tokens are single use).
    See what happened: curl -s ${INGEST}/v1/events/restock-1 -H 'authorization: Bearer ${API_KEY}'

 3. Send today's deal to recurring subscribers (a campaign run):
      curl -s -X POST ${INGEST}/v1/campaigns -H 'authorization: Bearer ${API_KEY}' -H 'content-type: application/json' \\
        -d '{"pageId":"${demoPage.id}","name":"Daily deals","topic":"daily-deals","message":"Deal of the day: {{headline}}","variables":{"headline":"Trail Sneaker -20%"},"schedule":{"cron":"0 9 * * *","timezone":"Europe/Paris"}}'
    then POST ${INGEST}/v1/campaigns/<id>/run to run one occurrence now.

 Renotify API: ${INGEST} (Bearer ${API_KEY})   Worker health: ${WORKER}/healthz   Ctrl-C stops everything.
──────────────────────────────────────────────────────────────────────────────
`);
