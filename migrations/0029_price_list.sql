-- Honest prices ([J]): a company's price list, one line per object type (tenge per m², a range,
-- and the conditions it holds under). The bot quotes only from it (workers/engine/offline.rs,
-- the OpenAI system prompt), and workers/engine/guard.rs replaces any reply naming a price,
-- discount or deadline the list does not hold. turn_read() returns it with the rest of the turn's
-- reading (one round trip), as `price_item`s.
--
-- The current definitions, with their contracts, are in sql/functions/.

CREATE TABLE price_items (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    object_type text NOT NULL,
    min_per_m2  integer NOT NULL CHECK (min_per_m2 > 0),
    max_per_m2  integer NOT NULL CHECK (max_per_m2 >= min_per_m2),
    conditions  text CHECK (length(conditions) <= 500),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, object_type)
);

ALTER TABLE price_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE price_items FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON price_items
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

CREATE TYPE price_item AS (
    object_type text,
    min_per_m2  integer,
    max_per_m2  integer,
    conditions  text
);

-- turn_read() gains a column: its result type changes, so it is dropped and created again.
DROP FUNCTION turn_read(uuid, uuid, integer);
-- turn_read: everything a `turn` reads before calling the engine, in one statement (one round trip
-- instead of eleven: under load each round trip waited for a busy worker). Scopes itself to the
-- tenant (set_config('app.tenant_id', …, true)) and runs with synchronous_commit off (it writes
-- only the advisory `processing` mark). Returns no row when the conversation has no unanswered
-- customer message; else one row: `pending` (those messages, seq order), `earlier` (the
-- `p_history` messages before the first of them, seq order), both arrays of `turn_message`; the
-- stored lead's fields (`lead_*`, NULL without a lead); the conversation's `language` and `mode`;
-- `telegram_chat` (a Telegram conversation the customer has not blocked); the company's `name`,
-- `about`, `greeting`, `company_phone` and `prices` (its price list, `price_item`s in no order). Marks the pending `queued` messages `processing`,
-- unless a manager has the conversation or one still waits for its transcript; those rows are its
-- only locks (no conversation lock: a conversation's turns are serialised by their job key).
-- Called by `db::turn::read` (`p_history` = ENGINE_HISTORY for a turn, 0 for a dead turn's
-- fallback reply), through `query!`: sqlx checks the columns at build time.
-- Current definition: migrations/0029_price_list.sql.
CREATE OR REPLACE FUNCTION public.turn_read(p_tenant uuid, p_bot_user uuid, p_history integer)
 RETURNS TABLE(pending turn_message[], earlier turn_message[], lead_name text, lead_phone text, lead_city text, lead_object_type text, lead_area_m2 double precision, lead_summary text, language text, mode text, telegram_chat text, company_name text, about text, greeting text, company_phone text, prices price_item[])
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
           t.name, t.about, t.greeting, t.company_phone,
           coalesce((SELECT array_agg((p.object_type, p.min_per_m2, p.max_per_m2,
                                       p.conditions)::price_item)
                       FROM price_items p WHERE p.tenant_id = p_tenant), '{}')
      FROM bot_users b
      JOIN tenants t ON t.id = b.tenant_id
      LEFT JOIN leads l ON l.tenant_id = b.tenant_id AND l.bot_user_id = b.id
     WHERE b.tenant_id = p_tenant AND b.id = p_bot_user;
END
$function$

