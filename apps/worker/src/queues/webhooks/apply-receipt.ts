import { findPagePolicyProfiles, finishWebhookReceipt, loadWebhookReceipt, type Database } from '@renotify/db';
import { DEFAULT_POLICY_PROFILE_ID, isPolicyProfileId, findPgUnsafeStrings, resolvePolicy, type Policy } from '@renotify/domain';
import { parseWebhookPayload, type WebhookEvent } from '@renotify/messenger';
import type { Logger } from '@renotify/observability';
import { applyWebhookEvent, UnappliableEventError } from './apply-event.js';

export const WEBHOOK_ENTRY_DEAD_LETTER = 'webhook_entry';

export interface DeadLetterDraft {
  reason: string;
  payload: Record<string, unknown>;
}

export interface ReceiptResult {
  status: 'applied' | 'already_processed' | 'missing' | 'unparsable';
  applied: number;
  deadLettered: number;
  skippedUnknownPages: string[];
}

/** Thrown to make BullMQ retry; the events that did apply are idempotent and will not apply twice. */
export class RetryableReceiptError extends Error {
  override name = 'RetryableReceiptError';
}

/**
 * Postgres refuses these values for good (SQLSTATE class 22, "data exception": NUL in text, invalid encoding, out
 * of range): retrying the event can never help, so it is dead-lettered at once.
 */
function isDataException(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}

/** Why an event cannot be stored (NUL or lone surrogates in a string), naming the fields; undefined when it can. */
function unstorableReason(event: WebhookEvent): string | undefined {
  const unsafe = findPgUnsafeStrings(event, 5);
  if (unsafe.length === 0) return undefined;
  return `${event.kind} event not storable: ${unsafe.map((found) => `${found.path.join('.')} ${found.message}`).join('; ')}`;
}

/**
 * Meta's checkbox plugin: the person's first reply carries `prior_message: {source: 'checkbox_plugin',
 * identifier: <user_ref>}`. The shared parser does not expose it, so it is read from the raw items, keyed by mid.
 */
function checkboxRepliesByMid(body: unknown): Map<string, string> {
  const refs = new Map<string, string>();
  const entries = (body as { entry?: unknown })?.entry;
  if (!Array.isArray(entries)) return refs;
  for (const entry of entries) {
    const items = (entry as { messaging?: unknown })?.messaging;
    if (!Array.isArray(items)) continue;
    for (const item of items) {
      const record = item as { message?: { mid?: unknown }; prior_message?: { source?: unknown; identifier?: unknown } } | null;
      const mid = record?.message?.mid;
      const prior = record?.prior_message;
      if (typeof mid === 'string' && prior?.source === 'checkbox_plugin' && typeof prior.identifier === 'string' && prior.identifier) {
        refs.set(mid, prior.identifier);
      }
    }
  }
  return refs;
}

async function pagePolicies(db: Database, pageIds: string[]): Promise<Map<string, Policy>> {
  const profiles = await findPagePolicyProfiles(db, pageIds);
  return new Map([...profiles].map(([pageId, profile]) => [pageId, resolvePolicy(isPolicyProfileId(profile) ? profile : DEFAULT_POLICY_PROFILE_ID)]));
}

/**
 * Applies a stored webhook body entry by entry, one transaction per event, oldest event first (Meta does not
 * guarantee order). Broken items and events that fail go to DeadLetter rows, never silently away; the others
 * still apply. A failing event is retried (by failing the job) until the last attempt, then dead-lettered.
 * The receipt is marked processed together with its dead letters, so a second run is a no-op.
 */
export async function processWebhookReceipt(
  db: Database,
  logger: Logger,
  receiptId: string,
  { finalAttempt }: { finalAttempt: boolean },
): Promise<ReceiptResult> {
  const result: ReceiptResult = { status: 'applied', applied: 0, deadLettered: 0, skippedUnknownPages: [] };
  const receipt = await loadWebhookReceipt(db, receiptId);
  if (!receipt) {
    logger.warn({ receiptId }, 'webhook receipt not found');
    return { ...result, status: 'missing' };
  }
  if (receipt.processedAt) return { ...result, status: 'already_processed' };

  const deadLetters: DeadLetterDraft[] = [];
  let body: unknown;
  try {
    body = JSON.parse(receipt.rawBody);
  } catch {
    body = undefined;
  }
  const parsed = parseWebhookPayload(body);
  if (!parsed.ok) {
    deadLetters.push({ reason: parsed.error, payload: { receiptId, rawBody: receipt.rawBody } });
    await finishWebhookReceipt(db, receiptId, WEBHOOK_ENTRY_DEAD_LETTER, deadLetters);
    logger.warn({ receiptId, reason: parsed.error }, 'webhook body dead-lettered');
    return { ...result, status: 'unparsable', deadLettered: 1 };
  }
  for (const reject of parsed.entryRejects) {
    deadLetters.push({ reason: reject.reason, payload: { receiptId, entryIndex: reject.index, raw: reject.raw } });
  }

  const policies = await pagePolicies(db, [...new Set(parsed.entries.map((entry) => entry.pageId))]);
  const checkboxRefs = checkboxRepliesByMid(body);
  const checkboxUserRefOf = (event: WebhookEvent) => (event.kind === 'message' ? checkboxRefs.get(event.mid) : undefined);
  const failures: Array<{ event: WebhookEvent; error: unknown; pageId: string }> = [];

  for (const entry of parsed.entries) {
    const policy = policies.get(entry.pageId);
    if (!policy) {
      result.skippedUnknownPages.push(entry.pageId);
      logger.warn({ receiptId, pageId: entry.pageId }, 'webhook entry for an unknown Page skipped');
      continue;
    }
    for (const reject of entry.rejects) {
      deadLetters.push({ reason: reject.reason, payload: { receiptId, pageId: entry.pageId, itemIndex: reject.index, raw: reject.raw } });
    }
    const events = [...entry.events].sort((a, b) => a.timestamp - b.timestamp);
    for (const event of events) {
      if (event.pageId !== entry.pageId) {
        deadLetters.push({
          reason: `event recipient ${event.pageId} differs from entry Page ${entry.pageId}`,
          payload: { receiptId, pageId: entry.pageId, event },
        });
        continue;
      }
      const unstorable = unstorableReason(event);
      if (unstorable) {
        deadLetters.push({ reason: unstorable, payload: { receiptId, pageId: entry.pageId, event } });
        logger.warn({ receiptId, pageId: entry.pageId, kind: event.kind, reason: unstorable }, 'webhook event dead-lettered');
        continue;
      }
      try {
        const applied = await applyWebhookEvent(db, event, { pageId: entry.pageId, policy, checkboxUserRefOf });
        result.applied++;
        logger.info({ receiptId, pageId: entry.pageId, ...applied, at: new Date(event.timestamp).toISOString() }, 'webhook event applied');
      } catch (error) {
        failures.push({ event, error, pageId: entry.pageId });
      }
    }
  }

  const isPermanent = (error: unknown) => error instanceof UnappliableEventError || isDataException(error);
  const permanent = failures.filter((failure) => isPermanent(failure.error));
  const transient = failures.filter((failure) => !isPermanent(failure.error));
  if (transient.length > 0 && !finalAttempt) {
    for (const failure of transient) logger.warn({ receiptId, err: failure.error, kind: failure.event.kind }, 'webhook event failed; retrying the receipt');
    throw new RetryableReceiptError(`${transient.length} event(s) of receipt ${receiptId} failed; retrying`);
  }
  for (const failure of [...permanent, ...transient]) {
    const reason = failure.error instanceof Error ? failure.error.message : String(failure.error);
    // The event keeps its token: it is the only copy of something Meta will not send again, and DeadLetter rows
    // are as private as OptIn rows. Only logs must never carry it.
    deadLetters.push({ reason, payload: { receiptId, pageId: failure.pageId, event: failure.event } });
    logger.warn({ receiptId, pageId: failure.pageId, kind: failure.event.kind, reason }, 'webhook event dead-lettered');
  }
  await finishWebhookReceipt(db, receiptId, WEBHOOK_ENTRY_DEAD_LETTER, deadLetters);
  return { ...result, deadLettered: deadLetters.length };
}
