-- amoCRM ([E2]): a company's amoCRM account (its base domain, the prototype's
-- `amocrm_base_domain`, and a long-lived token sealed with SECRET_KEY), and each lead's ids
-- there. Every change of a lead queues its sync (crm_sync_enqueue()); the `crm_sync` job
-- (workers/pipeline/crm_sync.rs) creates the lead with its contact once, then updates them.
-- `unauthorized_at`: amoCRM refused the token (401); nothing is synced until it is saved again.
--
-- The current definitions, with their contracts, are in sql/functions/.

CREATE TABLE amocrm_settings (
    tenant_id       uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    base_domain     text NOT NULL CHECK (length(base_domain) BETWEEN 1 AND 253),
    token           bytea NOT NULL,
    unauthorized_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE amocrm_links (
    tenant_id      uuid NOT NULL,
    lead_id        uuid NOT NULL,
    amo_lead_id    bigint NOT NULL,
    amo_contact_id bigint,
    -- The lead version amoCRM last got.
    synced_version integer NOT NULL,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, lead_id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE amocrm_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE amocrm_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON amocrm_settings
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
ALTER TABLE amocrm_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE amocrm_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON amocrm_links
    USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());

-- crm_sync_enqueue: the `leads` AFTER INSERT OR UPDATE row trigger that queues the lead's amoCRM
-- sync when the tenant has connected amoCRM (and its token was not refused): one `crm_sync` job
-- pending per lead (the contract's `jobs::CrmSync`, src/jobs.rs), which reads the lead as it is
-- when it runs, so a burst of changes is one sync. A trigger because leads change in several
-- places (turn_commit(), a manager's edit) and the rule is one. Locks the job's `job_keys` row
-- after the lead's.
-- Current definition: migrations/0027_amocrm.sql.
CREATE OR REPLACE FUNCTION public.crm_sync_enqueue()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM 1 FROM amocrm_settings s
     WHERE s.tenant_id = NEW.tenant_id AND s.unauthorized_at IS NULL;
    IF FOUND THEN
        PERFORM queue_enqueue(
            'crm_sync', 'crm:' || NEW.id, NEW.tenant_id,
            jsonb_build_object('tenant_id', NEW.tenant_id, 'lead_id', NEW.id),
            NULL, 0::smallint, 10, 'crm:' || NEW.id);
    END IF;
    RETURN NULL;
END
$function$
;

CREATE TRIGGER leads_crm_sync AFTER INSERT OR UPDATE ON leads
    FOR EACH ROW EXECUTE FUNCTION crm_sync_enqueue();
