-- A delivery's claim (PENDING → SENDING) and outcome (SENDING → SENT …) become HOT updates (#16, cost per
-- delivery). Postgres writes an UPDATE as HOT (a new row version on the same page, no index entry) only when no
-- indexed column — key or partial-index predicate — changes value, and the page has room. Four of the table's
-- indexes named "status" or a time the dispatch sets (the batch lookup with its status, the partial indexes of
-- waiting, in-flight and finished rows), so each of the two updates wrote a row version on another page and
-- four index entries: 1,180 of the 2,530 B of WAL a one-time send wrote (the real statements, pg_waldump per
-- relation). Now every index of "Delivery" is on columns the dispatch never changes.

-- A batch's rows, every status (loading a batch, the progressive release's probes, a source's report).
CREATE INDEX "Delivery_sourceId_batchNo_idx" ON "Delivery"("sourceId", "batchNo");
DROP INDEX "Delivery_sourceId_batchNo_status_idx";
-- Waiting rows by due time (the sweeper) and in-flight rows by claim time (abandoned claims): the sweeper now
-- reads the open sources from "DispatchSource" below, and a batch's abandoned claims are reset by the batch's
-- next pass and by the sweeper for a source that stopped moving, through the batch index.
DROP INDEX "Delivery_pending_due_idx";
DROP INDEX "Delivery_sending_claimedAt_idx";
-- Finished rows by status and time (retention, dead letters): retention now reads deliveries by creation time
-- (never changed), and the dead-letter list reads the DEAD rows through a stored flag that changes only when a
-- delivery goes DEAD or is redriven (rare), so a send's SENDING → SENT leaves it alone.
DROP INDEX "Delivery_final_status_finishedAt_idx";
CREATE INDEX "Delivery_createdAt_idx" ON "Delivery"("createdAt");
ALTER TABLE "Delivery" ADD COLUMN "isDead" BOOLEAN GENERATED ALWAYS AS ("status" = 'DEAD') STORED;
CREATE INDEX "Delivery_dead_createdAt_idx" ON "Delivery"("createdAt") WHERE "isDead";

-- Room on each page for the two new row versions: fan-out writes a batch's rows together and a claim takes up to
-- 64 of them at once, so all the rows of a page may change in one statement (the previous versions are pruned
-- when the page is next read). New pages only.
ALTER TABLE "Delivery" SET (fillfactor = 50);

-- Sources (events, campaign runs) that may still have waiting or in-flight deliveries: what the sweeper looks
-- at, since no index of "Delivery" tells open rows from finished ones any more. Fan-out and a redrive open a
-- source (checkAt = now), and the sweeper, for a source that stopped moving, re-queues its work and then settles it:
-- removed once nothing of it is open, else checked again at its next due time. A handful of rows.
CREATE TABLE "DispatchSource" (
    "sourceId" TEXT NOT NULL,
    "sourceType" "SourceType" NOT NULL,
    "checkAt" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "DispatchSource_pkey" PRIMARY KEY ("sourceId")
);
INSERT INTO "DispatchSource" ("sourceId", "sourceType", "checkAt")
SELECT DISTINCT ON ("sourceId") "sourceId", "sourceType", now() AT TIME ZONE 'UTC' FROM "Delivery" WHERE status IN ('PENDING', 'SENDING');
