-- Webhook deliveries ([E2]): the outbox of events a tenant's endpoints receive, the delivery of
-- each event to each subscribed endpoint, and every attempt.
--
-- An event is written by the transaction that makes it true (turn_commit(), the insert of a
-- customer's message, a manager's answer or lead edit): webhook_emit() stores it once
-- (`webhook_events`; its id is the `webhook-id` header, the same on every retry and every
-- endpoint) with one `webhook_deliveries` row and one `webhook` job per subscribed endpoint. The
-- job's key is the endpoint and the conversation, so one conversation's events reach an endpoint
-- in the order they happened, and a failing endpoint holds back only its own deliveries.
--
-- `webhook_endpoints` gains the operational events (endpoint.disabled, endpoint.recovered), an
-- optional rate limit, and the failure state the deliveries keep: `failing_since` (the first
-- delivery that ran out of attempts since the last success) and `disabled_at` with its reason.
--
-- The current definitions, with their contracts, are in sql/functions/.

ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_events_check;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_events_check CHECK (
    cardinality(events) > 0
    AND events <@ ARRAY['message.received', 'reply.created', 'lead.created', 'lead.updated',
                        'lead.qualified', 'message.failed', 'endpoint.disabled',
                        'endpoint.recovered']::text[]);
ALTER TABLE webhook_endpoints
    ADD COLUMN rate_limit_per_second integer CHECK (rate_limit_per_second BETWEEN 1 AND 1000),
    ADD COLUMN failing_since timestamptz,
    ADD COLUMN disabled_at timestamptz,
    ADD COLUMN disabled_reason text CHECK (length(disabled_reason) <= 500);

CREATE TABLE webhook_events (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    type        text NOT NULL,
    -- The conversation the event belongs to (its deliveries' order key); NULL for an endpoint's
    -- own operational events.
    bot_user_id uuid,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    endpoint_id     uuid NOT NULL,
    event_id        uuid NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    next_attempt_at timestamptz,
    finished_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, endpoint_id, event_id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, event_id) REFERENCES webhook_events (tenant_id, id) ON DELETE CASCADE
);
-- The deliveries list (newest first) and "recover the failed ones since T".
CREATE INDEX webhook_deliveries_by_endpoint
    ON webhook_deliveries (tenant_id, endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (tenant_id, event_id);

CREATE TABLE webhook_attempts (
    tenant_id     uuid NOT NULL,
    delivery_id   uuid NOT NULL,
    attempt       integer NOT NULL,
    started_at    timestamptz NOT NULL,
    duration_ms   integer NOT NULL,
    -- NULL: no HTTP answer (refused address, connection error, timeout).
    status_code   integer,
    error         text,
    -- The start of the receiver's answer, for the tenant's debugging (capped by the sender).
    response_body text,
    PRIMARY KEY (tenant_id, delivery_id, attempt),
    FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id)
        ON DELETE CASCADE
);

ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_events
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_attempts
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

-- webhook_subscribed: whether one of the tenant's enabled endpoints subscribes to `p_type`: "who
-- wants this event", asked by every emitter before it builds a payload nobody would receive
-- (turn_commit(), webhook_message_received(), webhook_emit() itself, and db::webhooks in Rust);
-- webhook_emit() picks the endpoints by the same predicate. plpgsql, not SQL: a SQL function
-- called from the messages trigger is set up again on every call (~35–45 µs per ingested
-- message, measured), a plpgsql one keeps its plan.
-- Current definition: migrations/0026_webhook_deliveries.sql.
CREATE OR REPLACE FUNCTION public.webhook_subscribed(p_tenant uuid, p_type text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
AS $function$
BEGIN
    RETURN EXISTS (SELECT 1 FROM webhook_endpoints e
                    WHERE e.tenant_id = p_tenant AND e.enabled AND p_type = ANY (e.events));
END
$function$

;

-- webhook_emit: records one event for the tenant's endpoints subscribed to `p_type`, in the
-- caller's transaction (the outbox: the event commits with what it reports, or not at all).
-- Stores the event once (`webhook_events`; its id is the Standard Webhooks `webhook-id`, the same
-- on every attempt and endpoint) with the payload `{type, version, timestamp, data: p_data}`,
-- and per endpoint a `webhook_deliveries` row and a `webhook` job (the contract's
-- `jobs::DeliverWebhook`, src/jobs.rs) keyed `webhook:<endpoint>:<bot user>` (`webhook:<endpoint>`
-- for an endpoint's operational events, `p_bot_user` NULL): one conversation's events reach an
-- endpoint in order. The job's attempts are generous: the handler ends a delivery when
-- WEBHOOK_RETRY_SCHEDULE runs out. Locks the jobs' `job_keys` rows (after the caller's locks).
-- Returns the number of deliveries (0: nobody subscribed, nothing stored).
-- Called by turn_commit(), webhook_message_received() and db::webhooks (src/db/webhooks.rs).
-- Current definition: migrations/0026_webhook_deliveries.sql.
CREATE OR REPLACE FUNCTION public.webhook_emit(p_tenant uuid, p_bot_user uuid, p_type text, p_data jsonb)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
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
$function$

;

-- webhook_lead: the lead of a conversation as webhook payloads carry it (`data.lead`), NULL when
-- the conversation has none: the fields of `GET /api/leads/{id}` plus `version` (which a receiver
-- orders updates by). The Rust side is `domain::webhook_payload::WebhookLead`; tests/api/
-- webhook_deliveries.rs reads what this builds with it and against the API's lead.
-- Current definition: migrations/0026_webhook_deliveries.sql.
CREATE OR REPLACE FUNCTION public.webhook_lead(p_tenant uuid, p_bot_user uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
    SELECT jsonb_build_object(
               'id', l.id, 'bot_user_id', l.bot_user_id, 'user_id', b.external_id,
               'name', l.name, 'phone', l.phone, 'city', l.city, 'object_type', l.object_type,
               'area_m2', l.area_m2, 'summary', l.summary, 'status', l.status,
               'loss_reason', l.loss_reason, 'version', l.version, 'created_at', l.created_at,
               'updated_at', l.updated_at)
      FROM leads l
      JOIN bot_users b ON b.tenant_id = l.tenant_id AND b.id = l.bot_user_id
     WHERE l.tenant_id = p_tenant AND l.bot_user_id = p_bot_user
$function$

;

-- webhook_reply: the `data` of `reply.created` for a stored reply (the bot's or a manager's):
-- the reply's id, text, author (`bot`, `manager`) and time, the conversation's `user_id` and
-- channel, `in_reply_to` (the customer messages it answered, in order) and the lead
-- (webhook_lead()). Read after the reply's transaction marked what it answered. The Rust side is
-- `domain::webhook_payload::ReplyCreated`.
-- Current definition: migrations/0026_webhook_deliveries.sql.
CREATE OR REPLACE FUNCTION public.webhook_reply(p_tenant uuid, p_bot_user uuid, p_message uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
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
$function$

;

-- webhook_message_received: the `messages` AFTER INSERT row trigger (customer messages only, by
-- its WHEN) that emits `message.received` when the tenant subscribes to it. A trigger because
-- customer messages are inserted by several functions (message_record(), message_ingest_batch())
-- and the rule is one. A row trigger: per message it costs about its probe, webhook_subscribed()
-- (a few µs); the statement trigger over a transition table first written, probing through a
-- SQL-language function, cost ~185 µs per message (BENCHMARKS.md, "Webhooks: what the outbox
-- costs ingest").
-- Data: the message id, `user_id`, channel, kind and text (NULL for a voice note) and its time
-- (`domain::webhook_payload::MessageReceived`).
-- Current definition: migrations/0026_webhook_deliveries.sql.
CREATE OR REPLACE FUNCTION public.webhook_message_received()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
$function$

;

CREATE TRIGGER messages_webhook_received AFTER INSERT ON messages
    FOR EACH ROW WHEN (NEW.role = 'user') EXECUTE FUNCTION webhook_message_received();

-- turn_commit: a `turn`'s writes in one statement (one round trip instead of about twelve, each
-- holding the conversation's and the lead's locks). Called by `commit` (workers/pipeline/turn.rs)
-- alone, or in a `tenant_tx` before `db::handoff::begin` when the engine asked for a handoff.
-- Lock order (ingest's): the conversation's row; the job's row as the lease fence (`p_job`,
-- `p_lease_token`, running, lease not expired); the unanswered ones of `p_pending` (turn_read()'s
-- messages) in seq order; then the `deliver:` job key, the lead's row, the `notify:` job key,
-- the `webhook:` job keys.
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
-- `lead.updated`, then `reply.created`, then `message.failed` for a dead turn. Returns one row:
-- `outcome`, `handoff_fresh`, `delivery_job`, `notify_job`, and `lead_id`, `lead_version`,
-- `lead_event` when the lead changed.
-- Current definition: migrations/0026_webhook_deliveries.sql.
CREATE OR REPLACE FUNCTION public.turn_commit(p_tenant uuid, p_bot_user uuid, p_job bigint, p_lease_token uuid, p_pending uuid[], p_reply_id uuid, p_reply text, p_engine text, p_language text, p_status text, p_update_lead boolean, p_lead_name text, p_lead_phone text, p_lead_city text, p_lead_object_type text, p_lead_area_m2 double precision, p_lead_summary text, p_lead_qualifies boolean, p_new_lead_id uuid, p_platform_chat boolean, p_company_chats boolean)
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
    v_lead_types   text[];
    v_type         text;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    delivery_job := false;
    notify_job := false;
    handoff_fresh := false;
    SELECT b.mode, b.channel, b.released_at, b.external_id INTO v_conversation
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

;
