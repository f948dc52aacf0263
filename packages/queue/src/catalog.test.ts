import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ALL_QUEUES } from './names.js';
import { eventJobId, jobCatalog } from './catalog.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (['node_modules', 'dist', 'generated', 'test-support'].includes(entry)) return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

describe('job catalog', () => {
  it('describes every queue', () => {
    expect(Object.keys(jobCatalog).sort()).toEqual([...ALL_QUEUES].sort());
  });

  it('is the only place a job name is spelled out: no job-name string literal in apps or packages', () => {
    const names = [...new Set(Object.values(jobCatalog).flatMap((queue) => Object.keys(queue.jobs)))];
    const quoted = `['"\`](?:${names.join('|')})['"\`]`;
    // Where a job name is used: a job's `name:`, Queue#add's first argument, a comparison with `job.name`.
    const jobNameUse = new RegExp(`(?:\\bname:\\s*${quoted}|\\.add\\(\\s*${quoted}|\\.name\\s*[!=]==?\\s*${quoted}|${quoted}\\s*[!=]==?\\s*\\w+\\.name\\b)`);
    const roots = ['apps', 'packages'].flatMap((top) => readdirSync(join(repo, top)).map((name) => join(repo, top, name, 'src')));
    const offenders = roots
      .filter((root) => statSync(root, { throwIfNoEntry: false })?.isDirectory())
      .flatMap(sourceFiles)
      .filter((file) => !file.endsWith(join('queue', 'src', 'catalog.ts')))
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .flatMap((line, index) => (jobNameUse.test(line) ? [`${relative(repo, file)}:${index + 1}: ${line.trim()}`] : [])),
      );
    expect(offenders).toEqual([]);
  });
});

describe('eventJobId', () => {
  it('is deterministic, distinct per id, and never contains ":"', () => {
    const ids = ['a', 'a:b', 'a:b:c', 'ä/ö ü', 'x'.repeat(200), 'x'.repeat(199), '123'];
    const jobIds = ids.map(eventJobId);
    expect(new Set(jobIds).size).toBe(ids.length);
    for (const jobId of jobIds) {
      expect(jobId).not.toContain(':');
      expect(jobId.length).toBeLessThanOrEqual(210);
      expect(jobId).toMatch(/^evh?_/);
    }
    expect(eventJobId('a:b')).toBe(eventJobId('a:b'));
  });
});
