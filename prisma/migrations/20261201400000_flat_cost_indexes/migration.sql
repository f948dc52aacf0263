-- Flat cost as tables grow (#16): the statements that run on a timer or per person must not scan "Delivery".

-- A token's deliveries: the per-person cap, a subscriber's stop and erase, and the foreign key check when an
-- opt-in is deleted (without it, every deleted token scans the whole table).
CREATE INDEX "Delivery_optInId_idx" ON "Delivery"("optInId");

-- Due work by source, for the sweeper: which sources have PENDING rows due since before a time. Partial, so it
-- holds only waiting rows (a row leaving PENDING adds no entry), and keyed like the sweeper's condition.
CREATE INDEX "Delivery_pending_due_idx" ON "Delivery"("sourceId", (COALESCE("notBefore", "createdAt"))) WHERE status = 'PENDING';

-- Events not yet fanned out (the sweeper re-queues them): a handful of rows, never the whole history.
CREATE INDEX "Event_unfanned_idx" ON "Event"("receivedAt") WHERE status IN ('ACCEPTED', 'FANNING_OUT');
