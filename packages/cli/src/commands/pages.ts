import type { Command } from '../command.js';
import { idempotencyHeader, idempotencyOption, positiveInt, printList, required, str } from '../command.js';
import { unwrap } from '../client.js';
import { keyValues } from '../output.js';

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
      context.print(page, () => `Page ${page.id} registered.\n${keyValues(Object.entries(page))}`);
    },
  },
];
