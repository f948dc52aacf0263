import { z } from 'zod';

/**
 * Pieces shared by every route schema. Response schemas describe what the API promises; objects marked
 * "loose" promise the listed fields and may carry more (read-only reports whose detail grows over time).
 */

/** One entry of `error.details`: what is wrong with the input (docs/api-conventions.md). */
export const problemSchema = z
  .object({
    path: z.string().describe('The field, dot-separated; "(body)" for the whole body'),
    message: z.string(),
    index: z.number().int().optional().describe('Which event of a batch (POST /v1/events); -1 for the batch itself'),
  })
  .meta({ id: 'Problem' });

export const apiErrorSchema = z
  .object({
    error: z.looseObject({
      code: z.string().describe('snake_case, stable: switch on this, not on the message'),
      message: z.string(),
      details: z.array(problemSchema).optional(),
      retryable: z.boolean().optional(),
      retryAfterSeconds: z.number().int().optional().describe('On every 429 and 503, with the same value in the Retry-After header'),
      requestId: z.string().optional(),
    }),
  })
  .meta({ id: 'Error' });

/** Error answers every route may give; their bodies all have the one shape above. */
export const errorResponses = {
  '4xx': apiErrorSchema,
  '5xx': apiErrorSchema,
} as const;

/**
 * An enum answered in UPPER_SNAKE_CASE that requests may also spell in lower case (docs/api-conventions.md):
 * both spellings are documented, the handler always sees the upper-case value.
 */
export function upperCaseEnum<const T extends readonly [string, ...string[]]>(values: T) {
  const spellings = [...values, ...values.map((value) => value.toLowerCase())] as [string, ...string[]];
  return z.enum(spellings).transform((value) => value.toUpperCase() as T[number]);
}

export const noContent = z.undefined().describe('No content');

export const nextCursor = z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page');

/** A cursor-paged list: `{ items, nextCursor }`. */
export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor });

export const limitQuery = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

/** Dates go out as ISO 8601 strings (z.date() is documented as date-time). */
export const timestamp = z.date();

export const idempotencyKeyHeader = z.looseObject({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1–255 visible ASCII characters')
    .optional()
    .describe('Retrying with the same key and body answers the first response again; the same key with another body answers 422'),
});
