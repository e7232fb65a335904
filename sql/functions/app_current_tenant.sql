-- app_current_tenant: the tenant whose rows the current transaction may see, read from the
-- transaction-local setting `app.tenant_id`; NULL when it is unset, so a query without a tenant
-- scope sees no rows. NULLIF because a setting that was SET LOCAL earlier in the session reads
-- back as '' afterwards, not NULL. Takes no locks; returns a uuid or NULL.
-- Not called from Rust: it is the `tenant_isolation` policy (`tenant_id = app_current_tenant()`,
-- USING and WITH CHECK) of every table under forced row-level security (bot_users, messages,
-- leads, message_audio, lead_notifications, llm_usage, tenant_events, telegram_bots,
-- telegram_updates, telegram_files, telegram_sent_parts, manager_forwards): one definition for
-- every policy. The setting is made with set_config('app.tenant_id', …, true), so it dies with the
-- transaction, by `db::tenant_tx` (src/db/mod.rs) and by the functions that scope themselves
-- (message_ingest, message_ingest_batch, turn_read, turn_commit, llm_budget_spent,
-- llm_quota_exhausted, llm_settle_many).
-- Current definition: migrations/0001_foundation.sql.
CREATE OR REPLACE FUNCTION public.app_current_tenant()
 RETURNS uuid
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $function$

