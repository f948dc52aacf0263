-- Time-ordered delivery ids (#16, flat cost as the table grows). With random (v4) ids every fan-out INSERT lands
-- on a random leaf of the primary key: once the table holds years of deliveries that index is far larger than
-- shared_buffers, so each insert reads and dirties a cold page (and logs its full-page image after a checkpoint),
-- and leaves split half-empty. A UUIDv7 (RFC 9562: 48-bit Unix milliseconds, version 7, then random bits) appends
-- at the right edge instead, and one source's deliveries sit together, which the claim and outcome probes by id
-- read. Postgres 18 has uuidv7(); until every supported server has it, this builds one from gen_random_uuid():
-- its first 6 bytes become the millisecond timestamp, and the version nibble 0100 becomes 0111 (bits 52 and 53;
-- set_bit counts from the least significant bit of each byte). The variant bits stay as gen_random_uuid set them.
CREATE FUNCTION renotify_uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

ALTER TABLE "Delivery" ALTER COLUMN id SET DEFAULT renotify_uuid_v7();
