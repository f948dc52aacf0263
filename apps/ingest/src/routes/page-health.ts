import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { lastWebhookReceivedAt, loadPageForSending, type SendingPage } from '@renotify/db';
import { checkGraphVersion, RECEIPT_WEBHOOK_FIELDS, REQUIRED_WEBHOOK_FIELDS, type GraphClient, type GraphResult } from '@renotify/messenger';
import type { IngestDeps } from '../deps.js';
import { notFound } from '../http-errors.js';
import { pageParams } from './pages.js';
import { errorResponses } from './schemas.js';

/** One line of the doctor's report: ok, a problem with its fix, or skipped because an earlier check failed. */
export interface HealthCheck {
  name: 'access_token' | 'app_secret' | 'webhook_subscription' | 'graph_version' | 'verify_token' | 'recent_webhook';
  status: 'OK' | 'PROBLEM' | 'SKIPPED';
  detail: string;
  fix?: string;
}

export interface PageHealth {
  pageId: string;
  healthy: boolean;
  checkedAt: string;
  checks: HealthCheck[];
}

/** A Page that has received nothing for this long is suspicious (Meta unsubscribes an app after 1 h of failing webhooks). */
const RECENT_WEBHOOK_DAYS = 7;
const DEMO_VERIFY_TOKEN = 'renotify-verify-token';

const ok = (name: HealthCheck['name'], detail: string): HealthCheck => ({ name, status: 'OK', detail });
const problem = (name: HealthCheck['name'], detail: string, fix: string): HealthCheck => ({ name, status: 'PROBLEM', detail, fix });
const skipped = (name: HealthCheck['name'], detail: string): HealthCheck => ({ name, status: 'SKIPPED', detail });

function metaSays(result: Extract<GraphResult<unknown>, { ok: false }>): string {
  const { code, subcode, message } = result.error;
  return `Meta answered ${code ?? 'no Graph error'}${subcode ? `/${subcode}` : ''}: ${message}`;
}

/**
 * The token check calls GET /me WITHOUT a proof: Meta validates the token before asking for a proof, so
 * "requires an appsecret_proof" still means the token is good, and the app secret is then checked on its own.
 */
async function checkAccessToken(graph: GraphClient, page: SendingPage): Promise<HealthCheck> {
  const result = await graph.getPageIdentity({ accessToken: page.accessToken, graphVersion: page.graphVersion });
  const fix = 'create a System User Page access token with pages_messaging and store it: PATCH /v1/pages/:id {"accessToken":"…"}';
  if (result.ok) {
    if (result.value.id !== page.id) return problem('access_token', `the token belongs to Page ${result.value.id}, not ${page.id}`, fix);
    return ok('access_token', `GET /me answers Page ${result.value.id}${result.value.name ? ` (${result.value.name})` : ''}`);
  }
  if (result.failure.kind === 'page_misconfigured' && /require/i.test(result.error.message)) {
    return ok('access_token', 'the token is valid (Meta asks for an appsecret_proof with it: "Require App Secret" is on)');
  }
  if (result.failure.kind === 'access_token_invalid') return problem('access_token', metaSays(result), fix);
  return problem('access_token', `could not check the token: ${metaSays(result)}`, 'check GRAPH_API_BASE_URL and Meta\'s status, then run the doctor again');
}

async function checkAppSecret(graph: GraphClient, page: SendingPage): Promise<HealthCheck> {
  const result = await graph.getPageIdentity({ accessToken: page.accessToken, appSecret: page.appSecret, graphVersion: page.graphVersion });
  if (result.ok) return ok('app_secret', 'a call with appsecret_proof succeeds: the stored app secret belongs to the token\'s app');
  if (result.failure.kind === 'page_misconfigured') {
    return problem(
      'app_secret',
      metaSays(result),
      'store the App Secret of the Meta app that issued the Page token (App Dashboard → Settings → Basic): PATCH /v1/pages/:id {"appSecret":"…"}',
    );
  }
  return problem('app_secret', `could not check the app secret: ${metaSays(result)}`, 'fix the checks above, then run the doctor again');
}

async function checkSubscription(graph: GraphClient, page: SendingPage): Promise<HealthCheck> {
  const auth = { pageId: page.id, accessToken: page.accessToken, appSecret: page.appSecret, graphVersion: page.graphVersion };
  const fix = `subscribe the app: curl -X POST "https://graph.facebook.com/${page.graphVersion}/${page.id}/subscribed_apps?subscribed_fields=${REQUIRED_WEBHOOK_FIELDS.join(',')}&access_token=<PAGE_TOKEN>&appsecret_proof=<PROOF>"`;
  const result = await graph.getSubscribedApps(auth);
  if (!result.ok) return problem('webhook_subscription', `could not read subscribed_apps: ${metaSays(result)}`, fix);
  if (result.value.length === 0) return problem('webhook_subscription', 'no app is subscribed to this Page\'s webhooks', fix);
  const best = result.value
    .map((app) => ({ app, missing: REQUIRED_WEBHOOK_FIELDS.filter((field) => !app.subscribedFields.includes(field)) }))
    .sort((a, b) => a.missing.length - b.missing.length)[0]!;
  const name = best.app.name ?? best.app.id ?? 'the app';
  if (best.missing.length > 0) return problem('webhook_subscription', `${name} is subscribed without ${best.missing.join(', ')}`, fix);
  // Receipts are optional (sends work without them), but without these fields delivered/read counts stay 0.
  const noReceipts = RECEIPT_WEBHOOK_FIELDS.filter((field) => !best.app.subscribedFields.includes(field));
  const receipts = noReceipts.length ? `; without ${noReceipts.join(', ')}, delivered/read counts and delivery.delivered/read webhooks stay empty` : '';
  return ok('webhook_subscription', `${name} is subscribed to ${REQUIRED_WEBHOOK_FIELDS.join(', ')}${receipts}`);
}

function checkVersion(page: SendingPage, now: Date): HealthCheck {
  const check = checkGraphVersion(page.graphVersion, now);
  if (!check.ok) return problem('graph_version', check.problem, check.fix);
  return ok('graph_version', `${check.version} ${check.expiresOn ? `is supported until ${check.expiresOn}` : 'is current (no expiry announced)'}`);
}

function checkVerifyToken(deps: IngestDeps): HealthCheck {
  const token = deps.config.WEBHOOK_VERIFY_TOKEN;
  if (token !== DEMO_VERIFY_TOKEN) return ok('verify_token', 'WEBHOOK_VERIFY_TOKEN is set');
  if (deps.config.NODE_ENV !== 'production') return ok('verify_token', 'WEBHOOK_VERIFY_TOKEN is the demo default (fine for the sandbox)');
  return problem('verify_token', 'WEBHOOK_VERIFY_TOKEN is the demo default', 'set WEBHOOK_VERIFY_TOKEN to a long random string and enter the same one in the App Dashboard (Webhooks → Verify token)');
}

async function checkRecentWebhook(deps: IngestDeps, page: SendingPage, now: Date): Promise<HealthCheck> {
  const since = new Date(now.getTime() - RECENT_WEBHOOK_DAYS * 24 * 3600_000);
  const last = await lastWebhookReceivedAt(deps.db, page.id, since);
  if (last) return ok('recent_webhook', `last webhook for this Page arrived at ${last.toISOString()}`);
  return problem(
    'recent_webhook',
    `no webhook for this Page in the last ${RECENT_WEBHOOK_DAYS} days`,
    'check the callback URL (public HTTPS …/webhooks/messenger) in the App Dashboard, the app subscription above, and send the Page a message to test',
  );
}

export async function checkPageHealth(deps: IngestDeps, page: SendingPage, now = new Date()): Promise<PageHealth> {
  const token = await checkAccessToken(deps.graph, page);
  const tokenOk = token.status === 'OK';
  const secret = tokenOk ? await checkAppSecret(deps.graph, page) : skipped('app_secret', 'needs a working access token');
  const subscription =
    tokenOk && secret.status === 'OK' ? await checkSubscription(deps.graph, page) : skipped('webhook_subscription', 'needs a working token and app secret');
  const checks = [token, secret, subscription, checkVersion(page, now), checkVerifyToken(deps), await checkRecentWebhook(deps, page, now)];
  return { pageId: page.id, healthy: checks.every((check) => check.status === 'OK'), checkedAt: now.toISOString(), checks };
}

/** GET /v1/pages/:id/health: the doctor's checks for one Page, each ok / problem + fix / skipped. Never a 5xx for Meta's answers. */
const pageHealthSchema = z
  .object({
    pageId: z.string(),
    healthy: z.boolean(),
    checkedAt: z.string(),
    checks: z.array(
      z.object({
        name: z.enum(['access_token', 'app_secret', 'webhook_subscription', 'graph_version', 'verify_token', 'recent_webhook']),
        status: z.enum(['OK', 'PROBLEM', 'SKIPPED']),
        detail: z.string(),
        fix: z.string().optional(),
      }),
    ),
  })
  .meta({ id: 'PageHealth' });

export async function pageHealthRoutes(plainApp: FastifyInstance, { deps }: { deps: IngestDeps }) {
  const app = plainApp.withTypeProvider<ZodTypeProvider>();
  const schema = { tags: ['pages'], summary: "The doctor's checks for one Page", params: pageParams, response: { 200: pageHealthSchema, ...errorResponses } };
  app.get('/v1/pages/:id/health', { schema }, async (request) => {
    const { id } = request.params;
    const page = await loadPageForSending(deps.db, deps.secrets, id);
    if (!page) throw notFound(`Page ${id}`);
    const health = await checkPageHealth(deps, page);
    request.log.info({ pageId: id, healthy: health.healthy, problems: health.checks.filter((c) => c.status !== 'OK').map((c) => c.name) }, 'page health checked');
    return health;
  });
}
