import type { Command } from '../command.js';
import { allPages } from '../command.js';
import { unwrap } from '../client.js';
import { renderHealth, type PageHealthView } from '../doctor.js';
import { ApiError, ExitCode, UsageError } from '../errors.js';
import { Progress, table } from '../output.js';

export const maintenanceCommands: Command[] = [
  {
    words: ['reconcile'],
    summary: "Repair Pages' token stores from Meta's token lists",
    usage: '(<pageId>... | --all)',
    examples: ['renotify reconcile 1234567890', 'renotify reconcile --all'],
    options: { all: { type: 'boolean', default: false } },
    async run(context) {
      const { api, values } = context;
      if ((values.all === true) === context.args.length > 0) throw new UsageError('give one or more Page ids, or --all');
      const pageIds = values.all ? (await allPages(api)).map((page) => page.id) : context.args;
      const progress = new Progress(context.io.stderr, pageIds.length, 'reconcile', !context.json);
      const reports: Array<Record<string, unknown>> = [];
      let failed = 0;
      try {
        for (const pageId of pageIds) {
          try {
            const { details: _details, ...counts } = await unwrap(api.POST('/v1/pages/{id}/reconcile', { params: { path: { id: pageId } } }));
            reports.push(counts);
          } catch (error) {
            // One Page that Meta refuses must not stop the others; a single named Page fails the usual way.
            if (!(error instanceof ApiError) || pageIds.length === 1) throw error;
            failed++;
            reports.push({ pageId, error: `${error.code}: ${error.message} (HTTP ${error.status})` });
          }
          progress.advance();
        }
      } finally {
        progress.finish();
      }
      context.print({ items: reports }, () =>
        table(reports, ['pageId', 'fetched', 'added', 'updated', 'unchanged', 'notListedByMeta', ...(failed > 0 ? ['error'] : [])], 80),
      );
      if (failed > 0) {
        context.io.stderr.write(context.json ? `${JSON.stringify({ error: { code: 'partial_failure', message: `${failed} of ${pageIds.length} Page(s) failed` } })}\n` : `Error: ${failed} of ${pageIds.length} Page(s) failed to reconcile.\n`);
        return ExitCode.apiError;
      }
    },
  },
  {
    words: ['doctor'],
    summary: 'Check that Pages are ready for Meta: token, app secret, webhook subscription, Graph version, verify token, recent webhook',
    usage: '[pageId]   (all registered Pages without one; exits 4 when a check fails)',
    examples: ['renotify doctor', 'renotify doctor 1234567890 --json'],
    async run(context) {
      const [pageId, ...extra] = context.args;
      if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
      const pages = pageId ? [{ id: pageId, name: undefined }] : await allPages(context.api);
      const reports: PageHealthView[] = [];
      for (const page of pages) reports.push(await unwrap(context.api.GET('/v1/pages/{id}/health', { params: { path: { id: page.id } } })));
      const healthy = reports.every((report) => report.healthy);
      context.print({ healthy, items: reports }, () =>
        reports.length === 0
          ? 'No Pages registered: add one with "renotify pages add".\n'
          : reports.map((report, index) => renderHealth(report, pages[index]?.name)).join('\n'),
      );
      return healthy ? ExitCode.ok : ExitCode.unhealthy;
    },
  },
];
