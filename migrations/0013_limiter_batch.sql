-- Many limiter grants, and many settlements, per round trip and per hold of the limiter's lock. The LLM bench measured
-- one grant at a time as the cap on turns: 20,000 grants spent 4.5 ms each waiting for the
-- advisory lock (pg_stat_statements), the lock passing from one backend to the next at about
-- 700 grants/s on 2 busy cores. A worker process now sends every request waiting at that moment in
-- one call; the rules per request are those of 0007's rate_limit_acquire, applied in order.
--
-- p_tenants[i] (NULL: no budget to check) and p_tokens[i] describe request i. Returns one row per
-- request, `ord` = i: budget_spent, or a slot to settle against, or how long to wait.
CREATE FUNCTION llm_acquire_many(p_tenants uuid[], p_tokens bigint[], p_limiter text,
                                 p_max_requests integer, p_max_tokens bigint, p_window_ms bigint,
                                 p_at timestamptz)
RETURNS TABLE (ord integer, slot bigint, wait_seconds double precision, budget_spent boolean)
LANGUAGE plpgsql AS $$
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
$$;

-- After answered calls: the tokens they really used replace the estimates counted at grant time,
-- and their tenants are billed. Once grants came in batches, one settlement per call became the
-- top statement of the LLM bench (1.2 ms each, mostly waiting for the current slot's row, which
-- every grant and settlement updates). Request i is described by the i-th element of each array;
-- p_tenants[i] NULL: nothing to bill. Rows are locked in a fixed order (slots ascending, then
-- tenant and model), so two processes settling at once cannot deadlock.
CREATE FUNCTION llm_settle_many(p_limiter text, p_tenants uuid[], p_slots bigint[],
                                p_estimated bigint[], p_models text[], p_prompt bigint[],
                                p_completion bigint[], p_audio double precision[],
                                p_cost numeric[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    -- As in 0007: bookkeeping whose last moments a database crash may forget, never worth a WAL
    -- flush under these row locks.
    PERFORM set_config('synchronous_commit', 'off', true);
    FOR r IN SELECT u.slot, sum(u.prompt + u.completion - u.estimated) AS delta
               FROM unnest(p_slots, p_estimated, p_prompt, p_completion)
                    AS u(slot, estimated, prompt, completion)
              GROUP BY u.slot ORDER BY u.slot
    LOOP
        UPDATE rate_limit_slots SET tokens = greatest(tokens + r.delta, 0)
         WHERE limiter = p_limiter AND slot = r.slot;
    END LOOP;
    FOR r IN SELECT u.tenant, u.model, count(*)::integer AS calls, sum(u.prompt) AS prompt,
                    sum(u.completion) AS completion, sum(u.audio) AS audio, sum(u.cost) AS cost
               FROM unnest(p_tenants, p_models, p_prompt, p_completion, p_audio, p_cost)
                    AS u(tenant, model, prompt, completion, audio, cost)
              WHERE u.tenant IS NOT NULL
              GROUP BY u.tenant, u.model ORDER BY u.tenant, u.model
    LOOP
        PERFORM set_config('app.tenant_id', r.tenant::text, true);
        INSERT INTO llm_usage AS u (tenant_id, day, model, calls, prompt_tokens, completion_tokens,
                                    audio_seconds, cost_usd)
        VALUES (r.tenant, (now() AT TIME ZONE 'UTC')::date, r.model, r.calls, r.prompt,
                r.completion, r.audio, r.cost)
        ON CONFLICT (tenant_id, day, model) DO UPDATE
            SET calls = u.calls + excluded.calls,
                prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
                completion_tokens = u.completion_tokens + excluded.completion_tokens,
                audio_seconds = u.audio_seconds + excluded.audio_seconds,
                cost_usd = u.cost_usd + excluded.cost_usd;
        -- A call succeeded: the billing flag clears.
        UPDATE tenants SET llm_quota_exhausted_at = NULL
         WHERE id = r.tenant AND llm_quota_exhausted_at IS NOT NULL;
    END LOOP;
END
$$;

-- Replaced by the batch functions (a single request is a batch of one).
DROP FUNCTION llm_acquire(uuid, text, integer, bigint, bigint, bigint, timestamptz);
DROP FUNCTION rate_limit_acquire(text, integer, bigint, bigint, bigint, timestamptz);
DROP FUNCTION llm_settle(uuid, text, bigint, bigint, text, bigint, bigint, double precision,
                         numeric);
DROP FUNCTION rate_limit_settle(text, bigint, bigint, bigint);
DROP FUNCTION llm_usage_record(uuid, text, bigint, bigint, double precision, numeric);
