-- account_changed: trigger function of `users_changed` (AFTER UPDATE OR DELETE on users) and
-- `tenants_renamed` (AFTER UPDATE OF name OR DELETE on tenants), both FOR EACH ROW. It NOTIFYs
-- `salesbot_accounts` with the user's id, or '*' for a tenant (its name is part of its users'
-- cached accounts; a deleted tenant's users go by cascade and notify too). A trigger, so every
-- change of an account notifies, whichever statement made it. No Rust code calls it: each web
-- process's listener (`ReplyHub`, src/http/replies.rs) hears the channel and evicts from its
-- `AccountCache` (src/http/accounts.rs), so a changed or deactivated account is refused at once.
-- Takes no row locks of its own. The notification is sent at commit, and a notifying commit is
-- serialised with the others (the NOTIFY lock): acceptable because accounts change rarely.
-- Returns NULL (an AFTER trigger's result is ignored).
-- Current definition: migrations/0015_account_changes.sql.
CREATE OR REPLACE FUNCTION public.account_changed()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM pg_notify('salesbot_accounts',
                      CASE WHEN TG_TABLE_NAME = 'users' THEN OLD.id::text ELSE '*' END);
    RETURN NULL;
END
$function$

