import type { ParseArgsConfig } from 'node:util';
import type { RenotifyClient } from '@renotify/client';
import { everyPage, unwrap, type ListPage } from './client.js';
import { UsageError } from './errors.js';
import { table, type Io } from './output.js';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

export interface Context {
  api: RenotifyClient;
  values: Values;
  args: string[];
  json: boolean;
  io: Io;
  /** Writes `data` as JSON with --json, else the human rendering. */
  print(data: unknown, human: () => string): void;
}

export interface Command {
  words: [string, string] | [string];
  summary: string;
  /** After `renotify <words>`. */
  usage: string;
  /** Whole command lines shown under "Examples" in --help. */
  examples: string[];
  options?: Options;
  /** Required positional arguments, by name (for the usage error). */
  positionals?: string[];
  /** Resolves with an exit code when partly failed (see reconcile --all), else ok. */
  run(context: Context): Promise<number | void>;
}

export const commandName = (command: Command) => command.words.join(' ');

export const str = (values: Values, name: string): string | undefined => {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
};

/** A required option, or the environment variable that stands in for it (secrets stay out of shell history). */
export function required(context: Context, name: string, envName?: string): string {
  const value = str(context.values, name) ?? (envName ? context.io.env[envName] : undefined);
  if (!value) throw new UsageError(`--${name} is required${envName ? ` (or set ${envName})` : ''}`);
  return value;
}

export function positiveInt(values: Values, name: string): number | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer (got "${raw}")`);
  return n;
}

/** An integer ≥ 0, for settings where 0 means "none". */
export function wholeNumber(values: Values, name: string): number | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number (got "${raw}")`);
  return n;
}

/**
 * A value the API checks against its own enum (and answers 400 naming the field when it is not one). The CLI keeps
 * no copy of those enums, so it passes the text through, upper-cased as the API's answers are.
 */
export function apiEnum<T extends string>(values: Values, name: string): T | undefined {
  return str(values, name)?.toUpperCase().replaceAll('-', '_') as T | undefined;
}

/** A required option whose value the API checks against its enum (see apiEnum). */
export function requiredEnum<T extends string>(context: Context, name: string): T {
  required(context, name);
  return apiEnum<T>(context.values, name)!;
}

/** A JSON option: inline JSON, or @path to read it from a file. */
export function jsonOption(values: Values, name: string, readFile: (path: string) => string): unknown {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  const text = raw.startsWith('@') ? readFile(raw.slice(1)) : raw;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--${name} is not valid JSON: ${(error as Error).message}`);
  }
}

export const listOptions = {
  limit: { type: 'string' },
  cursor: { type: 'string' },
  all: { type: 'boolean', default: false },
} as const satisfies Options;

export const idempotencyOption = { 'idempotency-key': { type: 'string' } } as const satisfies Options;

/** The Idempotency-Key header when --idempotency-key is given: a retried create answers its first response. */
export const idempotencyHeader = (values: Values) => {
  const key = str(values, 'idempotency-key');
  return key === undefined ? {} : { 'idempotency-key': key };
};

const PAGE_SIZE = 200;

/**
 * Prints one page of a list, or every page with --all; the human output says how to get the next page.
 * `fetchPage` gets the cursor and page size to ask for; `toRow` shapes an item for the table (--json prints items as the API sent them).
 */
export async function printList<T extends object>(
  context: Context,
  fetchPage: (cursor: string | undefined, limit: number | undefined) => Promise<ListPage<T>>,
  columns: string[],
  toRow: (item: T) => object = (item) => item,
): Promise<void> {
  const rows = (items: T[]) => items.map(toRow) as Array<Record<string, unknown>>;
  if (context.values.all) {
    const items: T[] = [];
    for await (const page of everyPage((cursor) => fetchPage(cursor, PAGE_SIZE))) items.push(...page);
    context.print({ items, nextCursor: null }, () => table(rows(items), columns));
    return;
  }
  const page = await fetchPage(str(context.values, 'cursor'), positiveInt(context.values, 'limit'));
  context.print(page, () => table(rows(page.items), columns) + (page.nextCursor ? `more: add --cursor ${page.nextCursor} (or --all)\n` : ''));
}

/** Every registered Page, through the cursor (GET /v1/pages is paged like every list). */
export async function allPages(api: RenotifyClient): Promise<Array<{ id: string; name: string }>> {
  const pages: Array<{ id: string; name: string }> = [];
  for await (const items of everyPage((cursor) => unwrap(api.GET('/v1/pages', { params: { query: { limit: PAGE_SIZE, cursor } } })))) pages.push(...items);
  return pages;
}
