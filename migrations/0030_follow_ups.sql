-- Follow-ups ([J]): when a conversation stops before its lead is qualified, the bot writes once
-- more after a while (workers/pipeline/follow_up.rs). Per company: how many follow-ups in a row
-- without an answer (0 = none, default 1), after how long (default 24 h), and its own words per
-- language (NULL = the built-in ones, src/domain/follow_up.rs). turn_commit() schedules the first
-- in the turn's own transaction, reading these columns by the tenant's primary key.
--
-- The current definitions, with their contracts, are in sql/functions/.

ALTER TABLE tenants
    ADD COLUMN follow_up_max smallint NOT NULL DEFAULT 1
        CONSTRAINT tenants_follow_up_max_check CHECK (follow_up_max BETWEEN 0 AND 3),
    ADD COLUMN follow_up_delay_minutes integer NOT NULL DEFAULT 1440
        CONSTRAINT tenants_follow_up_delay_check CHECK (follow_up_delay_minutes BETWEEN 10 AND 20160),
    ADD COLUMN follow_up_text_ru text CHECK (length(follow_up_text_ru) BETWEEN 1 AND 1000),
    ADD COLUMN follow_up_text_kk text CHECK (length(follow_up_text_kk) BETWEEN 1 AND 1000),
    ADD COLUMN follow_up_text_en text CHECK (length(follow_up_text_en) BETWEEN 1 AND 1000);

-- turn_commit() gains a column (`follow_up_job`): its result type changes, so it is dropped and
-- created again.
DROP FUNCTION turn_commit(uuid, uuid, bigint, uuid, uuid[], uuid, text, text, text, text, boolean,
                          text, text, text, text, double precision, text, boolean, uuid, boolean,
                          boolean);
-- turn_commit: a `turn`'s writes in one statement (one round trip instead of about twelve, each
-- holding the conversation's and the lead's locks). Called by `commit` (workers/pipeline/turn.rs)
-- alone, or in a `tenant_tx` before `db::handoff::begin` when the engine asked for a handoff.
-- Lock order (ingest's): the conversation's row; the job's row as the lease fence (`p_job`,
-- `p_lease_token`, running, lease not expired); the unanswered ones of `p_pending` (turn_read()'s
-- messages) in seq order; then the `deliver:` job key, the lead's row, the `follow_up:` job key,
-- the `notify:` job key, the `webhook:` job keys.
-- Stops with outcome 'lease_lost', 'human' (a manager has it: the reply is dropped) or
-- 'nothing_pending' (an earlier attempt committed). Else 'committed': the reply through
-- message_append() (the conversation's language set, `updated_at` left), the answers marked
-- `p_status` ('failed' for a dead turn), a `deliver_reply` job for Telegram; with `p_update_lead`
-- (false: leave the lead) the lead upsert of the engine's `p_lead_*` fields (NULL: keep the
-- stored value; a lead is created only when one is set), `new` to `qualified` when
-- `p_lead_qualifies` (the turn applies domain::qualification::is_qualified to the lead it
-- commits: the rule is not restated here), `version` + 1, and a `notify_manager` job when a
-- managers' chat can take it. The jobs are the contract's `jobs::DeliverReply` and
-- `jobs::NotifyManager` (src/jobs.rs). For the tenant's webhook endpoints (webhook_emit()):
-- `lead.created` (and `lead.qualified` for a lead qualified at once), `lead.qualified` or
-- `lead.updated`, then `reply.created`, then `message.failed` for a dead turn.
-- Follow-ups (migration 0030): an answered turn that updates the lead (not off-topic) of a
-- customer who has not blocked the bot, whose lead is still unqualified (none, or `new`) after it,
-- schedules the contract's `jobs::FollowUp` (number 1, after the reply's seq) when the tenant's
-- `follow_up_max` > 0, due `follow_up_delay_minutes` after now; a pending one (deduplicated by the
-- bot user) is re-armed in place: its payload and due time become this reply's. It reads the
-- tenant's row by primary key (no extra round trip); its job key `follow_up:` comes after
-- `deliver:` and the lead and before `notify:` (key order).
-- Returns one row: `outcome`, `handoff_fresh`, `delivery_job`, `notify_job`, `follow_up_job`
-- (a follow-up job was inserted, not re-armed), and `lead_id`, `lead_version`, `lead_event`
-- when the lead changed.
-- Current definition: migrations/0030_follow_ups.sql.
CREATE OR REPLACE FUNCTION public.turn_commit(p_tenant uuid, p_bot_user uuid, p_job bigint, p_lease_token uuid, p_pending uuid[], p_reply_id uuid, p_reply text, p_engine text, p_language text, p_status text, p_update_lead boolean, p_lead_name text, p_lead_phone text, p_lead_city text, p_lead_object_type text, p_lead_area_m2 double precision, p_lead_summary text, p_lead_qualifies boolean, p_new_lead_id uuid, p_platform_chat boolean, p_company_chats boolean)
 RETURNS TABLE(outcome text, handoff_fresh boolean, delivery_job boolean, notify_job boolean, follow_up_job boolean, lead_id uuid, lead_version integer, lead_event text)
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
$function$

