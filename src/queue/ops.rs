//! Operating the queue: stats, dead jobs, redrive, cancel, pause/resume, cleanup. Used by the
//! `salesbot queue …` commands and by the worker's maintenance task.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::{JobId, NewJob};
use crate::domain::TenantId;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KindStats {
    pub kind: String,
    /// Due now and not leased (includes expired leases).
    pub runnable: i64,
    /// Waiting for their run_at (delays and retry backoffs).
    pub scheduled: i64,
    pub running: i64,
    /// Waiting for an earlier job of their key.
    pub blocked: i64,
    pub dead: i64,
    /// Age in seconds of the oldest runnable job (the queue's lag), if any.
    pub oldest_runnable_secs: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub kinds: Vec<KindStats>,
    pub paused_kinds: Vec<String>,
    pub paused_tenants: Vec<TenantId>,
}

/// Whose jobs an operation sees: the operator's commands see every job, a company's owner (the
/// dashboard's queue panel) only the company's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobScope {
    All,
    Tenant(TenantId),
}

impl JobScope {
    fn tenant(self) -> Option<uuid::Uuid> {
        match self {
            Self::All => None,
            Self::Tenant(tenant) => Some(tenant.0),
        }
    }
}

pub async fn stats(pool: &PgPool, scope: JobScope) -> Result<Stats, sqlx::Error> {
    let kinds = sqlx::query_as!(
        KindStats,
        r#"SELECT kind AS "kind!",
                  count(*) FILTER (WHERE state = 'available' AND run_at <= now()
                                   OR state = 'running' AND lease_until <= now()) AS "runnable!",
                  count(*) FILTER (WHERE state = 'available' AND run_at > now()) AS "scheduled!",
                  count(*) FILTER (WHERE state = 'running' AND lease_until > now()) AS "running!",
                  count(*) FILTER (WHERE state = 'blocked') AS "blocked!",
                  count(*) FILTER (WHERE state = 'dead') AS "dead!",
                  extract(epoch FROM now() - min(run_at + make_interval(secs => priority))
                          FILTER (WHERE state = 'available' AND run_at <= now()))::float8
                      AS oldest_runnable_secs
           FROM jobs WHERE $1::uuid IS NULL OR tenant_id = $1
           GROUP BY kind ORDER BY kind"#,
        scope.tenant()
    )
    .fetch_all(pool)
    .await?;
    let pauses = sqlx::query!(
        "SELECT kind, tenant_id FROM queue_pauses
          WHERE $1::uuid IS NULL OR tenant_id IS NULL OR tenant_id = $1 ORDER BY id",
        scope.tenant()
    )
    .fetch_all(pool)
    .await?;
    Ok(Stats {
        kinds,
        paused_kinds: pauses.iter().filter_map(|p| p.kind.clone()).collect(),
        paused_tenants: pauses
            .iter()
            .filter_map(|p| p.tenant_id.map(TenantId))
            .collect(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadJob {
    pub id: JobId,
    pub kind: String,
    pub key: Option<String>,
    pub tenant_id: Option<uuid::Uuid>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it died.
    pub died_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

pub async fn dead(
    pool: &PgPool,
    scope: JobScope,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<DeadJob>, sqlx::Error> {
    sqlx::query_as!(
        DeadJob,
        r#"SELECT id AS "id: JobId", kind, key, tenant_id, attempts, last_error, created_at,
                  run_at AS died_at, payload
           FROM jobs WHERE state = 'dead' AND ($1::text IS NULL OR kind = $1)
                       AND ($3::uuid IS NULL OR tenant_id = $3)
           ORDER BY id DESC LIMIT $2"#,
        kind,
        limit,
        scope.tenant()
    )
    .fetch_all(pool)
    .await
}

/// Runs a dead job again: a fresh copy (attempts from zero) goes to the tail of its key, and the dead
/// row is removed. Returns the new job's id, or None if `id` is not a dead job in `scope`.
pub async fn redrive(
    pool: &PgPool,
    scope: JobScope,
    id: JobId,
) -> Result<Option<JobId>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(dead) = sqlx::query!(
        "SELECT kind, key, tenant_id, payload, priority, max_attempts FROM jobs
         WHERE id = $1 AND state = 'dead' AND ($2::uuid IS NULL OR tenant_id = $2) FOR UPDATE",
        id.0,
        scope.tenant()
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let mut job = NewJob::new(dead.kind, dead.payload)
        .priority(dead.priority)
        .max_attempts(dead.max_attempts);
    job.key = dead.key;
    job.tenant_id = dead.tenant_id.map(TenantId);
    let enqueued = super::enqueue(&mut *tx, &job).await?;
    sqlx::query!("DELETE FROM jobs WHERE id = $1", id.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(enqueued.id))
}

/// Redrives every dead job (of one kind, if given); returns how many.
pub async fn redrive_all(pool: &PgPool, kind: Option<&str>) -> Result<u64, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar!(
        "SELECT id FROM jobs WHERE state = 'dead' AND ($1::text IS NULL OR kind = $1) ORDER BY id",
        kind
    )
    .fetch_all(pool)
    .await?;
    let mut count = 0;
    for id in ids {
        if redrive(pool, JobScope::All, JobId(id)).await?.is_some() {
            count += 1;
        }
    }
    Ok(count)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelOutcome {
    Cancelled,
    /// Running jobs finish (or fail) on their own; they cannot be cancelled.
    Running,
    NotFound,
}

/// Cancels a pending (available, scheduled, blocked) or dead job.
pub async fn cancel(pool: &PgPool, id: JobId) -> Result<CancelOutcome, sqlx::Error> {
    let state: Option<String> =
        sqlx::query_scalar!(r#"SELECT queue_cancel($1)::text AS "state""#, id.0)
            .fetch_one(pool)
            .await?;
    Ok(match state.as_deref() {
        None => CancelOutcome::NotFound,
        Some("running") => CancelOutcome::Running,
        Some(_) => CancelOutcome::Cancelled,
    })
}

/// What to pause or resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseTarget {
    Kind(String),
    Tenant(TenantId),
}

/// Pauses claiming (idempotent). Jobs are still accepted, and running ones finish.
pub async fn pause(pool: &PgPool, target: &PauseTarget) -> Result<(), sqlx::Error> {
    match target {
        PauseTarget::Kind(kind) => {
            sqlx::query!(
                "INSERT INTO queue_pauses (kind) VALUES ($1)
                 ON CONFLICT (kind) WHERE kind IS NOT NULL DO NOTHING",
                kind
            )
            .execute(pool)
            .await?
        }
        PauseTarget::Tenant(tenant) => {
            sqlx::query!(
                "INSERT INTO queue_pauses (tenant_id) VALUES ($1)
                 ON CONFLICT (tenant_id) WHERE tenant_id IS NOT NULL DO NOTHING",
                tenant.0
            )
            .execute(pool)
            .await?
        }
    };
    Ok(())
}

/// Resumes claiming; returns false if it was not paused.
pub async fn resume(pool: &PgPool, target: &PauseTarget) -> Result<bool, sqlx::Error> {
    let removed = match target {
        PauseTarget::Kind(kind) => {
            sqlx::query!("DELETE FROM queue_pauses WHERE kind = $1", kind)
                .execute(pool)
                .await?
        }
        PauseTarget::Tenant(tenant) => {
            sqlx::query!("DELETE FROM queue_pauses WHERE tenant_id = $1", tenant.0)
                .execute(pool)
                .await?
        }
    };
    Ok(removed.rows_affected() > 0)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cleanup {
    pub dead_deleted: u64,
    pub idle_keys_deleted: u64,
}

/// Deletes dead jobs older than `dead_retention` and key rows with nothing pending, so the queue's
/// tables do not grow without bound (finished jobs are already deleted on ack).
pub async fn cleanup(pool: &PgPool, dead_retention: Duration) -> Result<Cleanup, sqlx::Error> {
    let dead_deleted = sqlx::query!(
        "DELETE FROM jobs WHERE state = 'dead' AND run_at < now() - make_interval(secs => $1)",
        dead_retention.as_secs_f64()
    )
    .execute(pool)
    .await?
    .rows_affected();
    // Safe against a concurrent enqueue: its upsert waits for this delete and then inserts afresh.
    let idle_keys_deleted = sqlx::query!("DELETE FROM job_keys WHERE pending = 0")
        .execute(pool)
        .await?
        .rows_affected();
    Ok(Cleanup {
        dead_deleted,
        idle_keys_deleted,
    })
}
