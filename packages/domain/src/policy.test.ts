import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_POLICY_PROFILE_ID,
  NO_PAGE_GUARDS,
  resolvePagePolicy,
  POLICY_PROFILES,
  effectiveFrequency,
  isFrequency,
  isPolicyProfileId,
  recurringAvailability,
  resolvePolicy,
} from './policy.js';

describe('policy profiles', () => {
  it('lists the dated profiles with descriptions, default meta-2022', () => {
    expect(POLICY_PROFILES.map((p) => [p.id, p.effectiveFrom])).toEqual([
      ['meta-2022', '2022-01-01'],
      ['meta-2025-09', '2025-09-01'],
      ['meta-2026', '2026-02-10'],
    ]);
    for (const profile of POLICY_PROFILES) expect(profile.description.length).toBeGreaterThan(20);
    expect(DEFAULT_POLICY_PROFILE_ID).toBe('meta-2022');
  });

  it.each([
    ['meta-2022', true],
    ['meta-2025-09', true],
    ['meta-2026', true],
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
    expect(() => resolvePolicy('meta-1999')).toThrow('Unknown policy profile "meta-1999"; known profiles: meta-2022, meta-2025-09, meta-2026');
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

  it('meta-2026: one-time tokens as before; recurring with the 2025-09 rules, only where Meta still delivers them', () => {
    const policy = resolvePolicy('meta-2026');
    expect(policy.oneTimeTokenLifetimeDays).toBe(365);
    expect(policy.recurring.allowedFrequencies).toEqual(['DAILY']);
    expect(policy.recurring.daily.cooldownHours).toBe(48);
    expect(policy.recurring.tokenLifetimeDays).toBeNull();
    expect(policy.recurring.availability?.retiredFrom).toBe('2026-02-10');
    // A fresh copy: callers cannot change the profile for everyone.
    expect(policy.recurring.availability!.deliveredIn).not.toBe(resolvePolicy('meta-2026').recurring.availability!.deliveredIn);
    expect(policy.recurring.availability!.deliveredIn).toEqual(resolvePolicy('meta-2026').recurring.availability!.deliveredIn);
  });
});

describe('recurringAvailability', () => {
  const after = new Date('2026-03-01T00:00:00Z');
  const meta2026 = resolvePolicy('meta-2026');

  it.each(['AU', 'EU', 'JP', 'KR', 'UK', 'GB', 'FR', 'de', ' IE '])('meta-2026 still delivers in %s', (region) => {
    expect(recurringAvailability(meta2026, region, after)).toEqual({ allowed: true });
  });

  it.each(['US', 'BR', 'CH', 'NO', 'IN'])('meta-2026 stops recurring sends in %s after 2026-02-10', (region) => {
    const decision = recurringAvailability(meta2026, region, after);
    expect(decision).toMatchObject({ allowed: false, reason: 'region_retired' });
    if (!decision.allowed) expect(decision.message).toMatch(new RegExp(`region ${region}.*2026-02-10.*AU, EU, JP, KR, UK`));
  });

  it('asks for the region when the Page has none, from the retirement date on (not before)', () => {
    expect(recurringAvailability(meta2026, null, after)).toMatchObject({ allowed: false, reason: 'region_not_set' });
    expect(recurringAvailability(meta2026, '  ', after)).toMatchObject({ allowed: false, reason: 'region_not_set' });
    expect(recurringAvailability(meta2026, 'US', new Date('2026-02-09T23:59:59Z'))).toEqual({ allowed: true });
    expect(recurringAvailability(meta2026, 'US', new Date('2026-02-10T00:00:00Z'))).toMatchObject({ allowed: false });
  });

  it.each(['meta-2022', 'meta-2025-09'])('%s delivers everywhere', (id) => {
    expect(recurringAvailability(resolvePolicy(id), 'US', after)).toEqual({ allowed: true });
    expect(recurringAvailability(resolvePolicy(id), null, after)).toEqual({ allowed: true });
  });
});

describe('profiles in full (every field is a rule)', () => {
  const base = { userCap: null, quietHours: null, oneTimeTokenLifetimeDays: 365 };
  it('meta-2022', () => {
    expect(resolvePolicy('meta-2022')).toEqual({
      ...base,
      id: 'meta-2022',
      recurring: {
        allowedFrequencies: ['DAILY', 'WEEKLY', 'MONTHLY'],
        disallowedFrequencyFallback: null,
        daily: { mode: 'rolling', cooldownHours: 24 },
        weeklyMonthlyWindow: 'calendar',
        tokenLifetimeDays: { DAILY: 182, WEEKLY: 273, MONTHLY: 365 },
        availability: null,
      },
    });
  });
  it('meta-2025-09', () => {
    expect(resolvePolicy('meta-2025-09')).toEqual({
      ...base,
      id: 'meta-2025-09',
      recurring: {
        allowedFrequencies: ['DAILY'],
        disallowedFrequencyFallback: 'DAILY',
        daily: { mode: 'rolling', cooldownHours: 48 },
        weeklyMonthlyWindow: 'calendar',
        tokenLifetimeDays: null,
        availability: null,
      },
    });
  });
  it('meta-2026', () => {
    const policy = resolvePolicy('meta-2026');
    expect(policy).toEqual({
      ...base,
      id: 'meta-2026',
      recurring: {
        allowedFrequencies: ['DAILY'],
        disallowedFrequencyFallback: 'DAILY',
        daily: { mode: 'rolling', cooldownHours: 48 },
        weeklyMonthlyWindow: 'calendar',
        tokenLifetimeDays: null,
        availability: { retiredFrom: '2026-02-10', deliveredIn: expect.arrayContaining(['AU', 'EU', 'JP', 'KR', 'UK', 'GB', 'DE', 'FR']) },
      },
    });
    expect(policy.recurring.availability!.deliveredIn).toHaveLength(33);
  });

  it('messages name the regions Meta still delivers in, once each', () => {
    const after = new Date('2026-03-01T00:00:00Z');
    const policy = resolvePolicy('meta-2026');
    expect(recurringAvailability(policy, 'US', after)).toEqual({
      allowed: false,
      reason: 'region_retired',
      message: 'Meta retired recurring notifications for region US on 2026-02-10 (still delivered in AU, EU, JP, KR, UK); use one-time notifications',
    });
    expect(recurringAvailability(policy, null, after)).toEqual({
      allowed: false,
      reason: 'region_not_set',
      message: "Since 2026-02-10 Meta delivers recurring notifications only in AU, EU, JP, KR, UK; set the Page's messaging region",
    });
  });
});

describe('guards', () => {
  it('isPolicyProfileId accepts strings only', () => {
    expect(isPolicyProfileId({ toString: () => 'meta-2022' })).toBe(false);
    expect(isPolicyProfileId(['meta-2022'])).toBe(false);
  });

  it.each([
    ['DAILY', true],
    ['WEEKLY', true],
    ['MONTHLY', true],
    ['daily', false],
    ['YEARLY', false],
    [1, false],
    [{ toString: () => 'DAILY' }, false],
  ])('isFrequency(%o) = %s', (value, expected) => {
    expect(isFrequency(value)).toBe(expected);
  });

  it('quiet hours may start and end in the same hour', () => {
    expect(resolvePolicy('meta-2022', { quietHours: { start: '08:00', end: '08:30' } }).quietHours).toEqual({ start: '08:00', end: '08:30' });
  });

  it('overrides of null clear, and leave the rest as the profile says', () => {
    const cleared = resolvePolicy('meta-2022', { userCap: null, quietHours: null });
    expect(cleared.userCap).toBeNull();
    expect(cleared.quietHours).toBeNull();
    expect(cleared.recurring.daily.cooldownHours).toBe(24);
  });
});


describe("resolvePagePolicy: a Page's guards on top of its profile", () => {
  const profileIds = fc.constantFrom('meta-2022', 'meta-2025-09', 'meta-2026');
  const localTime = fc.record({ hour: fc.integer({ min: 0, max: 23 }), minute: fc.integer({ min: 0, max: 59 }) }).map(({ hour, minute }) => `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`);
  const quietHours = fc.option(
    fc
      .record({ start: localTime, end: localTime, timeZone: fc.constantFrom(null, 'Europe/Berlin', 'Asia/Kolkata') })
      .filter((hours) => hours.start !== hours.end),
  );
  const userCap = fc.option(fc.record({ maxSends: fc.integer({ min: 1, max: 1000 }), windowHours: fc.integer({ min: 1, max: 744 }) }));

  it('sets exactly the guards and keeps every Meta rule of the profile (property)', () => {
    fc.assert(
      fc.property(profileIds, quietHours, userCap, (profileId, hours, cap) => {
        const policy = resolvePagePolicy(profileId, { quietHours: hours, userCap: cap });
        const profile = resolvePolicy(profileId);
        expect(policy.userCap).toEqual(cap);
        expect(policy.quietHours).toEqual(hours === null ? null : hours.timeZone === null ? { start: hours.start, end: hours.end } : hours);
        expect({ ...policy, userCap: null, quietHours: null }).toEqual(profile);
      }),
    );
  });

  it('NO_PAGE_GUARDS gives the bare profile; the switched-off guards are off', () => {
    expect(resolvePagePolicy('meta-2026', NO_PAGE_GUARDS)).toEqual(resolvePolicy('meta-2026'));
    expect(resolvePagePolicy('meta-2022', { quietHours: null, userCap: null })).toMatchObject({ quietHours: null, userCap: null });
  });

  it('refuses an invalid fixed zone and an unknown profile', () => {
    expect(() => resolvePagePolicy('meta-2022', { quietHours: { start: '22:00', end: '07:00', timeZone: 'Mars/Base' }, userCap: null })).toThrow(/IANA/);
    expect(() => resolvePagePolicy('meta-1999', NO_PAGE_GUARDS)).toThrow(/Unknown policy profile/);
  });
});
