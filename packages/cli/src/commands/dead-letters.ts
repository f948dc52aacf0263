import type { Command } from '../command.js';
import { listOptions, printList, str } from '../command.js';
import { everyPage, unwrap } from '../client.js';
import { UsageError } from '../errors.js';
import { Progress } from '../output.js';

/** Ids per POST /v1/dead-letters/redrive, so the progress bar moves and no request is huge. */
const REDRIVE_CHUNK = 500;

export const deadLetterCommands: Command[] = [
  {
    words: ['dead-letters', 'list'],
    summary: 'List dead deliveries and dead-lettered webhook entries / jobs',
    usage: '[--kind delivery|<dead-letter kind>] [--limit <n>] [--cursor <c>] [--all]',
    examples: ['renotify dead-letters list --kind delivery', 'renotify dead-letters list --all --json'],
    options: { kind: { type: 'string' }, ...listOptions },
    async run(context) {
      const kind = str(context.values, 'kind');
      await printList(
        context,
        (cursor, limit) => unwrap(context.api.GET('/v1/dead-letters', { params: { query: { kind, cursor, limit } } })),
        ['kind', 'id', 'at', 'code', 'attempts', 'pageId', 'reason'],
      );
    },
  },
  {
    words: ['dead-letters', 'redrive'],
    summary: 'Put dead deliveries back in the queue (attempts reset)',
    usage: '(--all | --source <eventId or campaign run id> | --ids <id,id,...>)',
    examples: ['renotify dead-letters redrive --source evt-42', 'renotify dead-letters redrive --ids 6f1c…,9a2b…'],
    options: { all: { type: 'boolean', default: false }, source: { type: 'string' }, ids: { type: 'string' } },
    async run(context) {
      const { values, api } = context;
      const source = str(values, 'source');
      const idList = str(values, 'ids');
      if ([values.all === true, source !== undefined, idList !== undefined].filter(Boolean).length !== 1) {
        throw new UsageError('give exactly one of --all, --source <id> or --ids <id,id,...>');
      }
      const progress = new Progress(context.io.stderr, 0, 'redrive', !context.json);
      let ids: string[];
      if (idList !== undefined) {
        ids = idList.split(',').map((id) => id.trim()).filter(Boolean);
      } else {
        // Collect first, so the bar has a total; rows redriven meanwhile by someone else just count as 0.
        ids = [];
        const pages = everyPage((cursor) => unwrap(api.GET('/v1/dead-letters', { params: { query: { kind: 'delivery', limit: 500, cursor } } })));
        for await (const page of pages) {
          for (const item of page) if (source === undefined || (item.source as { id?: string } | undefined)?.id === source) ids.push(item.id);
          progress.setTotal(ids.length);
        }
      }
      progress.setTotal(ids.length);
      const total = { redriven: 0, batches: 0, requested: ids.length };
      try {
        for (let start = 0; start < ids.length; start += REDRIVE_CHUNK) {
          const chunk = ids.slice(start, start + REDRIVE_CHUNK);
          const result = await unwrap(api.POST('/v1/dead-letters/redrive', { body: { deliveryIds: chunk } }));
          total.redriven += result.redriven;
          total.batches += result.batches;
          progress.advance(chunk.length);
        }
      } finally {
        progress.finish();
      }
      context.print(total, () =>
        ids.length === 0 ? 'Nothing to redrive.\n' : `Redrove ${total.redriven} of ${ids.length} dead deliveries in ${total.batches} dispatch batch(es).\n`,
      );
    },
  },
];
