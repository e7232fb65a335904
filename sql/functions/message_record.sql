-- message_record: the second half of a customer message's ingest, after conversation_next_seq()
-- in the same transaction with the tenant scope set (`p_bot_user`, `p_seq`, `p_created` are its
-- results). An idempotency key naming an earlier message of the tenant gives the seq back, or
-- deletes the conversation just created (conversation_give_back_seq()), and returns that message
-- with `duplicate` true, storing nothing. Else it inserts the message (a voice note 'transcribing', transcript pending), its
-- audio or Telegram file id, the phone shared through the channel (on the conversation), a
-- `transcribe` job for a voice note (no key), and the conversation's `turn` through
-- queue_enqueue() (key and dedup key 'conversation:<bot user>'), due after the tenant's
-- `coalesce_ms`; a pending turn it deduplicates against is moved to that time too. Both jobs are
-- the contract's `jobs::Transcribe` and `jobs::Turn` (src/jobs.rs; tests/api/jobs.rs checks).
-- Locks: the conversation's row is already held; then the turn's `job_keys` row and its pending
-- twin. Returns one row, as message_ingest() does. Called only by message_ingest(); not from Rust.
-- Current definition: migrations/0022_customer_seq.sql.
CREATE OR REPLACE FUNCTION public.message_record(p_tenant uuid, p_bot_user uuid, p_seq bigint, p_created boolean, p_message uuid, p_kind text, p_content text, p_idempotency_key text, p_shared_phone text, p_audio bytea, p_audio_mime text, p_audio_file_name text, p_telegram_file_id text, p_telegram_mime text, p_telegram_file_size bigint)
 RETURNS TABLE(message_id uuid, bot_user_id uuid, seq bigint, duplicate boolean, transcribe_job boolean, turn_job boolean)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
    v_coalesce  integer;
    v_earlier   record;
    v_run_at    timestamptz;
    v_turn      record;
    v_key       text;
BEGIN
    IF p_idempotency_key IS NOT NULL THEN
        SELECT m.id, m.bot_user_id, m.seq INTO v_earlier FROM messages m
         WHERE m.tenant_id = p_tenant AND m.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            PERFORM conversation_give_back_seq(p_tenant, p_bot_user, p_created);
            RETURN QUERY SELECT v_earlier.id, v_earlier.bot_user_id, v_earlier.seq, true, false, false;
            RETURN;
        END IF;
    END IF;

    INSERT INTO messages (id, tenant_id, bot_user_id, seq, role, kind, content, transcript_status,
                          idempotency_key, status)
    VALUES (p_message, p_tenant, p_bot_user, p_seq, 'user', p_kind, p_content,
            CASE WHEN p_kind = 'voice' THEN 'pending' END, p_idempotency_key,
            CASE WHEN p_kind = 'voice' THEN 'transcribing' ELSE 'queued' END);
    IF p_audio IS NOT NULL THEN
        INSERT INTO message_audio (tenant_id, message_id, content, mime, file_name)
        VALUES (p_tenant, p_message, p_audio, p_audio_mime, p_audio_file_name);
    END IF;
    IF p_telegram_file_id IS NOT NULL THEN
        INSERT INTO telegram_files (tenant_id, message_id, file_id, mime, file_size)
        VALUES (p_tenant, p_message, p_telegram_file_id, p_telegram_mime, p_telegram_file_size);
    END IF;
    IF p_shared_phone IS NOT NULL THEN
        UPDATE bot_users SET phone = p_shared_phone WHERE tenant_id = p_tenant AND id = p_bot_user;
    END IF;
    IF p_kind = 'voice' THEN
        PERFORM queue_enqueue(
            'transcribe', NULL, p_tenant,
            jsonb_build_object('tenant_id', p_tenant, 'message_id', p_message,
                               'bot_user_id', p_bot_user),
            NULL, 0::smallint, 5, NULL);
    END IF;

    SELECT t.coalesce_ms INTO v_coalesce FROM tenants t WHERE t.id = p_tenant;
    v_run_at := CASE WHEN v_coalesce > 0
                     THEN now() + make_interval(secs => v_coalesce / 1000.0) END;
    v_key := 'conversation:' || p_bot_user;
    SELECT e.job_id, e.inserted INTO v_turn
      FROM queue_enqueue('turn', v_key, p_tenant,
                         jsonb_build_object('tenant_id', p_tenant, 'bot_user_id', p_bot_user),
                         v_run_at, 0::smallint, 5, v_key) e;
    IF NOT v_turn.inserted AND v_coalesce > 0 THEN
        -- A burst: the pending turn waits for this message's quiet period too.
        UPDATE jobs SET run_at = v_run_at
         WHERE id = v_turn.job_id AND state IN ('available', 'blocked');
    END IF;
    RETURN QUERY SELECT p_message, p_bot_user, p_seq, false, p_kind = 'voice', v_turn.inserted;
END
$function$

