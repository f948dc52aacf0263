import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Manifest {
  name: string;
  private?: boolean;
  license?: string;
  files?: string[];
  exports?: Record<string, Record<string, string>>;
  dependencies?: Record<string, string>;
}

const workspacePackage = (dir: string) => ({ dir, manifest: JSON.parse(readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')) as Manifest });
const WORKSPACE = ['config', 'domain', 'queue', 'client', 'db', 'messenger', 'observability', 'testing', 'cli'].map((name) => workspacePackage(`packages/${name}`));
const byName = new Map(WORKSPACE.map((entry) => [entry.manifest.name, entry]));

/**
 * What integrators install: the typed HTTP client, the Redis producer SDK and the admin CLI (README, and
 * examples/). A package that can be published must also be installable: everything it depends on from the
 * workspace has to be publishable too, or `npm install` of it fails.
 */
const PUBLISHED = ['@renotify/client', '@renotify/queue', '@renotify/cli'];

function publishedClosure(names: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const dependency of Object.keys(byName.get(name)?.manifest.dependencies ?? {})) if (byName.has(dependency)) visit(dependency);
  };
  names.forEach(visit);
  return [...seen].sort();
}

describe('publishable packages', () => {
  it.each(publishedClosure(PUBLISHED))('%s: public, licensed, ships dist and a README, exports point into dist', (name) => {
    const { dir, manifest } = byName.get(name)!;
    expect(manifest.private, 'private').toBe(false);
    expect(manifest.license).toBe('Apache-2.0');
    expect(manifest.files).toEqual(expect.arrayContaining(['dist', 'README.md']));
    expect(existsSync(path.join(ROOT, dir, 'README.md')), 'README.md').toBe(true);
    for (const [subpath, conditions] of Object.entries(manifest.exports ?? {})) {
      expect(conditions.default, `exports["${subpath}"].default`).toMatch(/^\.\/dist\/.+\.js$/);
      expect(conditions.types, `exports["${subpath}"].types`).toMatch(/^\.\/dist\/.+\.d\.ts$/);
    }
    for (const [dependency, range] of Object.entries(manifest.dependencies ?? {})) {
      if (dependency.startsWith('@renotify/')) expect(range, dependency).toBe('workspace:*');
    }
  });

  it('covers the producer SDK and the client and whatever they depend on', () => {
    expect(publishedClosure(PUBLISHED)).toEqual(expect.arrayContaining(PUBLISHED));
  });
});
