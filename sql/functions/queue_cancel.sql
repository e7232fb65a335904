-- queue_cancel: deletes a pending job (available, scheduled or blocked) or a dead one; a running
-- job is left alone.
-- Called by `queue::ops::cancel` (src/queue/ops.rs), the `salesbot queue cancel ID` command.
-- Keeps the per-key counts: a cancelled `available` head releases its key (queue_release_keys():
-- the next blocked job is promoted); a `blocked` job only counts itself off `job_keys.pending`;
-- a dead job's key was released when it died.
-- Locks the job's row (FOR UPDATE), then, for a pending keyed job, its `job_keys` row, then
-- deletes. That is the ack's order (job, then key); a deduplicating queue_enqueue() locks the key
-- row before the pending twin's row.
-- Returns the job's state before the call: NULL when there is no such job, 'running' when nothing
-- was done, else the state it was cancelled in.
-- Current definition: migrations/0002_queue.sql.
CREATE OR REPLACE FUNCTION public.queue_cancel(p_id bigint)
 RETURNS job_state
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_state job_state;
    v_key text;
BEGIN
    SELECT state, key INTO v_state, v_key FROM jobs WHERE id = p_id FOR UPDATE;
    IF v_state IS NULL OR v_state = 'running' THEN
        RETURN v_state;
    END IF;
    IF v_key IS NOT NULL AND v_state IN ('available', 'blocked') THEN
        -- Lock the key row before deleting, in the same order as enqueue and ack.
        PERFORM 1 FROM job_keys WHERE key = v_key FOR UPDATE;
    END IF;
    DELETE FROM jobs WHERE id = p_id;
    IF v_key IS NOT NULL THEN
        IF v_state = 'available' THEN
            PERFORM queue_release_keys(ARRAY[v_key]);
        ELSIF v_state = 'blocked' THEN
            UPDATE job_keys SET pending = pending - 1 WHERE key = v_key;
        END IF;
    END IF;
    RETURN v_state;
END $function$

