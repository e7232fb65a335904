//! The durable job queue, on Postgres.
//!
//! Producers enqueue inside their own transaction ([`enqueue`] takes any executor), so a row and the
//! job about it commit together or not at all. Workers [`claim`] batches with `FOR UPDATE SKIP
//! LOCKED`; each claimed job carries a fresh lease token, and every later step ([`complete`],
//! [`retry`], [`bury`], [`heartbeat`]) is fenced by it: a worker that lost its lease cannot touch the
//! job again. Jobs sharing an ordering key run one at a time, in enqueue order (head promotion, see
//! `migrations/0002_queue.sql`). Design: docs/architecture.md, "Queue"; measurements: BENCHMARKS.md.

pub mod backoff;
pub mod ops;
pub mod wake;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::domain::TenantId;

pub use backoff::Backoff;

/// NOTIFY channel that wakes parked workers.
pub const WAKE_CHANNEL: &str = "salesbot_jobs";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A job to enqueue. Build with [`NewJob::new`] and the chained setters.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    pub key: Option<String>,
    pub tenant_id: Option<TenantId>,
    pub run_at: Option<DateTime<Utc>>,
    pub priority: i16,
    pub max_attempts: i32,
    pub dedup_key: Option<String>,
}

pub const DEFAULT_MAX_ATTEMPTS: i32 = 5;

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
            key: None,
            tenant_id: None,
            run_at: None,
            priority: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            dedup_key: None,
        }
    }

    /// Jobs with the same key run one at a time, in enqueue order.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn tenant(mut self, tenant: TenantId) -> Self {
        self.tenant_id = Some(tenant);
        self
    }

    /// Not before this time.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    pub fn delay(self, delay: Duration) -> Self {
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        self.run_at(at)
    }

    /// Higher runs sooner: priority p goes ahead of due jobs enqueued up to p seconds earlier.
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }

    pub fn max_attempts(mut self, max_attempts: i32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// While a job of this kind with this dedup key has not started, enqueueing another returns it.
    pub fn dedup(mut self, dedup_key: impl Into<String>) -> Self {
        self.dedup_key = Some(dedup_key.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub id: JobId,
    /// False when an equal pending job (same kind and dedup key) was returned instead.
    pub inserted: bool,
}

/// Enqueues one job through `executor` — pass the caller's transaction so the job commits with the
/// rows it is about. Wake parked workers after the commit ([`wake::Waker`]).
///
/// A deduplicated job goes through `queue_enqueue()` (it must find a pending twin under the key's
/// lock before inserting); the common shapes are single statements that do the same as that
/// function's other branches, because a plpgsql call costs ~15 % of one-by-one enqueue throughput
/// (pgbench, 8 clients: 6.6k vs 7.5k/s). As there, priority is a bias of the due time
/// (`queue_due_at()`), and the key's row lock serialises enqueues of one key so that per-key id order
/// is commit order.
pub async fn enqueue<'e>(
    executor: impl PgExecutor<'e>,
    job: &NewJob,
) -> Result<Enqueued, sqlx::Error> {
    let tenant = job.tenant_id.map(|t| t.0);
    let enqueued = match (&job.key, &job.dedup_key) {
        (None, None) => Enqueued {
            id: JobId(
                sqlx::query_scalar!(
                    r#"INSERT INTO jobs (kind, tenant_id, payload, run_at, priority, max_attempts)
                       VALUES ($1, $2, $3, queue_due_at($4, $5), $5, $6)
                       RETURNING id"#,
                    job.kind,
                    tenant,
                    job.payload,
                    job.run_at,
                    job.priority,
                    job.max_attempts,
                )
                .fetch_one(executor)
                .await?,
            ),
            inserted: true,
        },
        (Some(key), None) => Enqueued {
            id: JobId(
                sqlx::query_scalar!(
                    r#"WITH k AS (INSERT INTO job_keys AS jk (key, pending) VALUES ($2, 1)
                                  ON CONFLICT (key) DO UPDATE SET pending = jk.pending + 1
                                  RETURNING pending)
                       INSERT INTO jobs (kind, key, tenant_id, payload, run_at, priority, max_attempts,
                                         state)
                       SELECT $1, $2, $3, $4, queue_due_at($5, $6), $6, $7,
                              CASE WHEN k.pending = 1 THEN 'available' ELSE 'blocked' END::job_state
                       FROM k
                       RETURNING id"#,
                    job.kind,
                    key,
                    tenant,
                    job.payload,
                    job.run_at,
                    job.priority,
                    job.max_attempts,
                )
                .fetch_one(executor)
                .await?,
            ),
            inserted: true,
        },
        (_, Some(dedup_key)) => {
            let row = sqlx::query!(
                r#"SELECT job_id AS "job_id!", inserted AS "inserted!"
                   FROM queue_enqueue($1, $2, $3, $4, $5, $6, $7, $8)"#,
                job.kind,
                job.key,
                tenant,
                job.payload,
                job.run_at,
                job.priority,
                job.max_attempts,
                dedup_key,
            )
            .fetch_one(executor)
            .await?;
            Enqueued {
                id: JobId(row.job_id),
                inserted: row.inserted,
            }
        }
    };
    if enqueued.inserted {
        crate::metrics::job_enqueued(&job.kind, 1);
    }
    Ok(enqueued)
}

/// Enqueues many jobs in one statement (ids returned in input order). Ordering keys keep their
/// per-key order within the batch and after earlier jobs of the key. Dedup keys are not supported
/// here; use [`enqueue`] for those.
pub async fn enqueue_many<'e>(
    executor: impl PgExecutor<'e>,
    jobs: &[NewJob],
) -> Result<Vec<JobId>, sqlx::Error> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    if jobs.iter().any(|j| j.dedup_key.is_some()) {
        return Err(sqlx::Error::Protocol(
            "enqueue_many does not take dedup keys; use enqueue".into(),
        ));
    }
    let kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    let keys: Vec<Option<&str>> = jobs.iter().map(|j| j.key.as_deref()).collect();
    let tenants: Vec<Option<Uuid>> = jobs.iter().map(|j| j.tenant_id.map(|t| t.0)).collect();
    let payloads: Vec<serde_json::Value> = jobs.iter().map(|j| j.payload.clone()).collect();
    let run_ats: Vec<Option<DateTime<Utc>>> = jobs.iter().map(|j| j.run_at).collect();
    let priorities: Vec<i16> = jobs.iter().map(|j| j.priority).collect();
    let max_attempts: Vec<i32> = jobs.iter().map(|j| j.max_attempts).collect();
    // Keys are locked in key order (ORDER BY key in the upsert) so concurrent bulk enqueues and
    // batch acks cannot deadlock. Within a key, the first new job is available only if the key was
    // idle (its pending count equals the batch's count for it); every other one waits blocked.
    let mut ids: Vec<i64> = sqlx::query_scalar!(
        r#"WITH input AS (
               SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::jsonb[],
                                    $5::timestamptz[], $6::int2[], $7::int4[])
                   WITH ORDINALITY AS t(kind, key, tenant_id, payload, run_at, priority, max_attempts, pos)),
           counts AS (SELECT key, count(*)::int AS n FROM input WHERE key IS NOT NULL GROUP BY key),
           k AS (INSERT INTO job_keys AS jk (key, pending)
                 SELECT key, n FROM counts ORDER BY key
                 ON CONFLICT (key) DO UPDATE SET pending = jk.pending + EXCLUDED.pending
                 RETURNING jk.key, jk.pending),
           numbered AS (SELECT i.*, row_number() OVER (PARTITION BY i.key ORDER BY i.pos) AS rn
                        FROM input i)
           INSERT INTO jobs (kind, key, tenant_id, payload, run_at, priority, max_attempts, state)
           SELECT n.kind, n.key, n.tenant_id, n.payload, queue_due_at(n.run_at, n.priority),
                  n.priority, n.max_attempts,
                  CASE WHEN n.key IS NULL OR (n.rn = 1 AND k.pending = c.n) THEN 'available'
                       ELSE 'blocked' END::job_state
           FROM numbered n
           LEFT JOIN k ON k.key = n.key
           LEFT JOIN counts c ON c.key = n.key
           ORDER BY n.pos
           RETURNING id"#,
        &kinds as &[&str],
        &keys as &[Option<&str>],
        &tenants as &[Option<Uuid>],
        &payloads,
        &run_ats as &[Option<DateTime<Utc>>],
        &priorities,
        &max_attempts,
    )
    .fetch_all(executor)
    .await?;
    // Identity values are drawn in insertion order, which follows `ORDER BY n.pos`.
    ids.sort_unstable();
    for job in jobs {
        crate::metrics::job_enqueued(&job.kind, 1);
    }
    Ok(ids.into_iter().map(JobId).collect())
}

/// A job handed to a worker, with the lease token that fences everything it does next.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: String,
    pub key: Option<String>,
    pub tenant_id: Option<TenantId>,
    /// This attempt's number (1 = first run).
    pub attempts: i32,
    pub max_attempts: i32,
    pub payload: serde_json::Value,
    pub lease_token: Uuid,
    pub created_at: DateTime<Utc>,
}

/// Claims up to `batch` due jobs of the given kinds, leasing them for `lease`.
///
/// Fair across tenants: first the oldest `per_tenant` due jobs of every tenant that has any (found by
/// a loose index scan, so the cost grows with tenants that have work, not with all tenants), then the
/// rest of the batch in plain due order. Paused kinds and tenants are skipped. A blocked job is never
/// claimable, so one batch cannot hold two jobs of one key; a running job whose lease expired is due
/// again (its `run_at` is its lease end) and is reclaimed with a new token.
pub async fn claim(
    pool: &PgPool,
    kinds: &[String],
    batch: i64,
    per_tenant: i64,
    lease: Duration,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    let lease_ms = lease.as_millis() as f64;
    let rows = sqlx::query!(
        r#"WITH RECURSIVE active AS (
               (SELECT tenant_id FROM jobs
                WHERE state IN ('available', 'running') AND tenant_id IS NOT NULL
                ORDER BY tenant_id LIMIT 1)
               UNION ALL
               SELECT (SELECT j.tenant_id FROM jobs j
                       WHERE j.state IN ('available', 'running') AND j.tenant_id > a.tenant_id
                       ORDER BY j.tenant_id LIMIT 1)
               FROM active a WHERE a.tenant_id IS NOT NULL),
           -- The kinds we may claim now (ours minus paused ones), as one array for `kind = ANY`:
           -- a `kind <> ALL (paused)` filter made the planner expect no rows and sort the whole
           -- backlog instead of walking jobs_claim (measured: 21 ms per claim at 50k jobs).
           paused AS MATERIALIZED (
               SELECT ARRAY(SELECT unnest($1::text[])
                            EXCEPT SELECT kind FROM queue_pauses WHERE kind IS NOT NULL) AS claimable,
                      coalesce(array_agg(tenant_id) FILTER (WHERE tenant_id IS NOT NULL), '{}') AS tenants
               FROM queue_pauses),
           fair AS (
               SELECT j.id FROM active t CROSS JOIN LATERAL (
                   SELECT id FROM jobs
                   WHERE tenant_id = t.tenant_id AND state IN ('available', 'running')
                     AND (tenant_id, run_at) <= (t.tenant_id, now())
                     AND kind = ANY ((SELECT claimable FROM paused)::text[])
                   ORDER BY tenant_id, run_at, id
                   LIMIT $3 FOR UPDATE SKIP LOCKED) j
               WHERE t.tenant_id IS NOT NULL AND t.tenant_id <> ALL ((SELECT tenants FROM paused)::uuid[])
               LIMIT $2),
           fill AS (
               SELECT id FROM jobs
               WHERE state IN ('available', 'running') AND run_at <= now()
                 AND kind = ANY ((SELECT claimable FROM paused)::text[])
                 AND (tenant_id IS NULL OR tenant_id <> ALL ((SELECT tenants FROM paused)::uuid[]))
                 AND id <> ALL (ARRAY(SELECT id FROM fair))
               ORDER BY run_at, id
               LIMIT greatest(0, $2 - (SELECT count(*) FROM fair))
               FOR UPDATE SKIP LOCKED)
           UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = gen_random_uuid(),
                  lease_until = now() + make_interval(secs => $4::float8 / 1000),
                  run_at = now() + make_interval(secs => $4::float8 / 1000)
           WHERE id = ANY (ARRAY(SELECT id FROM fair UNION ALL SELECT id FROM fill))
           RETURNING id, kind, key, tenant_id, attempts, max_attempts, payload,
                     lease_token AS "lease_token!", created_at"#,
        kinds,
        batch,
        per_tenant,
        lease_ms,
    )
    .fetch_all(pool)
    .await?;
    let mut jobs: Vec<ClaimedJob> = rows
        .into_iter()
        .map(|r| ClaimedJob {
            id: JobId(r.id),
            kind: r.kind,
            key: r.key,
            tenant_id: r.tenant_id.map(TenantId),
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            payload: r.payload,
            lease_token: r.lease_token,
            created_at: r.created_at,
        })
        .collect();
    jobs.sort_by_key(|j| j.id);
    for job in &jobs {
        crate::metrics::job_claimed(&job.kind);
    }
    Ok(jobs)
}

/// A claimed job's identity for fenced operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub id: JobId,
    pub token: Uuid,
}

impl From<&ClaimedJob> for Lease {
    fn from(job: &ClaimedJob) -> Self {
        Self {
            id: job.id,
            token: job.lease_token,
        }
    }
}

fn split(leases: &[Lease]) -> (Vec<i64>, Vec<Uuid>) {
    leases.iter().map(|l| (l.id.0, l.token)).unzip()
}

/// Completes jobs (deletes them and promotes the next job of their keys). Leases whose token is stale
/// are ignored; the ids actually completed are returned.
pub async fn complete(pool: &PgPool, leases: &[Lease]) -> Result<Vec<JobId>, sqlx::Error> {
    if leases.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, tokens) = split(leases);
    let done: Vec<i64> =
        sqlx::query_scalar!(r#"SELECT queue_complete($1, $2) AS "done!""#, &ids, &tokens)
            .fetch_one(pool)
            .await?;
    Ok(done.into_iter().map(JobId).collect())
}

/// Moves jobs to `dead` with their errors, releasing their keys. Stale leases are ignored.
pub async fn bury(pool: &PgPool, leases: &[(Lease, String)]) -> Result<Vec<JobId>, sqlx::Error> {
    if leases.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = leases.iter().map(|(l, _)| l.id.0).collect();
    let tokens: Vec<Uuid> = leases.iter().map(|(l, _)| l.token).collect();
    let errors: Vec<String> = leases.iter().map(|(_, e)| truncate_error(e)).collect();
    let dead: Vec<i64> = sqlx::query_scalar!(
        r#"SELECT queue_bury($1, $2, $3) AS "dead!""#,
        &ids,
        &tokens,
        &errors
    )
    .fetch_one(pool)
    .await?;
    Ok(dead.into_iter().map(JobId).collect())
}

/// What to do with a job whose attempt did not succeed but may later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reschedule {
    /// A failed attempt: run again after `delay`; the attempt stays counted.
    Retry { delay: Duration },
    /// Not a failure (rate limit reached, quiet hours): run again after `delay`, attempt not counted.
    Defer { delay: Duration },
    /// The worker is shutting down: run again now elsewhere, attempt not counted.
    Release,
}

/// Puts a running job back to `available` for a later attempt. Its key stays held: later jobs of the
/// key keep waiting while it waits out its delay. Returns false if the lease was stale.
pub async fn reschedule(
    pool: &PgPool,
    lease: Lease,
    how: Reschedule,
    error: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let (delay, counts) = match how {
        Reschedule::Retry { delay } => (delay, true),
        Reschedule::Defer { delay } => (delay, false),
        Reschedule::Release => (Duration::ZERO, false),
    };
    let error = error.map(truncate_error);
    let updated = sqlx::query!(
        r#"UPDATE jobs SET state = 'available', lease_token = NULL, lease_until = NULL,
                  run_at = now() + make_interval(secs => $3::float8 / 1000),
                  attempts = CASE WHEN $4 THEN attempts ELSE attempts - 1 END,
                  last_error = coalesce($5, last_error)
           WHERE id = $1 AND lease_token = $2 AND state = 'running'"#,
        lease.id.0,
        lease.token,
        delay.as_millis() as f64,
        counts,
        error,
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Extends the leases still held; returns the ids whose lease is still ours (a missing id means the
/// lease was lost: stop that job and write nothing).
pub async fn heartbeat(
    pool: &PgPool,
    leases: &[Lease],
    lease: Duration,
) -> Result<Vec<JobId>, sqlx::Error> {
    if leases.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, tokens) = split(leases);
    // The heartbeat never waits for a row lock: a job's row is locked only briefly by its own
    // worker (the ack, a handler's lease fence), and a heartbeat that waited for the ack while
    // holding other rows could deadlock with it (the ack's delete visits rows in its plan's order,
    // which on an unanalyzed table was not id order: the end-to-end bench lost a batch of acks to
    // it, and the jobs' leases had to expire). A row locked now is extended at the next tick. The
    // held leases are read from the statement's snapshot, so a locked row still counts as held.
    // Matching the token against the set is the same fence as matching pairs (each token is
    // issued to one job only), and unlike a join with the pairs it keeps primary-key probes at any
    // batch size (sql/functions/queue_complete.sql, queue_bury.sql).
    let held: Vec<i64> = sqlx::query_scalar!(
        r#"WITH mine AS (
               SELECT id FROM jobs
               WHERE id = ANY ($1) AND lease_token = ANY ($2) AND state = 'running'
               FOR UPDATE SKIP LOCKED),
           extended AS (
               UPDATE jobs SET lease_until = now() + make_interval(secs => $3::float8 / 1000),
                      run_at = now() + make_interval(secs => $3::float8 / 1000)
               WHERE id IN (SELECT id FROM mine))
           SELECT id AS "id!" FROM jobs
           WHERE id = ANY ($1) AND lease_token = ANY ($2) AND state = 'running'"#,
        &ids,
        &tokens,
        lease.as_millis() as f64,
    )
    .fetch_all(pool)
    .await?;
    Ok(held.into_iter().map(JobId).collect())
}

/// True while `lease` is still the job's current lease: handlers check it inside their own write
/// transaction (`SELECT … FOR UPDATE`), so a worker that lost its lease cannot commit its results.
pub async fn holds_lease(conn: &mut sqlx::PgConnection, lease: Lease) -> Result<bool, sqlx::Error> {
    let held = sqlx::query_scalar!(
        "SELECT id FROM jobs
         WHERE id = $1 AND lease_token = $2 AND state = 'running' AND lease_until > now()
         FOR UPDATE",
        lease.id.0,
        lease.token
    )
    .fetch_optional(conn)
    .await?
    .is_some();
    Ok(held)
}

/// Errors are kept for inspection; a runaway message must not bloat the queue table.
fn truncate_error(error: &str) -> String {
    const MAX: usize = 2000;
    if error.len() <= MAX {
        return error.to_owned();
    }
    let mut end = MAX;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &error[..end])
}
