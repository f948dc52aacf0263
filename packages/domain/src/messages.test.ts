import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MESSAGE_TEXT_MAX_LENGTH, defaultMessageFor, fitMessageText, formatMoney, renderTemplate, templateVariables } from './messages.js';

describe('renderTemplate', () => {
  it.each([
    ['Hi {{name}}!', { name: 'Ada' }, 'Hi Ada!'],
    ['{{ a }}+{{b}}={{sum}}', { a: 1, b: 2, sum: 3 }, '1+2=3'],
    ['no placeholders', {}, 'no placeholders'],
    ['{{x}}{{x}}', { x: 'y' }, 'yy'],
    ['values are not re-scanned: {{v}}', { v: '{{secret}}' }, 'values are not re-scanned: {{secret}}'],
    ['not code: {{constructor}}', { constructor: 'ok' }, 'not code: ok'],
    ['single braces {name} stay', { name: 'x' }, 'single braces {name} stay'],
  ])('%s', (template, vars, expected) => {
    expect(renderTemplate(template, vars)).toBe(expected);
  });

  it('throws naming the missing variable, even for inherited names', () => {
    expect(() => renderTemplate('Hi {{name}}, {{product}}', { name: 'Ada' })).toThrow('Template variable "product" is missing');
    expect(() => renderTemplate('{{toString}}', {})).toThrow('"toString"');
  });

  it('lists variables in order of first use', () => {
    expect(templateVariables('{{b}} {{a}} {{b}}')).toEqual(['b', 'a']);
  });
});

describe('defaultMessageFor', () => {
  it.each([
    [{ type: 'back_in_stock', productId: 'sku-1', productName: 'Red Shoe', variant: '42' }, 'Good news: Red Shoe (42) is back in stock.'],
    [{ type: 'back_in_stock', productId: 'sku-1' }, 'Good news: sku-1 is back in stock.'],
    [{ type: 'back_in_stock', productId: 7, url: 'https://shop.example/7' }, 'Good news: 7 is back in stock.\nhttps://shop.example/7'],
    [{ type: 'price_drop', productId: 'p', productName: 'Mug', currency: 'EUR', price: 9.99, previousPrice: 12 }, 'Price drop: Mug is now €9.99 (was €12.00)'],
    [{ type: 'price_drop', productId: 'p', currency: 'USD', price: 5 }, 'Price drop: p is now $5.00'],
    [{ type: 'price_drop', productId: 'p', currency: 'EUR', price: 9.99, locale: 'de-DE' }, 'Price drop: p is now 9,99\u00a0€'],
    [{ type: 'custom', topic: 't', message: 'Hello' }, 'Hello'],
  ] as const)('%o', (event, expected) => {
    expect(defaultMessageFor(event)).toEqual({ text: expected });
  });

  it('rejects a bad currency and an empty custom message with clear errors', () => {
    expect(() => defaultMessageFor({ type: 'price_drop', productId: 'p', currency: 'EURO', price: 1 })).toThrow(/currency "EURO"/);
    expect(() => formatMoney(Number.POSITIVE_INFINITY, 'EUR')).toThrow(/finite/);
    expect(() => defaultMessageFor({ type: 'custom', topic: 't', message: '' })).toThrow(/non-empty message/);
  });

  it('truncates to 2000 characters with an ellipsis', () => {
    const { text } = defaultMessageFor({ type: 'custom', topic: 't', message: 'x'.repeat(5000) });
    expect(text).toHaveLength(MESSAGE_TEXT_MAX_LENGTH);
    expect(text.endsWith('…')).toBe(true);
  });
});

describe('fitMessageText', () => {
  it('keeps short text, never splits a surrogate pair, never exceeds the limit', () => {
    expect(fitMessageText('short')).toBe('short');
    expect(fitMessageText('x'.repeat(2000))).toBe('x'.repeat(2000));
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '😀', 'é'), maxLength: 3000 }), (text) => {
        const fitted = fitMessageText(text);
        expect(fitted.length).toBeLessThanOrEqual(MESSAGE_TEXT_MAX_LENGTH);
        expect(fitted).not.toMatch(/[\uD800-\uDBFF]$/);
        if (text.length <= MESSAGE_TEXT_MAX_LENGTH) expect(fitted).toBe(text);
        else expect(text.startsWith(fitted.slice(0, -1))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
