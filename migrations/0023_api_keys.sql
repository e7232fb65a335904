-- API keys: integrations authenticate with a key of their tenant instead of a manager's sign-in
-- (src/domain/api_key.rs). Only the key's SHA-256 is stored; `shown` is what lists show of it.
--
-- Like `users`, this table is part of the identity directory: a request's key is found by its hash
-- before any tenant is known, so it is not under row-level security. Only src/db/api_keys.rs
-- queries it, and every query but that lookup names the tenant.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    shown        text NOT NULL,
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    scopes       text[] NOT NULL CHECK (
                     cardinality(scopes) > 0
                     AND scopes <@ ARRAY['chat:write', 'leads:read', 'leads:write',
                                         'webhooks:manage']::text[]),
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
