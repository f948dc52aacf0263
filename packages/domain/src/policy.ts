import type { Frequency } from './types.js';
import { FREQUENCIES } from './types.js';
import { isValidTimeZone, parseLocalTime } from './time-zone.js';

export type PolicyProfileId = 'meta-2022' | 'meta-2025-09' | 'meta-2026';

export interface QuietHours {
  /** Local wall-clock 'HH:MM'; the quiet range is [start, end). start > end means overnight (22:00–08:00). */
  start: string;
  end: string;
  /** The zone the wall clock is read in: absent/null = the person's zone (`personTimeZone`), else this fixed IANA zone. */
  timeZone?: string | null;
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
    /**
     * Where Meta still delivers recurring notifications. `null`: everywhere (the 2022 and 2025-09 rules).
     * Otherwise: from `retiredFrom` only to Pages whose messaging region is in `deliveredIn`; elsewhere the
     * token is kept but not used (Meta would answer with an error for every send).
     */
    availability: RecurringAvailability | null;
  };
  /** Renotify's own anti-spam guards; OFF unless a Page turns them on. */
  userCap: UserCap | null;
  quietHours: QuietHours | null;
}

export interface RecurringAvailability {
  /** ISO date from which Meta stops delivering recurring notifications outside `deliveredIn`. */
  retiredFrom: string;
  /** Region codes (ISO 3166-1 alpha-2, plus "EU" and "UK") where Meta still delivers them. */
  deliveredIn: readonly string[];
}

/** EU member states: the Marketing Messages FAQ names "EU" as a region that keeps recurring notifications. */
const EU_MEMBER_STATES = [
  'AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE',
  'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE',
] as const;

/** messenger-platform.md §0: from Feb 10, 2026 sends return errors everywhere except AU, EU, JP, KR and UK. */
export const RECURRING_STILL_DELIVERED_IN: readonly string[] = ['AU', 'EU', ...EU_MEMBER_STATES, 'JP', 'KR', 'UK', 'GB'];

/** Why a Page may or may not use recurring tokens now under its policy. */
export type RecurringAvailabilityDecision =
  | { allowed: true }
  | { allowed: false; reason: 'region_not_set' | 'region_retired'; message: string };

/**
 * Whether recurring notifications may be sent for a Page at `at`, given its messaging region (the Page setting;
 * null when not set). The caller keeps the tokens either way: a refusal is "not now, here", not "token invalid".
 */
export function recurringAvailability(policy: Policy, region: string | null, at: Date): RecurringAvailabilityDecision {
  const rule = policy.recurring.availability;
  if (!rule || at.getTime() < Date.parse(`${rule.retiredFrom}T00:00:00Z`)) return { allowed: true };
  if (region === null || region.trim() === '') {
    return {
      allowed: false,
      reason: 'region_not_set',
      message: `Since ${rule.retiredFrom} Meta delivers recurring notifications only in ${summariseRegions(rule)}; set the Page's messaging region`,
    };
  }
  const code = region.trim().toUpperCase();
  if (rule.deliveredIn.includes(code)) return { allowed: true };
  return {
    allowed: false,
    reason: 'region_retired',
    message: `Meta retired recurring notifications for region ${code} on ${rule.retiredFrom} (still delivered in ${summariseRegions(rule)}); use one-time notifications`,
  };
}

function summariseRegions(rule: RecurringAvailability): string {
  return rule.deliveredIn.filter((code) => code.length === 2 && !(EU_MEMBER_STATES as readonly string[]).includes(code) && code !== 'GB').join(', ');
}

export interface PolicyOverrides {
  userCap?: UserCap | null;
  quietHours?: QuietHours | null;
  dailyCooldownHours?: number;
}

/** A Page's own anti-spam guards as stored with the Page; `null` = off. */
export interface PageGuards {
  quietHours: QuietHours | null;
  userCap: UserCap | null;
}

export const NO_PAGE_GUARDS: PageGuards = Object.freeze({ quietHours: null, userCap: null });

/**
 * The rules a Page sends under: its dated profile with the Page's own guards on top. A guard the Page switched
 * off (`null`) is off whatever the profile says; a set guard replaces the profile's. Throws on an unknown
 * profile or an invalid guard (the API refuses both before they are stored).
 */
export function resolvePagePolicy(profileId: string, guards: PageGuards): Policy {
  return resolvePolicy(profileId, { quietHours: guards.quietHours, userCap: guards.userCap });
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
  {
    id: 'meta-2026',
    effectiveFrom: '2026-02-10',
    description:
      'Meta rules from 2026-02-10: one-time notifications as before (1 year); recurring notifications only for Pages whose messaging region is AU, EU, JP, KR or UK, with the 2025-09 rules (48h, DAILY, no lifetime expiry); elsewhere recurring tokens are kept but not used.',
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
      availability: null,
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
      availability: null,
    },
    userCap: null,
    quietHours: null,
  },
  'meta-2026': {
    id: 'meta-2026',
    oneTimeTokenLifetimeDays: 365,
    recurring: {
      allowedFrequencies: ['DAILY'],
      disallowedFrequencyFallback: 'DAILY',
      daily: { mode: 'rolling', cooldownHours: 48 },
      weeklyMonthlyWindow: 'calendar',
      tokenLifetimeDays: null,
      // The later of Meta's two dates (Jan 12 in the FAQ, Feb 10 on the Marketing Messages page): never stop early.
      availability: { retiredFrom: '2026-02-10', deliveredIn: RECURRING_STILL_DELIVERED_IN },
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
  const timeZone = quietHours.timeZone ?? null;
  if (timeZone !== null && !isValidTimeZone(timeZone)) throw new Error(`quietHours.timeZone "${String(timeZone)}" is not an IANA time zone`);
  return timeZone === null ? { start: quietHours.start, end: quietHours.end } : { start: quietHours.start, end: quietHours.end, timeZone };
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
      availability: base.recurring.availability ? { ...base.recurring.availability, deliveredIn: [...base.recurring.availability.deliveredIn] } : null,
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
