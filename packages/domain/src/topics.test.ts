import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { TopicSubject } from './topics.js';
import { TOPIC_MAX_LENGTH, TopicError, decodeTopicPart, encodeTopicPart, matchingTopics, parseTopic, topicFor } from './topics.js';

describe('topicFor', () => {
  it.each<[TopicSubject, string]>([
    [{ type: 'back_in_stock', productId: '123' }, 'back_in_stock:123'],
    [{ type: 'back_in_stock', productId: 123, variant: 42 }, 'back_in_stock:123:42'],
    [{ type: 'back_in_stock', productId: 'sku-1', variant: null }, 'back_in_stock:sku-1'],
    [{ type: 'back_in_stock', productId: 'a:b', variant: 'c' }, 'back_in_stock:a%3Ab:c'],
    [{ type: 'back_in_stock', productId: 'a', variant: 'b:c' }, 'back_in_stock:a:b%3Ac'],
    [{ type: 'back_in_stock', productId: '100%', variant: '%3A' }, 'back_in_stock:100%25:%253A'],
    [{ type: 'price_drop', productId: 'shoe 9' }, 'price_drop:shoe 9'],
    [{ type: 'custom', topic: 'weekly_deals' }, 'weekly_deals'],
  ])('%o → %s', (subject, expected) => {
    expect(topicFor(subject)).toBe(expected);
  });

  it.each<[TopicSubject, RegExp]>([
    [{ type: 'back_in_stock', productId: '' }, /productId must be a non-empty string/],
    [{ type: 'back_in_stock', productId: '1', variant: '' }, /variant must be a non-empty string/],
    [{ type: 'price_drop', productId: Number.NaN }, /finite number/],
    [{ type: 'custom', topic: '' }, /must not be empty/],
    [{ type: 'custom', topic: 'x'.repeat(TOPIC_MAX_LENGTH + 1) }, /256 characters; the maximum is 255/],
    [{ type: 'price_drop', productId: ':'.repeat(100) }, /maximum is 255/],
    [{ type: 'nope' } as unknown as TopicSubject, /Unknown topic subject type "nope"/],
  ])('rejects %o', (subject, message) => {
    expect(() => topicFor(subject)).toThrow(TopicError);
    expect(() => topicFor(subject)).toThrow(message);
  });

  it('allows exactly 255 characters, counted as characters not UTF-16 units', () => {
    expect(topicFor({ type: 'custom', topic: 'x'.repeat(255) })).toHaveLength(255);
    expect(topicFor({ type: 'custom', topic: '😀'.repeat(255) })).toHaveLength(510);
  });
});

describe('matchingTopics', () => {
  it.each<[TopicSubject, string[]]>([
    [{ type: 'back_in_stock', productId: 123, variant: 42 }, ['back_in_stock:123:42', 'back_in_stock:123']],
    [{ type: 'back_in_stock', productId: 123 }, ['back_in_stock:123']],
    [{ type: 'price_drop', productId: 'p:1' }, ['price_drop:p%3A1']],
    [{ type: 'custom', topic: 'weekly_deals' }, ['weekly_deals']],
  ])('%o reaches %o', (event, expected) => {
    expect(matchingTopics(event)).toEqual(expected);
  });

  it('uses the same helper as opt-in: a variant event reaches both kinds of opt-in', () => {
    const optInAny = topicFor({ type: 'back_in_stock', productId: 'x:y' });
    const optInSize = topicFor({ type: 'back_in_stock', productId: 'x:y', variant: '42' });
    const optInOtherSize = topicFor({ type: 'back_in_stock', productId: 'x:y', variant: '43' });
    const reached = matchingTopics({ type: 'back_in_stock', productId: 'x:y', variant: '42' });
    expect(reached).toContain(optInAny);
    expect(reached).toContain(optInSize);
    expect(reached).not.toContain(optInOtherSize);
  });
});

describe('parseTopic', () => {
  it.each<[string, TopicSubject]>([
    ['back_in_stock:123', { type: 'back_in_stock', productId: '123' }],
    ['back_in_stock:a%3Ab:c%25', { type: 'back_in_stock', productId: 'a:b', variant: 'c%' }],
    ['price_drop:9', { type: 'price_drop', productId: '9' }],
    ['weekly_deals', { type: 'custom', topic: 'weekly_deals' }],
    ['back_in_stock:', { type: 'custom', topic: 'back_in_stock:' }],
    ['back_in_stock:1:2:3', { type: 'custom', topic: 'back_in_stock:1:2:3' }],
    ['price_drop:1:2', { type: 'custom', topic: 'price_drop:1:2' }],
    ['price_drop:50%', { type: 'custom', topic: 'price_drop:50%' }],
    ['price_drop:%3a', { type: 'custom', topic: 'price_drop:%3a' }],
  ])('%s', (topic, expected) => {
    expect(parseTopic(topic)).toEqual(expected);
  });

  it('encode/decode are inverse; stray escapes are rejected', () => {
    expect(decodeTopicPart(encodeTopicPart('%:%3A:'))).toBe('%:%3A:');
    expect(decodeTopicPart('%41')).toBeNull();
    expect(decodeTopicPart('a:b')).toBeNull();
  });
});

describe('properties', () => {
  const id = fc.string({ unit: fc.constantFrom('a', 'b', ':', '%', '3', 'A', '2', '5'), minLength: 1, maxLength: 12 });
  const subject: fc.Arbitrary<TopicSubject> = fc.oneof(
    fc.record({ type: fc.constant('back_in_stock' as const), productId: id }),
    fc.record({ type: fc.constant('back_in_stock' as const), productId: id, variant: id }),
    fc.record({ type: fc.constant('price_drop' as const), productId: id }),
  );

  it('(e) topicFor is injective over ids containing ":" and "%"', () => {
    fc.assert(
      fc.property(subject, subject, (a, b) => {
        const same = JSON.stringify(a) === JSON.stringify(b);
        expect(topicFor(a) === topicFor(b)).toBe(same);
      }),
      { numRuns: 2000 },
    );
  });

  it('parseTopic inverts topicFor for structured subjects', () => {
    fc.assert(
      fc.property(subject, (s) => {
        expect(parseTopic(topicFor(s))).toEqual(s);
      }),
      { numRuns: 1000 },
    );
  });
});
