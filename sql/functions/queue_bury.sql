-- queue_bury: moves claimed jobs to `dead` (fatal error or attempts used up): lease cleared,
-- `last_error` set, `run_at` = now() (the time of death, read by `queue dead` and by the dead-job
-- retention), the row kept for inspection and redrive. Fenced: only jobs still 'running' under
-- the given lease token are buried; a stale token is a no-op. Their keys are then released
-- (queue_release_keys()), so a dead head never blocks its key: the next blocked job is promoted.
-- Job i is `p_ids[i]`, `p_tokens[i]`, `p_errors[i]`. Locks every given job row in id order first
-- (a separate pass, because the update is driven by the triples in the caller's order), then the
-- key rows in key order. The planner settings force nested loops over index probes (0014: else a
-- batch of a few hundred jobs could be joined by a sequential scan of the whole queue).
-- Returns the ids actually buried. Called by `queue::bury` (src/queue/mod.rs) from the worker
-- pool's settler (workers/pool.rs).
-- Current definition: migrations/0014_queue_ack_plans.sql.
CREATE OR REPLACE FUNCTION public.queue_bury(p_ids bigint[], p_tokens uuid[], p_errors text[])
 RETURNS bigint[]
 LANGUAGE plpgsql
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
AS $function$
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
END $function$

