-- Per-Page anti-spam guards (quiet hours, per-person cap), set through PATCH /v1/pages/:id. Null = off.
ALTER TABLE "Page" ADD COLUMN "quietHoursStart" TEXT,
  ADD COLUMN "quietHoursEnd" TEXT,
  ADD COLUMN "quietHoursTimeZone" TEXT,
  ADD COLUMN "userCapMaxSends" INTEGER,
  ADD COLUMN "userCapWindowHours" INTEGER;

-- A guard is either wholly set or wholly off.
ALTER TABLE "Page" ADD CONSTRAINT "Page_quietHours_whole" CHECK (("quietHoursStart" IS NULL) = ("quietHoursEnd" IS NULL) AND ("quietHoursTimeZone" IS NULL OR "quietHoursStart" IS NOT NULL));
ALTER TABLE "Page" ADD CONSTRAINT "Page_userCap_whole" CHECK (("userCapMaxSends" IS NULL) = ("userCapWindowHours" IS NULL) AND ("userCapMaxSends" IS NULL OR ("userCapMaxSends" > 0 AND "userCapWindowHours" > 0)));

-- Erasing a person (GDPR) keeps their deliveries as anonymous counts: the token reference goes.
ALTER TABLE "Delivery" ALTER COLUMN "optInId" DROP NOT NULL;

-- Audit trail of requests that change personal data (who, when, what counts, never the PSID).
CREATE TABLE "AuditLog" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "action" TEXT NOT NULL,
    "pageId" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "details" JSONB NOT NULL,

    CONSTRAINT "AuditLog_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "AuditLog_pageId_at_idx" ON "AuditLog"("pageId", "at");
