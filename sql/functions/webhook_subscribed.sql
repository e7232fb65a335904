-- webhook_subscribed: whether one of the tenant's enabled endpoints subscribes to `p_type`: "who
-- wants this event", asked by every emitter before it builds a payload nobody would receive
-- (turn_commit(), webhook_message_received(), webhook_emit() itself, and db::webhooks in Rust);
-- webhook_emit() picks the endpoints by the same predicate. plpgsql, not SQL: a SQL function
-- called from the messages trigger is set up again on every call (~35–45 µs per ingested
-- message, measured), a plpgsql one keeps its plan.
-- Current definition: migrations/0026_webhook_deliveries.sql.
CREATE OR REPLACE FUNCTION public.webhook_subscribed(p_tenant uuid, p_type text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
AS $function$
BEGIN
    RETURN EXISTS (SELECT 1 FROM webhook_endpoints e
                    WHERE e.tenant_id = p_tenant AND e.enabled AND p_type = ANY (e.events));
END
$function$

