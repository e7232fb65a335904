-- A turn's writes in one round trip instead of about twelve. Under load each round trip of the
-- commit transaction waited for a busy worker to send the next statement while the transaction held
-- the conversation's and the lead's row locks; the end-to-end and LLM benchmarks were bound by it.
--
-- In one transaction, fenced by the job's lease:
--   - the conversation's lock first (ingest's lock order), then its mode: a manager who took the
--     conversation over while the engine ran gets it, and the bot's reply is dropped;
--   - the reply (next seq), the answered marks, the conversation's language;
--   - the Telegram delivery outbox (as db::telegram::enqueue_delivery builds it);
--   - the lead upsert: a field the engine found replaces the stored one (a correction), a field it
--     did not find keeps its value; `qualified` from `new` only (managers own the later states);
--     `version` counts changes so notifications are keyed per version;
--   - the managers' notification outbox (as workers::pipeline::notify::job builds it).
--
-- The NOTIFY for requests waiting on the reply is not sent here: a NOTIFY takes a database-wide
-- lock from commit until the transaction ends, WAL flush included, which would put every turn's
-- commit in single file. The worker sends it afterwards, in a transaction without a flush wait.
--
-- The rare engine handoff request is not done here: the caller runs this inside its own transaction
-- and then `db::handoff::begin`, which needs the tenant's working hours, when `handoff_fresh` says the
-- asking message is newer than the last release (no handoff loop).
--
-- p_lead is the engine's patch (keys name, phone, city, object_type, area_m2, summary; already
-- parsed by the domain types) or NULL when the turn must not touch the lead (off topic, fallback).
-- A lead change is announced to the managers when there is somewhere to send it: the platform's
-- chat (p_platform_chat: TELEGRAM_BOT_TOKEN/CHAT_ID set), or the company's own managers' chat when
-- this process serves companies' bots (p_company_chats). With neither, a notify_manager job would
-- only find no route: at 500 turns/s that was a third of the queue's work for nothing.
-- Returns {"outcome": "committed" | "lease_lost" | "human" | "nothing_pending", "lead_id",
-- "lead_version", "lead_event" ("created" | "qualified" | "updated", absent when the lead did not
-- change), "notify_job", "delivery_job", "handoff_fresh"}.
--
-- Messages are found through the conversation's unanswered-messages index (tenant, bot user,
-- role = 'user', reply_id IS NULL) with the ids as a filter, not by `id = ANY (ids)` alone. plpgsql
-- keeps one generic plan per session, and the id-list form, planned while the tables were new, read
-- about 1,000 blocks per call in the end-to-end benchmark (pg_stat_statements: 30-42 ms for a
-- statement touching four rows). The conversation predicate matches the partial index exactly. The
-- same fix goes into turn_read's `processing` mark below.
-- Every message updates its conversation's row twice (ingest, then the turn). The turn's update
-- now changes no index key, so it can be a HOT update, which needs free room on the row's page:
-- without it the end-to-end bench left 64k dead bot_users versions for 11k rows, each with entries
-- in three indexes that every lookup of the conversation walks until a vacuum.
ALTER TABLE bot_users SET (fillfactor = 70);

CREATE FUNCTION turn_commit(
    p_tenant uuid, p_bot_user uuid, p_job bigint, p_lease_token uuid, p_pending uuid[],
    p_reply_id uuid, p_reply text, p_engine text, p_language text, p_status text,
    p_lead jsonb, p_new_lead_id uuid, p_platform_chat boolean, p_company_chats boolean
) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_conversation record;
    v_answered     uuid[];
    v_latest       timestamptz;
    v_seq          bigint;
    v_existing     leads%ROWTYPE;
    v_name         text;
    v_phone        text;
    v_city         text;
    v_object_type  text;
    v_area         double precision;
    v_summary      text;
    v_qualified    boolean;
    v_event        text;
    v_lead_id      uuid;
    v_version      integer;
    v_result       jsonb;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    PERFORM 1 FROM jobs
     WHERE id = p_job AND lease_token = p_lease_token AND state = 'running' AND lease_until > now()
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'lease_lost');
    END IF;
    SELECT mode, channel, released_at INTO v_conversation
      FROM bot_users WHERE tenant_id = p_tenant AND id = p_bot_user FOR UPDATE;
    IF v_conversation.mode = 'human' THEN
        RETURN jsonb_build_object('outcome', 'human');
    END IF;
    -- A previous attempt may have committed and crashed before its ack.
    SELECT array_agg(id ORDER BY seq), max(created_at) INTO v_answered, v_latest
      FROM (SELECT id, seq, created_at FROM messages
             WHERE tenant_id = p_tenant AND bot_user_id = p_bot_user AND role = 'user'
               AND reply_id IS NULL AND id = ANY (p_pending)
             ORDER BY seq FOR UPDATE) m;
    IF v_answered IS NULL THEN
        RETURN jsonb_build_object('outcome', 'nothing_pending');
    END IF;

    -- updated_at (an index key: the conversation list's order) is the customer's activity, bumped
    -- by ingest; leaving it alone here keeps this update HOT.
    UPDATE bot_users SET last_seq = last_seq + 1, language = p_language
     WHERE tenant_id = p_tenant AND id = p_bot_user
    RETURNING last_seq INTO v_seq;
    INSERT INTO messages (id, tenant_id, bot_user_id, seq, role, kind, content, status, engine,
                          language)
    VALUES (p_reply_id, p_tenant, p_bot_user, v_seq, 'assistant', 'text', p_reply, 'answered',
            p_engine, p_language);
    UPDATE messages SET reply_id = p_reply_id, status = p_status, answered_at = clock_timestamp()
     WHERE tenant_id = p_tenant AND bot_user_id = p_bot_user AND role = 'user'
       AND reply_id IS NULL AND id = ANY (v_answered);
    v_result := jsonb_build_object(
        'outcome', 'committed',
        'handoff_fresh', v_conversation.released_at IS NULL OR v_latest > v_conversation.released_at);

    IF v_conversation.channel = 'telegram' THEN
        PERFORM queue_enqueue(
            'deliver_reply', 'deliver:' || p_bot_user, p_tenant,
            jsonb_build_object('tenant_id', p_tenant, 'bot_user_id', p_bot_user,
                               'message_id', p_reply_id),
            NULL, 0::smallint, 12, 'deliver:' || p_reply_id);
        v_result := v_result || jsonb_build_object('delivery_job', true);
    END IF;

    IF p_lead IS NOT NULL THEN
        SELECT * INTO v_existing FROM leads
         WHERE tenant_id = p_tenant AND bot_user_id = p_bot_user FOR UPDATE;
        v_name        := coalesce(p_lead->>'name', v_existing.name);
        v_phone       := coalesce(p_lead->>'phone', v_existing.phone);
        v_city        := coalesce(p_lead->>'city', v_existing.city);
        v_object_type := coalesce(p_lead->>'object_type', v_existing.object_type);
        v_area        := coalesce((p_lead->>'area_m2')::double precision, v_existing.area_m2);
        v_summary     := coalesce(p_lead->>'summary', v_existing.summary);
        -- The rule of shared/eval/README.md, as workers::engine::is_qualified states it.
        v_qualified := v_phone IS NOT NULL AND v_city IS NOT NULL
                       AND (v_object_type IS NOT NULL OR v_area IS NOT NULL);
        IF v_existing.id IS NULL THEN
            IF jsonb_strip_nulls(p_lead) <> '{}'::jsonb THEN
                v_lead_id := p_new_lead_id;
                v_version := 1;
                v_event := CASE WHEN v_qualified THEN 'qualified' ELSE 'created' END;
                INSERT INTO leads (id, tenant_id, bot_user_id, name, phone, city, object_type,
                                   area_m2, summary, status, engine, qualified_at)
                VALUES (v_lead_id, p_tenant, p_bot_user, v_name, v_phone, v_city, v_object_type,
                        v_area, v_summary, CASE WHEN v_qualified THEN 'qualified' ELSE 'new' END,
                        p_engine, CASE WHEN v_qualified THEN now() END);
            END IF;
        ELSE
            v_qualified := v_qualified AND v_existing.status = 'new';
            IF v_qualified
               OR (v_name, v_phone, v_city, v_object_type, v_area, v_summary) IS DISTINCT FROM
                  (v_existing.name, v_existing.phone, v_existing.city, v_existing.object_type,
                   v_existing.area_m2, v_existing.summary) THEN
                v_lead_id := v_existing.id;
                v_event := CASE WHEN v_qualified THEN 'qualified' ELSE 'updated' END;
                UPDATE leads SET name = v_name, phone = v_phone, city = v_city,
                                 object_type = v_object_type, area_m2 = v_area, summary = v_summary,
                                 engine = p_engine, version = version + 1, updated_at = now(),
                                 status = CASE WHEN v_qualified THEN 'qualified' ELSE status END,
                                 qualified_at = CASE WHEN v_qualified THEN now()
                                                     ELSE qualified_at END
                 WHERE tenant_id = p_tenant AND id = v_lead_id
                RETURNING version INTO v_version;
            END IF;
        END IF;
        IF v_event IS NOT NULL THEN
            v_result := v_result || jsonb_build_object(
                'lead_id', v_lead_id, 'lead_version', v_version, 'lead_event', v_event);
            IF p_platform_chat
               OR (p_company_chats
                   AND EXISTS (SELECT 1 FROM telegram_bots
                                WHERE tenant_id = p_tenant AND managers_chat_id IS NOT NULL)) THEN
                PERFORM queue_enqueue(
                    'notify_manager', 'notify:' || p_bot_user, p_tenant,
                    jsonb_build_object('tenant_id', p_tenant, 'lead_id', v_lead_id,
                                       'version', v_version, 'event', v_event),
                    NULL, 0::smallint, 8, NULL);
                v_result := v_result || jsonb_build_object('notify_job', true);
            END IF;
        END IF;
    END IF;

    RETURN v_result;
END
$$;

-- turn_read of 0010, with its `processing` mark found through the conversation (see above).
CREATE OR REPLACE FUNCTION turn_read(p_tenant uuid, p_bot_user uuid, p_history integer)
RETURNS jsonb
LANGUAGE plpgsql AS $$
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
$$;
