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

/**
 * The zones known for one person on one Page, by who set them. See docs/time-zones.md.
 * - `token`: the zone Meta gave with the person's opt-in token (the person's own choice, per token);
 * - `subscriber`: the zone the business set for the person (`PATCH /v1/pages/{id}/subscribers/{psid}`);
 * - `page`: the Page's default zone (`PATCH /v1/pages/{id}` `timezone`).
 */
export interface PersonZones {
  token?: string | null;
  subscriber?: string | null;
  page?: string | null;
}

/**
 * THE one precedence for every rule that needs a person's local time (quiet hours, calendar week/month windows,
 * local-time campaign runs): token's zone → subscriber's zone → Page's zone → UTC. Meta's zone comes first
 * because it is what the person chose when opting in and what Meta counts that token's windows in; the business's
 * value fills in where Meta gave none, and the Page's zone is the last guess before UTC. Invalid zones are skipped.
 * The campaign fan-out SQL (`EFFECTIVE_ZONE_SQL` in packages/db) spells the same order.
 */
export function personTimeZone(zones: PersonZones): string {
  return pickTimeZone(zones.token, zones.subscriber, zones.page);
}

function assertValidDate(at: Date, what: string): void {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new RangeError(`${what} must be a valid Date`);
}

// Fan-out evaluates many tokens at the same `now` in few zones; a small bounded cache makes repeated lookups
// free. Cleared wholesale when full, which keeps it simple and bounded.
const PARTS_CACHE_LIMIT = 4_096;
const partsCache = new Map<string, Readonly<LocalTimeParts>>();

// `format` is ~3× faster than `formatToParts`; its en-US shape is parsed, with formatToParts as the fallback.
const EN_US_SHAPE = /^(\d{1,2})\/(\d{1,2})\/(\d+) (AD|BC), (\d{2}):(\d{2}):(\d{2})$/;

/** Wall-clock fields of an instant in a zone. The returned object is frozen (it may be shared). */
export function localTimeParts(at: Date, timeZone: string): Readonly<LocalTimeParts> {
  assertValidDate(at, 'at');
  assertValidTimeZone(timeZone);
  const key = `${timeZone}|${at.getTime()}`;
  const cached = partsCache.get(key);
  if (cached) return cached;
  const parts = Object.freeze(computeLocalTimeParts(at, timeZone));
  if (partsCache.size >= PARTS_CACHE_LIMIT) partsCache.clear();
  partsCache.set(key, parts);
  return parts;
}

function computeLocalTimeParts(at: Date, timeZone: string): LocalTimeParts {
  const formatter = formatterFor(timeZone);
  const match = EN_US_SHAPE.exec(formatter.format(at));
  let fields: { year: string; month: string; day: string; hour: string; minute: string; second: string; era: string };
  if (match) {
    const [, month, day, year, era, hour, minute, second] = match as unknown as string[];
    fields = { year, month, day, hour, minute, second, era } as typeof fields;
  } else {
    const byType: Record<string, string> = {};
    for (const part of formatter.formatToParts(at)) byType[part.type] = part.value;
    fields = byType as typeof fields;
  }
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

// Period boundaries (next Monday 00:00, the 1st 00:00, a quiet-hours end) repeat across thousands of tokens.
const INSTANT_CACHE_LIMIT = 10_000;
const instantCache = new Map<string, number>();

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
  const key = `${timeZone}|${target}|${disambiguation}`;
  const cached = instantCache.get(key);
  if (cached !== undefined) return new Date(cached);
  const instant = resolveWallTime(target, timeZone, disambiguation);
  if (instantCache.size >= INSTANT_CACHE_LIMIT) instantCache.clear();
  instantCache.set(key, instant);
  return new Date(instant);
}

function resolveWallTime(target: number, timeZone: string, disambiguation: Disambiguation): number {
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
    return (disambiguation === 'earlier' ? matches[0] : matches[matches.length - 1]) as number;
  }
  return firstInstantAtOrAfterWall(target, timeZone);
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
