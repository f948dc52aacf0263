-- "DispatchSource" carries the Page, the distribution key of docs/scaling.md §4: fan-out and a redrive write it.
-- A migration of its own, after 20261203200000_delivery_writes_hot, so that databases which already applied that
-- one (without the column) get it too. Existing rows take it from their parent (an event, or a campaign run's
-- campaign), and a row whose parent is gone is dropped: dispatch ends such a source's rows DEAD, nothing to send.
ALTER TABLE "DispatchSource" ADD COLUMN "pageId" TEXT;
UPDATE "DispatchSource" s SET "pageId" = e."pageId" FROM "Event" e WHERE s."sourceType" = 'EVENT' AND e.id = s."sourceId";
UPDATE "DispatchSource" s SET "pageId" = c."pageId" FROM "CampaignRun" r JOIN "Campaign" c ON c.id = r."campaignId"
WHERE s."sourceType" = 'CAMPAIGN_RUN' AND r.id::text = s."sourceId";
DELETE FROM "DispatchSource" WHERE "pageId" IS NULL;
ALTER TABLE "DispatchSource" ALTER COLUMN "pageId" SET NOT NULL;
