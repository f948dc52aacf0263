import { describe, expect, it } from 'vitest';
import { checkGraphVersion } from './graph-versions.js';

describe('checkGraphVersion', () => {
  const now = new Date('2026-11-30T12:00:00Z');

  it.each([
    ['v24.0', '2028-02-18'],
    ['25.0', '2028-07-29'],
    ['v26.0', null],
  ])('accepts %s', (pinned, expiresOn) => {
    expect(checkGraphVersion(pinned, now)).toEqual({ ok: true, version: `v${pinned.replace(/^v/, '')}`, expiresOn });
  });

  it.each([
    ['v19.0', /expired on 2026-05-21/],
    ['v20.0', /expired on 2026-09-24/],
    ['v21.0', /older than v24.0/],
    ['v23.0', /older than v24.0/],
    ['v99.0', /not a released/],
    ['latest', /not a Graph API version/],
    ['v24.1', /not a Graph API version/],
  ])('refuses %s', (pinned, problem) => {
    const check = checkGraphVersion(pinned, now);
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.problem).toMatch(problem);
    expect(check.fix).toMatch(/v24\.0 or later/);
  });

  it('fails a version on its expiry day, not the day before', () => {
    expect(checkGraphVersion('v24.0', new Date('2028-02-17T23:59:59Z')).ok).toBe(true);
    expect(checkGraphVersion('v24.0', new Date('2028-02-18T00:00:00Z')).ok).toBe(false);
  });
});
