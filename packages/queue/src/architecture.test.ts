import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * The package graph of docs/architecture.md, checked: a package imports only packages on a lower floor (apps are
 * the top floor and never import each other). Tests and test-support may reach higher (a worker test starts an
 * ingest), so only shipped sources and runtime `dependencies` are checked.
 */

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Floor of every workspace package; a new package must be placed here before the test passes. */
const FLOORS: Record<string, number> = {
  domain: 0, // pure rules and the event contract: imports nothing of ours
  config: 1,
  observability: 1,
  messenger: 2, // Graph client, webhook parsing
  db: 2, // every SQL statement and Prisma call
  queue: 3, // job catalog, connections, producer SDK, BullMQ schedulers
  runtime: 4, // the process wiring ingest and worker share (database, Redis, queues, secrets, Graph)
  client: 4, // typed HTTP client of the ingest API
  cli: 5,
  ingest: 6,
  worker: 6,
  'messenger-sandbox': 6,
};
/** Imported by tests only (never by shipped code, never as a runtime dependency). */
const TEST_ONLY = new Set(['testing', 'system-tests', 'examples']);
const APPS_FLOOR = 6;

interface Workspace {
  short: string;
  dir: string;
  dependencies: string[];
}

function workspaces(): Workspace[] {
  return ['apps', 'packages'].flatMap((top) =>
    readdirSync(join(repo, top))
      .map((name) => join(repo, top, name))
      .filter((dir) => statSync(join(dir, 'package.json'), { throwIfNoEntry: false })?.isFile())
      .map((dir) => {
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> };
        return {
          short: manifest.name.replace('@renotify/', ''),
          dir,
          dependencies: Object.keys(manifest.dependencies ?? {}).filter((name) => name.startsWith('@renotify/')).map((name) => name.replace('@renotify/', '')),
        };
      }),
  );
}

function shippedSources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (['node_modules', 'dist', 'generated', 'test-support'].includes(entry)) return [];
    if (statSync(path).isDirectory()) return shippedSources(path);
    return /\.tsx?$/.test(path) && !/\.(test|spec)\.tsx?$/.test(path) ? [path] : [];
  });
}

const IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)['"]@renotify\/([a-z-]+)['"]/g;

/** Why `from` may not import `to`, or undefined when it may. */
function forbidden(from: string, to: string): string | undefined {
  if (from === to) return undefined;
  if (TEST_ONLY.has(to)) return `${to} is for tests only`;
  const [own, other] = [FLOORS[from], FLOORS[to]];
  if (other === undefined) return `${to} has no floor in architecture.test.ts`;
  if (own === undefined) return undefined; // test-only packages may import anything
  if (other >= own) return own === APPS_FLOOR && other === APPS_FLOOR ? 'apps never import each other' : `${to} (floor ${other}) is not below ${from} (floor ${own})`;
  return undefined;
}

describe('package graph', () => {
  const all = workspaces();

  it('places every workspace package on a floor (or marks it test-only)', () => {
    expect(all.map((ws) => ws.short).filter((short) => FLOORS[short] === undefined && !TEST_ONLY.has(short))).toEqual([]);
  });

  it('runtime dependencies point down only', () => {
    const offenders = all.flatMap((ws) => ws.dependencies.flatMap((dep) => {
      const why = forbidden(ws.short, dep);
      return why ? [`${ws.short} depends on ${dep}: ${why}`] : [];
    }));
    expect(offenders).toEqual([]);
  });

  it('shipped sources import only packages below their own', () => {
    const offenders = all
      .filter((ws) => !TEST_ONLY.has(ws.short))
      .flatMap((ws) => {
        const src = join(ws.dir, 'src');
        if (!statSync(src, { throwIfNoEntry: false })?.isDirectory()) return [];
        return shippedSources(src).flatMap((file) =>
          [...readFileSync(file, 'utf8').matchAll(IMPORT)].flatMap(([, to]) => {
            const why = forbidden(ws.short, to as string);
            return why ? [`${relative(repo, file)} imports @renotify/${to}: ${why}`] : [];
          }),
        );
      });
    expect(offenders).toEqual([]);
  });
});
