import { afterEach, describe, expect, it } from 'vitest';
import { localTimeOccurrencesInSlot } from './local-time.js';
import { builtinVariables, renderCampaignMessage } from './message.js';

const ZONES = ['UTC', 'America/Los_Angeles', 'Asia/Kolkata', 'Asia/Kathmandu', 'Europe/Paris', 'Pacific/Chatham', 'America/St_Johns'];
const SLOT_MIN = 15;
const at = (iso: string) => new Date(iso);

/** Every slot of [from, to): the firings of a `*\/15 * * * *` scheduler. */
function slotsBetween(from: string, to: string): Date[] {
  const slots: Date[] = [];
  for (let t = at(from).getTime(); t < at(to).getTime(); t += SLOT_MIN * 60_000) slots.push(new Date(t));
  return slots;
}

const ORIGINAL_TZ = process.env.TZ;
afterEach(() => {
  if (ORIGINAL_TZ === undefined) delete process.env.TZ;
  else process.env.TZ = ORIGINAL_TZ;
});

// Results must not depend on the process zone: every case runs under each of these.
describe.each(['UTC', 'America/Los_Angeles', 'Asia/Kolkata'])('local-time slots with process TZ=%s', (processTz) => {
  const withTz = () => {
    process.env.TZ = processTz;
  };

  it('picks exactly the zones whose wall clock reaches the local time inside the slot', () => {
    withTz();
    // 2026-03-10: Los Angeles is on PDT (UTC-7) since March 8, Paris still on CET (UTC+1).
    expect(localTimeOccurrencesInSlot('09:00', ZONES, at('2026-03-10T16:00:00Z'), SLOT_MIN)).toEqual([
      { zone: 'America/Los_Angeles', occurrenceAt: at('2026-03-10T16:00:00Z') },
    ]);
    expect(localTimeOccurrencesInSlot('09:00', ZONES, at('2026-03-10T03:30:00Z'), SLOT_MIN)).toEqual([
      { zone: 'Asia/Kolkata', occurrenceAt: at('2026-03-10T03:30:00Z') },
    ]);
    // Kathmandu is UTC+5:45; Paris 09:00 CET is 08:00Z; a 09:10 send lands inside the 08:00 slot, not at its start.
    expect(localTimeOccurrencesInSlot('09:00', ZONES, at('2026-03-10T03:15:00Z'), SLOT_MIN)).toEqual([
      { zone: 'Asia/Kathmandu', occurrenceAt: at('2026-03-10T03:15:00Z') },
    ]);
    expect(localTimeOccurrencesInSlot('09:10', ZONES, at('2026-03-10T08:00:00Z'), SLOT_MIN)).toEqual([
      { zone: 'Europe/Paris', occurrenceAt: at('2026-03-10T08:10:00Z') },
    ]);
    expect(localTimeOccurrencesInSlot('09:00', ZONES, at('2026-03-10T09:00:00Z'), SLOT_MIN).map((o) => o.zone)).toEqual(['UTC']);
    expect(localTimeOccurrencesInSlot('09:00', ZONES, at('2026-03-10T09:15:00Z'), SLOT_MIN)).toEqual([]);
  });

  it('serves every zone exactly once per local day over consecutive slots, DST days included', () => {
    withTz();
    for (const [from, to] of [
      ['2026-03-07T00:00:00Z', '2026-03-11T00:00:00Z'], // US spring forward (March 8)
      ['2026-10-24T00:00:00Z', '2026-11-03T00:00:00Z'], // EU (Oct 25) and US (Nov 1) fall back
      ['2026-04-04T00:00:00Z', '2026-04-07T00:00:00Z'], // Chatham leaves DST (April 5)
    ] as const) {
      for (const localTime of ['09:00', '02:30', '01:30', '23:59', '00:00']) {
        const perZone = new Map<string, Date[]>();
        for (const slot of slotsBetween(from, to)) {
          for (const occurrence of localTimeOccurrencesInSlot(localTime, ZONES, slot, SLOT_MIN)) {
            expect(occurrence.occurrenceAt.getTime()).toBeGreaterThanOrEqual(slot.getTime());
            expect(occurrence.occurrenceAt.getTime()).toBeLessThan(slot.getTime() + SLOT_MIN * 60_000);
            perZone.set(occurrence.zone, [...(perZone.get(occurrence.zone) ?? []), occurrence.occurrenceAt]);
          }
        }
        for (const zone of ZONES) {
          const occurrences = perZone.get(zone) ?? [];
          const localDays = occurrences.map((instant) => new Intl.DateTimeFormat('en-CA', { timeZone: zone, dateStyle: 'short' }).format(instant));
          // No local day twice, and consecutive occurrences roughly a day apart (23–25 h across DST changes).
          expect(new Set(localDays).size, `${zone} ${localTime} ${from}`).toBe(localDays.length);
          for (let i = 1; i < occurrences.length; i++) {
            const gapHours = (occurrences[i]!.getTime() - occurrences[i - 1]!.getTime()) / 3600_000;
            expect(gapHours, `${zone} ${localTime} ${from}`).toBeGreaterThanOrEqual(23);
            expect(gapHours, `${zone} ${localTime} ${from}`).toBeLessThanOrEqual(25);
          }
          const spanDays = (at(to).getTime() - at(from).getTime()) / 86_400_000;
          expect(occurrences.length).toBeGreaterThanOrEqual(spanDays - 1);
        }
      }
    }
  });

  it('fires a time skipped by spring-forward at the end of the gap, and a repeated time once', () => {
    withTz();
    // Los Angeles, 2026-03-08: 02:00 PST jumps to 03:00 PDT (10:00Z). 02:30 does not exist that night.
    expect(localTimeOccurrencesInSlot('02:30', ['America/Los_Angeles'], at('2026-03-08T10:00:00Z'), SLOT_MIN)).toEqual([
      { zone: 'America/Los_Angeles', occurrenceAt: at('2026-03-08T10:00:00Z') },
    ]);
    // 2026-11-01: 01:30 happens at 08:30Z (PDT) and again at 09:30Z (PST); only the first fires.
    expect(localTimeOccurrencesInSlot('01:30', ['America/Los_Angeles'], at('2026-11-01T08:30:00Z'), SLOT_MIN)).toHaveLength(1);
    expect(localTimeOccurrencesInSlot('01:30', ['America/Los_Angeles'], at('2026-11-01T09:30:00Z'), SLOT_MIN)).toEqual([]);
  });

  it('serves a stored zone that is not an IANA name at the fallback zone time, under its own name', () => {
    withTz();
    expect(localTimeOccurrencesInSlot('09:00', ['+05:30', 'Not/AZone'], at('2026-03-10T03:30:00Z'), SLOT_MIN, 'Asia/Kolkata')).toEqual([
      { zone: '+05:30', occurrenceAt: at('2026-03-10T03:30:00Z') },
      { zone: 'Not/AZone', occurrenceAt: at('2026-03-10T03:30:00Z') },
    ]);
  });

  it('renders built-in variables on the run zone wall clock', () => {
    withTz();
    const instant = at('2026-03-10T03:30:00Z');
    expect(builtinVariables(instant, 'Asia/Kolkata', 'Daily deals')).toEqual({ date: '2026-03-10', time: '09:00', weekday: 'Tuesday', campaign: 'Daily deals' });
    expect(builtinVariables(instant, 'America/Los_Angeles', 'x')).toMatchObject({ date: '2026-03-09', time: '20:30', weekday: 'Monday' });
  });
});

describe('renderCampaignMessage', () => {
  it('fills placeholders in every string of the message and fits text to 2000 characters', () => {
    const builtins = builtinVariables(at('2026-03-10T09:00:00Z'), 'UTC', 'Weekly');
    expect(renderCampaignMessage({ text: 'Deals for {{ weekday }} {{date}}: {{deal}}' }, { deal: '20% off' }, builtins)).toEqual({ text: 'Deals for Tuesday 2026-03-10: 20% off' });
    const attachment = {
      attachment: { type: 'template', payload: { template_type: 'button', text: '{{campaign}} at {{time}}', buttons: [{ type: 'web_url', url: 'https://x.test/{{code}}', title: 'Open' }] } },
    };
    expect(renderCampaignMessage(attachment, { code: 42 }, builtins)).toEqual({
      attachment: { type: 'template', payload: { template_type: 'button', text: 'Weekly at 09:00', buttons: [{ type: 'web_url', url: 'https://x.test/42', title: 'Open' }] } },
    });
    const long = renderCampaignMessage({ text: '{{filler}}' }, { filler: 'x'.repeat(2500) }, builtins);
    expect((long.text as string).length).toBe(2000);
    expect(() => renderCampaignMessage({ text: 'Hi {{missing}}' }, {}, builtins)).toThrow(/missing/);
  });
});
