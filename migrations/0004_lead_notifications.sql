-- Manager notifications already sent, one per lead version: a re-run of a notify job (retry, crash
-- before its ack) finds its row and sends nothing again.
CREATE TABLE lead_notifications (
    tenant_id uuid NOT NULL,
    lead_id   uuid NOT NULL,
    version   integer NOT NULL,
    sent_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, lead_id, version),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE lead_notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE lead_notifications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON lead_notifications
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
