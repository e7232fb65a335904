//! Database access: the pool, migrations, and queries grouped by aggregate.
//!
//! Every query on a tenant-owned table runs inside [`tenant_tx`], which names the tenant for
//! row-level security; finders also take the tenant explicitly, so isolation holds twice (in the
//! query and in the database).

pub mod amocrm;
pub mod api_keys;
pub mod diagnostics;
pub mod embedded;
pub mod follow_ups;
pub mod handoff;
pub mod ingestor;
pub mod leads;
pub mod lifecycle;
pub mod messages;
pub mod prices;
pub mod telegram;
pub mod tenants;
pub mod throttle;
pub mod turn;
pub mod usage;
pub mod users;
pub mod webhooks;

use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{PgPool, Postgres, Transaction};

use crate::config::{Config, DEFAULT_DATABASE_URL, DatabaseTarget, DatabaseUrl};
use crate::domain::TenantId;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// A running database this process may have provisioned (see [`embedded`]).
pub struct Database {
    pub url: DatabaseUrl,
    /// Set when this process started a private cluster; stopping it is the caller's choice.
    pub private_cluster: Option<embedded::Cluster>,
}

/// Finds the database the configuration points at, provisioning the embedded default when needed.
///
/// With DATABASE_URL set, the URL is used as is: a managed database is never created or replaced.
pub async fn locate(config: &Config) -> anyhow::Result<Database> {
    match &config.database {
        DatabaseTarget::Explicit(url) => Ok(Database {
            url: url.clone(),
            private_cluster: None,
        }),
        DatabaseTarget::EmbeddedDefault { pg_data_dir } => {
            let default = DatabaseUrl::parse(DEFAULT_DATABASE_URL).expect("valid default URL");
            match ensure_database(&default).await {
                Ok(()) => Ok(Database {
                    url: default,
                    private_cluster: None,
                }),
                Err(err) if is_connection_refused(&err) => {
                    tracing::warn!(
                        "no PostgreSQL answers at 127.0.0.1:5432; starting a private cluster in {}",
                        pg_data_dir.display()
                    );
                    let cluster = embedded::Cluster::start(pg_data_dir).await?;
                    let url = cluster.url("salesbot");
                    ensure_database(&url).await.with_context(|| {
                        format!("creating the salesbot database in the private cluster at {url}")
                    })?;
                    Ok(Database {
                        url,
                        private_cluster: Some(cluster),
                    })
                }
                Err(err) => Err(anyhow::Error::new(err)
                    .context(format!("connecting to the default database {default}"))),
            }
        }
    }
}

fn is_connection_refused(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// Creates the database named by `url` when it does not exist yet (safe when two processes race).
pub async fn ensure_database(url: &DatabaseUrl) -> Result<(), sqlx::Error> {
    let Some(name) = url.database() else {
        return Ok(());
    };
    let maintenance: PgConnectOptions = url.with_database("postgres").expose().parse()?;
    let mut conn = sqlx::ConnectOptions::connect(&maintenance).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
            .execute(&mut conn)
            .await
        {
            Ok(_) => tracing::info!(database = name, "created database"),
            // 42P04 duplicate_database, 23505: another process created it at the same moment.
            Err(err)
                if err
                    .as_database_error()
                    .and_then(|e| e.code())
                    .is_some_and(|c| c == "42P04" || c == "23505") => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Options every connection of the service gets: a stray transaction or runaway statement must not
/// hold locks or stop vacuum (the job queue churns rows and depends on vacuum keeping up).
///
/// A server on this host's loopback is reached without TLS unless the URL (or PGSSLMODE) names an
/// `sslmode`: libpq's default `prefer` encrypts loopback traffic, which no one else can see, and
/// that cost about a tenth of the end-to-end benchmark's throughput. Remote servers keep the
/// default.
pub fn connect_options(url: &DatabaseUrl) -> Result<PgConnectOptions, sqlx::Error> {
    let mut options = url
        .expose()
        .parse::<PgConnectOptions>()?
        .application_name("salesbot")
        .options([
            ("idle_in_transaction_session_timeout", "60s"),
            ("statement_timeout", "60s"),
        ]);
    let ssl_mode_chosen = url.names_ssl_mode() || std::env::var_os("PGSSLMODE").is_some();
    if !ssl_mode_chosen && is_loopback(options.get_host()) {
        options = options.ssl_mode(PgSslMode::Disable);
    }
    Ok(options)
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
}

/// A pooled connection idle at least this long is pinged before it is handed out.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// The role pooled connections take when the configured one would bypass row-level security
/// (`migrations/0020_app_role.sql`).
pub const APP_ROLE: &str = "salesbot_app";

/// Who the service's queries run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryRole {
    /// The configured role is an ordinary one: the policies apply to it as it is.
    AsConnected,
    /// The configured role is a superuser or has BYPASSRLS: every connection takes [`APP_ROLE`].
    Restricted,
}

/// sqlx pings every idle connection before handing it out, by default: a round trip before each
/// statement run on the pool (measured: a one-statement enqueue took two). A connection in steady use
/// is known to be alive, so only one idle for a while (dropped by a proxy, or the server restarted
/// meanwhile) is checked; a connection that dies in between fails its statement, and the caller
/// retries as it would for any transient database error.
pub fn pool_options(max_connections: u32, role: QueryRole) -> PgPoolOptions {
    let options = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        });
    match role {
        QueryRole::AsConnected => options,
        // Session-wide, once per connection: every statement of the pool runs without the
        // privilege to skip a policy. (A role change is not a barrier against SQL injection —
        // RESET ROLE undoes it — but against the query that forgets its tenant.)
        QueryRole::Restricted => options.after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::raw_sql("SET ROLE salesbot_app").execute(conn).await?;
                Ok(())
            })
        }),
    }
}

/// Whether the role of `options` bypasses row-level security, and so must give it up.
pub async fn query_role(options: &PgConnectOptions) -> anyhow::Result<QueryRole> {
    let mut conn = sqlx::ConnectOptions::connect(options).await?;
    let row = sqlx::query!(
        r#"SELECT (r.rolsuper OR r.rolbypassrls) AS "bypasses!",
                  EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'salesbot_app') AS "app_role!"
           FROM pg_roles r WHERE r.rolname = current_user"#
    )
    .fetch_one(&mut conn)
    .await?;
    sqlx::Connection::close(conn).await?;
    match (row.bypasses, row.app_role) {
        (false, _) => Ok(QueryRole::AsConnected),
        (true, true) => Ok(QueryRole::Restricted),
        (true, false) => anyhow::bail!(
            "connected as a role that bypasses row-level security, and the role {APP_ROLE} that \
             keeps the policies in force does not exist yet: run `salesbot migrate` first"
        ),
    }
}

/// Connects eagerly: the process fails at start, with the cause, if the database is unreachable.
/// Connections give up the configured role's power to bypass row-level security.
pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = connect_options(url)?;
    let role = query_role(&options)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    if role == QueryRole::Restricted {
        tracing::info!(
            role = APP_ROLE,
            "the configured role bypasses row-level security; queries run as {APP_ROLE}"
        );
    }
    pool_options(max_connections, role)
        .connect_with(options)
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// The pool the service would use for the database `pool` points at: the same connections, with
/// row-level security in force. For tests, whose pools come from `#[sqlx::test]`.
pub async fn service_pool(pool: &PgPool, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = (*pool.connect_options()).clone();
    let role = query_role(&options).await?;
    Ok(pool_options(max_connections, role).connect_lazy_with(options))
}

/// A connection of the configured role itself, not of the pool's restricted one: for the few
/// statements only a table's owner may run (VACUUM, ANALYZE).
pub async fn owner_connection(pool: &PgPool) -> Result<sqlx::PgConnection, sqlx::Error> {
    sqlx::ConnectOptions::connect(&*pool.connect_options()).await
}

/// Applies pending migrations before the service's pool exists (its restricted role is one of
/// them), on a connection of its own as the configured role: the owner of the schema, where the
/// service's pool may create nothing. The migrator holds a Postgres advisory lock while it runs,
/// so two processes starting at once apply each migration exactly once.
pub async fn migrate_at(url: &DatabaseUrl) -> anyhow::Result<()> {
    let conn = sqlx::ConnectOptions::connect(&connect_options(url)?)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    migrate_on(conn).await
}

/// [`migrate_at`] the database `pool` points at (as its configured role, whatever the pool's).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    migrate_on(owner_connection(pool).await?).await
}

async fn migrate_on(mut conn: sqlx::PgConnection) -> anyhow::Result<()> {
    MIGRATOR
        .run(&mut conn)
        .await
        .context("applying database migrations")?;
    sqlx::Connection::close(conn).await?;
    Ok(())
}

/// Waits until the database at `url` carries every migration this build expects (another process,
/// the release step, applies them), checking every `every`, for at most `patience`. For a process
/// started with --no-migrate that must not run against an older schema: the worker.
pub async fn wait_for_migrations(
    url: &DatabaseUrl,
    every: std::time::Duration,
    patience: std::time::Duration,
) -> anyhow::Result<()> {
    let expected = expected_migration();
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let applied = async {
            let mut conn = sqlx::ConnectOptions::connect(&connect_options(url)?).await?;
            let exists: bool =
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(&mut conn)
                    .await?;
            let applied: Option<i64> = if exists {
                sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&mut conn)
                    .await?
            } else {
                None
            };
            let _ = sqlx::Connection::close(conn).await;
            anyhow::Ok(applied)
        }
        .await;
        match applied {
            Ok(Some(applied)) if applied >= expected => return Ok(()),
            Ok(applied) => tracing::warn!(
                ?applied,
                expected,
                "waiting for the release step to apply this build's migrations"
            ),
            Err(err) => tracing::warn!(error = %err, "waiting for the database"),
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "the database does not carry migration {expected} after {patience:?}: run `salesbot migrate`"
            );
        }
        tokio::time::sleep(every).await;
    }
}

/// The newest migration this binary knows.
pub fn expected_migration() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The newest migration applied to the database (None when none is, or the table is missing).
pub async fn applied_migration(pool: &PgPool) -> Result<Option<i64>, sqlx::Error> {
    let table_exists: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    if !table_exists {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
}

/// Begins a transaction scoped to one tenant: row-level security then shows only that tenant's rows.
///
/// This is the only place that sets `app.tenant_id`; it is transaction-local (`set_config(…, true)`),
/// so a pooled connection never carries one tenant's scope into another request.
pub async fn tenant_tx(
    pool: &PgPool,
    tenant: TenantId,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query_scalar!(
        r#"SELECT set_config('app.tenant_id', $1, true) AS "scope!""#,
        tenant.0.to_string()
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(tx)
}

/// A job's write must not land once another worker holds the job (its lease expired and the job
/// was claimed again).
#[derive(Debug, thiserror::Error)]
pub enum FencedError {
    #[error("lease lost: another worker holds the job")]
    LeaseLost,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A [`tenant_tx`] fenced by a job's lease: the job's row is locked and still leased to `lease`,
/// so the writes the caller makes before committing land only while the job is this worker's.
pub async fn fenced_tx(
    pool: &PgPool,
    tenant: TenantId,
    lease: crate::queue::Lease,
) -> Result<Transaction<'static, Postgres>, FencedError> {
    let mut tx = tenant_tx(pool, tenant).await?;
    if !crate::queue::holds_lease(&mut tx, lease).await? {
        return Err(FencedError::LeaseLost);
    }
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers_are_reached_without_tls_unless_the_url_says() {
        // PGSSLMODE in the environment also counts as choosing; the assertions need it unset.
        if std::env::var_os("PGSSLMODE").is_some() {
            return;
        }
        let mode = |url: &str| {
            connect_options(&DatabaseUrl::parse(url).unwrap())
                .unwrap()
                .get_ssl_mode()
        };
        assert!(matches!(
            mode("postgres://u@127.0.0.1:5432/db"),
            PgSslMode::Disable
        ));
        assert!(matches!(
            mode("postgres://u@localhost/db"),
            PgSslMode::Disable
        ));
        assert!(matches!(
            mode("postgres://u@127.0.0.1/db?sslmode=require"),
            PgSslMode::Require
        ));
        assert!(matches!(
            mode("postgres://u@db.internal:5432/db"),
            PgSslMode::Prefer
        ));
    }
}
