-- Telegram as a customer channel (docs/architecture.md, "Telegram").

-- A tenant's own bot. The token is encrypted (ChaCha20-Poly1305, key derived from SECRET_KEY, the
-- tenant id as associated data, so a ciphertext copied to another tenant's row does not decrypt);
-- `token_hint` is the only form of it the API ever shows.
CREATE TABLE telegram_bots (
    tenant_id        uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    token_ciphertext bytea NOT NULL,
    token_hint       text NOT NULL,
    -- Telegram sends it back in X-Telegram-Bot-Api-Secret-Token on every webhook call
    webhook_secret   text NOT NULL,
    -- where lead notifications go (NULL: the platform chat, TELEGRAM_CHAT_ID)
    managers_chat_id text,
    language         text NOT NULL DEFAULT 'ru' CHECK (language IN ('ru', 'kk', 'en')),
    -- the managers' working hours, minutes after midnight in Kazakhstan time (UTC+5); NULL: always
    work_from_min    smallint CHECK (work_from_min BETWEEN 0 AND 1439),
    work_to_min      smallint CHECK (work_to_min BETWEEN 0 AND 1439),
    -- getUpdates mode (TELEGRAM_POLLING): the next update_id to ask for
    poll_offset      bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE telegram_bots ENABLE ROW LEVEL SECURITY;
ALTER TABLE telegram_bots FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON telegram_bots
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

-- The webhook's routing directory: a call to /telegram/{webhook_id} names no tenant until this table
-- says which, so — like login's `users` — it is read before any tenant context and is not under RLS.
-- It holds no secret: the secret token is checked afterwards, inside the tenant's transaction.
-- Only src/db/telegram.rs touches it.
CREATE TABLE telegram_webhooks (
    webhook_id uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL UNIQUE REFERENCES tenants (id) ON DELETE CASCADE
);

-- Updates that produced no customer message (/start, a sticker) are recorded by key —
-- `update:<bot id>:<update id>`, or `album:<bot id>:<media_group_id>` for every photo of one album — so
-- a redelivery or the album's other photos are answered once. Customer messages are deduplicated by
-- their idempotency key `tg:<bot id>:<update id>`.
CREATE TABLE telegram_updates (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key         text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
ALTER TABLE telegram_updates ENABLE ROW LEVEL SECURITY;
ALTER TABLE telegram_updates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON telegram_updates
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

-- A Telegram voice note is fetched by the transcribe job (getFile + download), not at ingest: the
-- webhook must answer at once. Deleted with its message.
CREATE TABLE telegram_files (
    tenant_id  uuid NOT NULL,
    message_id uuid NOT NULL,
    file_id    text NOT NULL,
    mime       text NOT NULL,
    file_size  bigint,
    PRIMARY KEY (tenant_id, message_id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE telegram_files ENABLE ROW LEVEL SECURITY;
ALTER TABLE telegram_files FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON telegram_files
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

-- Parts of a reply already sent: a retried deliver_reply job skips them (idempotency by reply + part).
CREATE TABLE telegram_sent_parts (
    tenant_id           uuid NOT NULL,
    message_id          uuid NOT NULL,
    part                integer NOT NULL,
    telegram_message_id bigint,
    sent_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, message_id, part),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE telegram_sent_parts ENABLE ROW LEVEL SECURITY;
ALTER TABLE telegram_sent_parts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON telegram_sent_parts
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

ALTER TABLE bot_users
    -- the customer blocked the bot (Telegram answered 403): nothing more is sent
    ADD COLUMN blocked_at timestamptz,
    -- when a manager took the conversation over (mode = 'human')
    ADD COLUMN handoff_at timestamptz,
    -- when it was last given back to the bot: a handoff request in a message older than this was
    -- already handled and must not start another (no handoff loop)
    ADD COLUMN released_at timestamptz;

-- What was forwarded to the managers' chat during a handoff (`msg:<message id>`, or
-- `handoff:<handoff time>` for the "a customer needs a manager" alert): a re-run sends nothing again.
CREATE TABLE manager_forwards (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key       text NOT NULL,
    sent_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
ALTER TABLE manager_forwards ENABLE ROW LEVEL SECURITY;
ALTER TABLE manager_forwards FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON manager_forwards
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
