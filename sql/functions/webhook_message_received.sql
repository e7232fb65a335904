-- webhook_message_received: the `messages` AFTER INSERT row trigger (customer messages only, by
-- its WHEN) that emits `message.received` when the tenant subscribes to it. A trigger because
-- customer messages are inserted by several functions (message_record(), message_ingest_batch())
-- and the rule is one. A row trigger: per message it costs about its probe, webhook_subscribed()
-- (a few µs); the statement trigger over a transition table first written, probing through a
-- SQL-language function, cost ~185 µs per message (BENCHMARKS.md, "Webhooks: what the outbox
-- costs ingest").
-- Data: the message id, `user_id`, channel, kind and text (NULL for a voice note) and its time
-- (`domain::webhook_payload::MessageReceived`).
-- Current definition: migrations/0026_webhook_deliveries.sql.
CREATE OR REPLACE FUNCTION public.webhook_message_received()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_conversation record;
BEGIN
    IF webhook_subscribed(NEW.tenant_id, 'message.received') THEN
        SELECT b.external_id, b.channel INTO v_conversation
          FROM bot_users b WHERE b.tenant_id = NEW.tenant_id AND b.id = NEW.bot_user_id;
        PERFORM webhook_emit(
            NEW.tenant_id, NEW.bot_user_id, 'message.received',
            jsonb_build_object('message_id', NEW.id, 'user_id', v_conversation.external_id,
                               'channel', v_conversation.channel, 'kind', NEW.kind,
                               'text', CASE NEW.kind WHEN 'text' THEN NEW.content END,
                               'created_at', NEW.created_at));
    END IF;
    RETURN NULL;
END
$function$

