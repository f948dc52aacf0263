/**
 * The CLI's short forms for Page settings, parsed to the API's bodies. Pure: the API still validates the values
 * (zones, ranges) and answers 400 naming the field; these only turn one flag into the object it stands for.
 */

/** The word that switches a setting off (the API's null). */
export const OFF = 'off';

export interface QuietHours {
  start: string;
  end: string;
}

export interface UserCap {
  maxSends: number;
  windowHours: number;
}

const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;

/** "22:00-08:00" → { start: "22:00", end: "08:00" } (may wrap midnight); "off" → null; else an explanation. */
export function parseQuietHours(text: string): QuietHours | null | string {
  if (text.trim().toLowerCase() === OFF) return null;
  const [start, end, ...extra] = text.split('-').map((part) => part.trim());
  if (extra.length > 0 || start === undefined || end === undefined || !CLOCK.test(start) || !CLOCK.test(end)) {
    return `expected HH:MM-HH:MM (24 h, e.g. 22:00-08:00) or "${OFF}", got "${text}"`;
  }
  if (start === end) return `start and end are the same (${start}): that would be no quiet hours; use "${OFF}"`;
  return { start, end };
}

/** "3/24h" (or "3/24") → at most 3 sends per person in any 24 hours; "off" → null; else an explanation. */
export function parseUserCap(text: string): UserCap | null | string {
  if (text.trim().toLowerCase() === OFF) return null;
  const match = /^\s*(\d{1,6})\s*\/\s*(\d{1,6})\s*h?\s*$/i.exec(text);
  const maxSends = Number(match?.[1]);
  const windowHours = Number(match?.[2]);
  if (!match || maxSends < 1 || windowHours < 1) return `expected <sends>/<hours>h (e.g. 3/24h) or "${OFF}", got "${text}"`;
  return { maxSends, windowHours };
}

/** The form the CLI prints (and accepts back). */
export const formatQuietHours = (value: QuietHours | null) => (value ? `${value.start}-${value.end}` : OFF);
export const formatUserCap = (value: UserCap | null) => (value ? `${value.maxSends}/${value.windowHours}h` : OFF);
