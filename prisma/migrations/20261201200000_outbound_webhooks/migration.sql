-- Outbound webhooks (#15): endpoints per Page, the outbox, Meta's delivery/read receipts on Delivery, and the
-- triggers that write outbox rows in the same transaction as the state change that causes them.

-- Receipts
ALTER TABLE "Delivery" ADD COLUMN "deliveredAt" TIMESTAMP(3),
  ADD COLUMN "readAt" TIMESTAMP(3);

-- CreateEnum
CREATE TYPE "WebhookMessageStatus" AS ENUM ('PENDING', 'SENT', 'DEAD');

-- CreateTable
CREATE TABLE "WebhookEndpoint" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "pageId" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "events" TEXT[],
    "secretCipher" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "description" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "WebhookEndpoint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookOutbox" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "endpointId" UUID NOT NULL,
    "pageId" TEXT NOT NULL,
    "eventType" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "dedupeKey" TEXT,
    "status" "WebhookMessageStatus" NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "enqueuedAt" TIMESTAMP(3),
    "lastStatusCode" INTEGER,
    "lastError" TEXT,
    "occurredAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sentAt" TIMESTAMP(3),

    CONSTRAINT "WebhookOutbox_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "WebhookEndpoint_pageId_idx" ON "WebhookEndpoint"("pageId");
CREATE UNIQUE INDEX "WebhookOutbox_endpointId_dedupeKey_key" ON "WebhookOutbox"("endpointId", "dedupeKey");
CREATE INDEX "WebhookOutbox_status_nextAttemptAt_idx" ON "WebhookOutbox"("status", "nextAttemptAt");
CREATE INDEX "WebhookOutbox_endpointId_createdAt_idx" ON "WebhookOutbox"("endpointId", "createdAt");

ALTER TABLE "WebhookOutbox" ADD CONSTRAINT "WebhookOutbox_endpointId_fkey" FOREIGN KEY ("endpointId") REFERENCES "WebhookEndpoint"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- ISO-8601 UTC text of a timestamp(3) column (Prisma stores UTC wall clock), for webhook payloads.
CREATE FUNCTION renotify_iso_utc(value TIMESTAMP) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(value, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The webhook data of one delivery (the same shape for every delivery.* event but delivery.skipped).
CREATE FUNCTION renotify_delivery_webhook_data(d "Delivery") RETURNS JSONB LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'deliveryId', d.id,
    'pageId', d."pageId",
    'sourceType', d."sourceType",
    'sourceId', d."sourceId",
    'optInId', d."optInId",
    'psid', s.psid,
    'topic', o.topic,
    'status', d.status,
    'attempts', d.attempts,
    'messageId', d."messageId",
    'error', CASE WHEN d."lastErrorCode" IS NULL AND d."lastError" IS NULL THEN NULL
                  ELSE jsonb_build_object('code', d."lastErrorCode", 'subcode', d."lastErrorSubcode", 'message', d."lastError") END,
    'finishedAt', renotify_iso_utc(d."finishedAt"),
    'deliveredAt', renotify_iso_utc(d."deliveredAt"),
    'readAt', renotify_iso_utc(d."readAt"))
  FROM (SELECT 1) AS one
  LEFT JOIN "OptIn" o ON o.id = d."optInId"
  LEFT JOIN "Subscriber" s ON s.id = o."subscriberId"
$$;

-- Skipped deliveries, one outbox row per (endpoint, source, reason) of one statement: a fan-out of stopped tokens
-- is one webhook, not thousands.
CREATE FUNCTION renotify_outbox_skipped(skipped JSONB) RETURNS VOID LANGUAGE sql AS $$
  INSERT INTO "WebhookOutbox" ("endpointId", "pageId", "eventType", payload, "occurredAt")
  SELECT e.id, g."pageId", 'delivery.skipped',
         jsonb_build_object('pageId', g."pageId", 'sourceType', g."sourceType", 'sourceId', g."sourceId",
                            'skipReason', g."skipReason", 'count', g.n, 'deliveries', g.items),
         g.at
  FROM (
    SELECT r->>'pageId' AS "pageId", r->>'sourceType' AS "sourceType", r->>'sourceId' AS "sourceId", r->>'skipReason' AS "skipReason",
           count(*)::int AS n,
           jsonb_agg(jsonb_build_object('deliveryId', r->'id', 'optInId', r->'optInId') ORDER BY r->>'id') AS items,
           max((r->>'finishedAt')::timestamp) AS at
    FROM jsonb_array_elements(skipped) AS r
    GROUP BY 1, 2, 3, 4
  ) g
  JOIN "WebhookEndpoint" e ON e."pageId" = g."pageId" AND e.enabled AND 'delivery.skipped' = ANY (e.events)
$$;

-- Delivery status changes and receipts. Statement-level with transition tables: one INSERT per statement,
-- and a database without enabled endpoints returns after one index probe.
CREATE FUNCTION renotify_delivery_outbox_update() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
  skipped JSONB;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM "WebhookEndpoint" WHERE enabled) THEN
    RETURN NULL;
  END IF;

  INSERT INTO "WebhookOutbox" ("endpointId", "pageId", "eventType", payload, "occurredAt")
  SELECT e.id, c."pageId", c.type, renotify_delivery_webhook_data(c.row), c.at
  FROM (
    -- Transition-table rows are anonymous records: jsonb_populate_record types them as "Delivery" again.
    SELECT n."pageId", t.type, t.at, jsonb_populate_record(NULL::"Delivery", to_jsonb(n)) AS row
    FROM new_rows n
    JOIN old_rows o ON o.id = n.id
    CROSS JOIN LATERAL (VALUES
      (CASE WHEN n.status IS DISTINCT FROM o.status AND n.status IN ('SENT', 'FAILED', 'DEAD') THEN 'delivery.' || lower(n.status::text) END,
       COALESCE(n."finishedAt", now() AT TIME ZONE 'UTC')),
      (CASE WHEN n."deliveredAt" IS NOT NULL AND o."deliveredAt" IS NULL THEN 'delivery.delivered' END, n."deliveredAt"),
      (CASE WHEN n."readAt" IS NOT NULL AND o."readAt" IS NULL THEN 'delivery.read' END, n."readAt")
    ) AS t(type, at)
    WHERE t.type IS NOT NULL
      AND EXISTS (SELECT 1 FROM "WebhookEndpoint" x WHERE x."pageId" = n."pageId" AND x.enabled)
  ) c
  JOIN "WebhookEndpoint" e ON e."pageId" = c."pageId" AND e.enabled AND c.type = ANY (e.events);

  SELECT jsonb_agg(to_jsonb(n)) INTO skipped
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE n.status = 'SKIPPED' AND o.status IS DISTINCT FROM 'SKIPPED'
    AND EXISTS (SELECT 1 FROM "WebhookEndpoint" x WHERE x."pageId" = n."pageId" AND x.enabled AND 'delivery.skipped' = ANY (x.events));
  IF skipped IS NOT NULL THEN
    PERFORM renotify_outbox_skipped(skipped);
  END IF;
  RETURN NULL;
END
$$;

-- Deliveries born final (fan-out records stopped tokens as SKIPPED at once).
CREATE FUNCTION renotify_delivery_outbox_insert() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
  skipped JSONB;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM "WebhookEndpoint" WHERE enabled) THEN
    RETURN NULL;
  END IF;
  SELECT jsonb_agg(to_jsonb(n)) INTO skipped
  FROM new_rows n
  WHERE n.status = 'SKIPPED'
    AND EXISTS (SELECT 1 FROM "WebhookEndpoint" x WHERE x."pageId" = n."pageId" AND x.enabled AND 'delivery.skipped' = ANY (x.events));
  IF skipped IS NOT NULL THEN
    PERFORM renotify_outbox_skipped(skipped);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER "Delivery_outbox_update" AFTER UPDATE ON "Delivery"
  REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION renotify_delivery_outbox_update();

CREATE TRIGGER "Delivery_outbox_insert" AFTER INSERT ON "Delivery"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION renotify_delivery_outbox_insert();

-- The webhook data of one opt-in. Never the token.
CREATE FUNCTION renotify_optin_webhook_data(t "OptIn") RETURNS JSONB LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'optInId', t.id,
    'pageId', t."pageId",
    'psid', s.psid,
    'userRef', s."userRef",
    'kind', t.kind,
    'topic', t.topic,
    'title', t.title,
    'frequency', t.frequency,
    'status', t.status,
    'expiresAt', renotify_iso_utc(t."expiresAt"))
  FROM (SELECT 1) AS one
  LEFT JOIN "Subscriber" s ON s.id = t."subscriberId"
$$;

CREATE FUNCTION renotify_optin_outbox_insert() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM "WebhookEndpoint" WHERE enabled) THEN
    RETURN NULL;
  END IF;
  INSERT INTO "WebhookOutbox" ("endpointId", "pageId", "eventType", payload, "occurredAt")
  SELECT e.id, n."pageId", 'optin.created', renotify_optin_webhook_data(jsonb_populate_record(NULL::"OptIn", to_jsonb(n))), n."statusAt"
  FROM new_rows n
  JOIN "WebhookEndpoint" e ON e."pageId" = n."pageId" AND e.enabled AND 'optin.created' = ANY (e.events);
  RETURN NULL;
END
$$;

CREATE FUNCTION renotify_optin_outbox_update() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM "WebhookEndpoint" WHERE enabled) THEN
    RETURN NULL;
  END IF;
  INSERT INTO "WebhookOutbox" ("endpointId", "pageId", "eventType", payload, "occurredAt")
  SELECT e.id, c."pageId", c.type, renotify_optin_webhook_data(c.row), c.at
  FROM (
    SELECT n."pageId", jsonb_populate_record(NULL::"OptIn", to_jsonb(n)) AS row, n."statusAt" AS at,
           CASE WHEN n.status = 'STOPPED' THEN 'optin.stopped'
                WHEN n.status = 'EXPIRED' THEN 'optin.expired'
                WHEN n.status = 'ACTIVE' AND o.status = 'STOPPED' THEN 'optin.resumed' END AS type
    FROM new_rows n
    JOIN old_rows o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status
  ) c
  JOIN "WebhookEndpoint" e ON e."pageId" = c."pageId" AND e.enabled AND c.type = ANY (e.events)
  WHERE c.type IS NOT NULL;
  RETURN NULL;
END
$$;

CREATE TRIGGER "OptIn_outbox_insert" AFTER INSERT ON "OptIn"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION renotify_optin_outbox_insert();

CREATE TRIGGER "OptIn_outbox_update" AFTER UPDATE ON "OptIn"
  REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION renotify_optin_outbox_update();
