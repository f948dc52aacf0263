-- Retention (issue 16): final counts kept on the parent once its deliveries may be deleted, the last result of
-- the retention job per kind, and indexes for finding the oldest rows: BRIN on Event (the ingest hot path pays
-- next to nothing for it), plain B-trees on the small tables (they also answer "oldest row" at once).

-- AlterTable
ALTER TABLE "Event" ADD COLUMN "finalCounts" JSONB;

-- AlterTable
ALTER TABLE "CampaignRun" ADD COLUMN "finalCounts" JSONB;

-- CreateTable
CREATE TABLE "RetentionState" (
    "kind" TEXT NOT NULL,
    "lastStartedAt" TIMESTAMP(3) NOT NULL,
    "lastFinishedAt" TIMESTAMP(3) NOT NULL,
    "deleted" INTEGER NOT NULL,
    "finalized" INTEGER NOT NULL DEFAULT 0,
    "caughtUp" BOOLEAN NOT NULL,
    "error" TEXT,

    CONSTRAINT "RetentionState_pkey" PRIMARY KEY ("kind")
);

-- CreateIndex
CREATE INDEX "Event_receivedAt_idx" ON "Event" USING BRIN ("receivedAt");

-- CreateIndex
CREATE INDEX "CampaignRun_startedAt_idx" ON "CampaignRun"("startedAt");

-- CreateIndex
CREATE INDEX "WebhookReceipt_receivedAt_idx" ON "WebhookReceipt"("receivedAt");

-- CreateIndex
CREATE INDEX "OptInRequest_sentAt_idx" ON "OptInRequest"("sentAt");

-- CreateIndex
CREATE INDEX "DeadLetter_createdAt_idx" ON "DeadLetter"("createdAt");
