-- Foundation: tenants, their users, their customers (bot users), messages and leads.
--
-- Tenancy: every tenant-owned table carries tenant_id, it leads every index, and row-level security is
-- enabled AND forced, so even the table owner sees only the rows of the tenant named by the
-- transaction-local setting `app.tenant_id` (set by db::tenant_tx). Superusers and BYPASSRLS roles skip
-- RLS; production connects as a plain role (docs/architecture.md, "Tenancy").
--
-- tenants and users are the identity directory: login finds a user by email before any tenant is
-- known, so they are not under RLS; only src/db/users.rs and src/db/tenants.rs touch them.

CREATE TABLE tenants (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email             text NOT NULL,
    password_hash     text NOT NULL,
    role              text NOT NULL DEFAULT 'manager' CHECK (role IN ('owner', 'manager')),
    is_active         boolean NOT NULL DEFAULT true,
    -- operates the platform (diagnostics); not a tenant role
    is_platform_admin boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now()
);
-- Email is unique whatever its case (the application also stores it lower-cased).
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_tenant ON users (tenant_id, created_at);

-- The tenant whose rows the current transaction may see; NULL (no rows) when unset. NULLIF because a
-- setting that was SET LOCAL earlier in the session reads back as '' afterwards, not NULL.
CREATE FUNCTION app_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

-- A tenant's customer in one channel; `external_id` is the prototype's `user_id`.
CREATE TABLE bot_users (
    id          uuid NOT NULL,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    channel     text NOT NULL DEFAULT 'api' CHECK (channel IN ('api', 'telegram')),
    external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
    name        text,
    phone       text,
    language    text CHECK (language IN ('ru', 'kk', 'en', 'mixed')),
    -- 'human' while a manager has taken the conversation over
    mode        text NOT NULL DEFAULT 'bot' CHECK (mode IN ('bot', 'human')),
    -- the seq of the conversation's latest message: the next message takes last_seq + 1
    last_seq    bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, channel, external_id)
);
CREATE INDEX bot_users_recent ON bot_users (tenant_id, updated_at DESC);

CREATE TABLE messages (
    id              uuid NOT NULL,
    tenant_id       uuid NOT NULL,
    bot_user_id     uuid NOT NULL,
    -- order within the conversation, gap-free, from bot_users.last_seq
    seq             bigint NOT NULL,
    role            text NOT NULL CHECK (role IN ('user', 'assistant', 'manager', 'system')),
    kind            text NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'voice')),
    content         text NOT NULL DEFAULT '',
    transcript      text,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'transcribing', 'processing', 'answered', 'failed', 'stored')),
    idempotency_key text,
    -- which engine wrote an assistant message (offline, openai, …)
    engine          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, bot_user_id, seq),
    FOREIGN KEY (tenant_id, bot_user_id) REFERENCES bot_users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX messages_idempotency_key ON messages (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE leads (
    id          uuid NOT NULL,
    tenant_id   uuid NOT NULL,
    bot_user_id uuid NOT NULL,
    name        text,
    phone       text,
    city        text,
    object_type text,
    area_m2     double precision CHECK (area_m2 > 0),
    summary     text,
    status      text NOT NULL DEFAULT 'new'
                CHECK (status IN ('new', 'qualified', 'in_work', 'won', 'lost')),
    loss_reason text,
    -- bumped on every change, so side effects (notifications) are keyed per lead version
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    -- one lead per bot user
    UNIQUE (tenant_id, bot_user_id),
    FOREIGN KEY (tenant_id, bot_user_id) REFERENCES bot_users (tenant_id, id) ON DELETE CASCADE,
    CHECK (status <> 'lost' OR loss_reason IS NOT NULL)
);
CREATE INDEX leads_recent ON leads (tenant_id, created_at DESC, id DESC);
CREATE INDEX leads_status ON leads (tenant_id, status, created_at DESC);

ALTER TABLE bot_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE bot_users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bot_users
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON messages
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

ALTER TABLE leads ENABLE ROW LEVEL SECURITY;
ALTER TABLE leads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON leads
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
