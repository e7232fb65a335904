-- webhook_lead: the lead of a conversation as webhook payloads carry it (`data.lead`), NULL when
-- the conversation has none: the fields of `GET /api/leads/{id}` plus `version` (which a receiver
-- orders updates by). The Rust side is `domain::webhook_payload::WebhookLead`; tests/api/
-- webhook_deliveries.rs reads what this builds with it and against the API's lead.
-- Current definition: migrations/0026_webhook_deliveries.sql.
CREATE OR REPLACE FUNCTION public.webhook_lead(p_tenant uuid, p_bot_user uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
    SELECT jsonb_build_object(
               'id', l.id, 'bot_user_id', l.bot_user_id, 'user_id', b.external_id,
               'name', l.name, 'phone', l.phone, 'city', l.city, 'object_type', l.object_type,
               'area_m2', l.area_m2, 'summary', l.summary, 'status', l.status,
               'loss_reason', l.loss_reason, 'version', l.version, 'created_at', l.created_at,
               'updated_at', l.updated_at)
      FROM leads l
      JOIN bot_users b ON b.tenant_id = l.tenant_id AND b.id = l.bot_user_id
     WHERE l.tenant_id = p_tenant AND l.bot_user_id = p_bot_user
$function$

