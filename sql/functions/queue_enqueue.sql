-- queue_enqueue: enqueues one job in the caller's transaction, so the job commits with the rows it
-- is about. `queue::enqueue` (src/queue/mod.rs) sends only jobs with a dedup key here (its other
-- shapes are single statements, a plpgsql call costing ~15 % of one-by-one throughput);
-- message_record() and turn_commit() call it in SQL for their jobs of every shape.
-- plpgsql so that each statement takes its snapshot after the previous one's locks are held.
-- Keyed with a dedup key: lock the key's `job_keys` row (creating it), then look for a pending
-- twin (same kind and dedup key, available or blocked, never started) and lock it FOR UPDATE
-- until the caller commits (0006: otherwise a worker could claim it before the caller's rows are
-- visible). Without a twin: the key's pending count goes up and the job is inserted `available`
-- if it is the key's only pending job, else `blocked` (per-key FIFO; the key row's lock makes
-- per-key id order commit order). Unkeyed with a dedup key: a find-or-insert loop on the dedup
-- index. Priority is a bias of the due time (queue_due_at()'s rule, inline here).
-- Returns the job's id and `inserted`, false when the pending twin was returned instead.
-- Current definition: migrations/0006_queue_dedup_lock.sql.
CREATE OR REPLACE FUNCTION public.queue_enqueue(p_kind text, p_key text, p_tenant uuid, p_payload jsonb, p_run_at timestamp with time zone, p_priority smallint, p_max_attempts integer, p_dedup_key text)
 RETURNS TABLE(job_id bigint, inserted boolean)
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_pending integer;
    v_run_at timestamptz;
    v_id bigint;
BEGIN
    v_run_at := CASE WHEN p_run_at IS NULL OR p_run_at <= now()
                     THEN now() - make_interval(secs => p_priority)
                     ELSE p_run_at END;
    IF p_key IS NULL THEN
        IF p_dedup_key IS NULL THEN
            INSERT INTO jobs (kind, tenant_id, payload, run_at, priority, max_attempts)
            VALUES (p_kind, p_tenant, p_payload, v_run_at, p_priority, p_max_attempts)
            RETURNING id INTO v_id;
            RETURN QUERY SELECT v_id, true;
            RETURN;
        END IF;
        -- Find-or-insert; a twin that starts running between the two steps is retried.
        LOOP
            SELECT j.id INTO v_id FROM jobs j
            WHERE j.kind = p_kind AND j.dedup_key = p_dedup_key
              AND j.state IN ('available', 'blocked') AND j.attempts = 0
            FOR UPDATE;
            IF v_id IS NOT NULL THEN
                RETURN QUERY SELECT v_id, false;
                RETURN;
            END IF;
            INSERT INTO jobs (kind, tenant_id, payload, run_at, priority, max_attempts, dedup_key)
            VALUES (p_kind, p_tenant, p_payload, v_run_at, p_priority, p_max_attempts, p_dedup_key)
            ON CONFLICT (kind, dedup_key)
                WHERE dedup_key IS NOT NULL AND state IN ('available', 'blocked') AND attempts = 0
                DO NOTHING
            RETURNING id INTO v_id;
            IF v_id IS NOT NULL THEN
                RETURN QUERY SELECT v_id, true;
                RETURN;
            END IF;
        END LOOP;
    END IF;

    IF p_dedup_key IS NOT NULL THEN
        -- Lock the key row (creating it if needed) before looking for a twin, then lock the twin.
        INSERT INTO job_keys AS k (key, pending) VALUES (p_key, 0)
        ON CONFLICT (key) DO UPDATE SET pending = k.pending;
        SELECT j.id INTO v_id FROM jobs j
        WHERE j.kind = p_kind AND j.dedup_key = p_dedup_key
          AND j.state IN ('available', 'blocked') AND j.attempts = 0
        FOR UPDATE;
        IF v_id IS NOT NULL THEN
            RETURN QUERY SELECT v_id, false;
            RETURN;
        END IF;
    END IF;

    INSERT INTO job_keys AS k (key, pending) VALUES (p_key, 1)
    ON CONFLICT (key) DO UPDATE SET pending = k.pending + 1
    RETURNING pending INTO v_pending;
    INSERT INTO jobs (kind, key, tenant_id, payload, run_at, priority, max_attempts, dedup_key, state)
    VALUES (p_kind, p_key, p_tenant, p_payload, v_run_at, p_priority, p_max_attempts, p_dedup_key,
            CASE WHEN v_pending = 1 THEN 'available' ELSE 'blocked' END::job_state)
    RETURNING id INTO v_id;
    RETURN QUERY SELECT v_id, true;
END $function$

