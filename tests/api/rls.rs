//! Row-level security: the database itself hides other tenants' rows from the service's role
//! (`salesbot_app`, which every service connection takes when the configured role — like the
//! test connection's `postgres` — is a superuser; migrations/0020_app_role.sql).

use salesbot::domain::TenantId;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::seed_conversation;

const SET_PROBE_ROLE: &str = "SET LOCAL ROLE salesbot_app";

async fn tenant(pool: &PgPool, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO tenants (id, name) VALUES ($1, $2)")
        .bind(id)
        .bind(name)
        .execute(pool)
        .await
        .unwrap();
    id
}

async fn visible_leads(tx: &mut sqlx::PgConnection) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM leads ORDER BY name")
        .fetch_all(tx)
        .await
        .unwrap()
}

#[sqlx::test]
async fn non_superuser_sees_only_the_tenant_named_by_the_setting(pool: PgPool) {
    let x = tenant(&pool, "X").await;
    let y = tenant(&pool, "Y").await;
    seed_conversation(&pool, x, "x1", "Xenia").await;
    seed_conversation(&pool, x, "x2", "Xavier").await;
    seed_conversation(&pool, y, "y1", "Yerlan").await;

    // No setting: nothing is visible.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(SET_PROBE_ROLE).execute(&mut *tx).await.unwrap();
    assert!(visible_leads(&mut tx).await.is_empty());
    let bot_users: i64 = sqlx::query_scalar("SELECT count(*) FROM bot_users")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(bot_users, 0);
    tx.rollback().await.unwrap();

    // Through the application's helper: only X's rows.
    let mut tx = salesbot::db::tenant_tx(&pool, TenantId(x)).await.unwrap();
    sqlx::query(SET_PROBE_ROLE).execute(&mut *tx).await.unwrap();
    assert_eq!(visible_leads(&mut tx).await, vec!["Xavier", "Xenia"]);
    // Writing a row for another tenant is refused by the policy's WITH CHECK.
    let err =
        sqlx::query("INSERT INTO bot_users (id, tenant_id, external_id) VALUES ($1, $2, 'sneaky')")
            .bind(Uuid::now_v7())
            .bind(y)
            .execute(&mut *tx)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();

    // The setting is transaction-local: a later transaction on a pooled connection sees nothing again.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(SET_PROBE_ROLE).execute(&mut *tx).await.unwrap();
    assert!(visible_leads(&mut tx).await.is_empty());
    tx.rollback().await.unwrap();

    let mut tx = salesbot::db::tenant_tx(&pool, TenantId(y)).await.unwrap();
    sqlx::query(SET_PROBE_ROLE).execute(&mut *tx).await.unwrap();
    assert_eq!(visible_leads(&mut tx).await, vec!["Yerlan"]);
    tx.rollback().await.unwrap();
}

/// Every table that carries a tenant id is under forced RLS, except the few that are documented not
/// to be: the identity directory (`users`, `api_keys`), the webhook routing directory (`telegram_webhooks`) and
/// the cross-tenant queue (`jobs`, `queue_pauses`). A new tenant table without a policy fails here.
#[sqlx::test]
async fn every_tenant_table_forces_row_level_security(pool: PgPool) {
    let unprotected: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
         WHERE c.relkind = 'r' AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        unprotected,
        [
            "api_keys",
            "jobs",
            "queue_pauses",
            "telegram_webhooks",
            "users"
        ]
    );
}

/// A company's Telegram settings, as a non-superuser sees them: only under its own tenant.
#[sqlx::test]
async fn telegram_settings_are_invisible_to_another_tenant(pool: PgPool) {
    let x = tenant(&pool, "X").await;
    let y = tenant(&pool, "Y").await;
    sqlx::query(
        "INSERT INTO telegram_bots (tenant_id, token_ciphertext, token_hint, webhook_secret)
         VALUES ($1, '\\x00', '1:…abcd', 'secret')",
    )
    .bind(x)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO telegram_updates (tenant_id, key) VALUES ($1, 'update:1')")
        .bind(x)
        .execute(&pool)
        .await
        .unwrap();

    for (tenant, expected) in [(y, 0), (x, 1)] {
        let mut tx = salesbot::db::tenant_tx(&pool, TenantId(tenant))
            .await
            .unwrap();
        sqlx::query(SET_PROBE_ROLE).execute(&mut *tx).await.unwrap();
        for table in ["telegram_bots", "telegram_updates"] {
            let seen: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
            assert_eq!(seen, expected, "{table} as tenant {tenant}");
        }
        tx.rollback().await.unwrap();
    }
}

/// The README's default set-up connects as the local server's `postgres` superuser, which no
/// policy binds. The service's connections give that power up: a query that forgets its tenant
/// sees nothing, however many tenants the database holds.
#[sqlx::test]
async fn the_default_local_set_up_keeps_row_level_security_in_force(pool: PgPool) {
    let x = tenant(&pool, "X").await;
    seed_conversation(&pool, x, "x1", "Xenia").await;
    let database = pool.connect_options().get_database().unwrap().to_owned();
    let url = salesbot::config::DatabaseUrl::parse(&format!(
        "postgres://postgres@127.0.0.1:5432/{database}"
    ))
    .unwrap();
    let service = salesbot::db::connect(&url, 2).await.unwrap();

    let (role, leads): (String, i64) =
        sqlx::query_as("SELECT current_user::text, (SELECT count(*) FROM leads)")
            .fetch_one(&service)
            .await
            .unwrap();
    assert_eq!(role, salesbot::db::APP_ROLE);
    assert_eq!(
        leads, 0,
        "a tenant query without the tenant set sees no rows"
    );
    let superuser_sees: i64 = sqlx::query_scalar("SELECT count(*) FROM leads")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(superuser_sees, 1, "the row is there");
    // Named, the tenant sees its own.
    let mut tx = salesbot::db::tenant_tx(&service, TenantId(x))
        .await
        .unwrap();
    assert_eq!(visible_leads(&mut tx).await, vec!["Xenia"]);
    tx.rollback().await.unwrap();
    // The role cannot switch a policy off, nor own anything.
    let err = sqlx::query("ALTER TABLE leads DISABLE ROW LEVEL SECURITY")
        .execute(&service)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must be owner"), "{err}");
}
