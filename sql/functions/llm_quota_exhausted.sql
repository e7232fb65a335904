-- llm_quota_exhausted: OpenAI answered `insufficient_quota` (a billing state) for the tenant.
-- Raises the dashboard flag `tenants.llm_quota_exhausted_at` and, only when it was not already
-- set, records one `tenant_events` row (id `p_event`, kind 'llm_quota_exhausted', detail
-- {"message": p_message}): one event per episode. The next settled call clears the flag
-- (llm_settle_many()). One round trip, scoped to the tenant like `db::tenant_tx`
-- (set_config('app.tenant_id', …, true); tenant_events is under RLS).
-- Locks the tenant's `tenants` row until commit: a concurrent call waits for it, then finds the
-- flag set and records no second event. Returns nothing.
-- Called by `db::usage::quota_exhausted` (src/db/usage.rs), from the OpenAI engine's handling of
-- a failed request (workers/engine/openai.rs); `p_event` is a new UUID v7.
-- Current definition: migrations/0007_openai.sql.
CREATE OR REPLACE FUNCTION public.llm_quota_exhausted(p_tenant uuid, p_event uuid, p_message text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    UPDATE tenants SET llm_quota_exhausted_at = now()
     WHERE id = p_tenant AND llm_quota_exhausted_at IS NULL;
    IF FOUND THEN
        INSERT INTO tenant_events (id, tenant_id, kind, detail)
        VALUES (p_event, p_tenant, 'llm_quota_exhausted', jsonb_build_object('message', p_message));
    END IF;
END
$function$

