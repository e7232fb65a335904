-- Recording concurrent customer messages in one statement and one transaction (group commit).
-- Under load most of a message's ingest cost is per statement and per transaction, not per row:
-- pgbench on message_ingest, 8 clients, 2 cores: one call per transaction 3,900-5,000 messages/s, eight
-- calls in one statement ~7,600 messages/s. `serve` gathers the text messages that arrive while
-- earlier batches are committing (src/db/ingestor.rs) and records them with
-- message_ingest_batch(); a request alone still makes a batch of one.
--
-- message_ingest() is split into its two halves so the batch runs exactly the same steps:
-- conversation_next_seq() (the conversation upsert that allocates the seq and takes the
-- conversation's row lock) and message_record() (the idempotency check, the message, the jobs).
--
-- Lock order, so batches never deadlock with each other or with the queue's batched acks:
--   1. every conversation row of the batch, ordered by (tenant, channel, external id);
--   2. then each message's records, ordered by the conversation's job key, the order in which
--      queue_complete() (0014) locks `job_keys`.
-- A batch holds at most one message per conversation (the caller's rule): a duplicate's undo of
-- its seq (or of the conversation it just created) then touches only its own conversation.

CREATE FUNCTION conversation_next_seq(
    p_tenant uuid, p_channel text, p_external_id text, p_new_bot_user uuid,
    OUT bot_user_id uuid, OUT seq bigint, OUT created boolean
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    INSERT INTO bot_users AS b (id, tenant_id, channel, external_id, last_seq)
    VALUES (p_new_bot_user, p_tenant, p_channel, p_external_id, 1)
    ON CONFLICT (tenant_id, channel, external_id)
    -- a customer who writes again has unblocked the bot
    DO UPDATE SET last_seq = b.last_seq + 1, updated_at = now(), blocked_at = NULL
    RETURNING b.id, b.last_seq, b.xmax = 0 INTO bot_user_id, seq, created;
END
$$;

-- The rest of an ingest, after conversation_next_seq() (same transaction, tenant scope set).
CREATE FUNCTION message_record(
    p_tenant uuid, p_bot_user uuid, p_seq bigint, p_created boolean, p_message uuid,
    p_kind text, p_content text, p_idempotency_key text, p_shared_phone text,
    p_audio bytea, p_audio_mime text, p_audio_file_name text,
    p_telegram_file_id text, p_telegram_mime text, p_telegram_file_size bigint
) RETURNS TABLE (message_id uuid, bot_user_id uuid, seq bigint, duplicate boolean,
                 transcribe_job boolean, turn_job boolean)
LANGUAGE plpgsql AS $$
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
            IF p_created THEN
                DELETE FROM bot_users WHERE tenant_id = p_tenant AND id = p_bot_user;
            ELSE
                UPDATE bot_users SET last_seq = last_seq - 1
                 WHERE tenant_id = p_tenant AND id = p_bot_user;
            END IF;
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
$$;

CREATE OR REPLACE FUNCTION message_ingest(
    p_tenant uuid, p_channel text, p_external_id text, p_new_bot_user uuid, p_message uuid,
    p_kind text, p_content text, p_idempotency_key text, p_shared_phone text,
    p_audio bytea, p_audio_mime text, p_audio_file_name text,
    p_telegram_file_id text, p_telegram_mime text, p_telegram_file_size bigint
) RETURNS TABLE (message_id uuid, bot_user_id uuid, seq bigint, duplicate boolean,
                 transcribe_job boolean, turn_job boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_conversation record;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    SELECT * INTO v_conversation
      FROM conversation_next_seq(p_tenant, p_channel, p_external_id, p_new_bot_user);
    RETURN QUERY SELECT * FROM message_record(
        p_tenant, v_conversation.bot_user_id, v_conversation.seq, v_conversation.created,
        p_message, p_kind, p_content, p_idempotency_key, p_shared_phone,
        p_audio, p_audio_mime, p_audio_file_name,
        p_telegram_file_id, p_telegram_mime, p_telegram_file_size);
END
$$;

-- Text messages of any tenants, one per conversation; `item` is the message's index (1-based) in
-- the arrays. Each step runs under its own message's tenant scope.
CREATE FUNCTION message_ingest_batch(
    p_tenant uuid[], p_channel text[], p_external_id text[], p_new_bot_user uuid[],
    p_message uuid[], p_content text[], p_idempotency_key text[], p_shared_phone text[]
) RETURNS TABLE (item integer, message_id uuid, bot_user_id uuid, seq bigint, duplicate boolean,
                 turn_job boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_count     integer := cardinality(p_tenant);
    v_i         integer;
    v_bot_users uuid[] := array_fill(NULL::uuid, ARRAY[v_count]);
    v_seqs      bigint[] := array_fill(NULL::bigint, ARRAY[v_count]);
    v_created   boolean[] := array_fill(NULL::boolean, ARRAY[v_count]);
    v_step      record;
BEGIN
    FOR v_i IN SELECT i FROM generate_subscripts(p_tenant, 1) i
                ORDER BY p_tenant[i], p_channel[i], p_external_id[i] LOOP
        PERFORM set_config('app.tenant_id', p_tenant[v_i]::text, true);
        SELECT * INTO v_step FROM conversation_next_seq(
            p_tenant[v_i], p_channel[v_i], p_external_id[v_i], p_new_bot_user[v_i]);
        v_bot_users[v_i] := v_step.bot_user_id;
        v_seqs[v_i] := v_step.seq;
        v_created[v_i] := v_step.created;
    END LOOP;
    FOR v_i IN SELECT i FROM generate_subscripts(p_tenant, 1) i
                ORDER BY 'conversation:' || v_bot_users[i] LOOP
        PERFORM set_config('app.tenant_id', p_tenant[v_i]::text, true);
        RETURN QUERY SELECT v_i, r.message_id, r.bot_user_id, r.seq, r.duplicate, r.turn_job
          FROM message_record(
              p_tenant[v_i], v_bot_users[v_i], v_seqs[v_i], v_created[v_i], p_message[v_i],
              'text', p_content[v_i], p_idempotency_key[v_i], p_shared_phone[v_i],
              NULL, NULL, NULL, NULL, NULL, NULL) r;
    END LOOP;
END
$$;
