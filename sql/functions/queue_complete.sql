-- queue_complete: the batch ack. Deletes finished jobs (they are not kept) that are still
-- 'running' under the given lease token (a stale token is a no-op), then releases their keys
-- through queue_release_keys(): each key's count goes down and its next blocked job is promoted.
-- Rows are found with `id = ANY (p_ids)` and fenced with `lease_token = ANY (p_tokens)`: the same
-- fence as matching the (id, token) pairs, because each token is issued to one job only, while a
-- join of the pairs hashed a sequential scan of the whole queue once a batch held a few hundred
-- jobs (0014); the planner settings keep primary-key probes whatever the batch size.
-- Locks: the deleted job rows, through the primary key (0014 dropped 0005's separate id-ordered
-- pass), then their `job_keys` rows in key order. Returns the ids completed; an id missing from
-- the answer lost its lease, and its result is not recorded.
-- Called by `queue::complete` (src/queue/mod.rs) from the worker pool's settler
-- (workers/pool.rs), one call for the jobs that finished together.
-- Current definition: migrations/0014_queue_ack_plans.sql.
CREATE OR REPLACE FUNCTION public.queue_complete(p_ids bigint[], p_tokens uuid[])
 RETURNS bigint[]
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
AS $function$
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
END $function$

