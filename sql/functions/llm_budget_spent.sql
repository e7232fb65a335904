-- llm_budget_spent: whether the tenant's monthly LLM budget is spent: the sum of
-- `llm_usage.cost_usd` over the current calendar month (UTC) has reached
-- `tenants.monthly_budget_usd`. False when the tenant has no budget (NULL); a budget of 0 is
-- always spent. Reads only and takes no locks. The budget comes from `tenants` (the identity
-- directory, no RLS); only when one is set does it scope the transaction to the tenant
-- (set_config('app.tenant_id', …, true)) to read `llm_usage`, and that scope stays for the rest
-- of the caller's transaction.
-- Called only by llm_acquire_many(), once per request that names a tenant and before the
-- limiter's lock is taken, so the budget check is part of the grant's round trip; not from Rust.
-- Current definition: migrations/0007_openai.sql.
CREATE OR REPLACE FUNCTION public.llm_budget_spent(p_tenant uuid)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_budget numeric;
    v_spent  numeric;
BEGIN
    SELECT monthly_budget_usd INTO v_budget FROM tenants WHERE id = p_tenant;
    IF v_budget IS NULL THEN
        RETURN false;
    END IF;
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    SELECT coalesce(sum(cost_usd), 0) INTO v_spent FROM llm_usage
     WHERE tenant_id = p_tenant
       AND day >= date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    RETURN v_spent >= v_budget;
END
$function$

