-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "OptInKind" AS ENUM ('ONE_TIME', 'RECURRING');

-- CreateEnum
CREATE TYPE "Frequency" AS ENUM ('DAILY', 'WEEKLY', 'MONTHLY');

-- CreateEnum
CREATE TYPE "OptInStatus" AS ENUM ('ACTIVE', 'USED', 'EXPIRED', 'STOPPED', 'INVALID');

-- CreateEnum
CREATE TYPE "SourceType" AS ENUM ('EVENT', 'CAMPAIGN_RUN');

-- CreateEnum
CREATE TYPE "DeliveryStatus" AS ENUM ('PENDING', 'SENDING', 'SENT', 'FAILED', 'SKIPPED', 'DEAD');

-- CreateEnum
CREATE TYPE "CampaignStatus" AS ENUM ('ACTIVE', 'PAUSED', 'DELETED');

-- CreateTable
CREATE TABLE "Page" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "accessTokenCipher" TEXT NOT NULL,
    "appSecretCipher" TEXT NOT NULL,
    "graphVersion" TEXT NOT NULL DEFAULT 'v24.0',
    "policyProfile" TEXT NOT NULL DEFAULT 'meta-2022',
    "sendRatePerSec" INTEGER NOT NULL DEFAULT 250,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    "pausedUntil" TIMESTAMP(3),
    "deletedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Page_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Subscriber" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "pageId" TEXT NOT NULL,
    "psid" TEXT,
    "userRef" TEXT,
    "timezone" TEXT,
    "locale" TEXT,
    "lastUserMessageAt" TIMESTAMP(3),
    "unavailableUntil" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Subscriber_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OptIn" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "pageId" TEXT NOT NULL,
    "subscriberId" UUID NOT NULL,
    "kind" "OptInKind" NOT NULL,
    "topic" TEXT NOT NULL,
    "title" TEXT,
    "token" TEXT NOT NULL,
    "tokenFingerprint" TEXT NOT NULL,
    "frequency" "Frequency",
    "timezone" TEXT,
    "status" "OptInStatus" NOT NULL DEFAULT 'ACTIVE',
    "statusAt" TIMESTAMP(3) NOT NULL,
    "expiresAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "usedAt" TIMESTAMP(3),
    "lastSentAt" TIMESTAMP(3),
    "nextEligibleAt" TIMESTAMP(3),

    CONSTRAINT "OptIn_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Event" (
    "id" TEXT NOT NULL,
    "pageId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "topic" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "message" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'ACCEPTED',
    "matchedCount" INTEGER NOT NULL DEFAULT 0,
    "batchCount" INTEGER NOT NULL DEFAULT 0,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "fannedOutAt" TIMESTAMP(3),

    CONSTRAINT "Event_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Delivery" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "sourceType" "SourceType" NOT NULL,
    "sourceId" TEXT NOT NULL,
    "optInId" UUID NOT NULL,
    "pageId" TEXT NOT NULL,
    "batchNo" INTEGER NOT NULL,
    "status" "DeliveryStatus" NOT NULL DEFAULT 'PENDING',
    "skipReason" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastErrorCode" INTEGER,
    "lastErrorSubcode" INTEGER,
    "lastError" TEXT,
    "messageId" TEXT,
    "notBefore" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "claimedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Delivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DeadLetter" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "kind" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "redrivenAt" TIMESTAMP(3),

    CONSTRAINT "DeadLetter_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookReceipt" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "bodySha256" TEXT NOT NULL,
    "rawBody" TEXT NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processedAt" TIMESTAMP(3),

    CONSTRAINT "WebhookReceipt_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OptInRequest" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "pageId" TEXT NOT NULL,
    "subscriberId" UUID NOT NULL,
    "kind" "OptInKind" NOT NULL,
    "topic" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "messageId" TEXT,
    "sentAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OptInRequest_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Campaign" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "pageId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "topic" TEXT NOT NULL,
    "message" JSONB NOT NULL,
    "cron" TEXT,
    "timezone" TEXT,
    "localTime" TEXT,
    "startAt" TIMESTAMP(3),
    "endAt" TIMESTAMP(3),
    "status" "CampaignStatus" NOT NULL DEFAULT 'ACTIVE',
    "deferIneligible" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Campaign_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CampaignRun" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "campaignId" UUID NOT NULL,
    "occurrenceAt" TIMESTAMP(3) NOT NULL,
    "zone" TEXT NOT NULL DEFAULT '',
    "status" TEXT NOT NULL DEFAULT 'STARTED',
    "matchedCount" INTEGER NOT NULL DEFAULT 0,
    "batchCount" INTEGER NOT NULL DEFAULT 0,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "CampaignRun_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Subscriber_pageId_psid_key" ON "Subscriber"("pageId", "psid");

-- CreateIndex
CREATE UNIQUE INDEX "Subscriber_pageId_userRef_key" ON "Subscriber"("pageId", "userRef");

-- CreateIndex
CREATE UNIQUE INDEX "OptIn_token_key" ON "OptIn"("token");

-- CreateIndex
CREATE INDEX "OptIn_pageId_topic_status_id_idx" ON "OptIn"("pageId", "topic", "status", "id");

-- CreateIndex
CREATE INDEX "OptIn_pageId_topic_status_nextEligibleAt_idx" ON "OptIn"("pageId", "topic", "status", "nextEligibleAt");

-- CreateIndex
CREATE INDEX "OptIn_subscriberId_idx" ON "OptIn"("subscriberId");

-- CreateIndex
CREATE INDEX "Event_pageId_receivedAt_idx" ON "Event"("pageId", "receivedAt");

-- CreateIndex
CREATE INDEX "Delivery_sourceId_batchNo_idx" ON "Delivery"("sourceId", "batchNo");

-- CreateIndex
CREATE INDEX "Delivery_status_finishedAt_idx" ON "Delivery"("status", "finishedAt");

-- CreateIndex
CREATE UNIQUE INDEX "Delivery_sourceId_optInId_key" ON "Delivery"("sourceId", "optInId");

-- CreateIndex
CREATE INDEX "DeadLetter_kind_createdAt_idx" ON "DeadLetter"("kind", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "WebhookReceipt_bodySha256_key" ON "WebhookReceipt"("bodySha256");

-- CreateIndex
CREATE INDEX "OptInRequest_subscriberId_title_sentAt_idx" ON "OptInRequest"("subscriberId", "title", "sentAt");

-- CreateIndex
CREATE UNIQUE INDEX "CampaignRun_campaignId_occurrenceAt_zone_key" ON "CampaignRun"("campaignId", "occurrenceAt", "zone");

-- AddForeignKey
ALTER TABLE "Subscriber" ADD CONSTRAINT "Subscriber_pageId_fkey" FOREIGN KEY ("pageId") REFERENCES "Page"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OptIn" ADD CONSTRAINT "OptIn_pageId_fkey" FOREIGN KEY ("pageId") REFERENCES "Page"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OptIn" ADD CONSTRAINT "OptIn_subscriberId_fkey" FOREIGN KEY ("subscriberId") REFERENCES "Subscriber"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Event" ADD CONSTRAINT "Event_pageId_fkey" FOREIGN KEY ("pageId") REFERENCES "Page"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Delivery" ADD CONSTRAINT "Delivery_optInId_fkey" FOREIGN KEY ("optInId") REFERENCES "OptIn"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OptInRequest" ADD CONSTRAINT "OptInRequest_subscriberId_fkey" FOREIGN KEY ("subscriberId") REFERENCES "Subscriber"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Campaign" ADD CONSTRAINT "Campaign_pageId_fkey" FOREIGN KEY ("pageId") REFERENCES "Page"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CampaignRun" ADD CONSTRAINT "CampaignRun_campaignId_fkey" FOREIGN KEY ("campaignId") REFERENCES "Campaign"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- One recurring token per (subscriber, topic, frequency), as Meta issues them. A re-opt-in renews it (no semicolons in comments: the migration runner splits on them).
-- Partial indexes are not expressible in schema.prisma, so they live here.
CREATE UNIQUE INDEX "OptIn_recurring_subscriber_topic_frequency_key"
  ON "OptIn" ("subscriberId", "topic", "frequency") WHERE "kind" = 'RECURRING' AND "status" <> 'INVALID';
