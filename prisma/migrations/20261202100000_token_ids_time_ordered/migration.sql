-- Time-ordered ids for subscribers and opt-in tokens (#16, flat cost as a send grows). A send reads a topic's tokens
-- in id order (fan-out's keyset), then per delivery the token's row and its subscriber's (the batch read), and the
-- one-time claim writes a new version of the token into every OptIn index. With random ids each of those touches
-- a random heap page and a random leaf of a table of every token of the Page: at 100k tokens that is a few MB and
-- stays in the CPU caches, at 1M it is hundreds of MB and each access is a cache miss (bench:scale: Postgres CPU per
-- delivery 0.16 ms at 100k against 0.27 ms at 1M). A UUIDv7 (RFC 9562: 48-bit Unix milliseconds, version 7, then
-- random bits) keeps id order equal to creation order, so heap order follows the ids and a send walks the token and
-- subscriber tables in order, a page at a time. Tokens and subscribers are written one webhook at a time, so the
-- rightmost leaf is no hot spot (unlike deliveries: migration 20261201910000). Postgres 18 has uuidv7(); until
-- every supported server has it, this builds one from gen_random_uuid(): its first 6 bytes become the millisecond
-- timestamp and the version nibble 0100 becomes 0111 (set_bit counts from the least significant bit of each byte).
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

ALTER TABLE "Subscriber" ALTER COLUMN id SET DEFAULT renotify_uuid_v7();
ALTER TABLE "OptIn" ALTER COLUMN id SET DEFAULT renotify_uuid_v7();
