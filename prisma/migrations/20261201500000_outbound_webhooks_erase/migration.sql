-- Erasing a person (GDPR, eraseSubscriber deletes the "Subscriber" row) also deletes the outbound webhook messages
-- that name them, sent or not, in the same transaction. A trigger, so every way of deleting a person is covered.
CREATE FUNCTION renotify_outbox_forget_subscribers() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "WebhookOutbox" o
  USING old_rows s, "WebhookEndpoint" e
  WHERE e."pageId" = s."pageId" AND o."endpointId" = e.id
    AND (o.payload->>'psid' = s.psid OR (s."userRef" IS NOT NULL AND o.payload->>'userRef' = s."userRef"));
  RETURN NULL;
END
$$;

CREATE TRIGGER "Subscriber_outbox_forget" AFTER DELETE ON "Subscriber"
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION renotify_outbox_forget_subscribers();
