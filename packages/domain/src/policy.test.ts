import { describe, expect, it } from 'vitest';
import {
  DEFAULT_POLICY_PROFILE_ID,
  POLICY_PROFILES,
  effectiveFrequency,
  isPolicyProfileId,
  resolvePolicy,
} from './policy.js';

describe('policy profiles', () => {
  it('lists both profiles with dates and descriptions, default meta-2022', () => {
    expect(POLICY_PROFILES.map((p) => [p.id, p.effectiveFrom])).toEqual([
      ['meta-2022', '2022-01-01'],
      ['meta-2025-09', '2025-09-01'],
    ]);
    for (const profile of POLICY_PROFILES) expect(profile.description.length).toBeGreaterThan(20);
    expect(DEFAULT_POLICY_PROFILE_ID).toBe('meta-2022');
  });

  it.each([
    ['meta-2022', true],
    ['meta-2025-09', true],
    ['meta-2023', false],
    ['toString', false],
    [undefined, false],
  ])('isPolicyProfileId(%s) = %s', (id, expected) => {
    expect(isPolicyProfileId(id)).toBe(expected);
  });

  it('meta-2022: 24h daily, calendar weeks/months, 6/9/12-month lifetimes, anti-spam off', () => {
    const policy = resolvePolicy('meta-2022');
    expect(policy.recurring.allowedFrequencies).toEqual(['DAILY', 'WEEKLY', 'MONTHLY']);
    expect(policy.recurring.daily.cooldownHours).toBe(24);
    expect(policy.recurring.weeklyMonthlyWindow).toBe('calendar');
    expect(policy.recurring.tokenLifetimeDays).toEqual({ DAILY: 182, WEEKLY: 273, MONTHLY: 365 });
    expect(policy.oneTimeTokenLifetimeDays).toBe(365);
    expect(policy.userCap).toBeNull();
    expect(policy.quietHours).toBeNull();
  });

  it('meta-2025-09: 48h, DAILY only (others mapped to DAILY), no lifetime expiry for recurring', () => {
    const policy = resolvePolicy('meta-2025-09');
    expect(policy.recurring.allowedFrequencies).toEqual(['DAILY']);
    expect(policy.recurring.daily.cooldownHours).toBe(48);
    expect(policy.recurring.tokenLifetimeDays).toBeNull();
    expect(policy.oneTimeTokenLifetimeDays).toBe(365);
  });

  it('throws a clear error for an unknown profile', () => {
    expect(() => resolvePolicy('meta-1999')).toThrow('Unknown policy profile "meta-1999"; known profiles: meta-2022, meta-2025-09');
  });

  it('applies overrides without touching the shared profile', () => {
    const custom = resolvePolicy('meta-2022', {
      dailyCooldownHours: 36,
      userCap: { maxSends: 3, windowHours: 24 },
      quietHours: { start: '22:00', end: '08:00' },
    });
    expect(custom.recurring.daily.cooldownHours).toBe(36);
    expect(custom.userCap).toEqual({ maxSends: 3, windowHours: 24 });
    expect(custom.quietHours).toEqual({ start: '22:00', end: '08:00' });
    custom.recurring.allowedFrequencies.push('DAILY');
    const fresh = resolvePolicy('meta-2022');
    expect(fresh.recurring.daily.cooldownHours).toBe(24);
    expect(fresh.userCap).toBeNull();
    expect(fresh.recurring.allowedFrequencies).toEqual(['DAILY', 'WEEKLY', 'MONTHLY']);
  });

  it.each([
    [{ dailyCooldownHours: 0 }, /dailyCooldownHours must be a positive number/],
    [{ dailyCooldownHours: Number.NaN }, /dailyCooldownHours/],
    [{ userCap: { maxSends: 0, windowHours: 24 } }, /userCap.maxSends/],
    [{ userCap: { maxSends: 1.5, windowHours: 24 } }, /integer/],
    [{ userCap: { maxSends: 2, windowHours: -1 } }, /userCap.windowHours/],
    [{ quietHours: { start: '22:00', end: '22:00' } }, /must differ/],
    [{ quietHours: { start: '25:00', end: '08:00' } }, /expected HH:MM/],
  ])('rejects bad overrides %o', (overrides, message) => {
    expect(() => resolvePolicy('meta-2022', overrides)).toThrow(message);
  });
});

describe('effectiveFrequency', () => {
  it.each([
    ['meta-2022', 'DAILY', 'DAILY'],
    ['meta-2022', 'WEEKLY', 'WEEKLY'],
    ['meta-2022', 'MONTHLY', 'MONTHLY'],
    ['meta-2022', null, 'DAILY'],
    ['meta-2025-09', 'DAILY', 'DAILY'],
    ['meta-2025-09', 'WEEKLY', 'DAILY'],
    ['meta-2025-09', 'MONTHLY', 'DAILY'],
    ['meta-2025-09', null, 'DAILY'],
  ] as const)('%s: %s → %s', (profile, frequency, expected) => {
    expect(effectiveFrequency(frequency, resolvePolicy(profile))).toBe(expected);
  });

  it('returns null when the policy cannot map a disallowed frequency', () => {
    const strict = resolvePolicy('meta-2025-09');
    strict.recurring.disallowedFrequencyFallback = null;
    expect(effectiveFrequency('WEEKLY', strict)).toBeNull();
  });
});
