import { nextLocalOccurrence, pickTimeZone } from '@renotify/domain';

export interface ZoneOccurrence {
  /** The zone as stored on the tokens (the run's `zone` and the fan-out filter); may be unusable, see below. */
  zone: string;
  /** When the wall clock in that zone shows the campaign's local time. */
  occurrenceAt: Date;
}

/**
 * Which zones reach `localTime` inside the slot [slotStart, slotStart + slotMinutes), and when. Pure: the
 * slot is the clock, so the result never depends on the process TZ or on when the job actually ran.
 * A stored zone that is not a valid IANA name is served at the fallback zone's time (the Page's), the
 * same zone the token would be counted in for quiet hours. DST: a time skipped by a spring-forward gap
 * fires at the end of the gap, and a time that occurs twice fires once (nextLocalOccurrence's rules).
 */
export function localTimeOccurrencesInSlot(
  localTime: string,
  zones: readonly string[],
  slotStart: Date,
  slotMinutes: number,
  fallbackZone = 'UTC',
): ZoneOccurrence[] {
  const start = slotStart.getTime();
  const end = start + slotMinutes * 60_000;
  const found: ZoneOccurrence[] = [];
  for (const zone of new Set(zones)) {
    const occurrenceAt = nextLocalOccurrence(localTime, pickTimeZone(zone, fallbackZone), new Date(start - 1));
    if (occurrenceAt.getTime() < end) found.push({ zone, occurrenceAt });
  }
  return found.sort((a, b) => a.occurrenceAt.getTime() - b.occurrenceAt.getTime() || a.zone.localeCompare(b.zone));
}
