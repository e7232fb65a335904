-- llm_settle_many: settles a batch of answered provider calls in one round trip: the limiter
-- `p_limiter` learns the tokens each call really used, and the tenants are billed. Call i is the
-- i-th element of every array: `p_slots` its grant's slot, `p_estimated` the tokens counted at
-- grant time, `p_prompt` and `p_completion` the real tokens, `p_audio` audio seconds, `p_cost`
-- USD, `p_models` the model, `p_tenants` whom to bill (NULL: nobody).
-- Per slot, ascending: the slot's tokens change by real minus estimated (never below 0; a slot
-- that has left the window is not recreated). Then per (tenant, model), ascending, under that
-- tenant's scope (set_config('app.tenant_id', …, true)): today's (UTC) `llm_usage` row is upserted
-- and the tenant's `llm_quota_exhausted_at` cleared (a call succeeded). Rows are locked in that
-- fixed order, so two settlements cannot deadlock; no advisory lock. synchronous_commit is off:
-- a crash may forget the last moments of this bookkeeping. Returns nothing.
-- Called by `db::usage::RateLimit::settle_many` (src/db/usage.rs): batched per process by
-- `BatchedLimit` for workers/engine/openai.rs, one call at a time for transcription.
-- Current definition: migrations/0013_limiter_batch.sql.
CREATE OR REPLACE FUNCTION public.llm_settle_many(p_limiter text, p_tenants uuid[], p_slots bigint[], p_estimated bigint[], p_models text[], p_prompt bigint[], p_completion bigint[], p_audio double precision[], p_cost numeric[])
 RETURNS void
 LANGUAGE plpgsql
AS $function$
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
$function$

