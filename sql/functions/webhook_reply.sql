-- webhook_reply: the `data` of `reply.created` for a stored reply (the bot's or a manager's):
-- the reply's id, text, author (`bot`, `manager`) and time, the conversation's `user_id` and
-- channel, `in_reply_to` (the customer messages it answered, in order) and the lead
-- (webhook_lead()). Read after the reply's transaction marked what it answered. The Rust side is
-- `domain::webhook_payload::ReplyCreated`.
-- Current definition: migrations/0026_webhook_deliveries.sql.
CREATE OR REPLACE FUNCTION public.webhook_reply(p_tenant uuid, p_bot_user uuid, p_message uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
    SELECT jsonb_build_object(
               'message_id', m.id, 'user_id', b.external_id, 'channel', b.channel,
               'author', CASE m.role WHEN 'manager' THEN 'manager' ELSE 'bot' END,
               'text', m.content,
               'in_reply_to', coalesce((SELECT jsonb_agg(u.id ORDER BY u.seq)
                                          FROM messages u
                                         WHERE u.tenant_id = p_tenant
                                           AND u.bot_user_id = p_bot_user
                                           AND u.role = 'user' AND u.reply_id = p_message),
                                       '[]'::jsonb),
               'created_at', m.created_at,
               'lead', webhook_lead(p_tenant, p_bot_user))
      FROM messages m
      JOIN bot_users b ON b.tenant_id = m.tenant_id AND b.id = m.bot_user_id
     WHERE m.tenant_id = p_tenant AND m.bot_user_id = p_bot_user AND m.id = p_message
$function$

