export * from './types.js';
export * from './policy.js';
export {
  isValidTimeZone,
  assertValidTimeZone,
  pickTimeZone,
  personTimeZone,
  localTimeParts,
  timeZoneOffsetMs,
  zonedTimeToInstant,
  addLocalDays,
  parseLocalTime,
} from './time-zone.js';
export type { LocalTimeParts, LocalDateTime, Disambiguation, PersonZones } from './time-zone.js';
export { periodStart, nextEligibleAfterSend, windowTimeZone } from './windows.js';
export { isInQuietHours, nextAllowedTime } from './quiet-hours.js';
export { evaluate, expiryFor, tokenExpiresAt, applySend } from './rules.js';
export * from './topics.js';
export * from './messages.js';
export * from './backoff.js';
export { nextLocalOccurrence } from './schedule.js';
export { mapStrings } from './strings.js';
export * from './event-contract.js';
// Not a rule, but free of I/O and needed by every layer above (db probes, queue producer, app readiness checks).
export { withTimeout } from './timeout.js';
export { DEFAULT_WEBHOOK_RETRY_DELAYS_MS, webhookRetryDelay } from './webhook-retry.js';
