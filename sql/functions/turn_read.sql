-- turn_read: everything a `turn` reads before calling the engine, in one statement (one round trip
-- instead of eleven: under load each round trip waited for a busy worker). Scopes itself to the
-- tenant (set_config('app.tenant_id', …, true)) and runs with synchronous_commit off (it writes
-- only the advisory `processing` mark). Returns NULL when the conversation has no unanswered
-- customer message; else jsonb with `pending` (those messages, seq order), `earlier` (the
-- `p_history` messages before the first of them, seq order), `lead`, `language`, `mode`,
-- `telegram_chat` (a Telegram conversation the customer has not blocked), `company_name`,
-- `about`, `greeting` and `company_phone`. Marks the pending `queued` messages `processing`,
-- unless a manager has the conversation or one still waits for its transcript; those rows are its
-- only locks (no conversation lock: a conversation's turns are serialised by their job key).
-- Called by `read` in workers/pipeline/turn.rs (`p_history` = ENGINE_HISTORY for a turn, 0 for a
-- dead turn's fallback reply).
-- Current definition: migrations/0011_turn_commit.sql.
CREATE OR REPLACE FUNCTION public.turn_read(p_tenant uuid, p_bot_user uuid, p_history integer)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_pending   jsonb;
    v_ids       uuid[];
    v_first_seq bigint;
    v_result    jsonb;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    -- Only the advisory `processing` mark is written here: no need to wait for a WAL flush.
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT jsonb_agg(jsonb_build_object(
               'id', m.id, 'kind', m.kind, 'content', m.content, 'transcript', m.transcript,
               'transcript_status', m.transcript_status, 'created_at', m.created_at)
               ORDER BY m.seq),
           array_agg(m.id),
           min(m.seq)
      INTO v_pending, v_ids, v_first_seq
      FROM messages m
     WHERE m.tenant_id = p_tenant AND m.bot_user_id = p_bot_user AND m.role = 'user'
       AND m.reply_id IS NULL;
    IF v_pending IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT jsonb_build_object(
               'pending', v_pending,
               'earlier', coalesce((
                   SELECT jsonb_agg(jsonb_build_object(
                              'role', e.role, 'kind', e.kind, 'content', e.content,
                              'transcript', e.transcript) ORDER BY e.seq)
                     FROM (SELECT role, kind, content, transcript, seq FROM messages
                            WHERE tenant_id = p_tenant AND bot_user_id = p_bot_user
                              AND seq < v_first_seq
                            ORDER BY seq DESC LIMIT p_history) e), '[]'::jsonb),
               'lead', (SELECT jsonb_build_object(
                               'name', l.name, 'phone', l.phone, 'city', l.city,
                               'object_type', l.object_type, 'area_m2', l.area_m2,
                               'summary', l.summary)
                          FROM leads l WHERE l.tenant_id = p_tenant AND l.bot_user_id = p_bot_user),
               'language', b.language,
               -- 'human': a manager has the conversation, the bot must stay silent
               'mode', b.mode,
               -- where "typing…" and the reply go, for a Telegram customer who has not blocked us
               'telegram_chat', CASE WHEN b.channel = 'telegram' AND b.blocked_at IS NULL
                                     THEN b.external_id END,
               'company_name', t.name,
               'about', t.about,
               'greeting', t.greeting,
               'company_phone', t.company_phone)
      INTO v_result
      FROM bot_users b JOIN tenants t ON t.id = b.tenant_id
     WHERE b.tenant_id = p_tenant AND b.id = p_bot_user;
    IF v_result->>'mode' = 'bot'
       AND NOT jsonb_path_exists(v_pending, '$[*] ? (@.transcript_status == "pending")') THEN
        UPDATE messages SET status = 'processing'
         WHERE tenant_id = p_tenant AND bot_user_id = p_bot_user AND role = 'user'
           AND reply_id IS NULL AND id = ANY (v_ids) AND status = 'queued';
    END IF;
    RETURN v_result;
END
$function$

