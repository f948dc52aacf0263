import type { Page, paths } from '@renotify/client';
import type { Command, Context } from '../command.js';
import { idempotencyHeader, idempotencyOption, positiveInt, printList, required, str } from '../command.js';
import { unwrap } from '../client.js';
import { UsageError } from '../errors.js';
import { keyValues } from '../output.js';
import { formatQuietHours, formatUserCap, OFF, parseQuietHours, parseUserCap } from '../settings-syntax.js';

type PageChanges = paths['/v1/pages/{id}']['patch']['requestBody']['content']['application/json'];

/** A Page as key/value lines, with its guards in the short forms `pages set` takes. */
function describePage(page: Page): string {
  const { quietHours, userCap, ...rest } = page;
  const quiet = quietHours ? `${formatQuietHours(quietHours)} (${quietHours.timeZone ?? "each person's zone"})` : OFF;
  return keyValues([...Object.entries(rest), ['quietHours', quiet], ['userCap', formatUserCap(userCap ?? null)]]);
}

/** A flag that is a value, or "off" for the API's null. */
function orOff<T>(context: Context, name: string, parse: (text: string) => T | null | string): T | null | undefined {
  const text = str(context.values, name);
  if (text === undefined) return undefined;
  const parsed = parse(text);
  if (typeof parsed === 'string') throw new UsageError(`--${name}: ${parsed}`);
  return parsed;
}

/** The PATCH body from the flags given; at least one is needed. */
function pageChanges(context: Context): PageChanges {
  const { values } = context;
  const quietHours = orOff(context, 'quiet-hours', parseQuietHours);
  const zone = str(values, 'quiet-hours-zone');
  if (zone !== undefined && !quietHours) throw new UsageError('--quiet-hours-zone goes with --quiet-hours HH:MM-HH:MM');
  const changes: PageChanges = {
    name: str(values, 'name'),
    timezone: str(values, 'timezone'),
    policyProfile: str(values, 'policy-profile'),
    sendRatePerSec: positiveInt(values, 'send-rate'),
    graphVersion: str(values, 'graph-version'),
    accessToken: str(values, 'access-token'),
    appSecret: str(values, 'app-secret'),
    // "person" (the default): each person's own zone, by the one precedence the API documents.
    quietHours: quietHours && { ...quietHours, timeZone: zone === undefined || zone === 'person' ? null : zone },
    userCap: orOff(context, 'cap', parseUserCap),
    pausedUntil: orOff(context, 'paused-until', (text) => (text.toLowerCase() === OFF ? null : text)),
  };
  if (Object.values(changes).every((value) => value === undefined)) throw new UsageError('nothing to change: give at least one setting (see --help)');
  return changes;
}

export const pageCommands: Command[] = [
  {
    words: ['pages', 'list'],
    summary: 'List registered Facebook Pages',
    usage: '[--limit <n>] [--cursor <c>] [--all]',
    examples: ['renotify pages list', 'renotify pages list --all --json'],
    options: { limit: { type: 'string' }, cursor: { type: 'string' }, all: { type: 'boolean', default: false } },
    async run(context) {
      await printList(
        context,
        (cursor, limit) => unwrap(context.api.GET('/v1/pages', { params: { query: { cursor, limit } } })),
        ['id', 'name', 'timezone', 'policyProfile', 'sendRatePerSec', 'pausedUntil'],
      );
    },
  },
  {
    words: ['pages', 'add'],
    summary: 'Register a Page (secrets are stored encrypted and never shown again)',
    usage:
      '--id <pageId> --name <name> [--access-token <token>] [--app-secret <secret>] [--timezone <IANA zone>] [--policy-profile <id>] [--send-rate <per second>] [--graph-version v24.0] [--idempotency-key <key>]\n' +
      '  --access-token / --app-secret default to $RENOTIFY_PAGE_ACCESS_TOKEN / $RENOTIFY_PAGE_APP_SECRET (keeps them out of shell history).',
    examples: ['RENOTIFY_PAGE_ACCESS_TOKEN=… RENOTIFY_PAGE_APP_SECRET=… renotify pages add --id 1234567890 --name "My Shop" --timezone Europe/Paris'],
    options: {
      id: { type: 'string' },
      name: { type: 'string' },
      'access-token': { type: 'string' },
      'app-secret': { type: 'string' },
      timezone: { type: 'string' },
      'policy-profile': { type: 'string' },
      'send-rate': { type: 'string' },
      'graph-version': { type: 'string' },
      ...idempotencyOption,
    },
    async run(context) {
      const { values } = context;
      const page = await unwrap(
        context.api.POST('/v1/pages', {
          body: {
            id: required(context, 'id'),
            name: required(context, 'name'),
            accessToken: required(context, 'access-token', 'RENOTIFY_PAGE_ACCESS_TOKEN'),
            appSecret: required(context, 'app-secret', 'RENOTIFY_PAGE_APP_SECRET'),
            timezone: str(values, 'timezone'),
            policyProfile: str(values, 'policy-profile'),
            graphVersion: str(values, 'graph-version'),
            sendRatePerSec: positiveInt(values, 'send-rate'),
          },
          headers: idempotencyHeader(values),
        }),
      );
      context.print(page, () => `Page ${page.id} registered.\n${describePage(page)}`);
    },
  },
  {
    words: ['pages', 'show'],
    summary: "Show a Page and its settings (never its secrets)",
    usage: '<pageId>',
    examples: ['renotify pages show 1234567890'],
    positionals: ['pageId'],
    async run(context) {
      const page = await unwrap(context.api.GET('/v1/pages/{id}', { params: { path: { id: context.args[0]! } } }));
      context.print(page, () => describePage(page));
    },
  },
  {
    words: ['pages', 'set'],
    summary: "Change a Page's settings: quiet hours, per-person cap, policy profile, send rate, time zone",
    usage:
      '<pageId> [--quiet-hours HH:MM-HH:MM|off] [--quiet-hours-zone <IANA zone>|person] [--cap <sends>/<hours>h|off]\n' +
      '  [--policy-profile <id>] [--send-rate <per second>] [--timezone <IANA zone>] [--name <name>] [--paused-until <ISO time>|off]\n' +
      '  [--graph-version v24.0] [--access-token <token>] [--app-secret <secret>]\n' +
      "  Quiet hours and the cap apply on top of the policy profile; they use each person's zone unless --quiet-hours-zone names one.",
    examples: [
      'renotify pages set 1234567890 --quiet-hours 22:00-08:00 --cap 3/24h',
      'renotify pages set 1234567890 --quiet-hours off --cap off --send-rate 20 --timezone Europe/Paris',
    ],
    positionals: ['pageId'],
    options: {
      'quiet-hours': { type: 'string' },
      'quiet-hours-zone': { type: 'string' },
      cap: { type: 'string' },
      'policy-profile': { type: 'string' },
      'send-rate': { type: 'string' },
      timezone: { type: 'string' },
      name: { type: 'string' },
      'paused-until': { type: 'string' },
      'graph-version': { type: 'string' },
      'access-token': { type: 'string' },
      'app-secret': { type: 'string' },
    },
    async run(context) {
      const body = pageChanges(context);
      const page = await unwrap(context.api.PATCH('/v1/pages/{id}', { params: { path: { id: context.args[0]! } }, body }));
      context.print(page, () => `Page ${page.id} updated.\n${describePage(page)}`);
    },
  },
];
