-- A customer's message gets its seq in one place: conversation_next_seq(), now set-based, is the
-- conversation upsert of both message_ingest() (one element) and message_ingest_batch() (a
-- tenant's share of the batch), which carried its own copy of the upsert ("keep the two in
-- step"). The duplicate's give-back (remove the conversation just opened, or return the seq) is
-- conversation_give_back_seq(), for the same reason. Messages that are not a customer's get theirs
-- from message_append() (0021). Same statements, same lock order: the batch's rows of one tenant
-- are still upserted by one statement in (channel, external id) order.
--
-- The current definitions, with their contracts, are sql/functions/<name>.sql.

DROP FUNCTION conversation_next_seq(uuid, text, text, uuid);

-- conversation_next_seq: the seqs of customers' messages, and the conversations they open. Upserts
-- the conversations (`bot_users` by tenant, channel, external id) of one tenant, one per element
-- of the arrays (distinct (channel, external id) pairs: a statement cannot touch a row twice): a
-- new one gets the id `p_new_bot_user[i]` and seq 1; an existing one gets `last_seq + 1`,
-- `updated_at = now()` and `blocked_at` cleared (a customer who writes again has unblocked the
-- bot). Rows are upserted in (channel, external id) order, the first of ingest's lock order
-- (turn_commit() and the handoff transitions take the same row first too); the locks last until
-- the caller commits, so concurrent messages of one conversation get gap-free seqs in commit order.
-- Returns one row per element: `item` (its 1-based index), the conversation's id, the seq and
-- whether the row was created (a duplicate then gives the seq back: conversation_give_back_seq()).
-- Needs the tenant scope set (RLS). Called by message_ingest() (one element) and
-- message_ingest_batch() (a tenant's share of a batch); not from Rust. A message that is not a
-- customer's gets its seq from message_append().
-- Current definition: migrations/0022_customer_seq.sql.
CREATE FUNCTION public.conversation_next_seq(p_tenant uuid, p_channel text[], p_external_id text[], p_new_bot_user uuid[])
 RETURNS TABLE(item integer, bot_user_id uuid, seq bigint, created boolean)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH u AS (SELECT i, p_channel[i] AS channel, p_external_id[i] AS external_id,
                      p_new_bot_user[i] AS new_id
                 FROM generate_subscripts(p_channel, 1) AS i),
         c AS (INSERT INTO bot_users AS b (id, tenant_id, channel, external_id, last_seq)
               SELECT u.new_id, p_tenant, u.channel, u.external_id, 1
                 FROM u ORDER BY u.channel, u.external_id
               ON CONFLICT (tenant_id, channel, external_id)
               -- a customer who writes again has unblocked the bot
               DO UPDATE SET last_seq = b.last_seq + 1, updated_at = now(), blocked_at = NULL
               RETURNING b.id, b.channel, b.external_id, b.last_seq, b.xmax = 0 AS created)
    SELECT u.i, c.id, c.last_seq, c.created
      FROM c JOIN u ON u.channel = c.channel AND u.external_id = c.external_id;
END
$function$;

-- conversation_give_back_seq: undoes conversation_next_seq() for a message that turned out to be a
-- duplicate (its idempotency key names an earlier message): the conversation it created is
-- removed, or the seq it allocated given back, so seqs stay gap-free. Runs under the
-- conversation's lock that conversation_next_seq() took, in the same transaction; needs the
-- tenant scope. Called by message_record() and message_ingest_batch(); not from Rust.
-- Current definition: migrations/0022_customer_seq.sql.
CREATE FUNCTION public.conversation_give_back_seq(p_tenant uuid, p_bot_user uuid, p_created boolean)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF p_created THEN
        DELETE FROM bot_users WHERE tenant_id = p_tenant AND id = p_bot_user;
    ELSE
        UPDATE bot_users SET last_seq = last_seq - 1 WHERE tenant_id = p_tenant AND id = p_bot_user;
    END IF;
END
$function$;

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
$function$;


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
$function$;


-- message_ingest_batch: records a batch of chat text messages (group commit) in one statement and
-- one transaction, set-based: per tenant one conversation upsert, one idempotency lookup (only when
-- a message has a key) and one message insert, then one queue_enqueue_deduped() for all the turns.
-- Message i is the i-th element of every array, at most one per conversation (the caller's rule).
-- Each tenant's statements run under its scope (set_config('app.tenant_id', …, true)).
-- Lock order: every conversation row, by (tenant, channel, external id); then the turns'
-- `job_keys` rows in key order (the order the ack locks them in) and their pending twins.
-- A duplicate (an idempotency key naming an earlier message) gives its seq back, or removes the
-- conversation it just created, and stores nothing. With the tenant's burst coalescing the turn,
-- new or already pending, runs at the end of this message's quiet period.
-- Returns one row per message, not in input order: `item` (its 1-based index), the message id, bot
-- user and seq (the earlier message's for a duplicate), `duplicate`, and whether a new turn was
-- inserted. Called by `db::ingestor` (src/db/ingestor.rs) for batches of two or more; a batch
-- that fails is recorded one message at a time through message_ingest().
-- Current definition: migrations/0022_customer_seq.sql.
CREATE OR REPLACE FUNCTION public.message_ingest_batch(p_tenant uuid[], p_channel text[], p_external_id text[], p_new_bot_user uuid[], p_message uuid[], p_content text[], p_idempotency_key text[], p_shared_phone text[])
 RETURNS TABLE(item integer, message_id uuid, bot_user_id uuid, seq bigint, duplicate boolean, turn_job boolean)
 LANGUAGE plpgsql
 SET enable_seqscan TO 'off'
 SET enable_bitmapscan TO 'off'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
    v_count     integer := cardinality(p_tenant);
    v_tenants   uuid[] := ARRAY(SELECT DISTINCT t FROM unnest(p_tenant) AS t ORDER BY t);
    v_tenant    uuid;
    v_i         integer;
    v_row       record;
    v_bot_users uuid[] := array_fill(NULL::uuid, ARRAY[v_count]);
    v_seqs      bigint[] := array_fill(NULL::bigint, ARRAY[v_count]);
    v_created   boolean[] := array_fill(NULL::boolean, ARRAY[v_count]);
    v_run_ats   timestamptz[] := array_fill(NULL::timestamptz, ARRAY[v_count]);
    v_items     integer[];
    -- the items recorded (not duplicates), of every tenant
    v_recorded  integer[] := '{}';
    v_coalesce  integer;
    v_run_at    timestamptz;
    v_keys      text[];
    v_job_ids   bigint[];
    v_inserted  boolean[];
BEGIN
    -- 1. The conversations: each tenant's rows upserted in (channel, external id) order.
    FOREACH v_tenant IN ARRAY v_tenants LOOP
        PERFORM set_config('app.tenant_id', v_tenant::text, true);
        v_items := ARRAY(SELECT i FROM generate_subscripts(p_tenant, 1) AS i
                          WHERE p_tenant[i] = v_tenant ORDER BY i);
        FOR v_row IN
            SELECT v_items[c.item] AS i, c.bot_user_id, c.seq, c.created
              FROM conversation_next_seq(v_tenant,
                                         ARRAY(SELECT p_channel[i] FROM unnest(v_items) AS i),
                                         ARRAY(SELECT p_external_id[i] FROM unnest(v_items) AS i),
                                         ARRAY(SELECT p_new_bot_user[i] FROM unnest(v_items) AS i)) c
        LOOP
            v_bot_users[v_row.i] := v_row.bot_user_id;
            v_seqs[v_row.i] := v_row.seq;
            v_created[v_row.i] := v_row.created;
        END LOOP;
    END LOOP;

    -- 2. and 3. Duplicates and messages, per tenant.
    FOREACH v_tenant IN ARRAY v_tenants LOOP
        PERFORM set_config('app.tenant_id', v_tenant::text, true);
        v_items := ARRAY(SELECT i FROM generate_subscripts(p_tenant, 1) AS i
                          WHERE p_tenant[i] = v_tenant ORDER BY i);
        IF EXISTS (SELECT 1 FROM unnest(v_items) AS i WHERE p_idempotency_key[i] IS NOT NULL) THEN
            FOR v_row IN SELECT i, m.id, m.bot_user_id, m.seq
                           FROM unnest(v_items) AS i
                           JOIN messages m ON m.tenant_id = v_tenant
                                          AND m.idempotency_key = p_idempotency_key[i] LOOP
                PERFORM conversation_give_back_seq(v_tenant, v_bot_users[v_row.i],
                                                   v_created[v_row.i]);
                v_items := array_remove(v_items, v_row.i);
                RETURN QUERY SELECT v_row.i, v_row.id, v_row.bot_user_id, v_row.seq, true, false;
            END LOOP;
        END IF;
        CONTINUE WHEN cardinality(v_items) = 0;
        INSERT INTO messages (id, tenant_id, bot_user_id, seq, role, kind, content,
                              idempotency_key, status)
        SELECT p_message[i], v_tenant, v_bot_users[i], v_seqs[i], 'user', 'text', p_content[i],
               p_idempotency_key[i], 'queued'
          FROM unnest(v_items) AS i;
        IF EXISTS (SELECT 1 FROM unnest(v_items) AS i WHERE p_shared_phone[i] IS NOT NULL) THEN
            UPDATE bot_users b SET phone = p_shared_phone[i]
              FROM unnest(v_items) AS i
             WHERE p_shared_phone[i] IS NOT NULL AND b.tenant_id = v_tenant
               AND b.id = v_bot_users[i];
        END IF;
        SELECT t.coalesce_ms INTO v_coalesce FROM tenants t WHERE t.id = v_tenant;
        IF v_coalesce > 0 THEN
            -- burst coalescing: the turn waits for this message's quiet period
            v_run_at := now() + make_interval(secs => v_coalesce / 1000.0);
            FOREACH v_i IN ARRAY v_items LOOP
                v_run_ats[v_i] := v_run_at;
            END LOOP;
        END IF;
        v_recorded := v_recorded || v_items;
    END LOOP;
    IF cardinality(v_recorded) = 0 THEN
        RETURN;
    END IF;

    -- 4. The turns: one pending per conversation, job keys in key order.
    v_recorded := ARRAY(SELECT i FROM unnest(v_recorded) AS i
                         ORDER BY 'conversation:' || v_bot_users[i]);
    SELECT array_agg(e.key), array_agg(e.job_id), array_agg(e.inserted)
      INTO v_keys, v_job_ids, v_inserted
      FROM queue_enqueue_deduped(
               'turn',
               ARRAY(SELECT 'conversation:' || v_bot_users[i] FROM unnest(v_recorded) AS i),
               ARRAY(SELECT p_tenant[i] FROM unnest(v_recorded) AS i),
               ARRAY(SELECT jsonb_build_object('tenant_id', p_tenant[i],
                                               'bot_user_id', v_bot_users[i])
                       FROM unnest(v_recorded) AS i),
               ARRAY(SELECT v_run_ats[i] FROM unnest(v_recorded) AS i),
               0::smallint, 5) AS e;
    IF cardinality(array_remove(v_run_ats, NULL)) > 0 THEN
        -- A burst: a turn that was already pending waits for this message's quiet period too.
        UPDATE jobs j SET run_at = v_run_ats[i]
          FROM unnest(v_recorded) AS i, unnest(v_keys, v_job_ids, v_inserted) AS e(key, id, inserted)
         WHERE e.key = 'conversation:' || v_bot_users[i] AND NOT e.inserted
           AND v_run_ats[i] IS NOT NULL
           AND j.id = e.id AND j.state IN ('available', 'blocked');
    END IF;
    RETURN QUERY
    SELECT i, p_message[i], v_bot_users[i], v_seqs[i], false, e.inserted
      FROM unnest(v_recorded) AS i
      JOIN unnest(v_keys, v_inserted) AS e(key, inserted) ON e.key = 'conversation:' || v_bot_users[i];
END
$function$;


