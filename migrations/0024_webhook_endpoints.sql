-- Webhook endpoints ([E2]): where a tenant's integrations receive its events, signed with the
-- endpoint's secret (Standard Webhooks, src/domain/webhook.rs). The secrets are sealed with
-- SECRET_KEY like the bots' tokens (src/crypto.rs); after a rotation the previous secret keeps
-- signing beside the new one until `previous_secret_expires_at`.
CREATE TABLE webhook_endpoints (
    tenant_id                  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                         uuid NOT NULL,
    url                        text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    events                     text[] NOT NULL CHECK (
                                   cardinality(events) > 0
                                   AND events <@ ARRAY['message.received', 'reply.created',
                                                       'lead.created', 'lead.updated',
                                                       'lead.qualified', 'message.failed']::text[]),
    description                text CHECK (length(description) <= 200),
    secret                     bytea NOT NULL,
    previous_secret            bytea,
    previous_secret_expires_at timestamptz,
    enabled                    boolean NOT NULL DEFAULT true,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
);
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
