-- Delivery ids grouped by source (#16, flat cost as the table grows). With random ids every fan-out INSERT, and every
-- claim and outcome UPDATE (a non-HOT update adds a primary-key entry for its new row version), lands on a random
-- leaf of the primary key: once the table holds years of deliveries that index is far larger than shared_buffers, so
-- each write reads and dirties a cold page (and logs its full-page image after a checkpoint). Time-ordered ids
-- (20261201900000) fixed that but made the rightmost leaf a hot spot when many Pages dispatch at once (20261201910000).
-- This id starts with 48 bits of md5(sourceId), then random bits: one send's deliveries share a narrow key range
-- (a 100k-token send touches ~500 leaves, not every leaf of the index), and different sends land far apart, so
-- concurrent sends never share a leaf. RFC 9562 calls a UUID with application-defined bits version 8: the version
-- nibble 0100 of gen_random_uuid() becomes 1000 (set_bit counts from the least significant bit of each byte: bits
-- 55 and 54 of byte 6); the variant bits stay as gen_random_uuid() set them, and 74 random bits stay per source.
-- The fan-out statements (packages/db fanout.ts) call it; rows inserted elsewhere keep the random default.
CREATE FUNCTION renotify_delivery_id(source text) RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid()) PLACING substring(decode(md5(source), 'hex') FROM 1 FOR 6) FROM 1 FOR 6),
      55, 1), 54, 0),
    'hex')::uuid
$$;
