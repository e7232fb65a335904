-- Recording a customer message in one round trip instead of six or seven (BEGIN, the tenant scope,
-- the conversation upsert, the idempotency check, the insert, the enqueues, COMMIT). Each of them
-- held the conversation's row lock while the request's task waited for its turn on a busy core; the
-- end-to-end benchmark's ingest was bound by it.
--
-- In one transaction:
--   - the conversation upsert allocates the message's `seq` and holds the conversation's row lock
--     until commit, so concurrent messages of one conversation get gap-free seqs in commit order;
--   - a retry with the same idempotency key (checked after that lock) finds the first request's
--     message: the seq just taken is given back (or the conversation just created removed) and
--     nothing is stored;
--   - the message, its audio (an upload) or its Telegram file id, a phone shared through the channel;
--   - `transcribe` for a voice note (it runs ahead of the conversation), and the conversation's
--     `turn`: one pending per conversation (dedup); with the tenant's burst coalescing, the pending
--     turn waits for this message's quiet period too. The jobs are built as src/db/messages.rs
--     documents them.
CREATE FUNCTION message_ingest(
    p_tenant uuid, p_channel text, p_external_id text, p_new_bot_user uuid, p_message uuid,
    p_kind text, p_content text, p_idempotency_key text, p_shared_phone text,
    p_audio bytea, p_audio_mime text, p_audio_file_name text,
    p_telegram_file_id text, p_telegram_mime text, p_telegram_file_size bigint
) RETURNS TABLE (message_id uuid, bot_user_id uuid, seq bigint, duplicate boolean,
                 transcribe_job boolean, turn_job boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_bot_user  uuid;
    v_seq       bigint;
    v_created   boolean;
    v_coalesce  integer;
    v_earlier   record;
    v_run_at    timestamptz;
    v_turn      record;
    v_key       text;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    INSERT INTO bot_users AS b (id, tenant_id, channel, external_id, last_seq)
    VALUES (p_new_bot_user, p_tenant, p_channel, p_external_id, 1)
    ON CONFLICT (tenant_id, channel, external_id)
    -- a customer who writes again has unblocked the bot
    DO UPDATE SET last_seq = b.last_seq + 1, updated_at = now(), blocked_at = NULL
    RETURNING b.id, b.last_seq, b.xmax = 0 INTO v_bot_user, v_seq, v_created;

    IF p_idempotency_key IS NOT NULL THEN
        SELECT m.id, m.bot_user_id, m.seq INTO v_earlier FROM messages m
         WHERE m.tenant_id = p_tenant AND m.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            IF v_created THEN
                DELETE FROM bot_users WHERE tenant_id = p_tenant AND id = v_bot_user;
            ELSE
                UPDATE bot_users SET last_seq = last_seq - 1
                 WHERE tenant_id = p_tenant AND id = v_bot_user;
            END IF;
            RETURN QUERY SELECT v_earlier.id, v_earlier.bot_user_id, v_earlier.seq, true, false, false;
            RETURN;
        END IF;
    END IF;

    INSERT INTO messages (id, tenant_id, bot_user_id, seq, role, kind, content, transcript_status,
                          idempotency_key, status)
    VALUES (p_message, p_tenant, v_bot_user, v_seq, 'user', p_kind, p_content,
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
        UPDATE bot_users SET phone = p_shared_phone WHERE tenant_id = p_tenant AND id = v_bot_user;
    END IF;
    IF p_kind = 'voice' THEN
        PERFORM queue_enqueue(
            'transcribe', NULL, p_tenant,
            jsonb_build_object('tenant_id', p_tenant, 'message_id', p_message,
                               'bot_user_id', v_bot_user),
            NULL, 0::smallint, 5, NULL);
    END IF;

    SELECT t.coalesce_ms INTO v_coalesce FROM tenants t WHERE t.id = p_tenant;
    v_run_at := CASE WHEN v_coalesce > 0
                     THEN now() + make_interval(secs => v_coalesce / 1000.0) END;
    v_key := 'conversation:' || v_bot_user;
    SELECT e.job_id, e.inserted INTO v_turn
      FROM queue_enqueue('turn', v_key, p_tenant,
                         jsonb_build_object('tenant_id', p_tenant, 'bot_user_id', v_bot_user),
                         v_run_at, 0::smallint, 5, v_key) e;
    IF NOT v_turn.inserted AND v_coalesce > 0 THEN
        -- A burst: the pending turn waits for this message's quiet period too.
        UPDATE jobs SET run_at = v_run_at
         WHERE id = v_turn.job_id AND state IN ('available', 'blocked');
    END IF;
    RETURN QUERY SELECT p_message, v_bot_user, v_seq, false, p_kind = 'voice', v_turn.inserted;
END
$$;
