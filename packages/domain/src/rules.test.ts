import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Policy, PolicyProfileId } from './policy.js';
import { resolvePolicy } from './policy.js';
import { applySend, evaluate, expiryFor, tokenExpiresAt } from './rules.js';
import { localTimeParts } from './time-zone.js';
import type { EvaluationContext, Frequency, OptInStatus, TokenState, Verdict } from './types.js';
import { SkipReason } from './types.js';
import { INTERESTING_TIME_ZONES, at, subscriber, token } from './test-support/fixtures.js';

const meta2022 = resolvePolicy('meta-2022');
const meta2025 = resolvePolicy('meta-2025-09');
const guarded = resolvePolicy('meta-2022', { userCap: { maxSends: 2, windowHours: 24 }, quietHours: { start: '22:00', end: '08:00' } });
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const NOW = at('2026-06-10T12:00:00Z'); // 14:00 in Berlin, a Wednesday

describe('evaluate: one rule at a time', () => {
  it.each<[string, Partial<TokenState>, Parameters<typeof subscriber>[0], Policy, EvaluationContext, Verdict]>([
    ['fresh recurring token', {}, {}, meta2022, {}, { eligible: true }],
    ['fresh one-time token', { kind: 'ONE_TIME', frequency: null }, {}, meta2022, { topic: 'weekly_deals' }, { eligible: true }],
    ['INVALID', { status: 'INVALID' }, {}, meta2022, {}, { eligible: false, reason: SkipReason.TOKEN_INVALID }],
    ['USED', { kind: 'ONE_TIME', status: 'USED' }, {}, meta2022, {}, { eligible: false, reason: SkipReason.TOKEN_USED }],
    ['one-time with a recorded send but status lagging', { kind: 'ONE_TIME', lastSentAt: at('2026-06-01T00:00:00Z') }, {}, meta2022, {}, { eligible: false, reason: SkipReason.TOKEN_USED }],
    ['STOPPED', { status: 'STOPPED' }, {}, meta2022, {}, { eligible: false, reason: SkipReason.STOPPED }],
    ['EXPIRED status', { status: 'EXPIRED' }, {}, meta2022, {}, { eligible: false, reason: SkipReason.TOKEN_EXPIRED }],
    ['explicit expiry passed', { expiresAt: at('2026-06-10T11:59:59Z') }, {}, meta2022, {}, { eligible: false, reason: SkipReason.TOKEN_EXPIRED }],
    ['explicit expiry exactly now', { expiresAt: NOW }, {}, meta2022, {}, { eligible: false, reason: SkipReason.TOKEN_EXPIRED }],
    ['explicit expiry in the future wins over lifetime', { createdAt: at('2024-01-01T00:00:00Z'), expiresAt: at('2026-07-01T00:00:00Z') }, {}, meta2022, {}, { eligible: true }],
    ['2022 daily lifetime 182 days passed', { createdAt: at('2025-12-09T12:00:00Z') }, {}, meta2022, {}, { eligible: false, reason: SkipReason.TOKEN_EXPIRED }],
    ['2022 daily lifetime not yet passed', { createdAt: at('2025-12-10T12:00:01Z') }, {}, meta2022, {}, { eligible: true }],
    ['2022 weekly lifetime 273 days not passed', { frequency: 'WEEKLY', createdAt: at('2025-12-09T12:00:00Z') }, {}, meta2022, {}, { eligible: true }],
    ['2025-09 no lifetime expiry', { createdAt: at('2020-01-01T00:00:00Z') }, {}, meta2025, {}, { eligible: true }],
    ['one-time 365 days passed (both profiles)', { kind: 'ONE_TIME', frequency: null, createdAt: at('2025-06-10T12:00:00Z') }, {}, meta2025, {}, { eligible: false, reason: SkipReason.TOKEN_EXPIRED }],
    ['topic mismatch', {}, {}, meta2022, { topic: 'price_drop:1' }, { eligible: false, reason: SkipReason.TOPIC_MISMATCH }],
    ['topic match', {}, {}, meta2022, { topic: 'weekly_deals' }, { eligible: true }],
    ['2025-09 weekly token is mapped to daily, stays eligible', { frequency: 'WEEKLY' }, {}, meta2025, {}, { eligible: true }],
    ['subscriber unavailable', {}, { unavailableUntil: at('2026-06-11T00:00:00Z') }, meta2022, {}, { eligible: false, reason: SkipReason.SUBSCRIBER_UNAVAILABLE, retryAt: at('2026-06-11T00:00:00Z') }],
    ['subscriber unavailable until now = available', {}, { unavailableUntil: NOW }, meta2022, {}, { eligible: true }],
    ['page paused', {}, {}, meta2022, { pagePausedUntil: at('2026-06-10T13:00:00Z') }, { eligible: false, reason: SkipReason.PAGE_PAUSED, retryAt: at('2026-06-10T13:00:00Z') }],
    ['page pause over', {}, {}, meta2022, { pagePausedUntil: at('2026-06-10T11:00:00Z') }, { eligible: true }],
    ['daily sent 23h ago', { lastSentAt: at('2026-06-09T13:00:00Z') }, {}, meta2022, {}, { eligible: false, reason: SkipReason.FREQUENCY_WINDOW, retryAt: at('2026-06-10T13:00:00Z') }],
    ['daily sent exactly 24h ago', { lastSentAt: at('2026-06-09T12:00:00Z') }, {}, meta2022, {}, { eligible: true }],
    ['2025-09 daily sent 24h ago still waits for 48h', { lastSentAt: at('2026-06-09T12:00:00Z') }, {}, meta2025, {}, { eligible: false, reason: SkipReason.FREQUENCY_WINDOW, retryAt: at('2026-06-11T12:00:00Z') }],
    ['stored nextEligibleAt in the future', { nextEligibleAt: at('2026-06-10T12:30:00Z') }, {}, meta2022, {}, { eligible: false, reason: SkipReason.FREQUENCY_WINDOW, retryAt: at('2026-06-10T12:30:00Z') }],
    ['weekly: sent Monday this week (Berlin)', { frequency: 'WEEKLY', timezone: 'Europe/Berlin', lastSentAt: at('2026-06-07T22:30:00Z') }, {}, meta2022, {}, { eligible: false, reason: SkipReason.FREQUENCY_WINDOW, retryAt: at('2026-06-14T22:00:00Z') }],
    ['weekly: sent Sunday last week (Berlin)', { frequency: 'WEEKLY', timezone: 'Europe/Berlin', lastSentAt: at('2026-06-07T21:30:00Z') }, {}, meta2022, {}, { eligible: true }],
    ['monthly: sent on the 1st this month', { frequency: 'MONTHLY', timezone: 'UTC', lastSentAt: at('2026-06-01T00:00:00Z') }, {}, meta2022, {}, { eligible: false, reason: SkipReason.FREQUENCY_WINDOW, retryAt: at('2026-07-01T00:00:00Z') }],
    ['window retry past expiry → no retryAt', { lastSentAt: at('2026-06-09T13:00:00Z'), expiresAt: at('2026-06-10T12:30:00Z') }, {}, meta2022, {}, { eligible: false, reason: SkipReason.FREQUENCY_WINDOW }],
    ['user cap reached', {}, { sendsInCapWindow: 2 }, guarded, {}, { eligible: false, reason: SkipReason.USER_CAP }],
    ['user cap reached, with oldest send known', {}, { sendsInCapWindow: 2, oldestSendInCapWindowAt: at('2026-06-10T02:00:00Z') }, guarded, {}, { eligible: false, reason: SkipReason.USER_CAP, retryAt: at('2026-06-11T02:00:00Z') }],
    ['user cap not reached', {}, { sendsInCapWindow: 1 }, guarded, {}, { eligible: true }],
    ['user cap off by default', {}, { sendsInCapWindow: 1000 }, meta2022, {}, { eligible: true }],
    ['quiet hours in subscriber zone (Kolkata 00:30)', {}, { timezone: 'Asia/Kolkata' }, guarded, {}, { eligible: false, reason: SkipReason.QUIET_HOURS, retryAt: at('2026-06-10T02:30:00Z') }],
    ['quiet hours fall back to token zone', { timezone: 'Asia/Kolkata' }, {}, guarded, {}, { eligible: false, reason: SkipReason.QUIET_HOURS, retryAt: at('2026-06-10T02:30:00Z') }],
    // One precedence (docs/time-zones.md): the token's zone from Meta beats the one the business set.
    ['quiet hours: token zone beats subscriber zone', { timezone: 'Asia/Kolkata' }, { timezone: 'Europe/Berlin' }, guarded, {}, { eligible: false, reason: SkipReason.QUIET_HOURS, retryAt: at('2026-06-10T02:30:00Z') }],
    ['quiet hours: Page zone when neither person zone is known', {}, {}, guarded, { pageTimeZone: 'Asia/Kolkata' }, { eligible: false, reason: SkipReason.QUIET_HOURS, retryAt: at('2026-06-10T02:30:00Z') }],
    ['quiet hours: a fixed zone beats every person zone', { timezone: 'Asia/Kolkata' }, { timezone: 'Asia/Kolkata' }, resolvePolicy('meta-2022', { quietHours: { start: '22:00', end: '08:00', timeZone: 'Europe/Berlin' } }), { pageTimeZone: 'Asia/Kolkata' }, { eligible: true }],
    ['quiet hours off by default', {}, { timezone: 'Asia/Kolkata' }, meta2022, {}, { eligible: true }],
  ])('%s', (_name, tokenOverrides, subscriberOverrides, policy, context, expected) => {
    const now = _name.startsWith('quiet hours') ? at('2026-06-09T19:00:00Z') : NOW;
    expect(evaluate(token(tokenOverrides), subscriber(subscriberOverrides), now, policy, context)).toEqual(expected);
  });
});

describe('evaluate: order of checks', () => {
  it('reports the first failing check in the documented order', () => {
    const everythingWrong = token({
      status: 'ACTIVE',
      expiresAt: at('2026-06-01T00:00:00Z'),
      lastSentAt: at('2026-06-10T11:00:00Z'),
    });
    const sub = subscriber({ timezone: 'Asia/Kolkata', unavailableUntil: at('2026-07-01T00:00:00Z'), sendsInCapWindow: 9 });
    const ctx: EvaluationContext = { topic: 'other', pagePausedUntil: at('2026-07-01T00:00:00Z') };
    const order: Array<[Partial<TokenState>, SkipReason]> = [
      [{ status: 'INVALID' }, SkipReason.TOKEN_INVALID],
      [{ status: 'USED' }, SkipReason.TOKEN_USED],
      [{ status: 'STOPPED' }, SkipReason.STOPPED],
      [{}, SkipReason.TOKEN_EXPIRED],
      [{ expiresAt: null }, SkipReason.TOPIC_MISMATCH],
    ];
    for (const [patch, reason] of order) {
      expect(evaluate({ ...everythingWrong, ...patch }, sub, NOW, guarded, ctx)).toMatchObject({ eligible: false, reason });
    }
    const live = { ...everythingWrong, expiresAt: null };
    const strict = resolvePolicy('meta-2025-09', { userCap: { maxSends: 1, windowHours: 24 }, quietHours: { start: '00:00', end: '23:59' } });
    strict.recurring.disallowedFrequencyFallback = null;
    expect(evaluate({ ...live, frequency: 'WEEKLY' }, sub, NOW, strict, { ...ctx, topic: live.topic })).toMatchObject({ reason: SkipReason.FREQUENCY_NOT_ALLOWED });
    const steps: Array<[typeof sub, EvaluationContext, SkipReason]> = [
      [sub, { ...ctx, topic: live.topic }, SkipReason.SUBSCRIBER_UNAVAILABLE],
      [{ ...sub, unavailableUntil: null }, { ...ctx, topic: live.topic }, SkipReason.PAGE_PAUSED],
      [{ ...sub, unavailableUntil: null }, { topic: live.topic, pagePausedUntil: null }, SkipReason.FREQUENCY_WINDOW],
    ];
    for (const [s, c, reason] of steps) expect(evaluate(live, s, NOW, strict, c)).toMatchObject({ reason });
    const sent = { ...live, lastSentAt: null };
    const free = { ...sub, unavailableUntil: null };
    expect(evaluate(sent, free, NOW, strict)).toMatchObject({ reason: SkipReason.USER_CAP });
    expect(evaluate(sent, { ...free, sendsInCapWindow: 0 }, NOW, strict)).toMatchObject({ reason: SkipReason.QUIET_HOURS });
  });

  it('does not depend on Date.now()', () => {
    const verdictThen = evaluate(token({ createdAt: at('1999-01-01T00:00:00Z') }), subscriber(), at('1999-01-02T00:00:00Z'), meta2022);
    expect(verdictThen).toEqual({ eligible: true });
  });
});

describe('expiryFor', () => {
  it.each([
    ['one-time, 2022', 'ONE_TIME', null, meta2022, undefined, '2027-06-10T12:00:00.000Z'],
    ['one-time, 2025-09', 'ONE_TIME', null, meta2025, undefined, '2027-06-10T12:00:00.000Z'],
    ['recurring daily, 2022: 182 days', 'RECURRING', 'DAILY', meta2022, undefined, '2026-12-09T12:00:00.000Z'],
    ['recurring weekly, 2022: 273 days', 'RECURRING', 'WEEKLY', meta2022, undefined, '2027-03-10T12:00:00.000Z'],
    ['recurring monthly, 2022: 365 days', 'RECURRING', 'MONTHLY', meta2022, undefined, '2027-06-10T12:00:00.000Z'],
    ['recurring without frequency = daily', 'RECURRING', null, meta2022, undefined, '2026-12-09T12:00:00.000Z'],
    ['recurring, 2025-09: never', 'RECURRING', 'DAILY', meta2025, undefined, null],
    ['explicit expiry always wins', 'RECURRING', 'DAILY', meta2025, at('2026-09-01T00:00:00Z'), '2026-09-01T00:00:00.000Z'],
  ] as const)('%s', (_name, kind, frequency, policy, explicit, expected) => {
    const expiry = expiryFor(kind, frequency as Frequency | null, NOW, policy, explicit);
    expect(expiry?.toISOString() ?? null).toBe(expected);
  });

  it('tokenExpiresAt uses createdAt', () => {
    expect(tokenExpiresAt(token({ kind: 'ONE_TIME', createdAt: NOW }), meta2022)?.toISOString()).toBe('2027-06-10T12:00:00.000Z');
  });
});

describe('applySend', () => {
  it('one-time → USED; recurring → lastSentAt and nextEligibleAt', () => {
    expect(applySend(token({ kind: 'ONE_TIME', frequency: null }), NOW, meta2022)).toMatchObject({ status: 'USED', lastSentAt: NOW });
    const next = applySend(token({ frequency: 'WEEKLY', timezone: 'UTC' }), NOW, meta2022);
    expect(next).toMatchObject({ status: 'ACTIVE', lastSentAt: NOW, nextEligibleAt: at('2026-06-15T00:00:00Z') });
  });
});

// ---------------------------------------------------------------- properties

const PROFILES: PolicyProfileId[] = ['meta-2022', 'meta-2025-09'];
const START = at('2026-01-01T00:00:00Z').getTime();

/** Attempt times: increasing, gaps from seconds to several days, so both sides of every window are hit. */
const attemptTimes = fc
  .array(fc.integer({ min: 1_000, max: 4 * DAY }), { minLength: 1, maxLength: 40 })
  .chain((gaps) => fc.integer({ min: 0, max: 30 * DAY }).map((offset) => ({ gaps, offset })))
  .map(({ gaps, offset }) => {
    let t = START + offset;
    return gaps.map((gap) => new Date((t += gap)));
  });

function simulate(initial: TokenState, times: Date[], policy: Policy, subscriberTz: string | null): Date[] {
  let state = initial;
  const sends: Date[] = [];
  for (const now of times) {
    if (evaluate(state, subscriber({ timezone: subscriberTz }), now, policy).eligible) {
      sends.push(now);
      state = applySend(state, now, policy, subscriberTz);
    }
  }
  return sends;
}

/** An independent oracle for "which calendar period is this in": ISO-week Monday or year-month, read from Intl. */
function calendarKey(frequency: 'WEEKLY' | 'MONTHLY', instant: Date, zone: string): string {
  const p = localTimeParts(instant, zone);
  if (frequency === 'MONTHLY') return `${p.year}-${p.month}`;
  const monday = new Date(Date.UTC(p.year, p.month - 1, p.day - (p.weekday - 1)));
  return monday.toISOString().slice(0, 10);
}

describe('properties', () => {
  it('(a) a one-time token is sent at most once, and the first attempt before expiry succeeds', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PROFILES), attemptTimes, (profile, times) => {
        const policy = resolvePolicy(profile);
        const sends = simulate(token({ kind: 'ONE_TIME', frequency: null, createdAt: new Date(START) }), times, policy, null);
        expect(sends.length).toBeLessThanOrEqual(1);
        expect(sends).toEqual([times[0]]);
      }),
      { numRuns: 300 },
    );
  });

  it('(b) a recurring token is never sent twice in one window, and is sent whenever the window allows', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PROFILES),
        fc.constantFrom<Frequency | null>('DAILY', 'WEEKLY', 'MONTHLY', null),
        fc.constantFrom(...INTERESTING_TIME_ZONES),
        fc.option(fc.constantFrom(...INTERESTING_TIME_ZONES), { nil: null }),
        attemptTimes,
        (profile, frequency, zone, tokenZoneOrNull, times) => {
          const policy = resolvePolicy(profile);
          // Token zone if set, else the subscriber's.
          const initial = token({ frequency, timezone: tokenZoneOrNull, createdAt: new Date(START) });
          const effectiveZone = tokenZoneOrNull ?? zone;
          const sends = simulate(initial, times, policy, zone);
          const calendar = profile === 'meta-2022' && (frequency === 'WEEKLY' || frequency === 'MONTHLY');
          const cooldown = policy.recurring.daily.cooldownHours * HOUR;
          // Safety: never two sends in one window.
          for (let i = 1; i < sends.length; i += 1) {
            const [prev, cur] = [sends[i - 1] as Date, sends[i] as Date];
            if (calendar) expect(calendarKey(frequency, cur, effectiveZone)).not.toBe(calendarKey(frequency, prev, effectiveZone));
            else expect(cur.getTime() - prev.getTime()).toBeGreaterThanOrEqual(cooldown);
          }
          // Liveness: every attempt the oracle allows was sent.
          let last: Date | null = null;
          for (const now of times) {
            const allowed =
              last === null ||
              (calendar
                ? calendarKey(frequency, now, effectiveZone) !== calendarKey(frequency, last, effectiveZone)
                : now.getTime() - last.getTime() >= cooldown);
            expect(sends.includes(now)).toBe(allowed);
            if (allowed) last = now;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('(c) nothing is eligible after STOP or after expiry, whatever else is true', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PROFILES),
        fc.constantFrom<'ONE_TIME' | 'RECURRING'>('ONE_TIME', 'RECURRING'),
        fc.constantFrom<OptInStatus>('ACTIVE', 'STOPPED', 'EXPIRED'),
        fc.boolean(),
        fc.integer({ min: 0, max: 800 * DAY }),
        fc.option(fc.integer({ min: 0, max: 400 * DAY }), { nil: null }),
        fc.option(fc.integer({ min: -10 * DAY, max: 10 * DAY }), { nil: null }),
        (profile, kind, status, stopped, ageMs, explicitLifetimeMs, lastSentOffset) => {
          const policy = resolvePolicy(profile);
          const createdAt = new Date(START);
          const now = new Date(START + ageMs);
          const t = token({
            kind,
            frequency: kind === 'ONE_TIME' ? null : 'DAILY',
            status: stopped ? 'STOPPED' : status,
            createdAt,
            expiresAt: explicitLifetimeMs === null ? null : new Date(START + explicitLifetimeMs),
            lastSentAt: kind === 'RECURRING' && lastSentOffset !== null ? new Date(now.getTime() - 3 * DAY + lastSentOffset) : null,
          });
          const expiry = tokenExpiresAt(t, policy);
          const expired = t.status === 'EXPIRED' || (expiry !== null && now.getTime() >= expiry.getTime());
          const verdict = evaluate(t, subscriber(), now, policy);
          if (t.status === 'STOPPED') expect(verdict).toEqual({ eligible: false, reason: SkipReason.STOPPED });
          else if (expired) expect(verdict).toEqual({ eligible: false, reason: SkipReason.TOKEN_EXPIRED });
          if (verdict.eligible) {
            expect(t.status).toBe('ACTIVE');
            expect(expired).toBe(false);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
