-- webhook_emit: records one event for the tenant's endpoints subscribed to `p_type`, in the
-- caller's transaction (the outbox: the event commits with what it reports, or not at all).
-- Stores the event once (`webhook_events`; its id is the Standard Webhooks `webhook-id`, the same
-- on every attempt and endpoint) with the payload `{type, version, timestamp, data: p_data}`,
-- and per endpoint a `webhook_deliveries` row and a `webhook` job (the contract's
-- `jobs::DeliverWebhook`, src/jobs.rs) keyed `webhook:<endpoint>:<bot user>` (`webhook:<endpoint>`
-- for an endpoint's operational events, `p_bot_user` NULL): one conversation's events reach an
-- endpoint in order. The job's attempts are generous: the handler ends a delivery when
-- WEBHOOK_RETRY_SCHEDULE runs out. Locks the jobs' `job_keys` rows (after the caller's locks).
-- Returns the number of deliveries (0: nobody subscribed, nothing stored).
-- Called by turn_commit(), webhook_message_received() and db::webhooks (src/db/webhooks.rs).
-- Current definition: migrations/0026_webhook_deliveries.sql.
CREATE OR REPLACE FUNCTION public.webhook_emit(p_tenant uuid, p_bot_user uuid, p_type text, p_data jsonb)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_event    uuid := gen_random_uuid();
    v_delivery record;
    v_count    integer := 0;
BEGIN
    IF NOT webhook_subscribed(p_tenant, p_type) THEN
        RETURN 0;
    END IF;
    INSERT INTO webhook_events (tenant_id, id, type, bot_user_id, payload)
    VALUES (p_tenant, v_event, p_type, p_bot_user,
            jsonb_build_object('type', p_type, 'version', 1, 'timestamp', now(), 'data', p_data));
    FOR v_delivery IN
        INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id)
        SELECT p_tenant, gen_random_uuid(), e.id, v_event
          FROM webhook_endpoints e
         WHERE e.tenant_id = p_tenant AND e.enabled AND p_type = ANY (e.events)
        RETURNING id, endpoint_id
    LOOP
        PERFORM queue_enqueue(
            'webhook', 'webhook:' || v_delivery.endpoint_id || coalesce(':' || p_bot_user, ''),
            p_tenant,
            jsonb_build_object('tenant_id', p_tenant, 'delivery_id', v_delivery.id,
                               'endpoint_id', v_delivery.endpoint_id, 'bot_user_id', p_bot_user),
            NULL, 0::smallint, 1000, 'webhook:' || v_delivery.id);
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END
$function$

