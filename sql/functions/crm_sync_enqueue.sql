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

