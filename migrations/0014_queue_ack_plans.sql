-- Plans of the batch ack that held only for small batches (found by bench/queue at batch 256, where
-- draining fell from 40k to 12k jobs/s). Inside plpgsql the first executions are planned with the
-- actual arrays; at a few hundred elements the planner then joined `unnest(ids, tokens)` to `jobs`
-- by hashing a sequential scan of the whole table (24 ms per ack at a 50k backlog), and the key
-- release did the same over `job_keys`. The statements below keep primary-key probes whatever the
-- batch size:
-- - jobs are found with `id = ANY (ids)`; the token is checked with `lease_token = ANY (tokens)`,
--   which is the same fence as matching the pairs, because every token is issued to exactly one
--   job (a fresh uuid per job per claim);
-- - the promotion finds the next blocked job of each key with `id = ANY (ARRAY(…))` instead of
--   `id IN (subquery)`, which evaluated the per-key probe twice;
-- - the key counts, and a burial's (id, token, error) triples, are joined by nested loop, and the
--   jobs of an ack or a burial are found through the primary key (planner settings on the
--   functions): a few hundred ids out of a small queue otherwise made a sequential scan look
--   cheaper, and it is never cheaper once the queue has a backlog;
-- - walking the primary key with `id = ANY (ids)` visits the ids in ascending order, so the ack's
--   delete locks rows in id order like the heartbeat, and its separate locking pass of 0005 is no
--   longer needed (it cost 7 % of drain throughput). A burial keeps its pass: its update is driven
--   by the triples in the caller's order.

CREATE OR REPLACE FUNCTION queue_release_keys(p_keys text[]) RETURNS void
LANGUAGE plpgsql
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
DECLARE
    v_still_pending text[];
BEGIN
    IF p_keys IS NULL OR cardinality(p_keys) = 0 THEN
        RETURN;
    END IF;
    WITH r AS (SELECT key, count(*)::int AS n FROM unnest(p_keys) AS key GROUP BY key),
         l AS (SELECT k.key, r.n FROM job_keys k JOIN r USING (key) ORDER BY k.key FOR UPDATE OF k),
         u AS (UPDATE job_keys k SET pending = k.pending - l.n FROM l WHERE k.key = l.key
               RETURNING k.key, k.pending)
    SELECT array_agg(u.key) INTO v_still_pending FROM u WHERE u.pending > 0;
    IF v_still_pending IS NOT NULL THEN
        UPDATE jobs SET state = 'available'
        WHERE id = ANY (ARRAY(SELECT (SELECT b.id FROM jobs b WHERE b.key = k AND b.state = 'blocked'
                                      ORDER BY b.id LIMIT 1)
                              FROM unnest(v_still_pending) AS k));
    END IF;
END $$;

CREATE OR REPLACE FUNCTION queue_complete(p_ids bigint[], p_tokens uuid[]) RETURNS bigint[]
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
    v_done bigint[];
    v_keys text[];
BEGIN
    WITH d AS (
        DELETE FROM jobs
        WHERE id = ANY (p_ids) AND lease_token = ANY (p_tokens) AND state = 'running'
        RETURNING id, key)
    SELECT array_agg(d.id), array_agg(d.key) FILTER (WHERE d.key IS NOT NULL)
    INTO v_done, v_keys FROM d;
    PERFORM queue_release_keys(v_keys);
    RETURN coalesce(v_done, '{}');
END $$;

CREATE OR REPLACE FUNCTION queue_bury(p_ids bigint[], p_tokens uuid[], p_errors text[]) RETURNS bigint[]
LANGUAGE plpgsql
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
    v_dead bigint[];
    v_keys text[];
BEGIN
    PERFORM 1 FROM jobs WHERE id = ANY (p_ids) ORDER BY id FOR UPDATE;
    WITH d AS (
        UPDATE jobs j SET state = 'dead', lease_token = NULL, lease_until = NULL,
                          last_error = a.error, run_at = now()
        FROM unnest(p_ids, p_tokens, p_errors) AS a(id, token, error)
        WHERE j.id = a.id AND j.lease_token = a.token AND j.state = 'running'
        RETURNING j.id, j.key)
    SELECT array_agg(d.id), array_agg(d.key) FILTER (WHERE d.key IS NOT NULL)
    INTO v_dead, v_keys FROM d;
    PERFORM queue_release_keys(v_keys);
    RETURN coalesce(v_dead, '{}');
END $$;

-- The due time of a new job: priority p is a bias of p seconds on it (the claim stays a plain range
-- scan on (run_at, id)); a delayed job keeps its requested time. One definition for the enqueue
-- statements of src/queue/mod.rs; the planner inlines it. Its twin inside queue_enqueue (0006) is
-- landed and stays as it is.
CREATE FUNCTION queue_due_at(p_run_at timestamptz, p_priority smallint) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_run_at IS NULL OR p_run_at <= now()
                THEN now() - make_interval(secs => p_priority) ELSE p_run_at END
$$;
