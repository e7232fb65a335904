-- llm_acquire_many: decides a batch of provider requests against the tenants' monthly budgets and
-- the shared sliding-window limiter `p_limiter` (`openai:<model>`), in one round trip and one hold
-- of the limiter's lock. Request i is `p_tenants[i]` (NULL: no budget to check) and `p_tokens[i]`
-- (its estimated tokens); the limit is `p_max_requests` requests and `p_max_tokens` tokens (0: not
-- limited) per `p_window_ms`, cut into 60 slots, and a grant needs the 66 slots before it (the
-- window plus 10 %) to stay under it. `p_at` is the time (NULL: the database clock; tests pass
-- theirs). Requests are decided in order; one larger than the token limit is granted when nothing
-- else is counted. Budgets are read first, without locks (llm_budget_spent()); then a
-- transaction-scoped advisory lock on 'rate_limit:' || p_limiter, held until commit, covers the
-- count, the upsert of the current slot's row and the deletion of slots older than the window.
-- synchronous_commit is off. Returns one row per request, `ord` = i: `budget_spent`, or a `slot`
-- to settle against with `wait_seconds` 0, or the `wait_seconds` until the window has room.
-- Called by `db::usage::RateLimit::acquire_many` (src/db/usage.rs): batched per process by
-- `BatchedLimit` for workers/engine/openai.rs, one request at a time for transcription.
-- Current definition: migrations/0013_limiter_batch.sql.
CREATE OR REPLACE FUNCTION public.llm_acquire_many(p_tenants uuid[], p_tokens bigint[], p_limiter text, p_max_requests integer, p_max_tokens bigint, p_window_ms bigint, p_at timestamp with time zone)
 RETURNS TABLE(ord integer, slot bigint, wait_seconds double precision, budget_spent boolean)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
    v_slot_ms  bigint := greatest(p_window_ms / 60, 1);
    v_now_ms   bigint := floor(extract(epoch FROM coalesce(p_at, clock_timestamp())) * 1000);
    v_slot     bigint;
    v_first    bigint;
    v_requests bigint;
    v_tokens   bigint;
    v_oldest   bigint;
    v_spent    boolean[];
    v_granted  integer := 0;
    v_granted_tokens bigint := 0;
BEGIN
    v_slot := v_now_ms / v_slot_ms;
    v_first := v_slot - 65;  -- 66 slots: the window plus 10 % (see 0007 and a3530a7)
    -- Budgets are read before the lock: the lock is held only for the count and the take.
    SELECT array_agg(t IS NOT NULL AND llm_budget_spent(t) ORDER BY i) INTO v_spent
      FROM unnest(p_tenants) WITH ORDINALITY AS u(t, i);
    -- Grants are short-lived bookkeeping: see rate_limit_acquire in 0007.
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(hashtextextended('rate_limit:' || p_limiter, 0));
    SELECT coalesce(sum(s.requests), 0), coalesce(sum(s.tokens), 0), min(s.slot)
      INTO v_requests, v_tokens, v_oldest
      FROM rate_limit_slots s WHERE s.limiter = p_limiter AND s.slot >= v_first;
    FOR i IN 1 .. coalesce(array_length(p_tokens, 1), 0) LOOP
        ord := i;
        budget_spent := v_spent[i];
        slot := NULL;
        wait_seconds := NULL;
        IF NOT budget_spent THEN
            -- A call larger than the whole token budget is let through alone rather than never.
            IF v_requests < p_max_requests
               AND (p_max_tokens <= 0 OR v_tokens + p_tokens[i] <= p_max_tokens
                    OR v_requests = 0) THEN
                v_requests := v_requests + 1;
                v_tokens := v_tokens + p_tokens[i];
                v_granted := v_granted + 1;
                v_granted_tokens := v_granted_tokens + p_tokens[i];
                slot := v_slot;
                wait_seconds := 0;
            ELSE
                -- Full: wait until the oldest slot still counted leaves the window.
                wait_seconds := greatest((coalesce(v_oldest, v_slot) + 66) * v_slot_ms - v_now_ms,
                                         1)::double precision / 1000;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF v_granted > 0 THEN
        INSERT INTO rate_limit_slots AS s (limiter, slot, requests, tokens)
        VALUES (p_limiter, v_slot, v_granted, v_granted_tokens)
        ON CONFLICT ON CONSTRAINT rate_limit_slots_pkey DO UPDATE
            SET requests = s.requests + excluded.requests, tokens = s.tokens + excluded.tokens;
        DELETE FROM rate_limit_slots s WHERE s.limiter = p_limiter AND s.slot < v_first;
    END IF;
END
$function$

