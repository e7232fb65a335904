-- Web processes cache the accounts their requests authenticate as (src/http/accounts.rs). A change
-- to an account must still refuse its tokens at once, so every change that can alter what a request
-- is allowed to do tells them: any update or deletion of a user (its id), and a tenant's rename or
-- deletion ('*': the tenant's name is part of the cached account; a deleted tenant's users are
-- deleted by the cascade, which fires the users trigger too). Accounts change rarely, so the
-- NOTIFY's serialised commit costs nothing that matters.
CREATE FUNCTION account_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('salesbot_accounts',
                      CASE WHEN TG_TABLE_NAME = 'users' THEN OLD.id::text ELSE '*' END);
    RETURN NULL;
END
$$;

CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION account_changed();
CREATE TRIGGER tenants_renamed AFTER UPDATE OF name OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION account_changed();
