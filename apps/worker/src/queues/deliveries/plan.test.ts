import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BatchRow } from '@renotify/db';
import { resolvePolicy, SkipReason, type Policy } from '@renotify/domain';
import type { SendOutcome } from '@renotify/messenger';
import { interpret } from './dispatch.js';
import { planBatch, type CapUsage, type PlanInput } from './plan.js';

const NOW = new Date('2026-06-10T12:00:00Z');
const at = (iso: string) => new Date(iso);
const meta2022 = resolvePolicy('meta-2022');
const capped: Policy = { ...meta2022, userCap: { maxSends: 2, windowHours: 24 } };
const quiet: Policy = { ...meta2022, quietHours: { start: '11:00', end: '13:00' } };

let seq = 0;
function row(overrides: Partial<BatchRow> = {}): BatchRow {
  seq++;
  return {
    id: `d${seq}`,
    optInId: `o${seq}`,
    pageId: 'page',
    attempts: 0,
    claimedAt: null,
    ambiguousAttempt: false,
    notBefore: null,
    abandoned: false,
    kind: 'ONE_TIME',
    tokenStatus: 'ACTIVE',
    topic: 'back_in_stock:p1',
    token: `tok${seq}`,
    frequency: null,
    tokenTimezone: null,
    expiresAt: null,
    tokenCreatedAt: at('2026-06-09T12:00:00Z'),
    lastSentAt: null,
    nextEligibleAt: null,
    subscriberId: `s${seq}`,
    subscriberTimezone: null,
    unavailableUntil: null,
    ...overrides,
  };
}

const input = (overrides: Partial<PlanInput> = {}): PlanInput => ({
  policy: meta2022,
  page: { pausedUntil: null, messagingRegion: null },
  deferIneligible: false,
  capUsage: new Map(),
  ...overrides,
});

describe('planBatch (the decision step of a dispatch pass)', () => {
  const cases: Array<[string, Partial<BatchRow>, Partial<PlanInput>, 'send' | { status: string; skipReason?: string; notBefore?: Date }]> = [
    ['an active one-time token is sent', {}, {}, 'send'],
    ['a used token is skipped', { tokenStatus: 'USED' }, {}, { status: 'SKIPPED', skipReason: SkipReason.TOKEN_USED }],
    ['a token held by this delivery (retry) is sent', { tokenStatus: 'USED', lastSentAt: at('2026-06-10T11:00:00Z'), claimedAt: at('2026-06-10T11:00:00Z') }, {}, 'send'],
    ['an expired token is skipped', { expiresAt: at('2026-06-10T00:00:00Z') }, {}, { status: 'SKIPPED', skipReason: SkipReason.TOKEN_EXPIRED }],
    ['a paused Page defers to the end of the pause', {}, { page: { pausedUntil: at('2026-06-10T13:00:00Z'), messagingRegion: null } }, { status: 'PENDING', skipReason: SkipReason.PAGE_PAUSED, notBefore: at('2026-06-10T13:00:00Z') }],
    ['quiet hours defer to their end', {}, { policy: quiet }, { status: 'PENDING', skipReason: SkipReason.QUIET_HOURS, notBefore: at('2026-06-10T13:00:00Z') }],
    ['a capped person is skipped', { subscriberId: 'capped' }, { policy: capped, capUsage: new Map([['capped', { count: 2, oldest: at('2026-06-10T01:00:00Z') }]]) }, { status: 'SKIPPED', skipReason: SkipReason.USER_CAP }],
    [
      'a capped person waits for the oldest send to leave the window when the source defers',
      { subscriberId: 'capped' },
      { policy: capped, deferIneligible: true, capUsage: new Map([['capped', { count: 2, oldest: at('2026-06-10T01:00:00Z') }]]) },
      { status: 'PENDING', skipReason: SkipReason.USER_CAP, notBefore: at('2026-06-11T01:00:00Z') },
    ],
    [
      'a recurring token in its frequency window waits when the source defers',
      { kind: 'RECURRING', frequency: 'DAILY', lastSentAt: at('2026-06-10T06:00:00Z'), nextEligibleAt: at('2026-06-11T06:00:00Z') },
      { deferIneligible: true },
      { status: 'PENDING', skipReason: SkipReason.FREQUENCY_WINDOW, notBefore: at('2026-06-11T06:00:00Z') },
    ],
    [
      'recurring is skipped where meta-2026 no longer delivers it',
      { kind: 'RECURRING', frequency: 'DAILY' },
      { policy: resolvePolicy('meta-2026'), page: { pausedUntil: null, messagingRegion: 'US' } },
      { status: 'SKIPPED', skipReason: SkipReason.RECURRING_UNAVAILABLE },
    ],
  ];
  it.each(cases)('%s', (_name, rowOverrides, inputOverrides, expected) => {
    const subject = row(rowOverrides);
    const plan = planBatch([subject], input(inputOverrides), NOW);
    if (expected === 'send') {
      expect(plan.eligible.map((e) => e.row.id)).toEqual([subject.id]);
      expect(plan.preSend).toEqual([]);
      return;
    }
    expect(plan.eligible).toEqual([]);
    expect(plan.preSend).toHaveLength(1);
    expect(plan.preSend[0]).toMatchObject({ deliveryId: subject.id, ...expected });
  });

  it('expires the token of a row skipped as expired, and nothing else', () => {
    const expired = row({ expiresAt: at('2026-06-10T00:00:00Z') });
    const plan = planBatch([expired, row(), row({ tokenStatus: 'USED' })], input(), NOW);
    expect(plan.tokenChanges).toEqual([{ optInId: expired.optInId, change: 'EXPIRED' }]);
  });

  it('counts sends planned in the same batch against the cap', () => {
    const person = 'same-person';
    const rows = [row({ subscriberId: person, topic: 'a' }), row({ subscriberId: person, topic: 'b' }), row({ subscriberId: person, topic: 'c' })];
    const plan = planBatch(rows, input({ policy: capped, deferIneligible: true }), NOW);
    expect(plan.eligible).toHaveLength(2);
    // The third waits until the first planned send (now) leaves the 24 h window.
    expect(plan.preSend).toEqual([{ deliveryId: rows[2]!.id, status: 'PENDING', skipReason: SkipReason.USER_CAP, notBefore: at('2026-06-11T12:00:00Z') }]);
  });

  it('property: every row ends up exactly once in eligible or preSend, and never more sends per person than the cap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ person: fc.integer({ min: 0, max: 4 }), used: fc.boolean(), earlier: fc.integer({ min: 0, max: 3 }) }), { maxLength: 30 }),
        fc.boolean(),
        (specs, deferIneligible) => {
          const rows = specs.map((spec) => row({ subscriberId: `p${spec.person}`, tokenStatus: spec.used ? 'USED' : 'ACTIVE' }));
          const capUsage = new Map<string, CapUsage>(specs.map((spec) => [`p${spec.person}`, { count: spec.earlier, oldest: spec.earlier ? at('2026-06-10T00:00:00Z') : null }]));
          const plan = planBatch(rows, input({ policy: capped, deferIneligible, capUsage }), NOW);
          const seen = [...plan.eligible.map((e) => e.row.id), ...plan.preSend.map((o) => o.deliveryId)].sort();
          expect(seen).toEqual(rows.map((r) => r.id).sort());
          const perPerson = new Map<string, number>();
          for (const { row: sent } of plan.eligible) perPerson.set(sent.subscriberId, (perPerson.get(sent.subscriberId) ?? 0) + 1);
          for (const [person, count] of perPerson) expect(count + (capUsage.get(person)?.count ?? 0)).toBeLessThanOrEqual(2);
        },
      ),
    );
  });

  it('does not read the clock', () => {
    const later = new Date('2030-01-01T00:00:00Z');
    const subject = row({ expiresAt: at('2026-06-11T00:00:00Z') });
    expect(planBatch([subject], input(), NOW).eligible).toHaveLength(1);
    expect(planBatch([subject], input(), later).preSend[0]).toMatchObject({ skipReason: SkipReason.TOKEN_EXPIRED });
  });
});

describe('interpret (what one Send API answer means)', () => {
  const retry = { maxAttempts: 3, baseMs: 1000 };
  const ok: SendOutcome = { ok: true, messageId: 'm.1', httpStatus: 200 } as SendOutcome;
  const refused = (kind: string, extra: Record<string, unknown> = {}, httpStatus: number | null = 400): SendOutcome =>
    ({ ok: false, httpStatus, error: { code: 10, subcode: null, message: 'refused' }, failure: { kind, ...extra } }) as unknown as SendOutcome;

  const cases: Array<[string, Partial<BatchRow>, SendOutcome, Record<string, unknown>]> = [
    ['success is SENT with the message id', {}, ok, { outcome: { status: 'SENT', messageId: 'm.1' } }],
    ['a used one-time token after an ambiguous attempt was delivered then', { ambiguousAttempt: true }, refused('token_invalid'), { outcome: { status: 'SENT', messageId: null } }],
    ['a used one-time token otherwise is FAILED and the token INVALID', {}, refused('token_invalid'), { outcome: { status: 'FAILED' }, tokenChange: 'INVALID' }],
    ['a stop is SKIPPED and the token STOPPED', {}, refused('stopped'), { outcome: { status: 'SKIPPED', skipReason: SkipReason.STOPPED }, tokenChange: 'STOPPED' }],
    ['a retryable error waits', {}, refused('retryable', {}, 500), { outcome: { status: 'PENDING', ambiguous: false } }],
    ['a timeout waits and is remembered as ambiguous', {}, refused('retryable', {}, null), { outcome: { status: 'PENDING', ambiguous: true } }],
    ['the last attempt gives up', { attempts: 2 }, refused('retryable', {}, 500), { outcome: { status: 'DEAD' } }],
    ['an unavailable person is FAILED, token released, person suppressed', {}, refused('recipient_unavailable'), { outcome: { status: 'FAILED' }, tokenChange: 'RELEASE', subscriberUnavailable: true }],
    ['a refused request stops the source and keeps the token', {}, refused('request_invalid'), { outcome: { status: 'DEAD' }, tokenChange: 'RELEASE' }],
    ['a restricted Page pauses it', {}, refused('page_paused', { retryAfterMs: 60_000 }), { outcome: { status: 'PENDING', notBefore: new Date(NOW.getTime() + 60_000) }, pausePageUntil: new Date(NOW.getTime() + 60_000) }],
  ];
  it.each(cases)('%s', (_name, rowOverrides, answer, expected) => {
    expect(interpret(row(rowOverrides), answer, retry, NOW, meta2022)).toMatchObject(expected);
  });
});
