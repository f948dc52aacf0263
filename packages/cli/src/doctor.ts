import type { paths } from '@renotify/client';

/** The answer of GET /v1/pages/:id/health, as the API's OpenAPI document describes it. */
export type PageHealthView = paths['/v1/pages/{id}/health']['get']['responses']['200']['content']['application/json'];
export type HealthCheckView = PageHealthView['checks'][number];

const MARK: Record<HealthCheckView['status'], string> = { OK: 'ok', PROBLEM: 'PROBLEM', SKIPPED: 'skipped' };

/** One Page's report: a header line, then one line per check, with the fix under each problem. */
export function renderHealth(report: PageHealthView, pageName?: string): string {
  const problems = report.checks.filter((check) => check.status !== 'OK').length;
  const title = `Page ${report.pageId}${pageName ? ` (${pageName})` : ''}: ${report.healthy ? 'all checks pass' : `${problems} check(s) need attention`}`;
  const nameWidth = Math.max(...report.checks.map((check) => check.name.length));
  const lines = report.checks.flatMap((check) => {
    const line = `  ${MARK[check.status].padEnd(7)}  ${check.name.padEnd(nameWidth)}  ${check.detail}`;
    return check.fix ? [line, `  ${''.padEnd(7)}  ${''.padEnd(nameWidth)}  fix: ${check.fix}`] : [line];
  });
  return `${[title, ...lines].join('\n')}\n`;
}
