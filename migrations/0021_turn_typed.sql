-- The turn's two statements return typed rows, and a message's seq has one allocator per kind.
--
-- turn_read() and turn_commit() returned jsonb that Rust parsed at run time: the two most important
-- statements were the two sqlx could not check. They now return `RETURNS TABLE` rows (turn_read's
-- messages as arrays of the composite `turn_message`), read with `query_as!`, so a renamed or
-- retyped column fails the build. turn_commit() takes the lead's fields as typed arguments
-- instead of a jsonb patch.
--
-- The qualification rule (phone, city, object type or area) was written in Rust and again here;
-- the turn now applies domain::qualification::is_qualified to the lead it commits and passes the
-- verdict (`p_lead_qualifies`): turn_commit only decides that a manager's status stays.
--
-- message_append() is the one place a message that is not a customer's gets its seq: the bot's
-- reply (turn_commit), a manager's answer, the handoff's service notices and Telegram's service
-- replies (three of those were Rust statements copying the allocation).
--
-- The current definitions, with their contracts, are sql/functions/<name>.sql.

CREATE TYPE turn_message AS (
    id uuid, role text, kind text, content text, transcript text, transcript_status text,
    created_at timestamptz
);

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
-- Called by turn_commit(), `db::handoff::reply`, `db::handoff::send_still_waiting` and
-- `db::telegram::service_reply`.
-- Current definition: migrations/0021_turn_typed.sql.
CREATE FUNCTION public.message_append(p_tenant uuid, p_bot_user uuid, p_message uuid, p_role text, p_content text, p_engine text, p_language text, p_moves_up boolean)
 RETURNS TABLE(seq bigint, created_at timestamptz)
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
$function$;

DROP FUNCTION turn_read(uuid, uuid, integer);

-- turn_read: everything a `turn` reads before calling the engine, in one statement (one round trip
-- instead of eleven: under load each round trip waited for a busy worker). Scopes itself to the
-- tenant (set_config('app.tenant_id', …, true)) and runs with synchronous_commit off (it writes
-- only the advisory `processing` mark). Returns no row when the conversation has no unanswered
-- customer message; else one row: `pending` (those messages, seq order), `earlier` (the
-- `p_history` messages before the first of them, seq order), both arrays of `turn_message`; the
-- stored lead's fields (`lead_*`, NULL without a lead); the conversation's `language` and `mode`;
-- `telegram_chat` (a Telegram conversation the customer has not blocked); the company's `name`,
-- `about`, `greeting` and `company_phone`. Marks the pending `queued` messages `processing`,
-- unless a manager has the conversation or one still waits for its transcript; those rows are its
-- only locks (no conversation lock: a conversation's turns are serialised by their job key).
-- Called by `read` in workers/pipeline/turn.rs (`p_history` = ENGINE_HISTORY for a turn, 0 for a
-- dead turn's fallback reply), through `query_as!`: sqlx checks the columns at build time.
-- Current definition: migrations/0021_turn_typed.sql.
CREATE FUNCTION public.turn_read(p_tenant uuid, p_bot_user uuid, p_history integer)
 RETURNS TABLE(pending turn_message[], earlier turn_message[], lead_name text, lead_phone text, lead_city text, lead_object_type text, lead_area_m2 double precision, lead_summary text, language text, mode text, telegram_chat text, company_name text, about text, greeting text, company_phone text)
 LANGUAGE plpgsql
AS $function$
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
           t.name, t.about, t.greeting, t.company_phone
      FROM bot_users b
      JOIN tenants t ON t.id = b.tenant_id
      LEFT JOIN leads l ON l.tenant_id = b.tenant_id AND l.bot_user_id = b.id
     WHERE b.tenant_id = p_tenant AND b.id = p_bot_user;
END
$function$;

DROP FUNCTION turn_commit(uuid, uuid, bigint, uuid, uuid[], uuid, text, text, text, text, jsonb, uuid, boolean, boolean);

-- turn_commit: a `turn`'s writes in one statement (one round trip instead of about twelve, each
-- holding the conversation's and the lead's locks). Called by `commit` (workers/pipeline/turn.rs)
-- alone, or in a `tenant_tx` before `db::handoff::begin` when the engine asked for a handoff.
-- Lock order (ingest's): the conversation's row; the job's row as the lease fence (`p_job`,
-- `p_lease_token`, running, lease not expired); the unanswered ones of `p_pending` (turn_read()'s
-- messages) in seq order; then the `deliver:` job key, the lead's row, the `notify:` job key.
-- Stops with outcome 'lease_lost', 'human' (a manager has it: the reply is dropped) or
-- 'nothing_pending' (an earlier attempt committed). Else 'committed': the reply through
-- message_append() (the conversation's language set, `updated_at` left), the answers marked
-- `p_status` ('failed' for a dead turn), a `deliver_reply` job for Telegram; with `p_update_lead`
-- (false: leave the lead) the lead upsert of the engine's `p_lead_*` fields (NULL: keep the
-- stored value; a lead is created only when one is set), `new` to `qualified` when
-- `p_lead_qualifies` (the turn applies domain::qualification::is_qualified to the lead it
-- commits: the rule is not restated here), `version` + 1, and a `notify_manager` job when a
-- managers' chat can take it. The jobs are the contract's `jobs::DeliverReply` and
-- `jobs::NotifyManager` (src/jobs.rs). Returns one row: `outcome`, `handoff_fresh`,
-- `delivery_job`, `notify_job`, and `lead_id`, `lead_version`, `lead_event` when the lead changed.
-- Current definition: migrations/0021_turn_typed.sql.
CREATE FUNCTION public.turn_commit(p_tenant uuid, p_bot_user uuid, p_job bigint, p_lease_token uuid, p_pending uuid[], p_reply_id uuid, p_reply text, p_engine text, p_language text, p_status text, p_update_lead boolean, p_lead_name text, p_lead_phone text, p_lead_city text, p_lead_object_type text, p_lead_area_m2 double precision, p_lead_summary text, p_lead_qualifies boolean, p_new_lead_id uuid, p_platform_chat boolean, p_company_chats boolean)
 RETURNS TABLE(outcome text, handoff_fresh boolean, delivery_job boolean, notify_job boolean, lead_id uuid, lead_version integer, lead_event text)
 LANGUAGE plpgsql
AS $function$
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
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    delivery_job := false;
    notify_job := false;
    handoff_fresh := false;
    SELECT b.mode, b.channel, b.released_at INTO v_conversation
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

    PERFORM message_append(p_tenant, p_bot_user, p_reply_id, 'assistant', p_reply, p_engine,
                           p_language, false);
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
    RETURN NEXT;
END
$function$;
