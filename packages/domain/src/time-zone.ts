/**
 * Time-zone arithmetic on top of Intl only. Every function takes the zone explicitly, so results never
 * depend on the process TZ.
 */

export interface LocalTimeParts {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** ISO weekday: 1 = Monday … 7 = Sunday */
  weekday: number;
}

/** A wall-clock date and time in some zone (no seconds: every rule here works on minutes). */
export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

/** How to pick an instant when the wall time occurs twice (clocks turned back). */
export type Disambiguation = 'earlier' | 'later';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

// A formatter per zone is expensive to build and cheap to reuse; caching keeps the functions pure in effect.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function isValidTimeZone(timeZone: unknown): timeZone is string {
  if (typeof timeZone !== 'string' || timeZone.length === 0) return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function assertValidTimeZone(timeZone: string): void {
  if (!isValidTimeZone(timeZone)) throw new RangeError(`Invalid IANA time zone: "${timeZone}"`);
}

/** The first valid zone of the candidates, else 'UTC'. Invalid strings are skipped, never thrown on. */
export function pickTimeZone(...candidates: ReadonlyArray<string | null | undefined>): string {
  for (const candidate of candidates) {
    if (candidate && isValidTimeZone(candidate)) return candidate;
  }
  return 'UTC';
}

function assertValidDate(at: Date, what: string): void {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new RangeError(`${what} must be a valid Date`);
}

/** Wall-clock fields of an instant in a zone. */
export function localTimeParts(at: Date, timeZone: string): LocalTimeParts {
  assertValidDate(at, 'at');
  assertValidTimeZone(timeZone);
  const fields: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(at)) fields[part.type] = part.value;
  let year = Number(fields.year);
  if (fields.era === 'BC' || fields.era === 'B') year = 1 - year;
  const month = Number(fields.month);
  const day = Number(fields.day);
  return {
    year,
    month,
    day,
    hour: Number(fields.hour),
    minute: Number(fields.minute),
    second: Number(fields.second),
    weekday: isoWeekday(year, month, day),
  };
}

function isoWeekday(year: number, month: number, day: number): number {
  const sundayZero = new Date(utcFieldsMs(year, month, day, 0, 0, 0)).getUTCDay();
  return sundayZero === 0 ? 7 : sundayZero;
}

/** Date.UTC without its 0–99 → 1900s year quirk; out-of-range fields roll over. */
function utcFieldsMs(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime();
}

/** Offset of the zone from UTC at an instant, in ms (local = utc + offset), at one-second precision. */
export function timeZoneOffsetMs(at: Date, timeZone: string): number {
  const p = localTimeParts(at, timeZone);
  const wholeSecond = Math.floor(at.getTime() / 1000) * 1000;
  return utcFieldsMs(p.year, p.month, p.day, p.hour, p.minute, p.second) - wholeSecond;
}

function wallMs(local: LocalDateTime): number {
  return utcFieldsMs(local.year, local.month, local.day, local.hour, local.minute, 0);
}

/**
 * The instant at which the wall clock in `timeZone` shows `local`.
 * - Ambiguous (clocks turned back, the time occurs twice): the `disambiguation` occurrence, 'earlier' by default.
 * - Nonexistent (clocks jumped forward over it): the first instant after the gap, i.e. the transition itself
 *   (02:30 on a 02:00→03:00 spring-forward night becomes 03:00). Both choices are deterministic.
 * Out-of-range fields roll over like Date.UTC (day 32 → next month), which callers use for date arithmetic.
 */
export function zonedTimeToInstant(local: LocalDateTime, timeZone: string, disambiguation: Disambiguation = 'earlier'): Date {
  assertValidTimeZone(timeZone);
  const target = wallMs(local);
  const offsets = new Set<number>();
  for (const probe of [target - 2 * DAY_MS, target, target + 2 * DAY_MS]) {
    offsets.add(timeZoneOffsetMs(new Date(probe), timeZone));
  }
  const matches: number[] = [];
  for (const offset of offsets) {
    const candidate = target - offset;
    if (timeZoneOffsetMs(new Date(candidate), timeZone) === offset) matches.push(candidate);
  }
  if (matches.length > 0) {
    matches.sort((a, b) => a - b);
    const chosen = disambiguation === 'earlier' ? matches[0] : matches[matches.length - 1];
    return new Date(chosen as number);
  }
  return new Date(firstInstantAtOrAfterWall(target, timeZone));
}

/** Smallest whole second whose wall time is ≥ target (the end of a DST gap); binary search over ±2 days. */
function firstInstantAtOrAfterWall(target: number, timeZone: string): number {
  let low = Math.floor((target - 2 * DAY_MS) / 1000); // wall(low) < target: offsets never exceed ±26h
  let high = Math.ceil((target + 2 * DAY_MS) / 1000); // wall(high) > target
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    const at = mid * 1000;
    if (at + timeZoneOffsetMs(new Date(at), timeZone) >= target) high = mid;
    else low = mid;
  }
  return high * 1000;
}

/** Calendar arithmetic on a local date (no zone involved). */
export function addLocalDays(local: LocalDateTime, days: number): LocalDateTime {
  const d = new Date(wallMs(local));
  d.setUTCDate(d.getUTCDate() + days);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: local.hour, minute: local.minute };
}

const LOCAL_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Parses 'HH:MM' (24h, 00:00–23:59); throws a clear error otherwise. */
export function parseLocalTime(value: string): { hour: number; minute: number } {
  const match = typeof value === 'string' ? LOCAL_TIME.exec(value) : null;
  if (!match) throw new Error(`Invalid local time "${String(value)}": expected HH:MM between 00:00 and 23:59`);
  return { hour: Number(match[1]), minute: Number(match[2]) };
}

export { MINUTE_MS, HOUR_MS, DAY_MS };
