-- Back to random delivery ids (#16), measured. UUIDv7 ids (previous migration) made fan-out over 10M old rows run at
-- 1.01 of the empty-table rate (0.89 with random ids), but every insert, and every claim and outcome UPDATE (each
-- adds a primary-key entry for its new row version), then goes to the rightmost leaf of the primary key: with many
-- Pages dispatching at once that page is a hot spot (bench:fanout many-Pages mode, back to back: 2,209 sends/s with
-- v7 ids against 2,747 with random ids; ratio to the single-Page run 0.74 against 1.03, below #11's 0.8). A
-- time-bucketed id (the minute, then random bits) kept many Pages at 0.98 but measured 0.80 over history in its one
-- run: not settled, so the known layout comes back until it is (docs/scaling.md).
ALTER TABLE "Delivery" ALTER COLUMN id SET DEFAULT gen_random_uuid();
DROP FUNCTION renotify_uuid_v7();
