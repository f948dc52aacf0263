import type { Frequency } from './types.js';
import { FREQUENCIES } from './types.js';
import { parseLocalTime } from './time-zone.js';

export type PolicyProfileId = 'meta-2022' | 'meta-2025-09';

export interface QuietHours {
  /** Local wall-clock 'HH:MM'; the quiet range is [start, end). start > end means overnight (22:00–08:00). */
  start: string;
  end: string;
}

export interface UserCap {
  /** At most this many notifications per person, across all topics, ... */
  maxSends: number;
  /** ... within this rolling window. */
  windowHours: number;
}

export interface Policy {
  id: PolicyProfileId;
  oneTimeTokenLifetimeDays: number;
  recurring: {
    allowedFrequencies: Frequency[];
    /**
     * What a token whose frequency the policy no longer allows is treated as.
     * `null` means it cannot be mapped and is skipped with FREQUENCY_NOT_ALLOWED.
     */
    disallowedFrequencyFallback: Frequency | null;
    daily: { mode: 'rolling'; cooldownHours: number };
    /** 'calendar': Mon 00:00–Sun 23:59 / 1st–last of month in the token's zone. 'rolling': 7×24h / 30×24h after the last send. */
    weeklyMonthlyWindow: 'calendar' | 'rolling';
    /** Lifetime used when Meta gave no explicit expiry; `null` = recurring tokens never expire by age. */
    tokenLifetimeDays: Record<Frequency, number> | null;
  };
  /** Renotify's own anti-spam guards; OFF unless a Page turns them on. */
  userCap: UserCap | null;
  quietHours: QuietHours | null;
}

export interface PolicyOverrides {
  userCap?: UserCap | null;
  quietHours?: QuietHours | null;
  dailyCooldownHours?: number;
}

export interface PolicyProfileInfo {
  id: PolicyProfileId;
  /** ISO date from which Meta applied these rules. */
  effectiveFrom: string;
  description: string;
}

export const DEFAULT_POLICY_PROFILE_ID: PolicyProfileId = 'meta-2022';

export const POLICY_PROFILES: readonly PolicyProfileInfo[] = [
  {
    id: 'meta-2022',
    effectiveFrom: '2022-01-01',
    description:
      'Recurring notifications as specified in 2022: DAILY 1/24h rolling, WEEKLY/MONTHLY 1 per calendar week/month; token lifetimes 6/9/12 months; one-time tokens 1 year.',
  },
  {
    id: 'meta-2025-09',
    effectiveFrom: '2025-09-01',
    description:
      'Meta rules from 2025-09-01: one message per token per 48h, every recurring token treated as DAILY, no lifetime expiry for recurring tokens; one-time tokens 1 year.',
  },
];

const PROFILES: Record<PolicyProfileId, Policy> = {
  'meta-2022': {
    id: 'meta-2022',
    oneTimeTokenLifetimeDays: 365,
    recurring: {
      allowedFrequencies: ['DAILY', 'WEEKLY', 'MONTHLY'],
      disallowedFrequencyFallback: null,
      daily: { mode: 'rolling', cooldownHours: 24 },
      weeklyMonthlyWindow: 'calendar',
      // Meta's "6 / 9 / 12 months", as days (Meta's explicit token_expiry_timestamp always wins).
      tokenLifetimeDays: { DAILY: 182, WEEKLY: 273, MONTHLY: 365 },
    },
    userCap: null,
    quietHours: null,
  },
  'meta-2025-09': {
    id: 'meta-2025-09',
    oneTimeTokenLifetimeDays: 365,
    recurring: {
      allowedFrequencies: ['DAILY'],
      // Meta deprecated the frequency parameter and defaults to DAILY.
      disallowedFrequencyFallback: 'DAILY',
      daily: { mode: 'rolling', cooldownHours: 48 },
      weeklyMonthlyWindow: 'calendar',
      tokenLifetimeDays: null,
    },
    userCap: null,
    quietHours: null,
  },
};

export function isPolicyProfileId(value: unknown): value is PolicyProfileId {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(PROFILES, value);
}

function assertPositiveFinite(value: number, what: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${what} must be a positive number, got ${String(value)}`);
  }
}

function validateQuietHours(quietHours: QuietHours): QuietHours {
  const start = parseLocalTime(quietHours.start);
  const end = parseLocalTime(quietHours.end);
  if (start.hour === end.hour && start.minute === end.minute) {
    throw new Error(`quietHours start and end must differ (got ${quietHours.start}–${quietHours.end})`);
  }
  return { start: quietHours.start, end: quietHours.end };
}

/** The rules for a Page: a dated profile plus the Page's own anti-spam settings. Returns a fresh object. */
export function resolvePolicy(id: string, overrides: PolicyOverrides = {}): Policy {
  if (!isPolicyProfileId(id)) {
    const known = POLICY_PROFILES.map((p) => p.id).join(', ');
    throw new Error(`Unknown policy profile "${id}"; known profiles: ${known}`);
  }
  const base = PROFILES[id];
  const policy: Policy = {
    ...base,
    recurring: {
      ...base.recurring,
      allowedFrequencies: [...base.recurring.allowedFrequencies],
      daily: { ...base.recurring.daily },
      tokenLifetimeDays: base.recurring.tokenLifetimeDays ? { ...base.recurring.tokenLifetimeDays } : null,
    },
  };
  if (overrides.dailyCooldownHours !== undefined) {
    assertPositiveFinite(overrides.dailyCooldownHours, 'dailyCooldownHours');
    policy.recurring.daily.cooldownHours = overrides.dailyCooldownHours;
  }
  if (overrides.userCap !== undefined && overrides.userCap !== null) {
    assertPositiveFinite(overrides.userCap.maxSends, 'userCap.maxSends');
    if (!Number.isInteger(overrides.userCap.maxSends)) throw new Error('userCap.maxSends must be an integer');
    assertPositiveFinite(overrides.userCap.windowHours, 'userCap.windowHours');
    policy.userCap = { maxSends: overrides.userCap.maxSends, windowHours: overrides.userCap.windowHours };
  } else if (overrides.userCap === null) {
    policy.userCap = null;
  }
  if (overrides.quietHours !== undefined && overrides.quietHours !== null) {
    policy.quietHours = validateQuietHours(overrides.quietHours);
  } else if (overrides.quietHours === null) {
    policy.quietHours = null;
  }
  return policy;
}

/**
 * The frequency whose window applies to a recurring token under this policy, or `null` when the policy
 * does not allow it and cannot map it. A missing frequency means DAILY (Meta's default).
 */
export function effectiveFrequency(frequency: Frequency | null, policy: Policy): Frequency | null {
  const declared = frequency ?? 'DAILY';
  if (policy.recurring.allowedFrequencies.includes(declared)) return declared;
  return policy.recurring.disallowedFrequencyFallback;
}

export function isFrequency(value: unknown): value is Frequency {
  return typeof value === 'string' && (FREQUENCIES as readonly string[]).includes(value);
}
