import { z } from 'zod';
import { HttpError } from '../http-errors.js';

/*
 * The opaque cursor of lists ordered by (time, id): base64url of `[isoTime, uuid]`. One codec for every such list,
 * so each refuses a tampered cursor the same way: a 400 naming `cursor`, never a 5xx (a year Postgres cannot
 * store, such as 0000, would otherwise fail the query).
 */

const CURSOR_YEARS = { min: 1970, max: 9999 };
const cursorSchema = z.tuple([
  z.iso.datetime().refine((at) => {
    const year = new Date(at).getUTCFullYear();
    return year >= CURSOR_YEARS.min && year <= CURSOR_YEARS.max;
  }),
  z.uuid(),
]);

export interface TimeCursor {
  at: Date;
  id: string;
}

export const encodeTimeCursor = (cursor: TimeCursor): string => Buffer.from(JSON.stringify([cursor.at.toISOString(), cursor.id])).toString('base64url');

export function decodeTimeCursor(cursor: string): TimeCursor {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const parsed = cursorSchema.safeParse(decoded);
  if (!parsed.success) throw new HttpError(400, 'invalid_request', 'cursor is not one this API returned (pass nextCursor unchanged)', [{ path: 'cursor', message: 'invalid cursor' }]);
  return { at: new Date(parsed.data[0]), id: parsed.data[1] };
}
