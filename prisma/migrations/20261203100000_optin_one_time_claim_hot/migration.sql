-- A one-time token's claim (ACTIVE → USED, in the send's claim statement) becomes a HOT update (#16, cost per
-- delivery). Its "status" change reached two indexes: the fan-out's ("pageId", topic, status, id) and the
-- predicate of the recurring series' unique key. Postgres makes an UPDATE HOT only when no indexed column (key or
-- predicate) changes value, so every claim wrote a new entry into each of the table's five indexes, the long
-- token text included, and moved the row to another page: 763 of the 1,944 B of WAL a one-time send wrote
-- (the real statements, pg_waldump per relation). Without "status" in any index (nor "usedAt", "lastSentAt",
-- "nextEligibleAt": 20261201800000_optin_claim_hot), the claim's new row version stays on its page with no index
-- entry whenever the page has room.

-- The fan-out reads a topic's tokens of one kind in id order and checks the status on the row: tokens that a
-- topic's earlier events used are read and passed over (a few µs each), where the old index skipped them. That is
-- the price: a one-time topic ("back_in_stock:sku42") holds the tokens people gave for that one product.
CREATE INDEX "OptIn_pageId_topic_kind_id_idx" ON "OptIn"("pageId", "topic", "kind", "id");
DROP INDEX "OptIn_pageId_topic_status_id_idx";

-- One recurring token per (subscriber, topic, frequency) among the tokens not invalidated by Meta: the predicate
-- reads a stored flag that changes only when a token becomes (or stops being) INVALID, so ACTIVE → USED, STOPPED
-- or EXPIRED leave it alone. Adding the column rewrites the table once.
ALTER TABLE "OptIn" ADD COLUMN "isInvalid" BOOLEAN GENERATED ALWAYS AS ("status" = 'INVALID') STORED;
CREATE UNIQUE INDEX "OptIn_recurring_series_key" ON "OptIn" ("subscriberId", "topic", "frequency") WHERE "kind" = 'RECURRING' AND NOT "isInvalid";
DROP INDEX "OptIn_recurring_subscriber_topic_frequency_key";

-- Room for the claim's new row version on the same page: a chunk of a send claims up to 64 tokens in one
-- statement, and tokens of one topic that arrived together sit on the same pages (time-ordered ids), so a page
-- may see all of its rows claimed at once. New pages only, older pages gain room as pruning goes on.
ALTER TABLE "OptIn" SET (fillfactor = 50);
