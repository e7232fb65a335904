--
-- PostgreSQL database dump
--

--
-- Name: job_state; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.job_state AS ENUM (
    'available',
    'running',
    'blocked',
    'dead'
);

--
-- Name: price_item; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.price_item AS (
	object_type text,
	min_per_m2 integer,
	max_per_m2 integer,
	conditions text
);

--
-- Name: turn_message; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.turn_message AS (
	id uuid,
	role text,
	kind text,
	content text,
	transcript text,
	transcript_status text,
	created_at timestamp with time zone
);

--
-- Name: account_changed(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.account_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('salesbot_accounts',
                      CASE WHEN TG_TABLE_NAME = 'users' THEN OLD.id::text ELSE '*' END);
    RETURN NULL;
END
$$;

--
-- Name: app_current_tenant(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.app_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

--
-- Name: conversation_give_back_seq(uuid, uuid, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.conversation_give_back_seq(p_tenant uuid, p_bot_user uuid, p_created boolean) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF p_created THEN
        DELETE FROM bot_users WHERE tenant_id = p_tenant AND id = p_bot_user;
    ELSE
        UPDATE bot_users SET last_seq = last_seq - 1 WHERE tenant_id = p_tenant AND id = p_bot_user;
    END IF;
END
$$;

--
-- Name: conversation_next_seq(uuid, text[], text[], uuid[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.conversation_next_seq(p_tenant uuid, p_channel text[], p_external_id text[], p_new_bot_user uuid[]) RETURNS TABLE(item integer, bot_user_id uuid, seq bigint, created boolean)
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_column
BEGIN
    -- One message (every message_ingest() call): the upsert without the set-based statement's
    -- CTEs and join, which cost more than the row (BENCHMARKS.md, "[L] before and after").
    -- The same upsert as below, row for row.
    IF cardinality(p_channel) = 1 THEN
        item := 1;
        INSERT INTO bot_users AS b (id, tenant_id, channel, external_id, last_seq)
        VALUES (p_new_bot_user[1], p_tenant, p_channel[1], p_external_id[1], 1)
        ON CONFLICT (tenant_id, channel, external_id)
        -- a customer who writes again has unblocked the bot
        DO UPDATE SET last_seq = b.last_seq + 1, updated_at = now(), blocked_at = NULL
        RETURNING b.id, b.last_seq, b.xmax = 0 INTO bot_user_id, seq, created;
        RETURN NEXT;
        RETURN;
    END IF;
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
$$;

--
-- Name: crm_sync_enqueue(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.crm_sync_enqueue() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM 1 FROM amocrm_settings s
     WHERE s.tenant_id = NEW.tenant_id AND s.unauthorized_at IS NULL;
    IF FOUND THEN
        PERFORM queue_enqueue(
            'crm_sync', 'crm:' || NEW.id, NEW.tenant_id,
            jsonb_build_object('tenant_id', NEW.tenant_id, 'lead_id', NEW.id),
            NULL, 0::smallint, 10, 'crm:' || NEW.id);
    END IF;
    RETURN NULL;
END
$$;

--
-- Name: llm_acquire_many(uuid[], bigint[], text, integer, bigint, bigint, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.llm_acquire_many(p_tenants uuid[], p_tokens bigint[], p_limiter text, p_max_requests integer, p_max_tokens bigint, p_window_ms bigint, p_at timestamp with time zone) RETURNS TABLE(ord integer, slot bigint, wait_seconds double precision, budget_spent boolean)
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_column
DECLARE
    v_slot_ms  bigint := greatest(p_window_ms / 60, 1);
    v_now_ms   bigint := floor(extract(epoch FROM coalesce(p_at, clock_timestamp())) * 1000);
    v_slot     bigint;
    v_first    bigint;
    v_requests bigint;
    v_tokens   bigint;
    v_oldest   bigint;
    v_spent    boolean[];
    v_granted  integer := 0;
    v_granted_tokens bigint := 0;
BEGIN
    v_slot := v_now_ms / v_slot_ms;
    v_first := v_slot - 65;  -- 66 slots: the window plus 10 % (see 0007 and a3530a7)
    -- Budgets are read before the lock: the lock is held only for the count and the take.
    SELECT array_agg(t IS NOT NULL AND llm_budget_spent(t) ORDER BY i) INTO v_spent
      FROM unnest(p_tenants) WITH ORDINALITY AS u(t, i);
    -- Grants are short-lived bookkeeping: see rate_limit_acquire in 0007.
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(hashtextextended('rate_limit:' || p_limiter, 0));
    SELECT coalesce(sum(s.requests), 0), coalesce(sum(s.tokens), 0), min(s.slot)
      INTO v_requests, v_tokens, v_oldest
      FROM rate_limit_slots s WHERE s.limiter = p_limiter AND s.slot >= v_first;
    FOR i IN 1 .. coalesce(array_length(p_tokens, 1), 0) LOOP
        ord := i;
        budget_spent := v_spent[i];
        slot := NULL;
        wait_seconds := NULL;
        IF NOT budget_spent THEN
            -- A call larger than the whole token budget is let through alone rather than never.
            IF v_requests < p_max_requests
               AND (p_max_tokens <= 0 OR v_tokens + p_tokens[i] <= p_max_tokens
                    OR v_requests = 0) THEN
                v_requests := v_requests + 1;
                v_tokens := v_tokens + p_tokens[i];
                v_granted := v_granted + 1;
                v_granted_tokens := v_granted_tokens + p_tokens[i];
                slot := v_slot;
                wait_seconds := 0;
            ELSE
                -- Full: wait until the oldest slot still counted leaves the window.
                wait_seconds := greatest((coalesce(v_oldest, v_slot) + 66) * v_slot_ms - v_now_ms,
                                         1)::double precision / 1000;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF v_granted > 0 THEN
        INSERT INTO rate_limit_slots AS s (limiter, slot, requests, tokens)
        VALUES (p_limiter, v_slot, v_granted, v_granted_tokens)
        ON CONFLICT ON CONSTRAINT rate_limit_slots_pkey DO UPDATE
            SET requests = s.requests + excluded.requests, tokens = s.tokens + excluded.tokens;
        DELETE FROM rate_limit_slots s WHERE s.limiter = p_limiter AND s.slot < v_first;
    END IF;
END
$$;

--
-- Name: llm_budget_spent(uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.llm_budget_spent(p_tenant uuid) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_budget numeric;
    v_spent  numeric;
BEGIN
    SELECT monthly_budget_usd INTO v_budget FROM tenants WHERE id = p_tenant;
    IF v_budget IS NULL THEN
        RETURN false;
    END IF;
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    SELECT coalesce(sum(cost_usd), 0) INTO v_spent FROM llm_usage
     WHERE tenant_id = p_tenant
       AND day >= date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    RETURN v_spent >= v_budget;
END
$$;

--
-- Name: llm_quota_exhausted(uuid, uuid, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.llm_quota_exhausted(p_tenant uuid, p_event uuid, p_message text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    UPDATE tenants SET llm_quota_exhausted_at = now()
     WHERE id = p_tenant AND llm_quota_exhausted_at IS NULL;
    IF FOUND THEN
        INSERT INTO tenant_events (id, tenant_id, kind, detail)
        VALUES (p_event, p_tenant, 'llm_quota_exhausted', jsonb_build_object('message', p_message));
    END IF;
END
$$;

--
-- Name: llm_settle_many(text, uuid[], bigint[], bigint[], text[], bigint[], bigint[], double precision[], numeric[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.llm_settle_many(p_limiter text, p_tenants uuid[], p_slots bigint[], p_estimated bigint[], p_models text[], p_prompt bigint[], p_completion bigint[], p_audio double precision[], p_cost numeric[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    r record;
BEGIN
    -- As in 0007: bookkeeping whose last moments a database crash may forget, never worth a WAL
    -- flush under these row locks.
    PERFORM set_config('synchronous_commit', 'off', true);
    FOR r IN SELECT u.slot, sum(u.prompt + u.completion - u.estimated) AS delta
               FROM unnest(p_slots, p_estimated, p_prompt, p_completion)
                    AS u(slot, estimated, prompt, completion)
              GROUP BY u.slot ORDER BY u.slot
    LOOP
        UPDATE rate_limit_slots SET tokens = greatest(tokens + r.delta, 0)
         WHERE limiter = p_limiter AND slot = r.slot;
    END LOOP;
    FOR r IN SELECT u.tenant, u.model, count(*)::integer AS calls, sum(u.prompt) AS prompt,
                    sum(u.completion) AS completion, sum(u.audio) AS audio, sum(u.cost) AS cost
               FROM unnest(p_tenants, p_models, p_prompt, p_completion, p_audio, p_cost)
                    AS u(tenant, model, prompt, completion, audio, cost)
              WHERE u.tenant IS NOT NULL
              GROUP BY u.tenant, u.model ORDER BY u.tenant, u.model
    LOOP
        PERFORM set_config('app.tenant_id', r.tenant::text, true);
        INSERT INTO llm_usage AS u (tenant_id, day, model, calls, prompt_tokens, completion_tokens,
                                    audio_seconds, cost_usd)
        VALUES (r.tenant, (now() AT TIME ZONE 'UTC')::date, r.model, r.calls, r.prompt,
                r.completion, r.audio, r.cost)
        ON CONFLICT (tenant_id, day, model) DO UPDATE
            SET calls = u.calls + excluded.calls,
                prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
                completion_tokens = u.completion_tokens + excluded.completion_tokens,
                audio_seconds = u.audio_seconds + excluded.audio_seconds,
                cost_usd = u.cost_usd + excluded.cost_usd;
        -- A call succeeded: the billing flag clears.
        UPDATE tenants SET llm_quota_exhausted_at = NULL
         WHERE id = r.tenant AND llm_quota_exhausted_at IS NOT NULL;
    END LOOP;
END
$$;

--
-- Name: message_append(uuid, uuid, uuid, text, text, text, text, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.message_append(p_tenant uuid, p_bot_user uuid, p_message uuid, p_role text, p_content text, p_engine text, p_language text, p_moves_up boolean) RETURNS TABLE(seq bigint, created_at timestamp with time zone)
    LANGUAGE plpgsql
    AS $$
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
$$;

--
-- Name: message_ingest(uuid, text, text, uuid, uuid, text, text, text, text, bytea, text, text, text, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.message_ingest(p_tenant uuid, p_channel text, p_external_id text, p_new_bot_user uuid, p_message uuid, p_kind text, p_content text, p_idempotency_key text, p_shared_phone text, p_audio bytea, p_audio_mime text, p_audio_file_name text, p_telegram_file_id text, p_telegram_mime text, p_telegram_file_size bigint) RETURNS TABLE(message_id uuid, bot_user_id uuid, seq bigint, duplicate boolean, transcribe_job boolean, turn_job boolean)
    LANGUAGE plpgsql
    AS $$
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
$$;

--
-- Name: message_ingest_batch(uuid[], text[], text[], uuid[], uuid[], text[], text[], text[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.message_ingest_batch(p_tenant uuid[], p_channel text[], p_external_id text[], p_new_bot_user uuid[], p_message uuid[], p_content text[], p_idempotency_key text[], p_shared_phone text[]) RETURNS TABLE(item integer, message_id uuid, bot_user_id uuid, seq bigint, duplicate boolean, turn_job boolean)
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    SET enable_bitmapscan TO 'off'
    SET enable_hashjoin TO 'off'
    SET enable_mergejoin TO 'off'
    AS $$
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
$$;

--
-- Name: message_record(uuid, uuid, bigint, boolean, uuid, text, text, text, text, bytea, text, text, text, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.message_record(p_tenant uuid, p_bot_user uuid, p_seq bigint, p_created boolean, p_message uuid, p_kind text, p_content text, p_idempotency_key text, p_shared_phone text, p_audio bytea, p_audio_mime text, p_audio_file_name text, p_telegram_file_id text, p_telegram_mime text, p_telegram_file_size bigint) RETURNS TABLE(message_id uuid, bot_user_id uuid, seq bigint, duplicate boolean, transcribe_job boolean, turn_job boolean)
    LANGUAGE plpgsql
    AS $$
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
$$;

--
-- Name: queue_bury(bigint[], uuid[], text[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.queue_bury(p_ids bigint[], p_tokens uuid[], p_errors text[]) RETURNS bigint[]
    LANGUAGE plpgsql
    SET enable_hashjoin TO 'off'
    SET enable_mergejoin TO 'off'
    SET enable_seqscan TO 'off'
    SET enable_bitmapscan TO 'off'
    AS $$
DECLARE
    v_dead bigint[];
    v_keys text[];
BEGIN
    PERFORM 1 FROM jobs WHERE id = ANY (p_ids) ORDER BY id FOR UPDATE;
    WITH d AS (
        UPDATE jobs j SET state = 'dead', lease_token = NULL, lease_until = NULL,
                          last_error = a.error, run_at = now()
        FROM unnest(p_ids, p_tokens, p_errors) AS a(id, token, error)
        WHERE j.id = a.id AND j.lease_token = a.token AND j.state = 'running'
        RETURNING j.id, j.key)
    SELECT array_agg(d.id), array_agg(d.key) FILTER (WHERE d.key IS NOT NULL)
    INTO v_dead, v_keys FROM d;
    PERFORM queue_release_keys(v_keys);
    RETURN coalesce(v_dead, '{}');
END $$;

--
-- Name: queue_cancel(bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.queue_cancel(p_id bigint) RETURNS public.job_state
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_state job_state;
    v_key text;
BEGIN
    SELECT state, key INTO v_state, v_key FROM jobs WHERE id = p_id FOR UPDATE;
    IF v_state IS NULL OR v_state = 'running' THEN
        RETURN v_state;
    END IF;
    IF v_key IS NOT NULL AND v_state IN ('available', 'blocked') THEN
        -- Lock the key row before deleting, in the same order as enqueue and ack.
        PERFORM 1 FROM job_keys WHERE key = v_key FOR UPDATE;
    END IF;
    DELETE FROM jobs WHERE id = p_id;
    IF v_key IS NOT NULL THEN
        IF v_state = 'available' THEN
            PERFORM queue_release_keys(ARRAY[v_key]);
        ELSIF v_state = 'blocked' THEN
            UPDATE job_keys SET pending = pending - 1 WHERE key = v_key;
        END IF;
    END IF;
    RETURN v_state;
END $$;

--
-- Name: queue_complete(bigint[], uuid[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.queue_complete(p_ids bigint[], p_tokens uuid[]) RETURNS bigint[]
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    SET enable_bitmapscan TO 'off'
    AS $$
DECLARE
    v_done bigint[];
    v_keys text[];
BEGIN
    WITH d AS (
        DELETE FROM jobs
        WHERE id = ANY (p_ids) AND lease_token = ANY (p_tokens) AND state = 'running'
        RETURNING id, key)
    SELECT array_agg(d.id), array_agg(d.key) FILTER (WHERE d.key IS NOT NULL)
    INTO v_done, v_keys FROM d;
    PERFORM queue_release_keys(v_keys);
    RETURN coalesce(v_done, '{}');
END $$;

--
-- Name: queue_due_at(timestamp with time zone, smallint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.queue_due_at(p_run_at timestamp with time zone, p_priority smallint) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    AS $$
    SELECT CASE WHEN p_run_at IS NULL OR p_run_at <= now()
                THEN now() - make_interval(secs => p_priority) ELSE p_run_at END
$$;

--
-- Name: queue_enqueue(text, text, uuid, jsonb, timestamp with time zone, smallint, integer, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.queue_enqueue(p_kind text, p_key text, p_tenant uuid, p_payload jsonb, p_run_at timestamp with time zone, p_priority smallint, p_max_attempts integer, p_dedup_key text) RETURNS TABLE(job_id bigint, inserted boolean)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_pending integer;
    v_run_at timestamptz;
    v_id bigint;
BEGIN
    v_run_at := CASE WHEN p_run_at IS NULL OR p_run_at <= now()
                     THEN now() - make_interval(secs => p_priority)
                     ELSE p_run_at END;
    IF p_key IS NULL THEN
        IF p_dedup_key IS NULL THEN
            INSERT INTO jobs (kind, tenant_id, payload, run_at, priority, max_attempts)
            VALUES (p_kind, p_tenant, p_payload, v_run_at, p_priority, p_max_attempts)
            RETURNING id INTO v_id;
            RETURN QUERY SELECT v_id, true;
            RETURN;
        END IF;
        -- Find-or-insert; a twin that starts running between the two steps is retried.
        LOOP
            SELECT j.id INTO v_id FROM jobs j
            WHERE j.kind = p_kind AND j.dedup_key = p_dedup_key
              AND j.state IN ('available', 'blocked') AND j.attempts = 0
            FOR UPDATE;
            IF v_id IS NOT NULL THEN
                RETURN QUERY SELECT v_id, false;
                RETURN;
            END IF;
            INSERT INTO jobs (kind, tenant_id, payload, run_at, priority, max_attempts, dedup_key)
            VALUES (p_kind, p_tenant, p_payload, v_run_at, p_priority, p_max_attempts, p_dedup_key)
            ON CONFLICT (kind, dedup_key)
                WHERE dedup_key IS NOT NULL AND state IN ('available', 'blocked') AND attempts = 0
                DO NOTHING
            RETURNING id INTO v_id;
            IF v_id IS NOT NULL THEN
                RETURN QUERY SELECT v_id, true;
                RETURN;
            END IF;
        END LOOP;
    END IF;

    IF p_dedup_key IS NOT NULL THEN
        -- Lock the key row (creating it if needed) before looking for a twin, then lock the twin.
        INSERT INTO job_keys AS k (key, pending) VALUES (p_key, 0)
        ON CONFLICT (key) DO UPDATE SET pending = k.pending;
        SELECT j.id INTO v_id FROM jobs j
        WHERE j.kind = p_kind AND j.dedup_key = p_dedup_key
          AND j.state IN ('available', 'blocked') AND j.attempts = 0
        FOR UPDATE;
        IF v_id IS NOT NULL THEN
            RETURN QUERY SELECT v_id, false;
            RETURN;
        END IF;
    END IF;

    INSERT INTO job_keys AS k (key, pending) VALUES (p_key, 1)
    ON CONFLICT (key) DO UPDATE SET pending = k.pending + 1
    RETURNING pending INTO v_pending;
    INSERT INTO jobs (kind, key, tenant_id, payload, run_at, priority, max_attempts, dedup_key, state)
    VALUES (p_kind, p_key, p_tenant, p_payload, v_run_at, p_priority, p_max_attempts, p_dedup_key,
            CASE WHEN v_pending = 1 THEN 'available' ELSE 'blocked' END::job_state)
    RETURNING id INTO v_id;
    RETURN QUERY SELECT v_id, true;
END $$;

--
-- Name: queue_enqueue_deduped(text, text[], uuid[], jsonb[], timestamp with time zone[], smallint, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.queue_enqueue_deduped(p_kind text, p_keys text[], p_tenants uuid[], p_payloads jsonb[], p_run_ats timestamp with time zone[], p_priority smallint, p_max_attempts integer) RETURNS TABLE(key text, job_id bigint, inserted boolean)
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    SET enable_bitmapscan TO 'off'
    SET enable_hashjoin TO 'off'
    SET enable_mergejoin TO 'off'
    AS $$
#variable_conflict use_column
DECLARE
    v_twin_keys text[];
    v_twin_ids  bigint[];
    v_new_keys  text[];
BEGIN
    INSERT INTO job_keys AS k (key, pending)
    SELECT u.key, 0 FROM unnest(p_keys) AS u(key) ORDER BY u.key
    ON CONFLICT (key) DO UPDATE SET pending = k.pending;
    WITH t AS (SELECT j.dedup_key, j.id FROM jobs j
                WHERE j.kind = p_kind AND j.dedup_key = ANY (p_keys)
                  AND j.state IN ('available', 'blocked') AND j.attempts = 0
                ORDER BY j.dedup_key FOR UPDATE)
    SELECT array_agg(t.dedup_key), array_agg(t.id) INTO v_twin_keys, v_twin_ids FROM t;
    RETURN QUERY SELECT t.key, t.id, false FROM unnest(v_twin_keys, v_twin_ids) AS t(key, id);

    v_new_keys := ARRAY(SELECT u.key FROM unnest(p_keys) AS u(key)
                         WHERE u.key <> ALL (coalesce(v_twin_keys, '{}')));
    IF cardinality(v_new_keys) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH k AS (UPDATE job_keys k SET pending = k.pending + 1
                WHERE k.key = ANY (v_new_keys)
               RETURNING k.key, k.pending)
    INSERT INTO jobs AS j (kind, key, tenant_id, payload, run_at, priority, max_attempts,
                           dedup_key, state)
    SELECT p_kind, k.key, u.tenant, u.payload, queue_due_at(u.run_at, p_priority), p_priority,
           p_max_attempts, k.key,
           CASE WHEN k.pending = 1 THEN 'available' ELSE 'blocked' END::job_state
      FROM k JOIN unnest(p_keys, p_tenants, p_payloads, p_run_ats) AS u(key, tenant, payload, run_at)
           ON u.key = k.key
    RETURNING j.key, j.id, true;
END $$;

--
-- Name: queue_release_keys(text[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.queue_release_keys(p_keys text[]) RETURNS void
    LANGUAGE plpgsql
    SET enable_hashjoin TO 'off'
    SET enable_mergejoin TO 'off'
    AS $$
DECLARE
    v_still_pending text[];
BEGIN
    IF p_keys IS NULL OR cardinality(p_keys) = 0 THEN
        RETURN;
    END IF;
    WITH r AS (SELECT key, count(*)::int AS n FROM unnest(p_keys) AS key GROUP BY key),
         l AS (SELECT k.key, r.n FROM job_keys k JOIN r USING (key) ORDER BY k.key FOR UPDATE OF k),
         u AS (UPDATE job_keys k SET pending = k.pending - l.n FROM l WHERE k.key = l.key
               RETURNING k.key, k.pending)
    SELECT array_agg(u.key) INTO v_still_pending FROM u WHERE u.pending > 0;
    IF v_still_pending IS NOT NULL THEN
        UPDATE jobs SET state = 'available'
        WHERE id = ANY (ARRAY(SELECT (SELECT b.id FROM jobs b WHERE b.key = k AND b.state = 'blocked'
                                      ORDER BY b.id LIMIT 1)
                              FROM unnest(v_still_pending) AS k));
    END IF;
END $$;

--
-- Name: turn_commit(uuid, uuid, bigint, uuid, uuid[], uuid, text, text, text, text, boolean, text, text, text, text, double precision, text, boolean, uuid, boolean, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.turn_commit(p_tenant uuid, p_bot_user uuid, p_job bigint, p_lease_token uuid, p_pending uuid[], p_reply_id uuid, p_reply text, p_engine text, p_language text, p_status text, p_update_lead boolean, p_lead_name text, p_lead_phone text, p_lead_city text, p_lead_object_type text, p_lead_area_m2 double precision, p_lead_summary text, p_lead_qualifies boolean, p_new_lead_id uuid, p_platform_chat boolean, p_company_chats boolean) RETURNS TABLE(outcome text, handoff_fresh boolean, delivery_job boolean, notify_job boolean, follow_up_job boolean, lead_id uuid, lead_version integer, lead_event text)
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_column
DECLARE
    v_conversation record;
    v_answered     uuid[];
    v_latest       timestamptz;
    v_existing     leads%ROWTYPE;
    v_name         text;
    v_phone        text;
    v_city         text;
    v_object_type  text;
    v_area         double precision;
    v_summary      text;
    v_qualified    boolean;
    v_lead_types   text[];
    v_type         text;
    v_reply_seq    bigint;
    v_lead_open    boolean;
    v_fu_max       smallint;
    v_fu_delay     integer;
    v_fu_payload   jsonb;
    v_fu_run_at    timestamptz;
    v_fu_job       bigint;
    v_fu_new       boolean;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    delivery_job := false;
    notify_job := false;
    follow_up_job := false;
    handoff_fresh := false;
    SELECT b.mode, b.channel, b.released_at, b.external_id, b.blocked_at INTO v_conversation
      FROM bot_users b WHERE b.tenant_id = p_tenant AND b.id = p_bot_user FOR UPDATE;
    PERFORM 1 FROM jobs j
     WHERE j.id = p_job AND j.lease_token = p_lease_token AND j.state = 'running'
       AND j.lease_until > now()
       FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'lease_lost';
        RETURN NEXT;
        RETURN;
    END IF;
    IF v_conversation.mode = 'human' THEN
        outcome := 'human';
        RETURN NEXT;
        RETURN;
    END IF;
    -- A previous attempt may have committed and crashed before its ack.
    SELECT array_agg(m.id ORDER BY m.seq), max(m.created_at) INTO v_answered, v_latest
      FROM (SELECT id, seq, created_at FROM messages
             WHERE tenant_id = p_tenant AND bot_user_id = p_bot_user AND role = 'user'
               AND reply_id IS NULL AND id = ANY (p_pending)
             ORDER BY seq FOR UPDATE) m;
    IF v_answered IS NULL THEN
        outcome := 'nothing_pending';
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT a.seq INTO v_reply_seq
      FROM message_append(p_tenant, p_bot_user, p_reply_id, 'assistant', p_reply, p_engine,
                          p_language, false) a;
    UPDATE messages SET reply_id = p_reply_id, status = p_status, answered_at = clock_timestamp()
     WHERE tenant_id = p_tenant AND bot_user_id = p_bot_user AND role = 'user'
       AND reply_id IS NULL AND id = ANY (v_answered);
    outcome := 'committed';
    handoff_fresh := v_conversation.released_at IS NULL OR v_latest > v_conversation.released_at;

    IF v_conversation.channel = 'telegram' THEN
        PERFORM queue_enqueue(
            'deliver_reply', 'deliver:' || p_bot_user, p_tenant,
            jsonb_build_object('tenant_id', p_tenant, 'bot_user_id', p_bot_user,
                               'message_id', p_reply_id),
            NULL, 0::smallint, 12, 'deliver:' || p_reply_id);
        delivery_job := true;
    END IF;

    IF p_update_lead THEN
        SELECT * INTO v_existing FROM leads l
         WHERE l.tenant_id = p_tenant AND l.bot_user_id = p_bot_user FOR UPDATE;
        v_name        := coalesce(p_lead_name, v_existing.name);
        v_phone       := coalesce(p_lead_phone, v_existing.phone);
        v_city        := coalesce(p_lead_city, v_existing.city);
        v_object_type := coalesce(p_lead_object_type, v_existing.object_type);
        v_area        := coalesce(p_lead_area_m2, v_existing.area_m2);
        v_summary     := coalesce(p_lead_summary, v_existing.summary);
        IF v_existing.id IS NULL THEN
            IF num_nonnulls(p_lead_name, p_lead_phone, p_lead_city, p_lead_object_type,
                            p_lead_area_m2, p_lead_summary) > 0 THEN
                lead_id := p_new_lead_id;
                lead_version := 1;
                lead_event := CASE WHEN p_lead_qualifies THEN 'qualified' ELSE 'created' END;
                INSERT INTO leads (id, tenant_id, bot_user_id, name, phone, city, object_type,
                                   area_m2, summary, status, engine, qualified_at)
                VALUES (p_new_lead_id, p_tenant, p_bot_user, v_name, v_phone, v_city,
                        v_object_type, v_area, v_summary,
                        CASE WHEN p_lead_qualifies THEN 'qualified' ELSE 'new' END,
                        p_engine, CASE WHEN p_lead_qualifies THEN now() END);
            END IF;
        ELSE
            -- Only the pipeline moves `new` to `qualified`; a manager's status stays.
            v_qualified := p_lead_qualifies AND v_existing.status = 'new';
            IF v_qualified
               OR (v_name, v_phone, v_city, v_object_type, v_area, v_summary) IS DISTINCT FROM
                  (v_existing.name, v_existing.phone, v_existing.city, v_existing.object_type,
                   v_existing.area_m2, v_existing.summary) THEN
                lead_id := v_existing.id;
                lead_event := CASE WHEN v_qualified THEN 'qualified' ELSE 'updated' END;
                UPDATE leads SET name = v_name, phone = v_phone, city = v_city,
                                 object_type = v_object_type, area_m2 = v_area, summary = v_summary,
                                 engine = p_engine, version = version + 1, updated_at = now(),
                                 status = CASE WHEN v_qualified THEN 'qualified' ELSE status END,
                                 qualified_at = CASE WHEN v_qualified THEN now()
                                                     ELSE qualified_at END
                 WHERE tenant_id = p_tenant AND id = v_existing.id
                RETURNING version INTO lead_version;
            END IF;
        END IF;
        -- A follow-up while the lead is still open (the customer may go quiet after this reply).
        v_lead_open := CASE WHEN v_existing.id IS NULL THEN coalesce(lead_event, 'created') <> 'qualified'
                            ELSE v_existing.status = 'new' AND NOT v_qualified END;
        IF v_lead_open AND p_status = 'answered' AND v_conversation.blocked_at IS NULL THEN
            SELECT t.follow_up_max, t.follow_up_delay_minutes INTO v_fu_max, v_fu_delay
              FROM tenants t WHERE t.id = p_tenant;
            IF v_fu_max > 0 THEN
                v_fu_payload := jsonb_build_object('tenant_id', p_tenant, 'bot_user_id', p_bot_user,
                                                   'after_seq', v_reply_seq, 'number', 1);
                v_fu_run_at := now() + make_interval(mins => v_fu_delay);
                SELECT e.job_id, e.inserted INTO v_fu_job, v_fu_new
                  FROM queue_enqueue('follow_up', 'follow_up:' || p_bot_user, p_tenant,
                                     v_fu_payload, v_fu_run_at, 0::smallint, 5,
                                     'follow_up:' || p_bot_user) e;
                IF NOT v_fu_new THEN
                    -- The pending one (locked by queue_enqueue() until commit) follows this reply.
                    UPDATE jobs SET payload = v_fu_payload, run_at = v_fu_run_at
                     WHERE id = v_fu_job;
                END IF;
                follow_up_job := v_fu_new;
            END IF;
        END IF;
        IF lead_event IS NOT NULL
           AND (p_platform_chat
                OR (p_company_chats
                    AND EXISTS (SELECT 1 FROM telegram_bots t
                                 WHERE t.tenant_id = p_tenant
                                   AND t.managers_chat_id IS NOT NULL))) THEN
            PERFORM queue_enqueue(
                'notify_manager', 'notify:' || p_bot_user, p_tenant,
                jsonb_build_object('tenant_id', p_tenant, 'lead_id', lead_id,
                                   'version', lead_version, 'event', lead_event),
                NULL, 0::smallint, 8, NULL);
            notify_job := true;
        END IF;
    END IF;

    -- The lead's events first: reply.created carries the lead as this turn left it.
    IF lead_event IS NOT NULL THEN
        v_lead_types := CASE
            WHEN v_existing.id IS NULL AND lead_event = 'qualified'
                THEN ARRAY['lead.created', 'lead.qualified']
            WHEN v_existing.id IS NULL THEN ARRAY['lead.created']
            ELSE ARRAY['lead.' || lead_event] END;
        FOREACH v_type IN ARRAY v_lead_types LOOP
            IF webhook_subscribed(p_tenant, v_type) THEN
                PERFORM webhook_emit(p_tenant, p_bot_user, v_type,
                                     jsonb_build_object('lead', webhook_lead(p_tenant, p_bot_user)));
            END IF;
        END LOOP;
    END IF;
    IF webhook_subscribed(p_tenant, 'reply.created') THEN
        PERFORM webhook_emit(p_tenant, p_bot_user, 'reply.created',
                             webhook_reply(p_tenant, p_bot_user, p_reply_id));
    END IF;
    IF p_status = 'failed' AND webhook_subscribed(p_tenant, 'message.failed') THEN
        PERFORM webhook_emit(p_tenant, p_bot_user, 'message.failed',
                             jsonb_build_object('message_ids', to_jsonb(v_answered),
                                                'reply_id', p_reply_id,
                                                'user_id', v_conversation.external_id,
                                                'channel', v_conversation.channel));
    END IF;
    RETURN NEXT;
END
$$;

--
-- Name: turn_read(uuid, uuid, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.turn_read(p_tenant uuid, p_bot_user uuid, p_history integer) RETURNS TABLE(pending public.turn_message[], earlier public.turn_message[], lead_name text, lead_phone text, lead_city text, lead_object_type text, lead_area_m2 double precision, lead_summary text, language text, mode text, telegram_chat text, company_name text, about text, greeting text, company_phone text, prices public.price_item[])
    LANGUAGE plpgsql
    AS $$
#variable_conflict use_column
DECLARE
    v_pending   turn_message[];
    v_first_seq bigint;
    v_mode      text;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    -- Only the advisory `processing` mark is written here: no need to wait for a WAL flush.
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT array_agg((m.id, m.role, m.kind, m.content, m.transcript, m.transcript_status,
                      m.created_at)::turn_message ORDER BY m.seq),
           min(m.seq)
      INTO v_pending, v_first_seq
      FROM messages m
     WHERE m.tenant_id = p_tenant AND m.bot_user_id = p_bot_user AND m.role = 'user'
       AND m.reply_id IS NULL;
    IF v_pending IS NULL THEN
        RETURN;
    END IF;
    SELECT b.mode INTO v_mode FROM bot_users b WHERE b.tenant_id = p_tenant AND b.id = p_bot_user;
    IF v_mode = 'bot'
       AND NOT EXISTS (SELECT 1 FROM unnest(v_pending) m WHERE m.transcript_status = 'pending') THEN
        UPDATE messages SET status = 'processing'
         WHERE tenant_id = p_tenant AND bot_user_id = p_bot_user AND role = 'user'
           AND reply_id IS NULL AND id IN (SELECT m.id FROM unnest(v_pending) m)
           AND status = 'queued';
    END IF;
    RETURN QUERY
    SELECT v_pending,
           coalesce((SELECT array_agg((e.id, e.role, e.kind, e.content, e.transcript,
                                       e.transcript_status, e.created_at)::turn_message
                                      ORDER BY e.seq)
                       FROM (SELECT * FROM messages
                              WHERE tenant_id = p_tenant AND bot_user_id = p_bot_user
                                AND seq < v_first_seq
                              ORDER BY seq DESC LIMIT p_history) e), '{}'),
           l.name, l.phone, l.city, l.object_type, l.area_m2, l.summary,
           b.language, b.mode,
           -- where "typing…" and the reply go, for a Telegram customer who has not blocked us
           CASE WHEN b.channel = 'telegram' AND b.blocked_at IS NULL THEN b.external_id END,
           t.name, t.about, t.greeting, t.company_phone,
           coalesce((SELECT array_agg((p.object_type, p.min_per_m2, p.max_per_m2,
                                       p.conditions)::price_item)
                       FROM price_items p WHERE p.tenant_id = p_tenant), '{}')
      FROM bot_users b
      JOIN tenants t ON t.id = b.tenant_id
      LEFT JOIN leads l ON l.tenant_id = b.tenant_id AND l.bot_user_id = b.id
     WHERE b.tenant_id = p_tenant AND b.id = p_bot_user;
END
$$;

--
-- Name: webhook_emit(uuid, uuid, text, jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.webhook_emit(p_tenant uuid, p_bot_user uuid, p_type text, p_data jsonb) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_event    uuid := gen_random_uuid();
    v_delivery record;
    v_count    integer := 0;
BEGIN
    IF NOT webhook_subscribed(p_tenant, p_type) THEN
        RETURN 0;
    END IF;
    INSERT INTO webhook_events (tenant_id, id, type, bot_user_id, payload)
    VALUES (p_tenant, v_event, p_type, p_bot_user,
            jsonb_build_object('type', p_type, 'version', 1, 'timestamp', now(), 'data', p_data));
    FOR v_delivery IN
        INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id)
        SELECT p_tenant, gen_random_uuid(), e.id, v_event
          FROM webhook_endpoints e
         WHERE e.tenant_id = p_tenant AND e.enabled AND p_type = ANY (e.events)
        RETURNING id, endpoint_id
    LOOP
        PERFORM queue_enqueue(
            'webhook', 'webhook:' || v_delivery.endpoint_id || coalesce(':' || p_bot_user, ''),
            p_tenant,
            jsonb_build_object('tenant_id', p_tenant, 'delivery_id', v_delivery.id,
                               'endpoint_id', v_delivery.endpoint_id, 'bot_user_id', p_bot_user),
            NULL, 0::smallint, 1000, 'webhook:' || v_delivery.id);
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END
$$;

--
-- Name: webhook_lead(uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.webhook_lead(p_tenant uuid, p_bot_user uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT jsonb_build_object(
               'id', l.id, 'bot_user_id', l.bot_user_id, 'user_id', b.external_id,
               'name', l.name, 'phone', l.phone, 'city', l.city, 'object_type', l.object_type,
               'area_m2', l.area_m2, 'summary', l.summary, 'status', l.status,
               'loss_reason', l.loss_reason, 'version', l.version, 'created_at', l.created_at,
               'updated_at', l.updated_at)
      FROM leads l
      JOIN bot_users b ON b.tenant_id = l.tenant_id AND b.id = l.bot_user_id
     WHERE l.tenant_id = p_tenant AND l.bot_user_id = p_bot_user
$$;

--
-- Name: webhook_message_received(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.webhook_message_received() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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
$$;

--
-- Name: webhook_reply(uuid, uuid, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.webhook_reply(p_tenant uuid, p_bot_user uuid, p_message uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
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
$$;

--
-- Name: webhook_subscribed(uuid, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.webhook_subscribed(p_tenant uuid, p_type text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM webhook_endpoints e
                    WHERE e.tenant_id = p_tenant AND e.enabled AND p_type = ANY (e.events));
END
$$;

--
-- Name: amocrm_links; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.amocrm_links (
    tenant_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    amo_lead_id bigint NOT NULL,
    amo_contact_id bigint,
    synced_version integer NOT NULL,
    synced_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.amocrm_links FORCE ROW LEVEL SECURITY;

--
-- Name: amocrm_settings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.amocrm_settings (
    tenant_id uuid NOT NULL,
    base_domain text NOT NULL,
    token bytea NOT NULL,
    unauthorized_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT amocrm_settings_base_domain_check CHECK (((length(base_domain) >= 1) AND (length(base_domain) <= 253)))
);

ALTER TABLE ONLY public.amocrm_settings FORCE ROW LEVEL SECURITY;

--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_keys (
    id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    shown text NOT NULL,
    hash bytea NOT NULL,
    scopes text[] NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone,
    CONSTRAINT api_keys_hash_check CHECK ((length(hash) = 32)),
    CONSTRAINT api_keys_name_check CHECK (((length(name) >= 1) AND (length(name) <= 100))),
    CONSTRAINT api_keys_scopes_check CHECK (((cardinality(scopes) > 0) AND (scopes <@ ARRAY['chat:write'::text, 'leads:read'::text, 'leads:write'::text, 'webhooks:manage'::text])))
);

--
-- Name: audit_log; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_log (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    actor_user_id uuid,
    action text NOT NULL,
    subject uuid,
    detail jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT audit_log_action_check CHECK ((action = 'conversation.erased'::text))
);

ALTER TABLE ONLY public.audit_log FORCE ROW LEVEL SECURITY;

--
-- Name: bot_users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bot_users (
    id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    channel text DEFAULT 'api'::text NOT NULL,
    external_id text NOT NULL,
    name text,
    phone text,
    language text,
    mode text DEFAULT 'bot'::text NOT NULL,
    last_seq bigint DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    blocked_at timestamp with time zone,
    handoff_at timestamp with time zone,
    released_at timestamp with time zone,
    CONSTRAINT bot_users_channel_check CHECK ((channel = ANY (ARRAY['api'::text, 'telegram'::text]))),
    CONSTRAINT bot_users_external_id_check CHECK (((length(external_id) >= 1) AND (length(external_id) <= 200))),
    CONSTRAINT bot_users_language_check CHECK ((language = ANY (ARRAY['ru'::text, 'kk'::text, 'en'::text, 'mixed'::text]))),
    CONSTRAINT bot_users_mode_check CHECK ((mode = ANY (ARRAY['bot'::text, 'human'::text])))
)
WITH (fillfactor='70');

ALTER TABLE ONLY public.bot_users FORCE ROW LEVEL SECURITY;

--
-- Name: job_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.job_keys (
    key text NOT NULL,
    pending integer NOT NULL,
    CONSTRAINT job_keys_pending_check CHECK ((pending >= 0))
)
WITH (fillfactor='70', autovacuum_vacuum_scale_factor='0', autovacuum_vacuum_threshold='5000', autovacuum_vacuum_cost_delay='0');

--
-- Name: jobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.jobs (
    id bigint NOT NULL,
    kind text NOT NULL,
    key text,
    tenant_id uuid,
    run_at timestamp with time zone DEFAULT now() NOT NULL,
    priority smallint DEFAULT 0 NOT NULL,
    state public.job_state DEFAULT 'available'::public.job_state NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 5 NOT NULL,
    lease_until timestamp with time zone,
    lease_token uuid,
    dedup_key text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    last_error text,
    CONSTRAINT jobs_max_attempts_check CHECK ((max_attempts >= 1))
)
WITH (fillfactor='100', autovacuum_vacuum_scale_factor='0', autovacuum_vacuum_threshold='5000', autovacuum_vacuum_insert_scale_factor='0', autovacuum_vacuum_insert_threshold='5000', autovacuum_vacuum_cost_delay='0', autovacuum_analyze_scale_factor='0', autovacuum_analyze_threshold='5000');

--
-- Name: jobs_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.jobs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.jobs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: lead_notifications; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lead_notifications (
    tenant_id uuid NOT NULL,
    lead_id uuid NOT NULL,
    version integer NOT NULL,
    sent_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.lead_notifications FORCE ROW LEVEL SECURITY;

--
-- Name: leads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.leads (
    id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    bot_user_id uuid NOT NULL,
    name text,
    phone text,
    city text,
    object_type text,
    area_m2 double precision,
    summary text,
    status text DEFAULT 'new'::text NOT NULL,
    loss_reason text,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    engine text,
    qualified_at timestamp with time zone,
    CONSTRAINT leads_area_m2_check CHECK ((area_m2 > (0)::double precision)),
    CONSTRAINT leads_check CHECK (((status <> 'lost'::text) OR (loss_reason IS NOT NULL))),
    CONSTRAINT leads_status_check CHECK ((status = ANY (ARRAY['new'::text, 'qualified'::text, 'in_work'::text, 'won'::text, 'lost'::text])))
);

ALTER TABLE ONLY public.leads FORCE ROW LEVEL SECURITY;

--
-- Name: llm_usage; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.llm_usage (
    tenant_id uuid NOT NULL,
    day date NOT NULL,
    model text NOT NULL,
    calls integer DEFAULT 0 NOT NULL,
    prompt_tokens bigint DEFAULT 0 NOT NULL,
    completion_tokens bigint DEFAULT 0 NOT NULL,
    audio_seconds double precision DEFAULT 0 NOT NULL,
    cost_usd numeric(16,6) DEFAULT 0 NOT NULL
);

ALTER TABLE ONLY public.llm_usage FORCE ROW LEVEL SECURITY;

--
-- Name: manager_forwards; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.manager_forwards (
    tenant_id uuid NOT NULL,
    key text NOT NULL,
    sent_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.manager_forwards FORCE ROW LEVEL SECURITY;

--
-- Name: message_audio; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.message_audio (
    tenant_id uuid NOT NULL,
    message_id uuid NOT NULL,
    content bytea NOT NULL,
    mime text NOT NULL,
    file_name text NOT NULL
);

ALTER TABLE ONLY public.message_audio FORCE ROW LEVEL SECURITY;

--
-- Name: messages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.messages (
    id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    bot_user_id uuid NOT NULL,
    seq bigint NOT NULL,
    role text NOT NULL,
    kind text DEFAULT 'text'::text NOT NULL,
    content text DEFAULT ''::text NOT NULL,
    transcript text,
    status text DEFAULT 'queued'::text NOT NULL,
    idempotency_key text,
    engine text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    reply_id uuid,
    transcript_status text,
    language text,
    answered_at timestamp with time zone,
    CONSTRAINT messages_kind_check CHECK ((kind = ANY (ARRAY['text'::text, 'voice'::text]))),
    CONSTRAINT messages_language_check CHECK ((language = ANY (ARRAY['ru'::text, 'kk'::text, 'en'::text, 'mixed'::text]))),
    CONSTRAINT messages_role_check CHECK ((role = ANY (ARRAY['user'::text, 'assistant'::text, 'manager'::text, 'system'::text]))),
    CONSTRAINT messages_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'transcribing'::text, 'processing'::text, 'answered'::text, 'failed'::text, 'stored'::text]))),
    CONSTRAINT messages_transcript_status_check CHECK ((transcript_status = ANY (ARRAY['pending'::text, 'done'::text, 'unavailable'::text, 'failed'::text])))
);

ALTER TABLE ONLY public.messages FORCE ROW LEVEL SECURITY;

--
-- Name: price_items; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.price_items (
    tenant_id uuid NOT NULL,
    object_type text NOT NULL,
    min_per_m2 integer NOT NULL,
    max_per_m2 integer NOT NULL,
    conditions text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT price_items_check CHECK ((max_per_m2 >= min_per_m2)),
    CONSTRAINT price_items_conditions_check CHECK ((length(conditions) <= 500)),
    CONSTRAINT price_items_min_per_m2_check CHECK ((min_per_m2 > 0))
);

ALTER TABLE ONLY public.price_items FORCE ROW LEVEL SECURITY;

--
-- Name: queue_pauses; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.queue_pauses (
    id bigint NOT NULL,
    kind text,
    tenant_id uuid,
    paused_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT queue_pauses_check CHECK (((kind IS NULL) <> (tenant_id IS NULL)))
);

--
-- Name: queue_pauses_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.queue_pauses ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.queue_pauses_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: queue_wake; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.queue_wake (
    id boolean DEFAULT true NOT NULL,
    parked integer DEFAULT 0 NOT NULL,
    CONSTRAINT queue_wake_id_check CHECK (id)
);

--
-- Name: rate_limit_slots; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rate_limit_slots (
    limiter text NOT NULL,
    slot bigint NOT NULL,
    requests integer DEFAULT 0 NOT NULL,
    tokens bigint DEFAULT 0 NOT NULL
);

--
-- Name: telegram_bots; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.telegram_bots (
    tenant_id uuid NOT NULL,
    token_ciphertext bytea NOT NULL,
    token_hint text NOT NULL,
    webhook_secret text NOT NULL,
    managers_chat_id text,
    language text DEFAULT 'ru'::text NOT NULL,
    work_from_min smallint,
    work_to_min smallint,
    poll_offset bigint DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT telegram_bots_language_check CHECK ((language = ANY (ARRAY['ru'::text, 'kk'::text, 'en'::text]))),
    CONSTRAINT telegram_bots_work_from_min_check CHECK (((work_from_min >= 0) AND (work_from_min <= 1439))),
    CONSTRAINT telegram_bots_work_to_min_check CHECK (((work_to_min >= 0) AND (work_to_min <= 1439)))
);

ALTER TABLE ONLY public.telegram_bots FORCE ROW LEVEL SECURITY;

--
-- Name: telegram_files; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.telegram_files (
    tenant_id uuid NOT NULL,
    message_id uuid NOT NULL,
    file_id text NOT NULL,
    mime text NOT NULL,
    file_size bigint
);

ALTER TABLE ONLY public.telegram_files FORCE ROW LEVEL SECURITY;

--
-- Name: telegram_sent_parts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.telegram_sent_parts (
    tenant_id uuid NOT NULL,
    message_id uuid NOT NULL,
    part integer NOT NULL,
    telegram_message_id bigint,
    sent_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.telegram_sent_parts FORCE ROW LEVEL SECURITY;

--
-- Name: telegram_updates; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.telegram_updates (
    tenant_id uuid NOT NULL,
    key text NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.telegram_updates FORCE ROW LEVEL SECURITY;

--
-- Name: telegram_webhooks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.telegram_webhooks (
    webhook_id uuid NOT NULL,
    tenant_id uuid NOT NULL
);

--
-- Name: tenant_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tenant_events (
    id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    kind text NOT NULL,
    detail jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.tenant_events FORCE ROW LEVEL SECURITY;

--
-- Name: tenants; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tenants (
    id uuid NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    coalesce_ms integer DEFAULT 0 NOT NULL,
    greeting text,
    company_phone text,
    monthly_budget_usd numeric(12,2),
    llm_quota_exhausted_at timestamp with time zone,
    about text,
    retention_days integer,
    follow_up_max smallint DEFAULT 1 NOT NULL,
    follow_up_delay_minutes integer DEFAULT 1440 NOT NULL,
    follow_up_text_ru text,
    follow_up_text_kk text,
    follow_up_text_en text,
    CONSTRAINT tenants_about_check CHECK ((length(about) <= 2000)),
    CONSTRAINT tenants_coalesce_ms_check CHECK (((coalesce_ms >= 0) AND (coalesce_ms <= 60000))),
    CONSTRAINT tenants_follow_up_delay_check CHECK (((follow_up_delay_minutes >= 10) AND (follow_up_delay_minutes <= 20160))),
    CONSTRAINT tenants_follow_up_max_check CHECK (((follow_up_max >= 0) AND (follow_up_max <= 3))),
    CONSTRAINT tenants_follow_up_text_en_check CHECK (((length(follow_up_text_en) >= 1) AND (length(follow_up_text_en) <= 1000))),
    CONSTRAINT tenants_follow_up_text_kk_check CHECK (((length(follow_up_text_kk) >= 1) AND (length(follow_up_text_kk) <= 1000))),
    CONSTRAINT tenants_follow_up_text_ru_check CHECK (((length(follow_up_text_ru) >= 1) AND (length(follow_up_text_ru) <= 1000))),
    CONSTRAINT tenants_monthly_budget_usd_check CHECK ((monthly_budget_usd >= (0)::numeric)),
    CONSTRAINT tenants_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200))),
    CONSTRAINT tenants_retention_days_check CHECK (((retention_days >= 1) AND (retention_days <= 3650)))
);

--
-- Name: throttle; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.throttle (
    key bytea NOT NULL,
    tat timestamp with time zone NOT NULL
);

--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    email text NOT NULL,
    password_hash text NOT NULL,
    role text DEFAULT 'manager'::text NOT NULL,
    is_active boolean DEFAULT true NOT NULL,
    is_platform_admin boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT users_role_check CHECK ((role = ANY (ARRAY['owner'::text, 'manager'::text])))
);

--
-- Name: webhook_attempts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_attempts (
    tenant_id uuid NOT NULL,
    delivery_id uuid NOT NULL,
    attempt integer NOT NULL,
    started_at timestamp with time zone NOT NULL,
    duration_ms integer NOT NULL,
    status_code integer,
    error text,
    response_body text
);

ALTER TABLE ONLY public.webhook_attempts FORCE ROW LEVEL SECURITY;

--
-- Name: webhook_deliveries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_deliveries (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    event_id uuid NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    last_attempt_at timestamp with time zone,
    last_status integer,
    last_error text,
    next_attempt_at timestamp with time zone,
    finished_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_deliveries_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'succeeded'::text, 'failed'::text])))
);

ALTER TABLE ONLY public.webhook_deliveries FORCE ROW LEVEL SECURITY;

--
-- Name: webhook_endpoints; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_endpoints (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    url text NOT NULL,
    events text[] NOT NULL,
    description text,
    secret bytea NOT NULL,
    previous_secret bytea,
    previous_secret_expires_at timestamp with time zone,
    enabled boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    rate_limit_per_second integer,
    failing_since timestamp with time zone,
    disabled_at timestamp with time zone,
    disabled_reason text,
    CONSTRAINT webhook_endpoints_check CHECK (((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))),
    CONSTRAINT webhook_endpoints_description_check CHECK ((length(description) <= 200)),
    CONSTRAINT webhook_endpoints_disabled_reason_check CHECK ((length(disabled_reason) <= 500)),
    CONSTRAINT webhook_endpoints_events_check CHECK (((cardinality(events) > 0) AND (events <@ ARRAY['message.received'::text, 'reply.created'::text, 'lead.created'::text, 'lead.updated'::text, 'lead.qualified'::text, 'message.failed'::text, 'endpoint.disabled'::text, 'endpoint.recovered'::text]))),
    CONSTRAINT webhook_endpoints_rate_limit_per_second_check CHECK (((rate_limit_per_second >= 1) AND (rate_limit_per_second <= 1000))),
    CONSTRAINT webhook_endpoints_url_check CHECK (((length(url) >= 1) AND (length(url) <= 2000)))
);

ALTER TABLE ONLY public.webhook_endpoints FORCE ROW LEVEL SECURITY;

--
-- Name: webhook_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_events (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    type text NOT NULL,
    bot_user_id uuid,
    payload jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.webhook_events FORCE ROW LEVEL SECURITY;

--
-- Name: amocrm_links amocrm_links_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.amocrm_links
    ADD CONSTRAINT amocrm_links_pkey PRIMARY KEY (tenant_id, lead_id);

--
-- Name: amocrm_settings amocrm_settings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.amocrm_settings
    ADD CONSTRAINT amocrm_settings_pkey PRIMARY KEY (tenant_id);

--
-- Name: api_keys api_keys_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_hash_key UNIQUE (hash);

--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);

--
-- Name: audit_log audit_log_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (tenant_id, id);

--
-- Name: bot_users bot_users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bot_users
    ADD CONSTRAINT bot_users_pkey PRIMARY KEY (tenant_id, id);

--
-- Name: bot_users bot_users_tenant_id_channel_external_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bot_users
    ADD CONSTRAINT bot_users_tenant_id_channel_external_id_key UNIQUE (tenant_id, channel, external_id);

--
-- Name: job_keys job_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_keys
    ADD CONSTRAINT job_keys_pkey PRIMARY KEY (key);

--
-- Name: jobs jobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.jobs
    ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);

--
-- Name: lead_notifications lead_notifications_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_notifications
    ADD CONSTRAINT lead_notifications_pkey PRIMARY KEY (tenant_id, lead_id, version);

--
-- Name: leads leads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_pkey PRIMARY KEY (tenant_id, id);

--
-- Name: leads leads_tenant_id_bot_user_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_tenant_id_bot_user_id_key UNIQUE (tenant_id, bot_user_id);

--
-- Name: llm_usage llm_usage_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.llm_usage
    ADD CONSTRAINT llm_usage_pkey PRIMARY KEY (tenant_id, day, model);

--
-- Name: manager_forwards manager_forwards_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.manager_forwards
    ADD CONSTRAINT manager_forwards_pkey PRIMARY KEY (tenant_id, key);

--
-- Name: message_audio message_audio_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_audio
    ADD CONSTRAINT message_audio_pkey PRIMARY KEY (tenant_id, message_id);

--
-- Name: messages messages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (tenant_id, id);

--
-- Name: messages messages_tenant_id_bot_user_id_seq_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_tenant_id_bot_user_id_seq_key UNIQUE (tenant_id, bot_user_id, seq);

--
-- Name: price_items price_items_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.price_items
    ADD CONSTRAINT price_items_pkey PRIMARY KEY (tenant_id, object_type);

--
-- Name: queue_pauses queue_pauses_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.queue_pauses
    ADD CONSTRAINT queue_pauses_pkey PRIMARY KEY (id);

--
-- Name: queue_wake queue_wake_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.queue_wake
    ADD CONSTRAINT queue_wake_pkey PRIMARY KEY (id);

--
-- Name: rate_limit_slots rate_limit_slots_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rate_limit_slots
    ADD CONSTRAINT rate_limit_slots_pkey PRIMARY KEY (limiter, slot);

--
-- Name: telegram_bots telegram_bots_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telegram_bots
    ADD CONSTRAINT telegram_bots_pkey PRIMARY KEY (tenant_id);

--
-- Name: telegram_files telegram_files_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telegram_files
    ADD CONSTRAINT telegram_files_pkey PRIMARY KEY (tenant_id, message_id);

--
-- Name: telegram_sent_parts telegram_sent_parts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telegram_sent_parts
    ADD CONSTRAINT telegram_sent_parts_pkey PRIMARY KEY (tenant_id, message_id, part);

--
-- Name: telegram_updates telegram_updates_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telegram_updates
    ADD CONSTRAINT telegram_updates_pkey PRIMARY KEY (tenant_id, key);

--
-- Name: telegram_webhooks telegram_webhooks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telegram_webhooks
    ADD CONSTRAINT telegram_webhooks_pkey PRIMARY KEY (webhook_id);

--
-- Name: telegram_webhooks telegram_webhooks_tenant_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telegram_webhooks
    ADD CONSTRAINT telegram_webhooks_tenant_id_key UNIQUE (tenant_id);

--
-- Name: tenant_events tenant_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tenant_events
    ADD CONSTRAINT tenant_events_pkey PRIMARY KEY (id);

--
-- Name: tenants tenants_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tenants
    ADD CONSTRAINT tenants_pkey PRIMARY KEY (id);

--
-- Name: throttle throttle_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.throttle
    ADD CONSTRAINT throttle_pkey PRIMARY KEY (key);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

--
-- Name: webhook_attempts webhook_attempts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_attempts
    ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (tenant_id, delivery_id, attempt);

--
-- Name: webhook_deliveries webhook_deliveries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (tenant_id, id);

--
-- Name: webhook_deliveries webhook_deliveries_tenant_id_endpoint_id_event_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_tenant_id_endpoint_id_event_id_key UNIQUE (tenant_id, endpoint_id, event_id);

--
-- Name: webhook_endpoints webhook_endpoints_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (tenant_id, id);

--
-- Name: webhook_events webhook_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_events
    ADD CONSTRAINT webhook_events_pkey PRIMARY KEY (tenant_id, id);

--
-- Name: api_keys_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX api_keys_tenant ON public.api_keys USING btree (tenant_id, created_at);

--
-- Name: audit_log_recent; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_log_recent ON public.audit_log USING btree (tenant_id, at DESC);

--
-- Name: bot_users_recent; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX bot_users_recent ON public.bot_users USING btree (tenant_id, updated_at DESC);

--
-- Name: jobs_blocked; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_blocked ON public.jobs USING btree (key, id) WHERE (state = 'blocked'::public.job_state);

--
-- Name: jobs_claim; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_claim ON public.jobs USING btree (run_at, id) WHERE (state = ANY (ARRAY['available'::public.job_state, 'running'::public.job_state]));

--
-- Name: jobs_claim_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_claim_tenant ON public.jobs USING btree (tenant_id, run_at, id) WHERE (state = ANY (ARRAY['available'::public.job_state, 'running'::public.job_state]));

--
-- Name: jobs_dead; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_dead ON public.jobs USING btree (kind, id) WHERE (state = 'dead'::public.job_state);

--
-- Name: jobs_dedup; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX jobs_dedup ON public.jobs USING btree (kind, dedup_key) WHERE ((dedup_key IS NOT NULL) AND (state = ANY (ARRAY['available'::public.job_state, 'blocked'::public.job_state])) AND (attempts = 0));

--
-- Name: leads_recent; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_recent ON public.leads USING btree (tenant_id, created_at DESC, id DESC);

--
-- Name: leads_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_status ON public.leads USING btree (tenant_id, status, created_at DESC);

--
-- Name: messages_idempotency_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX messages_idempotency_key ON public.messages USING btree (tenant_id, idempotency_key) WHERE (idempotency_key IS NOT NULL);

--
-- Name: messages_unanswered; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX messages_unanswered ON public.messages USING btree (tenant_id, bot_user_id, seq) WHERE ((role = 'user'::text) AND (reply_id IS NULL));

--
-- Name: queue_pauses_kind; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX queue_pauses_kind ON public.queue_pauses USING btree (kind) WHERE (kind IS NOT NULL);

--
-- Name: queue_pauses_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX queue_pauses_tenant ON public.queue_pauses USING btree (tenant_id) WHERE (tenant_id IS NOT NULL);

--
-- Name: tenant_events_by_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tenant_events_by_tenant ON public.tenant_events USING btree (tenant_id, created_at DESC);

--
-- Name: users_email_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_email_key ON public.users USING btree (lower(email));

--
-- Name: users_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX users_tenant ON public.users USING btree (tenant_id, created_at);

--
-- Name: webhook_deliveries_by_endpoint; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_deliveries_by_endpoint ON public.webhook_deliveries USING btree (tenant_id, endpoint_id, created_at DESC, id DESC);

--
-- Name: webhook_deliveries_event; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_deliveries_event ON public.webhook_deliveries USING btree (tenant_id, event_id);

--
-- Name: webhook_events_bot_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_events_bot_user ON public.webhook_events USING btree (tenant_id, bot_user_id) WHERE (bot_user_id IS NOT NULL);

--
-- Name: webhook_events_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_events_created ON public.webhook_events USING btree (tenant_id, created_at);

--
-- Name: leads leads_crm_sync; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_crm_sync AFTER INSERT OR UPDATE ON public.leads FOR EACH ROW EXECUTE FUNCTION public.crm_sync_enqueue();

--
-- Name: messages messages_webhook_received; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER messages_webhook_received AFTER INSERT ON public.messages FOR EACH ROW WHEN ((new.role = 'user'::text)) EXECUTE FUNCTION public.webhook_message_received();

--
-- Name: tenants tenants_renamed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER tenants_renamed AFTER DELETE OR UPDATE OF name ON public.tenants FOR EACH ROW EXECUTE FUNCTION public.account_changed();

--
-- Name: users users_changed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER users_changed AFTER DELETE OR UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.account_changed();

--
-- Name: amocrm_links amocrm_links_tenant_id_lead_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.amocrm_links
    ADD CONSTRAINT amocrm_links_tenant_id_lead_id_fkey FOREIGN KEY (tenant_id, lead_id) REFERENCES public.leads(tenant_id, id) ON DELETE CASCADE;

--
-- Name: amocrm_settings amocrm_settings_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.amocrm_settings
    ADD CONSTRAINT amocrm_settings_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: api_keys api_keys_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;

--
-- Name: api_keys api_keys_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: audit_log audit_log_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: bot_users bot_users_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bot_users
    ADD CONSTRAINT bot_users_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: lead_notifications lead_notifications_tenant_id_lead_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_notifications
    ADD CONSTRAINT lead_notifications_tenant_id_lead_id_fkey FOREIGN KEY (tenant_id, lead_id) REFERENCES public.leads(tenant_id, id) ON DELETE CASCADE;

--
-- Name: leads leads_tenant_id_bot_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_tenant_id_bot_user_id_fkey FOREIGN KEY (tenant_id, bot_user_id) REFERENCES public.bot_users(tenant_id, id) ON DELETE CASCADE;

--
-- Name: llm_usage llm_usage_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.llm_usage
    ADD CONSTRAINT llm_usage_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: manager_forwards manager_forwards_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.manager_forwards
    ADD CONSTRAINT manager_forwards_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: message_audio message_audio_tenant_id_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_audio
    ADD CONSTRAINT message_audio_tenant_id_message_id_fkey FOREIGN KEY (tenant_id, message_id) REFERENCES public.messages(tenant_id, id) ON DELETE CASCADE;

--
-- Name: messages messages_tenant_id_bot_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_tenant_id_bot_user_id_fkey FOREIGN KEY (tenant_id, bot_user_id) REFERENCES public.bot_users(tenant_id, id) ON DELETE CASCADE;

--
-- Name: price_items price_items_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.price_items
    ADD CONSTRAINT price_items_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: telegram_bots telegram_bots_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telegram_bots
    ADD CONSTRAINT telegram_bots_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: telegram_files telegram_files_tenant_id_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telegram_files
    ADD CONSTRAINT telegram_files_tenant_id_message_id_fkey FOREIGN KEY (tenant_id, message_id) REFERENCES public.messages(tenant_id, id) ON DELETE CASCADE;

--
-- Name: telegram_sent_parts telegram_sent_parts_tenant_id_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telegram_sent_parts
    ADD CONSTRAINT telegram_sent_parts_tenant_id_message_id_fkey FOREIGN KEY (tenant_id, message_id) REFERENCES public.messages(tenant_id, id) ON DELETE CASCADE;

--
-- Name: telegram_updates telegram_updates_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telegram_updates
    ADD CONSTRAINT telegram_updates_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: telegram_webhooks telegram_webhooks_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.telegram_webhooks
    ADD CONSTRAINT telegram_webhooks_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: tenant_events tenant_events_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tenant_events
    ADD CONSTRAINT tenant_events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: users users_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: webhook_attempts webhook_attempts_tenant_id_delivery_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_attempts
    ADD CONSTRAINT webhook_attempts_tenant_id_delivery_id_fkey FOREIGN KEY (tenant_id, delivery_id) REFERENCES public.webhook_deliveries(tenant_id, id) ON DELETE CASCADE;

--
-- Name: webhook_deliveries webhook_deliveries_tenant_id_endpoint_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_tenant_id_endpoint_id_fkey FOREIGN KEY (tenant_id, endpoint_id) REFERENCES public.webhook_endpoints(tenant_id, id) ON DELETE CASCADE;

--
-- Name: webhook_deliveries webhook_deliveries_tenant_id_event_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_tenant_id_event_id_fkey FOREIGN KEY (tenant_id, event_id) REFERENCES public.webhook_events(tenant_id, id) ON DELETE CASCADE;

--
-- Name: webhook_endpoints webhook_endpoints_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: webhook_events webhook_events_tenant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_events
    ADD CONSTRAINT webhook_events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

--
-- Name: amocrm_links; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.amocrm_links ENABLE ROW LEVEL SECURITY;

--
-- Name: amocrm_settings; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.amocrm_settings ENABLE ROW LEVEL SECURITY;

--
-- Name: audit_log; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;

--
-- Name: bot_users; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.bot_users ENABLE ROW LEVEL SECURITY;

--
-- Name: lead_notifications; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.lead_notifications ENABLE ROW LEVEL SECURITY;

--
-- Name: leads; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.leads ENABLE ROW LEVEL SECURITY;

--
-- Name: llm_usage; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.llm_usage ENABLE ROW LEVEL SECURITY;

--
-- Name: manager_forwards; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.manager_forwards ENABLE ROW LEVEL SECURITY;

--
-- Name: message_audio; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.message_audio ENABLE ROW LEVEL SECURITY;

--
-- Name: messages; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.messages ENABLE ROW LEVEL SECURITY;

--
-- Name: price_items; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.price_items ENABLE ROW LEVEL SECURITY;

--
-- Name: telegram_bots; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.telegram_bots ENABLE ROW LEVEL SECURITY;

--
-- Name: telegram_files; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.telegram_files ENABLE ROW LEVEL SECURITY;

--
-- Name: telegram_sent_parts; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.telegram_sent_parts ENABLE ROW LEVEL SECURITY;

--
-- Name: telegram_updates; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.telegram_updates ENABLE ROW LEVEL SECURITY;

--
-- Name: tenant_events; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.tenant_events ENABLE ROW LEVEL SECURITY;

--
-- Name: amocrm_links tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.amocrm_links USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: amocrm_settings tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.amocrm_settings USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: audit_log tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.audit_log USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: bot_users tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.bot_users USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: lead_notifications tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.lead_notifications USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: leads tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.leads USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: llm_usage tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.llm_usage USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: manager_forwards tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.manager_forwards USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: message_audio tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.message_audio USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: messages tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.messages USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: price_items tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.price_items USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: telegram_bots tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.telegram_bots USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: telegram_files tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.telegram_files USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: telegram_sent_parts tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.telegram_sent_parts USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: telegram_updates tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.telegram_updates USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: tenant_events tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.tenant_events USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: webhook_attempts tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.webhook_attempts USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: webhook_deliveries tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.webhook_deliveries USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: webhook_endpoints tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.webhook_endpoints USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: webhook_events tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.webhook_events USING ((tenant_id = public.app_current_tenant())) WITH CHECK ((tenant_id = public.app_current_tenant()));

--
-- Name: webhook_attempts; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.webhook_attempts ENABLE ROW LEVEL SECURITY;

--
-- Name: webhook_deliveries; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.webhook_deliveries ENABLE ROW LEVEL SECURITY;

--
-- Name: webhook_endpoints; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.webhook_endpoints ENABLE ROW LEVEL SECURITY;

--
-- Name: webhook_events; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.webhook_events ENABLE ROW LEVEL SECURITY;

--
-- PostgreSQL database dump complete
--

