-- queue_enqueue_deduped: queue_enqueue()'s keyed-dedup rules, set-based, for jobs whose dedup key
-- is their key (one pending job per key, like a conversation's `turn`). `p_keys` must be
-- distinct; key i has its tenant, payload and requested run time (NULL: now) at index i of the
-- other arrays; kind, priority and max attempts are shared. Called only by message_ingest_batch()
-- for a batch's turns; not from Rust.
-- Locks the keys' `job_keys` rows first (upserted, in key order, the order the ack uses), then
-- the pending twins (available or blocked, never started) FOR UPDATE in key order. A twin is
-- returned (`inserted` false) and stays locked until the caller commits, so no worker claims it
-- before the caller's messages are visible. For every other key the pending count goes up and the
-- job is inserted, `available` if it is the key's only pending job, else `blocked`, due at
-- queue_due_at(). The planner settings keep index probes whatever the statistics say (see 0014).
-- Returns one row per key: `key`, `job_id`, `inserted`.
-- Current definition: migrations/0018_message_ingest_set_based.sql.
CREATE OR REPLACE FUNCTION public.queue_enqueue_deduped(p_kind text, p_keys text[], p_tenants uuid[], p_payloads jsonb[], p_run_ats timestamp with time zone[], p_priority smallint, p_max_attempts integer)
 RETURNS TABLE(key text, job_id bigint, inserted boolean)
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
    v_twin_keys text[];
    v_twin_ids  bigint[];
    v_new_keys  text[];
BEGIN
    INSERT INTO job_keys AS k (key, pending)
    SELECT u.key, 0 FROM unnest(p_keys) AS u(key) ORDER BY u.key
    ON CONFLICT (key) DO UPDATE SET pending = k.pending;
    WITH t AS (SELECT j.dedup_key, j.id FROM jobs j
                WHERE j.kind = p_kind AND j.dedup_key = ANY (p_keys)
                  AND j.state IN ('available', 'blocked') AND j.attempts = 0
                ORDER BY j.dedup_key FOR UPDATE)
    SELECT array_agg(t.dedup_key), array_agg(t.id) INTO v_twin_keys, v_twin_ids FROM t;
    RETURN QUERY SELECT t.key, t.id, false FROM unnest(v_twin_keys, v_twin_ids) AS t(key, id);

    v_new_keys := ARRAY(SELECT u.key FROM unnest(p_keys) AS u(key)
                         WHERE u.key <> ALL (coalesce(v_twin_keys, '{}')));
    IF cardinality(v_new_keys) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH k AS (UPDATE job_keys k SET pending = k.pending + 1
                WHERE k.key = ANY (v_new_keys)
               RETURNING k.key, k.pending)
    INSERT INTO jobs AS j (kind, key, tenant_id, payload, run_at, priority, max_attempts,
                           dedup_key, state)
    SELECT p_kind, k.key, u.tenant, u.payload, queue_due_at(u.run_at, p_priority), p_priority,
           p_max_attempts, k.key,
           CASE WHEN k.pending = 1 THEN 'available' ELSE 'blocked' END::job_state
      FROM k JOIN unnest(p_keys, p_tenants, p_payloads, p_run_ats) AS u(key, tenant, payload, run_at)
           ON u.key = k.key
    RETURNING j.key, j.id, true;
END $function$

