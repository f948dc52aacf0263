import { describe, expect, it } from 'vitest';
import { MAX_EVENTS_PER_BATCH, eventMessage, eventPayload, eventTopic, eventTopics, findPgUnsafeStrings, parseEvents, pgUnsafeReason, uniqueEvents, type EventInput } from './event-contract.js';

const valid = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: 'back_in_stock', pageId: 'p1', productId: 'sku', ...extra });

function parseOne(input: unknown): EventInput {
  const result = parseEvents(input);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.events[0] as EventInput;
}

describe('parseEvents', () => {
  it('accepts one object or an array', () => {
    expect(parseEvents(valid('a'))).toMatchObject({ ok: true, events: [{ id: 'a', productId: 'sku' }] });
    expect(parseEvents([valid('a'), valid('b')])).toMatchObject({ ok: true, events: [{ id: 'a' }, { id: 'b' }] });
  });

  it('reports every problem of every event by index', () => {
    const result = parseEvents([
      valid('fine'),
      { id: 'x', type: 'unknown', pageId: 'p1' },
      { id: 'y', type: 'price_drop', pageId: 'p1', productId: 'sku', oldPrice: -1, newPrice: 'cheap', currency: 'XYZ' },
      { id: 'z'.repeat(201), type: 'custom', pageId: 12345, topic: '', text: 'hi', extra: true },
      valid('m', { message: { text: 'a' }, template: 'b' }),
      valid('t', { template: 'Hi {{name}}' }),
      valid('u', { url: 'javascript:alert(1)', occurredAt: 'yesterday' }),
    ]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const by = (index: number) => result.problems.filter((problem) => problem.index === index).map((problem) => problem.path).sort();
    expect(by(0)).toEqual([]);
    expect(by(1)).toEqual(['type']);
    expect(by(2)).toEqual(['currency', 'newPrice', 'oldPrice']);
    expect(by(3)).toEqual(['extra', 'id', 'pageId', 'topic']);
    expect(by(4)).toEqual(['template']);
    expect(by(5)).toEqual(['template']);
    expect(result.problems.find((problem) => problem.index === 5)?.message).toContain('"name" is missing');
    expect(by(6)).toEqual(['occurredAt', 'url']);
  });

  it('rejects a topic longer than 255 characters', () => {
    const result = parseEvents(valid('long', { productId: 'x'.repeat(150), variant: 'y'.repeat(150) }));
    expect(result).toEqual({ ok: false, problems: [{ index: 0, path: 'productId', message: expect.stringContaining('the maximum is 255') }] });
  });

  it('rejects a price that does not drop, and over-long ids', () => {
    const result = parseEvents([
      { id: 'a', type: 'price_drop', pageId: 'p', productId: 1, oldPrice: 5, newPrice: 5, currency: 'EUR' },
      valid('b', { productId: 'x'.repeat(260) }),
    ]);
    expect(result).toEqual({
      ok: false,
      problems: [
        { index: 0, path: 'newPrice', message: expect.stringContaining('below oldPrice') },
        { index: 1, path: 'productId', message: expect.stringContaining('<=200 characters') },
      ],
    });
  });

  it('limits a batch to 1,000 events with one problem for the body, and rejects non-events', () => {
    expect(parseEvents(Array.from({ length: MAX_EVENTS_PER_BATCH }, (_, i) => valid(`e${i}`))).ok).toBe(true);
    const tooMany = parseEvents(Array.from({ length: MAX_EVENTS_PER_BATCH + 1 }, () => ({})));
    expect(tooMany).toEqual({ ok: false, problems: [{ index: -1, path: '(body)', message: expect.stringContaining('1001 events') }] });
    for (const body of [null, 'x', 3, []]) expect(parseEvents(body)).toMatchObject({ ok: false, problems: [{ index: -1, path: '(body)' }] });
  });

  it('lets duplicate ids through validation; uniqueEvents keeps the first', () => {
    const result = parseEvents([valid('same', { productName: 'first' }), valid('same', { productName: 'second' })]);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(uniqueEvents(result.events)).toEqual([expect.objectContaining({ productName: 'first' })]);
  });
});

describe('event derivations', () => {
  it('uses the most specific topic, with ids encoded so they cannot forge another topic', () => {
    const variant = parseOne(valid('a', { productId: 'a:b', variant: 42 }));
    expect(eventTopic(variant)).toBe('back_in_stock:a%3Ab:42');
    expect(eventTopics(variant)).toEqual(['back_in_stock:a%3Ab:42', 'back_in_stock:a%3Ab']);
    expect(eventTopic(parseOne({ id: 'b', type: 'price_drop', pageId: 'p', productId: 12, oldPrice: 2, newPrice: 1, currency: 'EUR' }))).toBe('price_drop:12');
    expect(eventTopic(parseOne({ id: 'c', type: 'custom', pageId: 'p', topic: 'weekly_deals', text: 'x' }))).toBe('weekly_deals');
  });

  it('renders the message: override, then template (own fields + vars), then the default', () => {
    expect(eventMessage(parseOne(valid('a', { message: { text: 'Override' } })))).toEqual({ text: 'Override' });
    const templated = parseOne({
      id: 'b',
      type: 'price_drop',
      pageId: 'p',
      productId: 'lamp',
      productName: 'Lamp',
      oldPrice: 20,
      newPrice: 15,
      currency: 'EUR',
      template: '{{productName}}: {{newPriceFormatted}} instead of {{oldPriceFormatted}}, {{greeting}}',
      vars: { greeting: 'enjoy', productName: 'The Lamp' },
    });
    expect(eventMessage(templated)).toEqual({ text: 'The Lamp: €15.00 instead of €20.00, enjoy' });
    expect(eventMessage(parseOne(valid('c', { productName: 'Hat' })))).toEqual({ text: 'Good news: Hat is back in stock.' });
    expect(eventMessage(parseOne({ id: 'd', type: 'custom', pageId: 'p', topic: 't', text: 'Custom text' }))).toEqual({ text: 'Custom text' });
  });

  it('keeps only type-specific fields in the payload', () => {
    const event = parseOne(valid('a', { variant: 'XL', occurredAt: '2026-01-02T03:04:05Z', template: 'x', message: undefined }));
    expect(eventPayload(event)).toEqual({ productId: 'sku', variant: 'XL', occurredAt: '2026-01-02T03:04:05Z' });
  });
});

describe('strings Postgres cannot store', () => {
  it('refuses NUL and lone surrogates in any event string, naming the field', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ id: 'a\u0000' }, 'id'],
      [{ id: 'a\uD800' }, 'id'],
      [{ pageId: 'p\u0000' }, 'pageId'],
      [{ productName: 'lamp\uDC00x' }, 'productName'],
      [{ productId: 'sku\u0000' }, 'productId'],
      [{ message: { text: 'hi\u0000' } }, 'message.text'],
      [{ template: 'x {{a}}', vars: { a: 'b\uD83D' } }, 'vars.a'],
    ];
    for (const [fields, path] of cases) {
      const parsed = parseEvents({ id: 'ok', type: 'back_in_stock', pageId: 'p', productId: 'sku', ...fields });
      expect(parsed.ok, path).toBe(false);
      if (!parsed.ok) expect(parsed.problems, path).toContainEqual({ index: 0, path, message: expect.stringMatching(/NUL|surrogate/) });
    }
  });

  it('accepts well-formed astral characters (a paired surrogate is fine)', () => {
    expect(parseEvents({ id: 'emoji-😀', type: 'custom', pageId: 'p', topic: 't', text: 'ok 😀' }).ok).toBe(true);
  });

  it('finds unsafe strings and keys at any depth, with printable paths', () => {
    expect(findPgUnsafeStrings({ a: [{ b: 'x\u0000' }], ['k\u0000']: 1, fine: 'y' })).toEqual([
      { path: ['a', 0, 'b'], message: 'must not contain NUL (\\u0000) characters' },
      { path: ['k\\u0000'], message: 'field name must not contain NUL (\\u0000) characters' },
    ]);
    expect(pgUnsafeReason('\uDBFF\uDFFF')).toBeUndefined();
    expect(pgUnsafeReason('\uDFFF\uDBFF')).toMatch(/surrogate/);
  });
});

describe('priority', () => {
  it('is optional, one of high/normal/low, and not part of the payload', () => {
    const parsed = parseEvents({ id: 'a', type: 'custom', pageId: 'p', topic: 't', text: 'x', priority: 'high' });
    expect(parsed.ok && parsed.events[0]?.priority).toBe('high');
    if (parsed.ok) expect(eventPayload(parsed.events[0] as EventInput)).not.toHaveProperty('priority');
    expect(parseEvents({ id: 'a', type: 'custom', pageId: 'p', topic: 't', text: 'x', priority: 'urgent' }).ok).toBe(false);
  });
});
