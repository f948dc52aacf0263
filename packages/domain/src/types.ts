/** String values equal the Prisma enums, so rows map to these types without translation. */
export type OptInKind = 'ONE_TIME' | 'RECURRING';
export type Frequency = 'DAILY' | 'WEEKLY' | 'MONTHLY';
export type OptInStatus = 'ACTIVE' | 'USED' | 'EXPIRED' | 'STOPPED' | 'INVALID';

export const OPT_IN_KINDS = ['ONE_TIME', 'RECURRING'] as const satisfies readonly OptInKind[];
export const FREQUENCIES = ['DAILY', 'WEEKLY', 'MONTHLY'] as const satisfies readonly Frequency[];
export const OPT_IN_STATUSES = ['ACTIVE', 'USED', 'EXPIRED', 'STOPPED', 'INVALID'] as const satisfies readonly OptInStatus[];

/** Why a delivery was not sent (stored in Delivery.skipReason). */
export const SkipReason = {
  TOKEN_USED: 'TOKEN_USED',
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  TOKEN_INVALID: 'TOKEN_INVALID',
  STOPPED: 'STOPPED',
  FREQUENCY_WINDOW: 'FREQUENCY_WINDOW',
  FREQUENCY_NOT_ALLOWED: 'FREQUENCY_NOT_ALLOWED',
  TOPIC_MISMATCH: 'TOPIC_MISMATCH',
  USER_CAP: 'USER_CAP',
  QUIET_HOURS: 'QUIET_HOURS',
  SUBSCRIBER_UNAVAILABLE: 'SUBSCRIBER_UNAVAILABLE',
  PAGE_PAUSED: 'PAGE_PAUSED',
  /** Meta no longer delivers recurring notifications for the Page's region (policy profile meta-2026). */
  RECURRING_UNAVAILABLE: 'RECURRING_UNAVAILABLE',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

export function isSkipReason(value: unknown): value is SkipReason {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(SkipReason, value);
}

/** The state of one opt-in token that the rules need (a subset of the OptIn row). */
export interface TokenState {
  kind: OptInKind;
  status: OptInStatus;
  topic: string;
  /** Recurring only. `null` on a recurring token means DAILY: Meta dropped the field and defaults to DAILY. */
  frequency: Frequency | null;
  timezone: string | null;
  expiresAt: Date | null;
  createdAt: Date;
  lastSentAt: Date | null;
  nextEligibleAt: Date | null;
}

/** Per-person state across all of that person's tokens on one Page. */
export interface SubscriberState {
  timezone: string | null;
  unavailableUntil: Date | null;
  /** Notifications this person received across all topics within the policy's cap window (computed by the caller). */
  sendsInCapWindow: number;
  /** Optional: the oldest send inside the cap window; lets USER_CAP carry a retryAt. */
  oldestSendInCapWindowAt?: Date | null;
}

export type Verdict = { eligible: true } | { eligible: false; reason: SkipReason; retryAt?: Date };

export interface EvaluationContext {
  /** The topic of the event/campaign being sent; must equal the token's topic when given. */
  topic?: string;
  pagePausedUntil?: Date | null;
  /** The Page's default zone: the last zone of the one precedence before UTC (docs/time-zones.md). */
  pageTimeZone?: string | null;
}
