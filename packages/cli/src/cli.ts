import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connectApi } from './client.js';
import { commandName, str, type Command, type Context, type Options, type Values } from './command.js';
import { commands } from './commands/index.js';
import { ApiError, ConnectionError, ExitCode, UsageError } from './errors.js';
import type { Io } from './output.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';
export const DEFAULT_API_KEY = 'demo-api-key';

const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

function helpText(): string {
  const width = Math.max(...commands.map((command) => commandName(command).length));
  return (
    'Usage: renotify <command> [options]\n\n' +
    'Commands:\n' +
    commands.map((command) => `  ${commandName(command).padEnd(width)}  ${command.summary}`).join('\n') +
    '\n\nGlobal options:\n' +
    `  --url <url>        ingest API base URL (env RENOTIFY_URL, default ${DEFAULT_URL})\n` +
    `  --api-key <key>    API key (env RENOTIFY_API_KEY, default ${DEFAULT_API_KEY})\n` +
    '  --json             machine-readable output on stdout (errors as JSON on stderr)\n' +
    '  -h, --help         help for a command: renotify <command> --help\n' +
    '  -V, --version      print the version\n\n' +
    'Exit codes: 0 ok, 1 the API refused the request, 2 usage error, 3 API unreachable, 4 doctor found a failing check.\n'
  );
}

const commandHelp = (command: Command) =>
  `Usage: renotify ${commandName(command)} ${command.usage}\n\n${command.summary}.\n\n` +
  `Example${command.examples.length > 1 ? 's' : ''}:\n${command.examples.map((example) => `  ${example}`).join('\n')}\n`;

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

/** `code: message`, then one line per problem the API listed (`details` is always a list of {path, message}). */
function describeApiError(error: ApiError): string {
  const details = error.details.map((detail) => `  - ${detail.path ? `${detail.path}: ` : ''}${detail.message}\n`).join('');
  const retry = error.retryAfterSeconds === undefined ? '' : `Retry in ${error.retryAfterSeconds} s.\n`;
  return `Error: ${error.code}: ${error.message} (HTTP ${error.status})\n${details}${retry}`;
}

function reportError(error: unknown, io: Io, json: boolean): number {
  if (error instanceof UsageError) {
    const hint = error.commandName ? `Run "renotify ${error.commandName} --help" for usage.` : 'Run "renotify --help" for the commands.';
    io.stderr.write(json ? `${JSON.stringify({ error: { code: 'usage', message: error.message } })}\n` : `Error: ${error.message}\n${hint}\n`);
    return ExitCode.usage;
  }
  if (error instanceof ApiError) {
    if (json) {
      const { status, code, message, details, retryAfterSeconds } = error;
      io.stderr.write(`${JSON.stringify({ error: { status, code, message, details, retryAfterSeconds } })}\n`);
    } else {
      io.stderr.write(describeApiError(error));
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

/** Parses the command's options and checks its positional arguments; usage problems throw UsageError. */
function parseCommandLine(command: Command, rest: string[]): { values: Values; args: string[] } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^.*?: /, ''), commandName(command));
  }
  const values = parsed.values as Values;
  const args = parsed.positionals;
  const required = command.positionals ?? [];
  if (values.help) return { values, args };
  if (args.length < required.length) throw new UsageError(`missing <${required[args.length]}>`, commandName(command));
  if (required.length > 0 && args.length > required.length) throw new UsageError(`unexpected argument "${args[required.length]}"`, commandName(command));
  const takesAnyArguments = command.words.length === 1;
  if (!takesAnyArguments && required.length === 0 && args.length > 0) throw new UsageError(`unexpected argument "${args[0]}"`, commandName(command));
  return { values, args };
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
    const { values, args } = parseCommandLine(command, rest);
    if (values.help) {
      io.stdout.write(commandHelp(command));
      return ExitCode.ok;
    }
    const baseUrl = str(values, 'url') ?? io.env.RENOTIFY_URL ?? DEFAULT_URL;
    if (!URL.canParse(baseUrl)) throw new UsageError(`--url is not a URL: "${baseUrl}"`, commandName(command));
    const context: Context = {
      api: connectApi(baseUrl, str(values, 'api-key') ?? io.env.RENOTIFY_API_KEY ?? DEFAULT_API_KEY),
      values,
      args,
      json,
      io,
      print: (data, human) => io.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : human()),
    };
    return (await command.run(context)) ?? ExitCode.ok;
  } catch (error) {
    // Usage errors raised inside a command get that command's help hint.
    if (error instanceof UsageError && !error.commandName && command) return reportError(new UsageError(error.message, commandName(command)), io, json);
    return reportError(error, io, json);
  }
}
