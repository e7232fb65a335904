-- The durable job queue (src/queue/, design: docs/architecture.md "Queue", measured in
-- shared/design/queue.md). One row per unfinished or dead job; finished jobs are deleted on ack.
--
-- Per-key FIFO by head promotion: of the unfinished jobs sharing an ordering key only the oldest (the
-- head) is `available`/`running`; the rest wait as `blocked` and are promoted one at a time when the
-- head finishes (done or dead). `job_keys.pending` counts a key's unfinished jobs, and its row lock
-- serialises enqueues of one key, so per-key id order equals commit order.
--
-- The queue is platform infrastructure, shared by all tenants: workers claim across tenants, so it is
-- not under row-level security; tenant_id is carried for fairness, pausing and ops.

CREATE TYPE job_state AS ENUM ('available', 'running', 'blocked', 'dead');

CREATE TABLE jobs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL,
    -- ordering key: jobs with the same key run one at a time in id order; NULL runs in parallel
    key          text,
    tenant_id    uuid,
    -- due time; while running it equals lease_until, so an expired lease makes the job due again
    -- with no reaper. Priority p is applied as a bias of p seconds at enqueue (see queue_enqueue).
    run_at       timestamptz NOT NULL DEFAULT now(),
    priority     smallint NOT NULL DEFAULT 0,
    state        job_state NOT NULL DEFAULT 'available',
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    lease_until  timestamptz,
    -- fresh per claim; completing, failing or heartbeating with another token is refused (fencing)
    lease_token  uuid,
    -- a second enqueue with the same (kind, dedup_key) while one is pending returns the pending job
    dedup_key    text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    payload      jsonb NOT NULL DEFAULT '{}',
    last_error   text
) WITH (
    -- Every update changes an indexed column or a partial-index predicate, so no update is HOT and a
    -- lower fillfactor would buy nothing. Vacuum must keep up with the churn (queue.md §5).
    fillfactor = 100,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 5000
);

-- Claim order; must match the claim's ORDER BY exactly (an index-ordered LIMIT … SKIP LOCKED).
CREATE INDEX jobs_claim ON jobs (run_at, id) WHERE state IN ('available', 'running');
-- Fair claim: the oldest due jobs of each tenant, and the loose scan over tenants with jobs.
CREATE INDEX jobs_claim_tenant ON jobs (tenant_id, run_at, id) WHERE state IN ('available', 'running');
-- Promotion: the next blocked job of a key.
CREATE INDEX jobs_blocked ON jobs (key, id) WHERE state = 'blocked';
-- Dedup: at most one not-yet-started job per (kind, dedup_key). A job that already ran once (a retry)
-- is outside the index, so a retry never collides with a newer pending twin.
CREATE UNIQUE INDEX jobs_dedup ON jobs (kind, dedup_key)
    WHERE dedup_key IS NOT NULL AND state IN ('available', 'blocked') AND attempts = 0;
CREATE INDEX jobs_dead ON jobs (kind, id) WHERE state = 'dead';

-- One row per key with unfinished jobs; `pending` counts them (the head included). Updates are HOT
-- (pending is not indexed), hence the fillfactor.
CREATE TABLE job_keys (
    key     text PRIMARY KEY,
    pending integer NOT NULL CHECK (pending >= 0)
) WITH (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0
);

-- Durable pauses: a paused kind or tenant is not claimed; its jobs are still accepted.
CREATE TABLE queue_pauses (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind      text,
    tenant_id uuid,
    paused_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind IS NULL) <> (tenant_id IS NULL))
);
CREATE UNIQUE INDEX queue_pauses_kind ON queue_pauses (kind) WHERE kind IS NOT NULL;
CREATE UNIQUE INDEX queue_pauses_tenant ON queue_pauses (tenant_id) WHERE tenant_id IS NOT NULL;

-- Parked-worker wake-up (queue.md §4): producers NOTIFY only while some worker is parked, so a busy
-- queue pays no NOTIFY (a NOTIFY in every enqueue transaction serialises commits).
CREATE TABLE queue_wake (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    parked integer NOT NULL DEFAULT 0
);
INSERT INTO queue_wake DEFAULT VALUES;

-- Enqueue one job inside the caller's transaction. Returns the job's id and whether it was inserted
-- (false: an equal pending job exists, its id is returned).
--
-- A plpgsql function because each statement in it takes a fresh snapshot after the previous one's
-- locks are held: the key row is locked first, then the dedup twin is looked for, so two concurrent
-- enqueues of one key and dedup key cannot both insert, and `pending` never counts a job that was not
-- inserted.
CREATE FUNCTION queue_enqueue(
    p_kind text, p_key text, p_tenant uuid, p_payload jsonb, p_run_at timestamptz,
    p_priority smallint, p_max_attempts integer, p_dedup_key text
) RETURNS TABLE (job_id bigint, inserted boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_pending integer;
    v_run_at timestamptz;
    v_id bigint;
BEGIN
    -- Priority as a bias of the due time keeps the claim a plain index range scan on (run_at, id);
    -- a delayed job keeps its requested time.
    v_run_at := CASE WHEN p_run_at IS NULL OR p_run_at <= now()
                     THEN now() - make_interval(secs => p_priority)
                     ELSE p_run_at END;
    IF p_key IS NULL THEN
        IF p_dedup_key IS NOT NULL THEN
            INSERT INTO jobs (kind, tenant_id, payload, run_at, priority, max_attempts, dedup_key)
            VALUES (p_kind, p_tenant, p_payload, v_run_at, p_priority, p_max_attempts, p_dedup_key)
            ON CONFLICT (kind, dedup_key)
                WHERE dedup_key IS NOT NULL AND state IN ('available', 'blocked') AND attempts = 0
                DO NOTHING
            RETURNING id INTO v_id;
            IF v_id IS NULL THEN
                SELECT j.id INTO v_id FROM jobs j
                WHERE j.kind = p_kind AND j.dedup_key = p_dedup_key
                  AND j.state IN ('available', 'blocked') AND j.attempts = 0;
                RETURN QUERY SELECT v_id, false;
                RETURN;
            END IF;
        ELSE
            INSERT INTO jobs (kind, tenant_id, payload, run_at, priority, max_attempts)
            VALUES (p_kind, p_tenant, p_payload, v_run_at, p_priority, p_max_attempts)
            RETURNING id INTO v_id;
        END IF;
        RETURN QUERY SELECT v_id, true;
        RETURN;
    END IF;

    IF p_dedup_key IS NOT NULL THEN
        -- Lock the key row (creating it if needed) before looking for a twin.
        INSERT INTO job_keys AS k (key, pending) VALUES (p_key, 0)
        ON CONFLICT (key) DO UPDATE SET pending = k.pending;
        SELECT j.id INTO v_id FROM jobs j
        WHERE j.kind = p_kind AND j.dedup_key = p_dedup_key
          AND j.state IN ('available', 'blocked') AND j.attempts = 0;
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
END $$;

-- A key's head finished (done or dead): count it off and promote the next blocked job of each key
-- that still has some. Keys are locked in key order (no deadlocks between batch acks), and the
-- promotion is a separate statement so its snapshot is taken after the key locks are held
-- (queue.md §8: in one statement a job committed meanwhile would be missed and its key stuck).
CREATE FUNCTION queue_release_keys(p_keys text[]) RETURNS void
LANGUAGE plpgsql AS $$
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
        WHERE id IN (SELECT (SELECT b.id FROM jobs b WHERE b.key = k AND b.state = 'blocked'
                             ORDER BY b.id LIMIT 1)
                     FROM unnest(v_still_pending) AS k);
    END IF;
END $$;

-- Completes claimed jobs: deletes those whose lease token still matches (a stale token is a no-op)
-- and releases their keys. Returns the ids that were completed.
CREATE FUNCTION queue_complete(p_ids bigint[], p_tokens uuid[]) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    v_done bigint[];
    v_keys text[];
BEGIN
    WITH d AS (
        DELETE FROM jobs j USING unnest(p_ids, p_tokens) AS a(id, token)
        WHERE j.id = a.id AND j.lease_token = a.token AND j.state = 'running'
        RETURNING j.id, j.key)
    SELECT array_agg(d.id), array_agg(d.key) FILTER (WHERE d.key IS NOT NULL)
    INTO v_done, v_keys FROM d;
    PERFORM queue_release_keys(v_keys);
    RETURN coalesce(v_done, '{}');
END $$;

-- Moves claimed jobs to `dead` (fatal error or attempts used up), keeping the row and its last error
-- for inspection and redrive, and releases their keys so later jobs of the key proceed.
CREATE FUNCTION queue_bury(p_ids bigint[], p_tokens uuid[], p_errors text[]) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    v_dead bigint[];
    v_keys text[];
BEGIN
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

-- Cancels a job that has not started (or a dead one). A pending head releases its key; a blocked job
-- only counts itself off (the head is still there). Running jobs cannot be cancelled.
CREATE FUNCTION queue_cancel(p_id bigint) RETURNS job_state
LANGUAGE plpgsql AS $$
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
END $$;
