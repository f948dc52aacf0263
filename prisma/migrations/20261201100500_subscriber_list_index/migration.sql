-- GET /v1/pages/:id/subscribers pages a Page's people in id order (keyset on id).
CREATE INDEX "Subscriber_pageId_id_idx" ON "Subscriber"("pageId", "id");
