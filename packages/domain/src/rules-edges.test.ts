import { describe, expect, it } from 'vitest';
import { resolvePolicy } from './policy.js';
import { evaluate, expiryFor } from './rules.js';
import { at, subscriber, token } from './test-support/fixtures.js';
import { SkipReason } from './types.js';

/** Boundaries of evaluate() that the scenario tests in rules.test.ts do not pin down (found by mutation testing). */
describe('evaluate: edges', () => {
  const daily = resolvePolicy('meta-2022');
  const now = at('2026-03-10T12:00:00Z');

  it('refuses an invalid "now"', () => {
    expect(() => evaluate(token(), subscriber(), new Date(Number.NaN), daily)).toThrow('evaluate: now must be a valid Date');
  });

  it('skips INVALID tokens before anything else, and unknown statuses as TOKEN_INVALID', () => {
    expect(evaluate(token({ status: 'INVALID' }), subscriber(), now, daily)).toEqual({ eligible: false, reason: SkipReason.TOKEN_INVALID });
    expect(evaluate(token({ status: 'RELEASED' as never }), subscriber(), now, daily)).toEqual({ eligible: false, reason: SkipReason.TOKEN_INVALID });
  });

  it('lets a one-time token through whatever its (absent) frequency', () => {
    const strict = resolvePolicy('meta-2025-09');
    strict.recurring.disallowedFrequencyFallback = null;
    expect(evaluate(token({ kind: 'ONE_TIME', frequency: 'WEEKLY' }), subscriber(), now, strict)).toEqual({ eligible: true });
    expect(evaluate(token({ kind: 'RECURRING', frequency: 'WEEKLY' }), subscriber(), now, strict)).toEqual({ eligible: false, reason: SkipReason.FREQUENCY_NOT_ALLOWED });
  });

  it('sends again exactly when the Page pause ends', () => {
    expect(evaluate(token(), subscriber(), now, daily, { pagePausedUntil: now })).toEqual({ eligible: true });
    expect(evaluate(token(), subscriber(), now, daily, { pagePausedUntil: new Date(now.getTime() + 1) })).toMatchObject({ reason: SkipReason.PAGE_PAUSED });
  });

  it('defers to the later of nextEligibleAt and the window implied by lastSentAt', () => {
    const lastSentAt = at('2026-03-10T06:00:00Z');
    const early = evaluate(token({ lastSentAt, nextEligibleAt: at('2026-03-10T13:00:00Z') }), subscriber(), now, daily);
    expect(early).toEqual({ eligible: false, reason: SkipReason.FREQUENCY_WINDOW, retryAt: at('2026-03-11T06:00:00Z') });
    const late = evaluate(token({ lastSentAt, nextEligibleAt: at('2026-03-12T00:00:00Z') }), subscriber(), now, daily);
    expect(late).toEqual({ eligible: false, reason: SkipReason.FREQUENCY_WINDOW, retryAt: at('2026-03-12T00:00:00Z') });
    const onlyLastSend = evaluate(token({ lastSentAt }), subscriber(), now, daily);
    expect(onlyLastSend).toMatchObject({ retryAt: at('2026-03-11T06:00:00Z') });
  });

  it('gives the user cap a retryAt only when it lies in the future, and none past expiry', () => {
    const capped = resolvePolicy('meta-2022', { userCap: { maxSends: 1, windowHours: 24 } });
    const full = { sendsInCapWindow: 1 };
    expect(evaluate(token(), subscriber({ ...full, oldestSendInCapWindowAt: at('2026-03-10T00:00:00Z') }), now, capped)).toEqual({
      eligible: false,
      reason: SkipReason.USER_CAP,
      retryAt: at('2026-03-11T00:00:00Z'),
    });
    // The window already ended (stale count): no retryAt in the past.
    expect(evaluate(token(), subscriber({ ...full, oldestSendInCapWindowAt: at('2026-03-09T12:00:00Z') }), now, capped)).toEqual({ eligible: false, reason: SkipReason.USER_CAP });
    expect(evaluate(token(), subscriber({ ...full, oldestSendInCapWindowAt: at('2026-03-09T11:00:00Z') }), now, capped)).toEqual({ eligible: false, reason: SkipReason.USER_CAP });
    // Retrying exactly at expiry is pointless.
    const expiring = token({ expiresAt: at('2026-03-11T00:00:00Z') });
    expect(evaluate(expiring, subscriber({ ...full, oldestSendInCapWindowAt: at('2026-03-10T00:00:00Z') }), now, capped)).toEqual({ eligible: false, reason: SkipReason.USER_CAP });
  });
});

describe('expiryFor: recurring lifetime of an unmappable frequency', () => {
  it('falls back to the declared frequency, then DAILY', () => {
    const strict = resolvePolicy('meta-2022');
    strict.recurring.allowedFrequencies = ['DAILY'];
    const optedIn = at('2026-01-01T00:00:00Z');
    expect(expiryFor('RECURRING', 'MONTHLY', optedIn, strict)).toEqual(new Date(optedIn.getTime() + 365 * 86_400_000));
    expect(expiryFor('RECURRING', null, optedIn, strict)).toEqual(new Date(optedIn.getTime() + 182 * 86_400_000));
  });
});
