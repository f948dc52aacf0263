import { describe, expect, it } from 'vitest';
import { mapStrings } from './strings.js';

describe('mapStrings', () => {
  it('maps every string at any depth, keeps keys and other values', () => {
    const message = { text: 'a', n: 1, ok: true, none: null, attachment: { payload: { buttons: [{ title: 'b', url: 'c' }, 2] } } };
    expect(mapStrings(message, (text) => text.toUpperCase())).toEqual({
      text: 'A',
      n: 1,
      ok: true,
      none: null,
      attachment: { payload: { buttons: [{ title: 'B', url: 'C' }, 2] } },
    });
    expect(message.text).toBe('a');
    expect(mapStrings('x', (text) => `${text}!`)).toBe('x!');
  });
});
