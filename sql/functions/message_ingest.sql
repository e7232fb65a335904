-- message_ingest: records one customer message and enqueues its processing in one statement and
-- one short transaction (a 2xx means the message is durable): one round trip instead of six or
-- seven, each of which held the conversation's lock while the request's task waited for a core.
-- Sets the tenant scope (set_config('app.tenant_id', …, true)), then runs conversation_next_seq()
-- (the conversation upsert: allocates `seq`, locks the conversation's row) and message_record()
-- (idempotency check, message, audio or Telegram file id, shared phone, `transcribe` and `turn`
-- jobs). Lock order: the conversation's row, then the turn's `job_keys` row and its pending twin.
-- `p_new_bot_user` is the id a new conversation gets; `p_kind` is 'text' or 'voice'; the audio
-- and Telegram file arguments are NULL unless the message carries them.
-- Returns one row: the message's id, bot user and seq (the earlier message's when `duplicate`),
-- and whether a `transcribe` job and a new `turn` job were enqueued.
-- Called by `db::messages::ingest` (src/db/messages.rs): Telegram updates, voice notes, a chat
-- message that makes a batch alone, and each message of a failed batch (src/db/ingestor.rs).
-- Current definition: migrations/0022_customer_seq.sql.
CREATE OR REPLACE FUNCTION public.message_ingest(p_tenant uuid, p_channel text, p_external_id text, p_new_bot_user uuid, p_message uuid, p_kind text, p_content text, p_idempotency_key text, p_shared_phone text, p_audio bytea, p_audio_mime text, p_audio_file_name text, p_telegram_file_id text, p_telegram_mime text, p_telegram_file_size bigint)
 RETURNS TABLE(message_id uuid, bot_user_id uuid, seq bigint, duplicate boolean, transcribe_job boolean, turn_job boolean)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
    v_conversation record;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    SELECT * INTO v_conversation
      FROM conversation_next_seq(p_tenant, ARRAY[p_channel], ARRAY[p_external_id],
                                 ARRAY[p_new_bot_user]);
    RETURN QUERY SELECT * FROM message_record(
        p_tenant, v_conversation.bot_user_id, v_conversation.seq, v_conversation.created,
        p_message, p_kind, p_content, p_idempotency_key, p_shared_phone,
        p_audio, p_audio_mime, p_audio_file_name,
        p_telegram_file_id, p_telegram_mime, p_telegram_file_size);
END
$function$

