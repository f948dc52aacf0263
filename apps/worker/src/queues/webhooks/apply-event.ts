import {
  applyMessageReceipt,
  applyOneTimeOptIn,
  applyRecurringOptIn,
  applyRecurringStatus,
  linkUserRefToPsid,
  recordInboundMessageWebhooks,
  upsertSubscriberByPsid,
  upsertSubscriberByUserRef,
  withTransaction,
  type Database,
} from '@renotify/db';
import { expiryFor, isValidTimeZone, type Policy } from '@renotify/domain';
import type { WebhookEvent } from '@renotify/messenger';
import { fingerprint } from '@renotify/observability';

/** An event that can never apply (retrying will not help): it goes straight to the dead letters. */
export class UnappliableEventError extends Error {
  override name = 'UnappliableEventError';
}

export interface AppliedEvent {
  kind: WebhookEvent['kind'];
  outcome: string;
  psid?: string;
  tokenFingerprint?: string;
  /** A time zone Meta sent that is not an IANA zone: the token is kept, the zone dropped. */
  droppedTimeZone?: string;
}

export interface ApplyContext {
  pageId: string;
  policy: Policy;
  /** From the raw item: a reply to a checkbox opt-in names the user_ref it answers (Meta's `prior_message`). */
  checkboxUserRefOf: (event: WebhookEvent) => string | undefined;
}

/** What a one-time and a recurring opt-in store alike: the token (and its fingerprint), topic, title, time. */
function optInFields(event: { token: string; payload: string; title?: string | undefined }, pageId: string, subscriberId: string, at: Date) {
  return { pageId, subscriberId, token: event.token, tokenFingerprint: fingerprint(event.token), topic: event.payload, title: event.title ?? null, at };
}

/** The webhook was verified for `pageId`, and the token it carries belongs to another Page: nothing may change. */
function refuseForeignToken(event: { kind: string; token: string }, pageId: string): never {
  throw new UnappliableEventError(`${event.kind} for token ${fingerprint(event.token)}, which is stored for another Page: a webhook for Page ${pageId} cannot change it`);
}

/**
 * Applies one webhook event to the token store in its own transaction. Every write is idempotent and
 * ordered by the event's timestamp, so replays and late deliveries are harmless.
 */
export function applyWebhookEvent(db: Database, event: WebhookEvent, context: ApplyContext): Promise<AppliedEvent> {
  const at = new Date(event.timestamp);
  const { pageId, policy } = context;
  return withTransaction(db, async (client): Promise<AppliedEvent> => {
    switch (event.kind) {
      case 'message':
      case 'postback': {
        const userRef = context.checkboxUserRefOf(event);
        const link = userRef === undefined ? undefined : await linkUserRefToPsid(client, pageId, userRef, event.psid);
        await upsertSubscriberByPsid(client, pageId, event.psid, at);
        // The inbound relay (#15): the business's endpoints get the message in the transaction that records it.
        await recordInboundMessageWebhooks(client, {
          pageId,
          psid: event.psid,
          kind: event.kind,
          mid: event.mid ?? null,
          text: event.kind === 'message' ? (event.text ?? null) : null,
          quickReplyPayload: event.kind === 'message' ? (event.quickReplyPayload ?? null) : null,
          postback: event.kind === 'postback' ? { payload: event.payload, title: event.title } : null,
          at,
        });
        return { kind: event.kind, outcome: link ? `window_opened+${link}` : 'window_opened', psid: event.psid };
      }
      case 'one_time_optin': {
        const subscriberId = await upsertSubscriberByPsid(client, pageId, event.psid);
        const outcome = await applyOneTimeOptIn(client, {
          ...optInFields(event, pageId, subscriberId, at),
          expiresAt: expiryFor('ONE_TIME', null, at, policy),
        });
        if (outcome === 'foreign_token') refuseForeignToken(event, pageId);
        return { kind: event.kind, outcome, psid: event.psid, tokenFingerprint: fingerprint(event.token) };
      }
      case 'recurring_optin': {
        const subscriberId = await upsertSubscriberByPsid(client, pageId, event.psid);
        const timezone = event.timezone !== undefined && isValidTimeZone(event.timezone) ? event.timezone : null;
        const outcome = await applyRecurringOptIn(client, {
          ...optInFields(event, pageId, subscriberId, at),
          frequency: event.frequency,
          timezone,
          at,
          expiresAt: expiryFor('RECURRING', event.frequency, at, policy, event.expiresAt ?? null),
        });
        if (outcome === 'foreign_token') refuseForeignToken(event, pageId);
        const applied: AppliedEvent = { kind: event.kind, outcome, psid: event.psid, tokenFingerprint: fingerprint(event.token) };
        if (event.timezone !== undefined && timezone === null) applied.droppedTimeZone = event.timezone;
        return applied;
      }
      case 'recurring_status': {
        const subscriberId = await upsertSubscriberByPsid(client, pageId, event.psid);
        const input: Parameters<typeof applyRecurringStatus>[1] = {
          pageId,
          subscriberId,
          token: event.token,
          tokenFingerprint: fingerprint(event.token),
          status: event.status,
          at,
        };
        if (event.payload !== undefined) input.topic = event.payload;
        if (event.title !== undefined) input.title = event.title;
        const outcome = await applyRecurringStatus(client, input);
        if (outcome === 'foreign_token') refuseForeignToken(event, pageId);
        if (outcome === 'unknown_token') {
          throw new UnappliableEventError(`${event.status} for token ${fingerprint(event.token)} that is not stored, and the webhook names no topic`);
        }
        return { kind: event.kind, outcome, psid: event.psid, tokenFingerprint: fingerprint(event.token) };
      }
      case 'message_delivery':
      case 'message_read': {
        // Meta's receipts (#15): watermark semantics; the Delivery triggers turn each first mark into a webhook.
        const marked = await applyMessageReceipt(client, {
          pageId,
          psid: event.psid,
          kind: event.kind === 'message_read' ? 'read' : 'delivery',
          watermark: new Date(event.watermark),
          at,
          ...(event.kind === 'message_delivery' ? { mids: event.mids } : {}),
        });
        return { kind: event.kind, outcome: `marked_${marked}`, psid: event.psid };
      }
      case 'checkbox_optin': {
        await upsertSubscriberByUserRef(client, pageId, event.userRef, at);
        return { kind: event.kind, outcome: 'user_ref_stored' };
      }
    }
  });
}
