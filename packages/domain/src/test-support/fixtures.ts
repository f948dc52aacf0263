import fc from 'fast-check';
import { timeZoneOffsetMs } from '../time-zone.js';
import type { SubscriberState, TokenState } from '../types.js';

/** Zones chosen for their quirks: DST at midnight, 30/45-minute offsets, 30-minute DST, ±14h, southern DST. */
export const INTERESTING_TIME_ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'America/Los_Angeles',
  'America/Santiago',
  'America/Havana',
  'Asia/Beirut',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Pacific/Chatham',
  'Australia/Lord_Howe',
  'Pacific/Kiritimati',
  'Pacific/Pago_Pago',
] as const;

export const at = (iso: string): Date => new Date(iso);

export function token(overrides: Partial<TokenState> = {}): TokenState {
  return {
    kind: 'RECURRING',
    status: 'ACTIVE',
    topic: 'weekly_deals',
    frequency: 'DAILY',
    timezone: null,
    expiresAt: null,
    createdAt: at('2026-01-01T00:00:00Z'),
    lastSentAt: null,
    nextEligibleAt: null,
    ...overrides,
  };
}

export function subscriber(overrides: Partial<SubscriberState> = {}): SubscriberState {
  return { timezone: null, unavailableUntil: null, sendsInCapWindow: 0, ...overrides };
}

const transitionCache = new Map<string, number[]>();

/** Instants (±12h) where the zone's UTC offset changes in 2024–2027, found by scanning every 12 hours. */
export function offsetChangesNear(zone: string): number[] {
  const cached = transitionCache.get(zone);
  if (cached) return cached;
  const step = 12 * 3_600_000;
  const found: number[] = [];
  let previous = timeZoneOffsetMs(new Date(Date.UTC(2024, 0, 1)), zone);
  for (let t = Date.UTC(2024, 0, 1) + step; t < Date.UTC(2028, 0, 1); t += step) {
    const offset = timeZoneOffsetMs(new Date(t), zone);
    if (offset !== previous) found.push(t - step / 2);
    previous = offset;
  }
  transitionCache.set(zone, found);
  return found;
}

/** A zone plus an instant that is, half of the time, within ±36h of one of the zone's DST transitions. */
export const zoneAndInstant = fc.constantFrom(...INTERESTING_TIME_ZONES).chain((zone) => {
  const uniform = fc.date({ min: at('2020-01-01T00:00:00Z'), max: at('2035-01-01T00:00:00Z'), noInvalidDate: true });
  const changes = offsetChangesNear(zone);
  if (changes.length === 0) return fc.tuple(fc.constant(zone), uniform);
  const near = fc
    .tuple(fc.constantFrom(...changes), fc.integer({ min: -36 * 3_600_000, max: 36 * 3_600_000 }))
    .map(([center, delta]) => new Date(center + delta));
  return fc.tuple(fc.constant(zone), fc.oneof(uniform, near));
});
