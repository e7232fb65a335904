-- queue_release_keys: heads of keys finished (completed, dead or cancelled): counts them off
-- `job_keys.pending` and promotes the next blocked job (lowest id) of each key that still has
-- pending jobs to `available`. This keeps per-key FIFO moving, and a dead job never blocks its
-- key. `p_keys` holds one element per finished head (a key repeated n times counts n).
-- Locks the `job_keys` rows in key order (as every batch ack and enqueue does: no deadlock), and
-- promotes in a separate statement so that its snapshot is taken after the key locks are held
-- (queue.md §8: in one statement a job committed meanwhile would be missed and its key stuck).
-- Rows left at 0 are deleted by maintenance. The planner settings force nested loops (0014).
-- Called only by queue_complete(), queue_bury() and queue_cancel(); not from Rust. Returns nothing.
-- Current definition: migrations/0014_queue_ack_plans.sql.
CREATE OR REPLACE FUNCTION public.queue_release_keys(p_keys text[])
 RETURNS void
 LANGUAGE plpgsql
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
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
END $function$

