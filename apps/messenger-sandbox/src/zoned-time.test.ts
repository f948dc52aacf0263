import { describe, expect, it } from 'vitest';
import { addMonths, isValidTimeZone, startOfNextMonth, startOfNextWeek } from './zoned-time.js';

describe('calendar boundaries in a time zone', () => {
  it('finds the next Monday 00:00 local time, across a DST change', () => {
    // Wednesday 2025-03-26 in Berlin; the clocks go forward on Sunday 03-30, so Monday 03-31 00:00 is UTC+2.
    expect(startOfNextWeek(Date.UTC(2025, 2, 26, 12), 'Europe/Berlin')).toBe(Date.UTC(2025, 2, 30, 22));
    // Monday 00:30 local is still in that week: the next one starts 7 days later.
    expect(startOfNextWeek(Date.UTC(2025, 2, 30, 22, 30), 'Europe/Berlin')).toBe(Date.UTC(2025, 3, 6, 22));
    expect(startOfNextWeek(Date.UTC(2025, 0, 5, 23, 59), 'UTC')).toBe(Date.UTC(2025, 0, 6));
  });

  it('finds the first of the next month 00:00 local time, including year ends and negative offsets', () => {
    expect(startOfNextMonth(Date.UTC(2025, 11, 31, 12), 'UTC')).toBe(Date.UTC(2026, 0, 1));
    // 2025-01-31 20:00 in New York (UTC-5) is 2025-02-01 01:00 UTC, still January locally.
    expect(startOfNextMonth(Date.UTC(2025, 1, 1, 1), 'America/New_York')).toBe(Date.UTC(2025, 1, 1, 5));
    expect(startOfNextMonth(Date.UTC(2025, 0, 31, 16), 'Asia/Tokyo')).toBe(Date.UTC(2025, 1, 28, 15));
  });

  it('adds calendar months and validates zone names', () => {
    expect(addMonths(Date.UTC(2025, 0, 15), 6)).toBe(Date.UTC(2025, 6, 15));
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});
