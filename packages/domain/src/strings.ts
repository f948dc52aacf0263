/**
 * A copy of a JSON-like value with `map` applied to every string in it (object values and array items, at any
 * depth); keys and other values are kept. The one walker over message strings (placeholders, rendering).
 */
export function mapStrings(value: unknown, map: (text: string) => string): unknown {
  if (typeof value === 'string') return map(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, map));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mapStrings(item, map)]));
  return value;
}
