import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatQuietHours, formatUserCap, parseQuietHours, parseUserCap } from './settings-syntax.js';

const clock = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);

describe('--quiet-hours', () => {
  it.each([
    ['22:00-08:00', { start: '22:00', end: '08:00' }],
    ['09:30 - 17:45', { start: '09:30', end: '17:45' }],
    ['off', null],
    ['OFF', null],
  ])('%s', (text, expected) => expect(parseQuietHours(text)).toEqual(expected));

  it.each(['22-08', '24:00-08:00', '22:00', '22:00-08:00-09:00', '', '10:00-10:00', '7:00-8:00'])('refuses "%s" with an explanation', (text) => {
    expect(typeof parseQuietHours(text)).toBe('string');
  });

  it('reads back what it prints, for every pair of distinct clock times', () => {
    fc.assert(
      fc.property(clock, clock, (start, end) => {
        fc.pre(start !== end);
        const parsed = parseQuietHours(`${start}-${end}`);
        expect(parsed).toEqual({ start, end });
        expect(formatQuietHours(parsed as { start: string; end: string })).toBe(`${start}-${end}`);
      }),
    );
    expect(formatQuietHours(null)).toBe('off');
  });
});

describe('--cap', () => {
  it.each([
    ['3/24h', { maxSends: 3, windowHours: 24 }],
    ['1/168', { maxSends: 1, windowHours: 168 }],
    [' 10 / 1 H ', { maxSends: 10, windowHours: 1 }],
    ['off', null],
  ])('%s', (text, expected) => expect(parseUserCap(text)).toEqual(expected));

  it.each(['3', '0/24h', '3/0h', '3/24d', 'three/24h', '-1/24h', '3/24h/2'])('refuses "%s" with an explanation', (text) => {
    expect(typeof parseUserCap(text)).toBe('string');
  });

  it('reads back what it prints', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 999_999 }), fc.integer({ min: 1, max: 999_999 }), (maxSends, windowHours) => {
        const cap = { maxSends, windowHours };
        expect(parseUserCap(formatUserCap(cap))).toEqual(cap);
      }),
    );
    expect(parseUserCap(formatUserCap(null))).toBeNull();
  });
});
