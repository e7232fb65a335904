-- The conversation pipeline: ingest → transcribe → turn (docs/architecture.md, "Pipeline").

-- Per-tenant conversation settings.
ALTER TABLE tenants
    -- a turn waits this long after the latest customer message, so a burst gets one coherent reply
    ADD COLUMN coalesce_ms integer NOT NULL DEFAULT 0 CHECK (coalesce_ms BETWEEN 0 AND 60000),
    ADD COLUMN greeting text,
    ADD COLUMN company_phone text;

ALTER TABLE messages
    -- for a customer message: the assistant message that answered it
    ADD COLUMN reply_id uuid,
    -- voice only: pending → done | unavailable (no speech-to-text configured) | failed
    ADD COLUMN transcript_status text
        CHECK (transcript_status IN ('pending', 'done', 'unavailable', 'failed')),
    ADD COLUMN language text CHECK (language IN ('ru', 'kk', 'en', 'mixed')),
    ADD COLUMN answered_at timestamptz;

-- The next turn of a conversation reads its unanswered customer messages.
CREATE INDEX messages_unanswered ON messages (tenant_id, bot_user_id, seq)
    WHERE role = 'user' AND reply_id IS NULL;

-- Voice notes, kept apart so message rows stay small. Deleted with their message.
CREATE TABLE message_audio (
    tenant_id  uuid NOT NULL,
    message_id uuid NOT NULL,
    content    bytea NOT NULL,
    mime       text NOT NULL,
    file_name  text NOT NULL,
    PRIMARY KEY (tenant_id, message_id),
    FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE message_audio ENABLE ROW LEVEL SECURITY;
ALTER TABLE message_audio FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON message_audio
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

ALTER TABLE leads
    ADD COLUMN engine text,
    ADD COLUMN qualified_at timestamptz;
