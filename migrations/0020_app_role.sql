-- Row-level security in force even when DATABASE_URL names a superuser (as the local default,
-- `postgres`, does): superusers and BYPASSRLS roles skip every policy, so isolation would rest on
-- the queries alone.
--
-- When the migrating role bypasses RLS, this creates `salesbot_app` (NOLOGIN, no SUPERUSER, no
-- BYPASSRLS) with the data privileges the service needs and no more: no ownership, so no DDL,
-- no VACUUM, no way to turn a policy off. Every pooled connection of the service then runs
-- `SET ROLE salesbot_app` (db::connect), and a tenant query without `app.tenant_id` sees no rows.
-- Migrations and the queue's VACUUM/ANALYZE run as the session's own role on connections of
-- their own. When the migrating role is an ordinary one (Render's database user), the policies
-- already apply to it (the tables FORCE row-level security on their owner) and nothing is done.
--
-- Roles belong to the cluster, not the database: the role may exist already (another database of
-- the same cluster, or two migrations racing), which is fine; the grants are this database's.
DO $$
DECLARE
    me record;
BEGIN
    SELECT rolsuper, rolbypassrls INTO me FROM pg_roles WHERE rolname = current_user;
    IF NOT (me.rolsuper OR me.rolbypassrls) THEN
        RETURN;
    END IF;
    BEGIN
        CREATE ROLE salesbot_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
    IF NOT me.rolsuper THEN
        -- A BYPASSRLS role that is not a superuser may SET ROLE only to roles it belongs to.
        EXECUTE format('GRANT salesbot_app TO %I', current_user);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO salesbot_app', current_schema());
    EXECUTE format(
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO salesbot_app',
        current_schema());
    EXECUTE format(
        'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO salesbot_app',
        current_schema());
    -- Tables and sequences of later migrations, created by this same role.
    EXECUTE format(
        'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO salesbot_app',
        current_schema());
    EXECUTE format(
        'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO salesbot_app',
        current_schema());
END $$;
