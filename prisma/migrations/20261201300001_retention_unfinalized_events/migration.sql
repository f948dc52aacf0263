-- Retention (issue 16): the events whose final counts the retention job still has to store, oldest first.
-- Partial, so it holds only fanned-out events not yet finalized: the ingest's INSERT (status ACCEPTED) adds no
-- entry, and an event leaves the index when its counts are stored. Without it the job would re-read every old,
-- already finalized event on each run while events are kept longer than their deliveries.
CREATE INDEX "Event_unfinalized_idx" ON "Event"("receivedAt") WHERE status = 'FANNED_OUT' AND "finalCounts" IS NULL;
