-- Fewer index entries per delivery (#16, cost per delivery). A delivery's row changes status twice after its INSERT
-- (PENDING → SENDING at the claim, SENDING → final at the outcome). "status" is indexed, so neither update can be
-- HOT: each new row version adds an entry to every index whose predicate it matches. With the indexes below a
-- delivery adds 12 index entries over its life instead of 16 (pg_waldump: index inserts were half the WAL).

-- One index for "a token's deliveries" and for "one delivery per (source, token)": the unique key, led by the
-- token (the per-person cap, a subscriber's stop and erase, the foreign-key check when an opt-in is deleted).
-- ON CONFLICT ("sourceId", "optInId") infers it: the arbiter is chosen by its set of columns, not their order.
CREATE UNIQUE INDEX "Delivery_optInId_sourceId_key" ON "Delivery"("optInId", "sourceId");
DROP INDEX "Delivery_sourceId_optInId_key";
DROP INDEX "Delivery_optInId_idx";

-- (status, finishedAt) had an entry for every row version. Its readers want one of two sets:
-- rows in flight, by claim time (the sweeper's abandoned claims) ...
CREATE INDEX "Delivery_sending_claimedAt_idx" ON "Delivery"("claimedAt") WHERE status = 'SENDING';
-- ... and finished rows by status and time (dead letters, retention).
CREATE INDEX "Delivery_final_status_finishedAt_idx" ON "Delivery"(status, "finishedAt") WHERE status IN ('SENT', 'FAILED', 'SKIPPED', 'DEAD');
DROP INDEX "Delivery_status_finishedAt_idx";
