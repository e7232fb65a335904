//! Queue housekeeping, run by every worker process (each step is idempotent, so several processes
//! doing it is harmless): deletes dead jobs past their retention, idle key rows and throttle rows
//! whose time has passed, vacuums the queue tables every 10 s whatever autovacuum's settings,
//! ANALYZEs grown tables when autovacuum is off, samples depth and lag gauges, and applies the
//! companies' retention periods (`db::lifecycle`).

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::queue::ops;

const GAUGE_EVERY: Duration = Duration::from_secs(10);
const CLEANUP_EVERY: Duration = Duration::from_secs(60);
/// queue.md §5: vacuum frequency is what keeps the claim fast; every 10 s kept dead tuples in the
/// low thousands under churn. Once a minute, the end-to-end bench's claims read ~650 blocks each.
const VACUUM_EVERY: Duration = Duration::from_secs(10);
/// Retention periods are days long: a pass every few minutes keeps them to the minute while the
/// batches of a big backlog (bounded per pass, `db::lifecycle::RETENTION_MAX_BATCHES`) spread over
/// several passes.
const RETENTION_EVERY: Duration = Duration::from_secs(300);

/// `kinds`: the job kinds the worker handles, whose gauges are reported (0 when the queue holds
/// none) from the start, so a dashboard or alert never sees a kind vanish.
pub async fn run(
    db: PgPool,
    dead_retention: Duration,
    kinds: Vec<String>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut gauges = tokio::time::interval(GAUGE_EVERY);
    let mut cleanup = tokio::time::interval(CLEANUP_EVERY);
    let mut vacuum = tokio::time::interval(VACUUM_EVERY);
    let mut retention = tokio::time::interval(RETENTION_EVERY);
    // VACUUM and ANALYZE are the tables' owner's: the pool's role may not run them.
    let mut owner: Option<PgConnection> = None;
    let mut kinds_seen: std::collections::BTreeSet<String> = kinds.into_iter().collect();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            _ = gauges.tick() => sample(&db, &mut kinds_seen).await,
            _ = cleanup.tick() => housekeep(&db, dead_retention).await,
            _ = retention.tick() => apply_retention(&db).await,
            _ = vacuum.tick() => {
                if owner.is_none() {
                    owner = crate::db::owner_connection(&db)
                        .await
                        .inspect_err(|err| tracing::warn!(error = %err, "no connection for VACUUM"))
                        .ok();
                }
                if let Some(conn) = owner.as_mut() {
                    let vacuumed = vacuum_queue(conn).await;
                    let analyzed = analyze_grown(conn).await;
                    if vacuumed.is_err() || analyzed.is_err() {
                        // Most likely the connection broke; the next tick opens another.
                        owner = None;
                    }
                }
            }
        }
    }
}

/// The queue's gauges for `kinds` and whatever else the queue holds, once (the housekeeping
/// loop's sample, for a test or a one-off).
pub async fn sample_gauges(db: &PgPool, kinds: &[String]) {
    sample(db, &mut kinds.iter().cloned().collect()).await;
}

/// The queue's gauges, and the worker's heartbeat. A kind in `seen` the queue does not hold now
/// is set to 0 (the exporter would otherwise keep its last value, and a lag alert would never
/// resolve).
async fn sample(db: &PgPool, seen: &mut std::collections::BTreeSet<String>) {
    crate::metrics::worker_heartbeat();
    match ops::stats(db, ops::JobScope::All).await {
        Ok(stats) => {
            let now: std::collections::BTreeSet<String> =
                stats.kinds.iter().map(|k| k.kind.clone()).collect();
            for gone in seen.difference(&now) {
                for state in ["runnable", "scheduled", "running", "blocked", "dead"] {
                    crate::metrics::queue_depth(gone, state, 0);
                }
                crate::metrics::queue_lag(gone, 0.0);
            }
            for k in &stats.kinds {
                crate::metrics::queue_depth(&k.kind, "runnable", k.runnable);
                crate::metrics::queue_depth(&k.kind, "scheduled", k.scheduled);
                crate::metrics::queue_depth(&k.kind, "running", k.running);
                crate::metrics::queue_depth(&k.kind, "blocked", k.blocked);
                crate::metrics::queue_depth(&k.kind, "dead", k.dead);
                crate::metrics::queue_lag(&k.kind, k.oldest_runnable_secs.unwrap_or(0.0));
            }
            seen.extend(now);
        }
        Err(err) => tracing::warn!(error = %err, "could not sample queue depth"),
    }
}

async fn housekeep(db: &PgPool, dead_retention: Duration) {
    match ops::cleanup(db, dead_retention).await {
        Ok(done) if done.dead_deleted > 0 || done.idle_keys_deleted > 0 => {
            tracing::info!(
                dead_deleted = done.dead_deleted,
                idle_keys_deleted = done.idle_keys_deleted,
                "queue cleanup"
            );
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "queue cleanup failed"),
    }
    if let Err(err) = crate::db::throttle::forget_expired(db).await {
        tracing::warn!(error = %err, "throttle cleanup failed");
    }
}

/// One retention pass over every company that set a period (each company's rows in batches of
/// their own transactions, under its tenant scope: the service role is bound by the policies).
async fn apply_retention(db: &PgPool) {
    if let Err(err) = crate::db::lifecycle::retention_pass(db, chrono::Utc::now()).await {
        tracing::warn!(error = %err, "retention pass failed");
    }
}

async fn vacuum_queue(owner: &mut PgConnection) -> Result<(), sqlx::Error> {
    // The server's autovacuum_naptime (60 s by default) is too slow for the queue's churn; dead index
    // entries at the head of jobs_claim slow every claim (queue.md §5). VACUUM is cheap on a small
    // table and skips pages already clean.
    sqlx::query("VACUUM (SKIP_LOCKED) jobs, job_keys")
        .execute(owner)
        .await
        .inspect_err(|err| tracing::debug!(error = %err, "queue vacuum skipped"))
        .map(drop)
}

/// With autovacuum off (this project's CI server; Render's Postgres has it on), ANALYZEs this
/// schema's tables that have at least `autovacuum_analyze_threshold` rows and either no statistics
/// yet or twice the rows their statistics describe.
///
/// Without statistics every index that starts with `tenant_id` looks as good as the primary key,
/// and the generic plans sessions keep for plpgsql statements took `bot_users_recent` (tenant_id,
/// updated_at) for lookups by (tenant_id, id): each turn's conversation update then walked every
/// conversation of the tenant (end-to-end bench, pg_stat_statements: 3,600 blocks and 6 ms a
/// call; turn_commit 8.1 ms against 0.6 ms once analyzed). An ANALYZE also invalidates the plans
/// built before it. Growth, not autovacuum's count of changes, is the trigger: plans change with
/// a table's order of magnitude, while the queue tables churn through far more changes than they
/// hold rows, so by the change-count rule they would be re-analyzed on every tick, each time
/// invalidating every session's cached plans.
pub async fn analyze_grown_tables(db: &PgPool) {
    match crate::db::owner_connection(db).await {
        Ok(mut owner) => {
            let _ = analyze_grown(&mut owner).await;
        }
        Err(err) => tracing::debug!(error = %err, "no connection for ANALYZE"),
    }
}

async fn analyze_grown(owner: &mut PgConnection) -> Result<(), sqlx::Error> {
    let analyze = sqlx::query(
        "DO $$
         DECLARE t record;
         BEGIN
             IF current_setting('autovacuum')::boolean THEN
                 RETURN;
             END IF;
             FOR t IN SELECT s.relid::regclass AS rel
                        FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
                       WHERE s.schemaname = current_schema()
                         AND s.n_live_tup >= current_setting('autovacuum_analyze_threshold')::integer
                         AND (coalesce(s.last_analyze, s.last_autoanalyze) IS NULL
                              OR s.n_live_tup > 2 * c.reltuples) LOOP
                 EXECUTE format('ANALYZE %s', t.rel);
             END LOOP;
         END $$",
    );
    analyze
        .execute(owner)
        .await
        .inspect_err(|err| tracing::debug!(error = %err, "ANALYZE of grown tables skipped"))
        .map(drop)
}
