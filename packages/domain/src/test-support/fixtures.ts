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
