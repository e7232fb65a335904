-- message_append: a message of a conversation that is not a customer's (the bot's reply, a
-- manager's answer, a service notice), at the conversation's next seq: the one place such a
-- message gets its seq (a customer's gets it from conversation_next_seq() or
-- message_ingest_batch(), which also create the conversation). Increments `last_seq` and inserts
-- the message (`text`, `answered`); sets the conversation's `language` when `p_language` is not
-- NULL. `p_moves_up` sets `updated_at` (the managers' conversation list is ordered by it): a
-- manager's answer and a service notice move the conversation up; the bot's reply does not, which
-- keeps the turn's update of the row HOT (updated_at is an index key).
-- Locks the conversation's row (the first lock of every writer's order: ingest, turn_commit(), the
-- handoff transitions): callers that lock it earlier keep their order. Needs the tenant scope set
-- (RLS). Returns the seq and the message's `created_at`.
-- Called by turn_commit(), `db::messages::append` (a manager's answer, the handoff timeout's
-- notice) and `db::telegram::updates::record_service_reply`.
-- Current definition: migrations/0021_turn_typed.sql.
CREATE OR REPLACE FUNCTION public.message_append(p_tenant uuid, p_bot_user uuid, p_message uuid, p_role text, p_content text, p_engine text, p_language text, p_moves_up boolean)
 RETURNS TABLE(seq bigint, created_at timestamp with time zone)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH c AS (
        UPDATE bot_users
           SET last_seq = last_seq + 1, language = coalesce(p_language, language),
               updated_at = CASE WHEN p_moves_up THEN now() ELSE updated_at END
         WHERE tenant_id = p_tenant AND id = p_bot_user
        RETURNING last_seq)
    INSERT INTO messages (id, tenant_id, bot_user_id, seq, role, kind, content, status, engine,
                          language)
    SELECT p_message, p_tenant, p_bot_user, c.last_seq, p_role, 'text', p_content, 'answered',
           p_engine, p_language
      FROM c
    RETURNING messages.seq, messages.created_at;
END
$function$

