-- turn_commit: a `turn`'s writes in one statement (one round trip instead of about twelve, each
-- holding the conversation's and the lead's locks). Called by `commit` (workers/pipeline/turn.rs)
-- alone, or in a `tenant_tx` before `db::handoff::begin` when the engine asked for a handoff.
-- Lock order (ingest's, 0016): the conversation's row; the job's row as the lease fence (`p_job`,
-- `p_lease_token`, running, lease not expired); the unanswered ones of `p_pending` (turn_read()'s
-- messages) in seq order; then the `deliver:` job key, the lead's row, the `notify:` job key.
-- Stops with outcome 'lease_lost', 'human' (a manager has it: the reply is dropped) or
-- 'nothing_pending' (an earlier attempt committed). Else 'committed': the reply at the next seq,
-- the answers marked `p_status` ('failed' for a dead turn), the conversation's language (not
-- `updated_at`, so the update can be HOT), a `deliver_reply` job for Telegram; with `p_lead` (the
-- engine's patch; NULL: leave the lead) the lead upsert, `new` to `qualified` by the rule of
-- `engine::is_qualified`, `version` + 1, and a `notify_manager` job when a managers' chat can take
-- it. The jobs are the contract's `jobs::DeliverReply` and `jobs::NotifyManager` (src/jobs.rs). Returns
-- jsonb {outcome, handoff_fresh, delivery_job, notify_job, lead_id, lead_version, lead_event}.
-- Current definition: migrations/0016_turn_commit_lock_order.sql.
CREATE OR REPLACE FUNCTION public.turn_commit(p_tenant uuid, p_bot_user uuid, p_job bigint, p_lease_token uuid, p_pending uuid[], p_reply_id uuid, p_reply text, p_engine text, p_language text, p_status text, p_lead jsonb, p_new_lead_id uuid, p_platform_chat boolean, p_company_chats boolean)
 RETURNS jsonb
 LANGUAGE plpgsql
AS $function$
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
    SELECT mode, channel, released_at INTO v_conversation
      FROM bot_users WHERE tenant_id = p_tenant AND id = p_bot_user FOR UPDATE;
    PERFORM 1 FROM jobs
     WHERE id = p_job AND lease_token = p_lease_token AND state = 'running' AND lease_until > now()
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'lease_lost');
    END IF;
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
$function$

