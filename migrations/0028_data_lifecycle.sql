-- Data lifecycle ([J]): how long a company keeps its customers' words, and the record of what
-- was erased on request.
--
-- `tenants.retention_days`: messages (with their audio and Telegram rows) and webhook delivery
-- logs older than this many days are deleted by the worker's maintenance task
-- (src/db/lifecycle.rs, workers/maintenance.rs); NULL keeps them forever. Leads and the
-- conversation rows (`bot_users`, with `last_seq`) are kept: seqs go on from `last_seq`.
--
-- `audit_log`: one row per erasure of a customer (`conversation.erased`): who, when, the erased
-- conversation's id and how many rows each table lost. No personal data: the customer's words,
-- name, phone and channel id are what was erased.
--
-- The webhook indexes serve the erasure (a conversation's events) and the retention (a tenant's
-- events by age); `webhook_events` ids are random, so the primary key orders nothing. Messages
-- need no new index: their ids are UUID v7, so the primary key (tenant_id, id) is in time order
-- and the retention scans a range of it (an index on `messages` would tax every ingest).

ALTER TABLE tenants
    ADD COLUMN retention_days integer CHECK (retention_days BETWEEN 1 AND 3650);

CREATE TABLE audit_log (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    -- The account that acted; no foreign key: the record outlives the account.
    actor_user_id uuid,
    action        text NOT NULL CHECK (action IN ('conversation.erased')),
    -- What the action was about (for `conversation.erased`, the bot user's id).
    subject       uuid,
    detail        jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_recent ON audit_log (tenant_id, at DESC);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

CREATE INDEX webhook_events_bot_user ON webhook_events (tenant_id, bot_user_id)
    WHERE bot_user_id IS NOT NULL;
CREATE INDEX webhook_events_created ON webhook_events (tenant_id, created_at);
