-- Delivery ids grouped by source AND batch (#16, flat cost as a send grows). Ids led by the source
-- (20261202000000) keep one send together, but within the send they are random: each claim and outcome of a
-- 1M-token send (a non-HOT update adds a primary-key entry next to the old one) lands on a random leaf of the
-- send's ~5,000, tens of MB, where a 100k-token send's ~500 stay in the CPU caches. This id puts the batch number
-- after the source: 48 bits of md5(sourceId), the version nibble 8, 12 bits of the batch number (modulo 4096, so
-- batch 4096 shares batch 0's range: still local), then the variant and 62 random bits. A batch's 500 rows share a
-- few leaves; the W batches a send has in flight, and other sends, are far apart, so there is no shared hot spot.
-- The one-argument function stays for workers of the previous release during a rolling deploy.
CREATE FUNCTION renotify_delivery_id(source text, batch_no int) RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
    set_byte(set_byte(
      overlay(uuid_send(gen_random_uuid()) PLACING substring(decode(md5(source), 'hex') FROM 1 FOR 6) FROM 1 FOR 6),
      6, 128 | ((batch_no >> 8) & 15)), 7, batch_no & 255),
    'hex')::uuid
$$;
