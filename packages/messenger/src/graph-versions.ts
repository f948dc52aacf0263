/**
 * Graph API versions and when Meta retires them (messenger-platform.md §5, "Graph API versions", 2026 docs).
 * A call to an expired version silently falls through to the next-oldest usable one, so a Page must pin a live
 * version; Renotify asks for v24 or later (the Marketing Messages and Send API examples use v24.0/v25.0).
 * `null`: released, expiry not announced yet. Add a row when Meta ships a version.
 */
export const GRAPH_VERSION_EXPIRY: ReadonlyArray<{ version: number; expiresOn: string | null }> = [
  { version: 19, expiresOn: '2026-05-21' },
  { version: 20, expiresOn: '2026-09-24' },
  { version: 21, expiresOn: '2027-01-21' },
  { version: 22, expiresOn: '2027-05-20' },
  { version: 23, expiresOn: '2027-10-08' },
  { version: 24, expiresOn: '2028-02-18' },
  { version: 25, expiresOn: '2028-07-29' },
  { version: 26, expiresOn: null },
];

/** The oldest version Renotify is specified against. */
export const MIN_GRAPH_VERSION = 24;

export type GraphVersionCheck =
  | { ok: true; version: string; expiresOn: string | null }
  | { ok: false; version: string; problem: string; fix: string };

const FIX = `pin the Page to v${MIN_GRAPH_VERSION}.0 or later (PATCH /v1/pages/:id {"graphVersion":"v25.0"})`;

/** Whether a Page's pinned version ("v24.0" or "24.0") is usable at `now`: known, at least v24, not expired. */
export function checkGraphVersion(pinned: string, now: Date = new Date()): GraphVersionCheck {
  const match = /^v?(\d+)\.0$/.exec(pinned);
  if (!match) return { ok: false, version: pinned, problem: `"${pinned}" is not a Graph API version`, fix: FIX };
  const major = Number(match[1]);
  const version = `v${major}.0`;
  const row = GRAPH_VERSION_EXPIRY.find((entry) => entry.version === major);
  const newest = GRAPH_VERSION_EXPIRY.at(-1)?.version ?? MIN_GRAPH_VERSION;
  if (row?.expiresOn != null && now.getTime() >= Date.parse(`${row.expiresOn}T00:00:00Z`)) {
    return { ok: false, version, problem: `${version} expired on ${row.expiresOn}; Meta answers with an older fall-back version`, fix: FIX };
  }
  if (major < MIN_GRAPH_VERSION) return { ok: false, version, problem: `${version} is older than v${MIN_GRAPH_VERSION}.0`, fix: FIX };
  if (!row && major > newest) return { ok: false, version, problem: `${version} is not a released Graph API version`, fix: FIX };
  return { ok: true, version, expiresOn: row?.expiresOn ?? null };
}
