-- AlterTable
ALTER TABLE "Campaign" ADD COLUMN     "variables" JSONB NOT NULL DEFAULT '{}';

-- AlterTable
ALTER TABLE "CampaignRun" ADD COLUMN     "message" JSONB;

-- CreateIndex
CREATE INDEX "Campaign_pageId_status_idx" ON "Campaign"("pageId", "status");

