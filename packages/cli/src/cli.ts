import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ApiClient, ApiError, ConnectionError } from './api.js';
import { renderHealth, type PageHealthView } from './doctor.js';
import { keyValues, Progress, table, type Io } from './output.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';
export const DEFAULT_API_KEY = 'demo-api-key';

/** Exit codes: scripts can tell a refusal by the API from a typo in the command or an unreachable API. */
export const ExitCode = { ok: 0, apiError: 1, usage: 2, unreachable: 3, unhealthy: 4 } as const;

export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: Command,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Context {
  api: ApiClient;
  values: Values;
  args: string[];
  json: boolean;
  io: Io;
  /** Writes `data` as JSON with --json, else the human rendering. */
  print(data: unknown, human: () => string): void;
}

interface Command {
  words: [string, string] | [string];
  summary: string;
  /** After `renotify <words>`. */
  usage: string;
  options?: Options;
  /** Required positional arguments, by name (for the usage error). */
  positionals?: string[];
  /** Resolves with an exit code when partly failed (see reconcile --all), else ok. */
  run(context: Context): Promise<number | void>;
}

const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

const PAGE_SIZE = 200;
const REDRIVE_CHUNK = 500;

const str = (values: Values, name: string) => {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
};

function positiveInt(values: Values, name: string, fallback: number): number {
  const raw = str(values, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer (got "${raw}")`);
  return n;
}

/** Lists one page, or every page with --all; the human output says how to get the next page. */
async function list<T extends Record<string, unknown>>(context: Context, path: string, query: Record<string, string | number | undefined>, columns: string[]) {
  if (context.values.all) {
    const items: T[] = [];
    for await (const page of context.api.pages<T>(path, { ...query, limit: PAGE_SIZE })) items.push(...page);
    context.print({ items, nextCursor: null }, () => table(items, columns));
    return;
  }
  const page = await context.api.get<{ items: T[]; nextCursor: string | null }>(path, query);
  context.print(page, () => table(page.items, columns) + (page.nextCursor ? `more: add --cursor ${page.nextCursor} (or --all)\n` : ''));
}

const listOptions = {
  limit: { type: 'string' },
  cursor: { type: 'string' },
  all: { type: 'boolean', default: false },
} as const satisfies Options;

const commands: Command[] = [
  {
    words: ['pages', 'list'],
    summary: 'List registered Facebook Pages',
    usage: '',
    async run(context) {
      const body = await context.api.get<{ items: Array<Record<string, unknown>> }>('/v1/pages');
      context.print(body, () => table(body.items, ['id', 'name', 'timezone', 'policyProfile', 'sendRatePerSec', 'pausedUntil']));
    },
  },
  {
    words: ['pages', 'add'],
    summary: 'Register a Page (secrets are stored encrypted and never shown again)',
    usage:
      '--id <pageId> --name <name> [--access-token <token>] [--app-secret <secret>] [--timezone <IANA zone>] [--policy-profile <id>] [--send-rate <per second>] [--graph-version v24.0]\n' +
      '  --access-token / --app-secret default to $RENOTIFY_PAGE_ACCESS_TOKEN / $RENOTIFY_PAGE_APP_SECRET (keeps them out of shell history).',
    options: {
      id: { type: 'string' },
      name: { type: 'string' },
      'access-token': { type: 'string' },
      'app-secret': { type: 'string' },
      timezone: { type: 'string' },
      'policy-profile': { type: 'string' },
      'send-rate': { type: 'string' },
      'graph-version': { type: 'string' },
    },
    async run(context) {
      const { values, io } = context;
      const required = (name: string, envName?: string) => {
        const value = str(values, name) ?? (envName ? io.env[envName] : undefined);
        if (!value) throw new UsageError(`--${name} is required${envName ? ` (or set ${envName})` : ''}`);
        return value;
      };
      const body: Record<string, unknown> = {
        id: required('id'),
        name: required('name'),
        accessToken: required('access-token', 'RENOTIFY_PAGE_ACCESS_TOKEN'),
        appSecret: required('app-secret', 'RENOTIFY_PAGE_APP_SECRET'),
      };
      if (str(values, 'timezone')) body.timezone = str(values, 'timezone');
      if (str(values, 'policy-profile')) body.policyProfile = str(values, 'policy-profile');
      if (str(values, 'graph-version')) body.graphVersion = str(values, 'graph-version');
      if (str(values, 'send-rate')) body.sendRatePerSec = positiveInt(values, 'send-rate', 1);
      const page = await context.api.post<Record<string, unknown>>('/v1/pages', body);
      context.print(page, () => `Page ${String(page.id)} registered.\n${keyValues(Object.entries(page))}`);
    },
  },
  {
    words: ['optins', 'list'],
    summary: "List a Page's opt-ins (tokens are shown as fingerprints only)",
    usage: '<pageId> [--topic <topic>] [--kind one_time|recurring] [--status <status>] [--psid <psid>] [--limit <n>] [--cursor <c>] [--all]',
    positionals: ['pageId'],
    options: { topic: { type: 'string' }, kind: { type: 'string' }, status: { type: 'string' }, psid: { type: 'string' }, ...listOptions },
    async run(context) {
      const { values } = context;
      const pageId = context.args[0]!;
      await list(
        context,
        `/v1/pages/${encodeURIComponent(pageId)}/optins`,
        {
          topic: str(values, 'topic'),
          kind: str(values, 'kind'),
          status: str(values, 'status'),
          psid: str(values, 'psid'),
          cursor: str(values, 'cursor'),
          limit: str(values, 'limit') === undefined ? undefined : positiveInt(values, 'limit', 50),
        },
        ['id', 'psid', 'kind', 'topic', 'frequency', 'status', 'tokenFingerprint', 'expiresAt'],
      );
    },
  },
  {
    words: ['events', 'show'],
    summary: 'Show an event, its delivery counts and its deliveries',
    usage: '<eventId> [--limit <n>] [--cursor <c>]',
    positionals: ['eventId'],
    options: { limit: { type: 'string' }, cursor: { type: 'string' } },
    async run(context) {
      const id = context.args[0]!;
      const event = await context.api.get<Record<string, unknown> & { deliveries: Array<Record<string, unknown>>; nextCursor: string | null; counts?: unknown }>(
        `/v1/events/${encodeURIComponent(id)}`,
        { limit: str(context.values, 'limit') === undefined ? undefined : positiveInt(context.values, 'limit', 100), cursor: str(context.values, 'cursor') },
      );
      context.print(event, () => {
        const summary = Object.entries(event).filter(([key]) => !['deliveries', 'nextCursor', 'payload', 'message'].includes(key));
        return (
          keyValues(summary) +
          `\nDeliveries${event.nextCursor ? ' (first page)' : ''}:\n` +
          table(event.deliveries, ['id', 'status', 'skipReason', 'attempts', 'lastErrorCode', 'optInId', 'finishedAt']) +
          (event.nextCursor ? `more: add --cursor ${event.nextCursor}\n` : '')
        );
      });
    },
  },
  {
    words: ['dead-letters', 'list'],
    summary: 'List dead deliveries and dead-lettered webhook entries / jobs',
    usage: '[--kind delivery|<dead-letter kind>] [--limit <n>] [--cursor <c>] [--all]',
    options: { kind: { type: 'string' }, ...listOptions },
    async run(context) {
      const { values } = context;
      await list(
        context,
        '/v1/dead-letters',
        { kind: str(values, 'kind'), cursor: str(values, 'cursor'), limit: str(values, 'limit') === undefined ? undefined : positiveInt(values, 'limit', 100) },
        ['kind', 'id', 'at', 'code', 'attempts', 'pageId', 'reason'],
      );
    },
  },
  {
    words: ['dead-letters', 'redrive'],
    summary: 'Put dead deliveries back in the queue (attempts reset)',
    usage: '(--all | --source <eventId or campaign run id> | --ids <id,id,...>)',
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
        for await (const page of api.pages<{ id: string; source?: { id?: string | null } }>('/v1/dead-letters', { kind: 'delivery', limit: 500 })) {
          for (const item of page) if (source === undefined || item.source?.id === source) ids.push(item.id);
          progress.setTotal(ids.length);
        }
      }
      progress.setTotal(ids.length);
      const total = { redriven: 0, batches: 0, requested: ids.length };
      try {
        for (let start = 0; start < ids.length; start += REDRIVE_CHUNK) {
          const chunk = ids.slice(start, start + REDRIVE_CHUNK);
          const result = await api.post<{ redriven: number; batches: number }>('/v1/dead-letters/redrive', { deliveryIds: chunk });
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
  {
    words: ['campaigns', 'list'],
    summary: 'List campaigns',
    usage: '[--page <pageId>] [--status active|paused] [--limit <n>] [--cursor <c>] [--all]',
    options: { page: { type: 'string' }, status: { type: 'string' }, ...listOptions },
    async run(context) {
      const { values } = context;
      await list(
        context,
        '/v1/campaigns',
        {
          pageId: str(values, 'page'),
          status: str(values, 'status')?.toUpperCase(),
          cursor: str(values, 'cursor'),
          limit: str(values, 'limit') === undefined ? undefined : positiveInt(values, 'limit', 50),
        },
        ['id', 'pageId', 'name', 'topic', 'status', 'nextOccurrenceAt'],
      );
    },
  },
  {
    words: ['campaigns', 'run'],
    summary: 'Run a campaign now (one occurrence)',
    usage: '<campaignId>',
    positionals: ['campaignId'],
    async run(context) {
      const id = context.args[0]!;
      const result = await context.api.post<{ run: Record<string, unknown>; created: boolean }>(`/v1/campaigns/${encodeURIComponent(id)}/run`, {});
      context.print(result, () => `${result.created ? 'Run started' : 'Run already exists (re-queued)'}: ${String(result.run.id)}\n${keyValues(Object.entries(result.run))}`);
    },
  },
  {
    words: ['reconcile'],
    summary: "Repair Pages' token stores from Meta's token lists",
    usage: '(<pageId>... | --all)',
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
            const { details: _details, ...counts } = await api.post<Record<string, unknown>>(`/v1/pages/${encodeURIComponent(pageId)}/reconcile`, {});
            reports.push(counts);
          } catch (error) {
            // One Page that Meta refuses must not stop the others; a single named Page fails the usual way.
            if (!(error instanceof ApiError) || pageIds.length === 1) throw error;
            failed++;
            reports.push({ pageId, error: `${error.message} (HTTP ${error.status} ${error.code})` });
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
    async run(context) {
      const [pageId, ...extra] = context.args;
      if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
      const pages = pageId
        ? [{ id: pageId, name: undefined }]
        : (await allPages(context.api)).map((page) => ({ id: page.id, name: page.name }));
      const reports: PageHealthView[] = [];
      for (const page of pages) reports.push(await context.api.get<PageHealthView>(`/v1/pages/${encodeURIComponent(page.id)}/health`));
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

const name = (command: Command) => command.words.join(' ');

function helpText(): string {
  const width = Math.max(...commands.map((command) => name(command).length));
  return (
    'Usage: renotify <command> [options]\n\n' +
    'Commands:\n' +
    commands.map((command) => `  ${name(command).padEnd(width)}  ${command.summary}`).join('\n') +
    '\n\nGlobal options:\n' +
    `  --url <url>        ingest API base URL (env RENOTIFY_URL, default ${DEFAULT_URL})\n` +
    `  --api-key <key>    API key (env RENOTIFY_API_KEY, default ${DEFAULT_API_KEY})\n` +
    '  --json             machine-readable output on stdout (errors as JSON on stderr)\n' +
    '  -h, --help         help for a command: renotify <command> --help\n' +
    '  -V, --version      print the version\n\n' +
    'Exit codes: 0 ok, 1 the API refused the request, 2 usage error, 3 API unreachable.\n'
  );
}

const commandHelp = (command: Command) => `Usage: renotify ${name(command)} ${command.usage}\n\n${command.summary}.\n`;

/**
 * The command words are the first one or two non-option tokens (global --url/--api-key values skipped);
 * everything else goes to parseArgs in order.
 */
function findCommand(argv: string[]): { command: Command | undefined; rest: string[]; words: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index]!;
    if ((token === '--url' || token === '--api-key') && index + 1 < argv.length) {
      rest.push(token, argv[++index]!);
    } else if (!token.startsWith('-') && words.length < 2) {
      words.push(token);
    } else {
      rest.push(token);
    }
  }
  const pair = commands.find((command) => command.words.length === 2 && command.words[0] === words[0] && command.words[1] === words[1]);
  if (pair) return { command: pair, rest, words };
  const single = commands.find((command) => command.words.length === 1 && command.words[0] === words[0]);
  // A one-word command: its second "word" was really its first argument.
  if (single) return { command: single, rest: [...words.slice(1), ...rest], words: words.slice(0, 1) };
  return { command: undefined, rest, words };
}

function reportError(error: unknown, io: Io, json: boolean): number {
  if (error instanceof UsageError) {
    const hint = error.command ? `Run "renotify ${name(error.command)} --help" for usage.` : 'Run "renotify --help" for the commands.';
    io.stderr.write(json ? `${JSON.stringify({ error: { code: 'usage', message: error.message } })}\n` : `Error: ${error.message}\n${hint}\n`);
    return ExitCode.usage;
  }
  if (error instanceof ApiError) {
    if (json) {
      io.stderr.write(`${JSON.stringify({ error: { status: error.status, code: error.code, message: error.message, details: error.details } })}\n`);
    } else {
      const details = Array.isArray(error.details)
        ? error.details.map((detail) => `  - ${(detail as { path?: string }).path ?? ''}${(detail as { path?: string }).path ? ': ' : ''}${(detail as { message?: string }).message ?? JSON.stringify(detail)}`).join('\n')
        : '';
      io.stderr.write(`Error: ${error.message} (HTTP ${error.status} ${error.code})\n${details ? `${details}\n` : ''}`);
      if (error.status === 401) io.stderr.write('Check --api-key / RENOTIFY_API_KEY.\n');
    }
    return ExitCode.apiError;
  }
  if (error instanceof ConnectionError) {
    io.stderr.write(json ? `${JSON.stringify({ error: { code: 'unreachable', message: error.message } })}\n` : `Error: ${error.message}\nIs ingest running? Set --url or RENOTIFY_URL.\n`);
    return ExitCode.unreachable;
  }
  throw error;
}

/** The package's own version (package.json sits one level above both src/ and dist/). */
export function cliVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Every registered Page: GET /v1/pages is cursor-paged like every list. */
async function allPages(api: ApiClient): Promise<Array<{ id: string; name?: string }>> {
  const pages: Array<{ id: string; name?: string }> = [];
  for await (const items of api.pages<{ id: string; name?: string }>('/v1/pages', { limit: 200 })) pages.push(...items);
  return pages;
}

/** Runs one CLI invocation; returns the exit code. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const { command, rest, words } = findCommand(argv);
  const json = rest.includes('--json');
  try {
    if (!command && words.length === 0 && (rest.includes('--version') || rest.includes('-V'))) {
      io.stdout.write(`renotify ${cliVersion()}\n`);
      return ExitCode.ok;
    }
    if (!command) {
      const wantsHelp = rest.includes('--help') || rest.includes('-h');
      if (words.length === 0) {
        (wantsHelp ? io.stdout : io.stderr).write(helpText());
        return wantsHelp ? ExitCode.ok : ExitCode.usage;
      }
      throw new UsageError(`unknown command "${words.join(' ')}"`);
    }
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError((error as Error).message.replace(/^.*?: /, ''), command);
    }
    const values = parsed.values as Values;
    if (values.help) {
      io.stdout.write(commandHelp(command));
      return ExitCode.ok;
    }
    const required = command.positionals ?? [];
    if (parsed.positionals.length < required.length) throw new UsageError(`missing <${required[parsed.positionals.length]}>`, command);
    if (required.length > 0 && parsed.positionals.length > required.length) throw new UsageError(`unexpected argument "${parsed.positionals[required.length]}"`, command);
    const takesAnyArguments = command.words.length === 1;
    if (!takesAnyArguments && required.length === 0 && parsed.positionals.length > 0) {
      throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`, command);
    }
    const baseUrl = str(values, 'url') ?? io.env.RENOTIFY_URL ?? DEFAULT_URL;
    if (!URL.canParse(baseUrl)) throw new UsageError(`--url is not a URL: "${baseUrl}"`, command);
    const api = new ApiClient({ baseUrl, apiKey: str(values, 'api-key') ?? io.env.RENOTIFY_API_KEY ?? DEFAULT_API_KEY });
    const context: Context = {
      api,
      values,
      args: parsed.positionals,
      json,
      io,
      print: (data, human) => io.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : human()),
    };
    return (await command.run(context)) ?? ExitCode.ok;
  } catch (error) {
    // Usage errors raised inside a command get that command's help hint.
    if (error instanceof UsageError && !error.command && command) return reportError(new UsageError(error.message, command), io, json);
    return reportError(error, io, json);
  }
}
