import type { Command } from '../command.js';
import { positiveInt, str } from '../command.js';
import { unwrap } from '../client.js';
import { keyValues, table } from '../output.js';

export const eventCommands: Command[] = [
  {
    words: ['events', 'show'],
    summary: 'Show an event, its delivery counts and its deliveries',
    usage: '<eventId> [--limit <n>] [--cursor <c>]',
    examples: ['renotify events show evt-42', 'renotify events show evt-42 --json | jq .counts'],
    positionals: ['eventId'],
    options: { limit: { type: 'string' }, cursor: { type: 'string' } },
    async run(context) {
      const query = { limit: positiveInt(context.values, 'limit'), cursor: str(context.values, 'cursor') };
      const event = await unwrap(context.api.GET('/v1/events/{id}', { params: { path: { id: context.args[0]! }, query } }));
      context.print(event, () => {
        const summary = Object.entries(event).filter(([key]) => !['deliveries', 'nextCursor', 'payload', 'message'].includes(key));
        return (
          keyValues(summary) +
          `\nDeliveries${event.nextCursor ? ' (first page)' : ''}:\n` +
          // The API never returns a PSID per delivery; optInId names the token it went to.
          table(event.deliveries, ['id', 'status', 'skipReason', 'attempts', 'lastErrorCode', 'optInId', 'finishedAt']) +
          (event.nextCursor ? `more: add --cursor ${event.nextCursor}\n` : '')
        );
      });
    },
  },
];
