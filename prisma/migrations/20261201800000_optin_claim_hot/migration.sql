-- A send's token claim writes its "OptIn" row (#16, cost per delivery): a one-time token goes ACTIVE → USED, a
-- recurring one gets lastSentAt / nextEligibleAt. An UPDATE adds an entry to every index of the table unless no
-- indexed column changed and the new row version fits on the same page (a HOT update: no index entry at all).

-- Nothing reads this index: fan-out finds tokens by ("pageId", topic, status, id) and the frequency window is
-- judged in the worker (apps/worker plan.ts) from the row. Kept, it cost one more index entry on every one-time
-- claim, and it made every recurring claim non-HOT (nextEligibleAt changes): without it a recurring claim
-- changes no indexed column, so it is HOT whenever its page has room (after pruning, from the previous send on).
DROP INDEX "OptIn_pageId_topic_status_nextEligibleAt_idx";

