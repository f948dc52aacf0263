import type { Command } from '../command.js';
import { unwrap } from '../client.js';
import { table } from '../output.js';

const megabytes = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

export const retentionCommands: Command[] = [
  {
    words: ['retention', 'status'],
    summary: 'Show table sizes, how long each kind of row is kept, and the last and next purge',
    usage: '',
    examples: ['renotify retention status', 'renotify retention status --json | jq ".tables[] | {table, totalBytes}"'],
    async run(context) {
      const status = await unwrap(context.api.GET('/v1/retention'));
      context.print(status, () => {
        const rows = status.tables.map((entry) => ({
          table: entry.table,
          keptDays: entry.retentionDays === 0 ? 'forever' : entry.retentionDays,
          rows: entry.estimatedRows,
          size: megabytes(entry.totalBytes),
          oldestAt: entry.oldestAt,
          lastRunAt: entry.lastRun?.finishedAt,
          lastDeleted: entry.lastRun?.deleted,
          caughtUp: entry.lastRun ? (entry.lastRun.error ?? entry.lastRun.caughtUp) : undefined,
        }));
        const next = status.schedule.nextRunAt ?? 'not scheduled yet (no worker has installed it)';
        return `Purge: cron "${status.schedule.cron}" (UTC), next ${next}, batches of ${status.batchSize}\n\n` + table(rows, Object.keys(rows[0] ?? { table: '' }), 60);
      });
    },
  },
];
