//! LLM usage and cost per tenant, model and day; the monthly budget; the billing flag; and the rate
//! limiter every worker process shares (OpenAI's limits are per API key, not per process).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::tenant_tx;
use crate::domain::TenantId;

/// OpenAI refused for billing (`insufficient_quota`): flag the tenant's dashboard and record an event
/// (once per episode; a later successful call clears the flag).
pub async fn quota_exhausted(
    pool: &PgPool,
    tenant: TenantId,
    message: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT llm_quota_exhausted($1, $2, $3)",
        tenant.0,
        Uuid::now_v7(),
        message
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// One row of the usage report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageDay {
    pub day: NaiveDate,
    pub model: String,
    pub calls: i32,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub audio_seconds: f64,
    /// USD, from the configured price table at the time of each call.
    pub cost_usd: f64,
}

/// The tenant's usage between two days (inclusive), plus the month's budget state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<UsageDay>,
    pub total_cost_usd: f64,
    /// The monthly budget in USD, if one is set.
    pub monthly_budget_usd: Option<f64>,
    /// Spent this calendar month (UTC).
    pub month_cost_usd: f64,
    /// Set while OpenAI refuses for billing (`insufficient_quota`); the offline engine answers.
    pub quota_exhausted_at: Option<DateTime<Utc>>,
}

pub async fn report(
    pool: &PgPool,
    tenant: TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<UsageReport, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let days = sqlx::query_as!(
        UsageDay,
        r#"SELECT day, model, calls, prompt_tokens, completion_tokens, audio_seconds,
                  cost_usd::float8 AS "cost_usd!"
           FROM llm_usage WHERE tenant_id = $1 AND day BETWEEN $2 AND $3
           ORDER BY day, model"#,
        tenant.0,
        from,
        to
    )
    .fetch_all(&mut *tx)
    .await?;
    let state = sqlx::query!(
        r#"SELECT t.monthly_budget_usd::float8 AS budget, t.llm_quota_exhausted_at,
                  (SELECT coalesce(sum(u.cost_usd), 0)::float8 FROM llm_usage u
                    WHERE u.tenant_id = t.id
                      AND u.day >= date_trunc('month', now() AT TIME ZONE 'UTC')::date) AS "month!"
           FROM tenants t WHERE t.id = $1"#,
        tenant.0
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(UsageReport {
        from,
        to,
        total_cost_usd: days.iter().map(|d| d.cost_usd).sum(),
        days,
        monthly_budget_usd: state.budget,
        month_cost_usd: state.month,
        quota_exhausted_at: state.llm_quota_exhausted_at,
    })
}

/// A limiter's answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Permit {
    /// Go; settle against `slot` after the call.
    Granted { slot: i64 },
    /// The window is full: try again after this long.
    Wait(Duration),
    /// The tenant's monthly budget is spent: no call.
    BudgetSpent,
}

/// Whose time a limiter counts in.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The database's: one clock for every process, whatever their hosts' clocks say.
    #[default]
    Database,
    /// A time the caller sets (tests step through windows without waiting for them).
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    fn now(&self) -> Option<DateTime<Utc>> {
        match self {
            Clock::Database => None,
            Clock::Manual(at) => Some(*at.lock().expect("clock lock")),
        }
    }
}

/// A sliding-window limit of requests and tokens per window, shared through Postgres.
#[derive(Clone, Debug)]
pub struct RateLimit {
    pub name: String,
    pub max_requests: u32,
    /// 0: tokens are not limited.
    pub max_tokens: u64,
    pub window: Duration,
    pub clock: Clock,
}

impl RateLimit {
    /// Before a call: checks the tenant's budget (when a tenant is named), then takes one request
    /// and `tokens` (an estimate) from the window — one round trip.
    pub async fn acquire(
        &self,
        pool: &PgPool,
        tenant: Option<TenantId>,
        tokens: u64,
    ) -> Result<Permit, sqlx::Error> {
        let mut permits = self.acquire_many(pool, &[(tenant, tokens)]).await?;
        permits
            .pop()
            .ok_or_else(|| sqlx::Error::Protocol("llm_acquire_many answered nothing".into()))
    }

    /// [`acquire`](Self::acquire) for several requests at once, decided in order: one round trip
    /// and one hold of the limiter's lock for all of them.
    pub async fn acquire_many(
        &self,
        pool: &PgPool,
        asks: &[(Option<TenantId>, u64)],
    ) -> Result<Vec<Permit>, sqlx::Error> {
        // NULL: no tenant, no budget. The macro's check knows no nullable array elements, hence
        // `as _` (bound as it is: uuid[] with NULLs).
        let tenants: Vec<Option<Uuid>> = asks.iter().map(|(t, _)| t.map(|t| t.0)).collect();
        let tokens: Vec<i64> = asks.iter().map(|(_, n)| *n as i64).collect();
        let rows = sqlx::query!(
            r#"SELECT slot, wait_seconds, budget_spent AS "budget_spent!"
               FROM llm_acquire_many($1, $2, $3, $4, $5, $6, $7)
               ORDER BY ord"#,
            &tenants as _,
            &tokens,
            self.name,
            self.max_requests as i32,
            self.max_tokens as i64,
            self.window.as_millis() as i64,
            self.clock.now()
        )
        .fetch_all(pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| match (row.budget_spent, row.slot, row.wait_seconds) {
                (true, _, _) => Permit::BudgetSpent,
                (false, Some(slot), _) => Permit::Granted { slot },
                (false, None, wait) => {
                    Permit::Wait(Duration::from_secs_f64(wait.unwrap_or(1.0).max(0.001)))
                }
            })
            .collect())
    }

    /// After an answered call: replaces the token estimate with the real count and bills the
    /// tenant (when one is named) — one round trip.
    pub async fn settle(&self, pool: &PgPool, call: Settlement) -> Result<(), sqlx::Error> {
        self.settle_many(pool, &[call]).await
    }

    /// [`settle`](Self::settle) for several calls at once: one round trip.
    pub async fn settle_many(
        &self,
        pool: &PgPool,
        calls: &[Settlement],
    ) -> Result<(), sqlx::Error> {
        let column = |f: fn(&Settlement) -> i64| calls.iter().map(f).collect::<Vec<i64>>();
        sqlx::query!(
            "SELECT llm_settle_many($1, $2, $3, $4, $5, $6, $7, $8, $9::float8[]::numeric[])",
            self.name,
            // NULL: nobody to bill (see acquire_many for `as _`)
            &calls
                .iter()
                .map(|c| c.tenant.map(|t| t.0))
                .collect::<Vec<_>>() as _,
            &column(|c| c.slot),
            &column(|c| c.estimated_tokens as i64),
            &calls.iter().map(|c| c.model.clone()).collect::<Vec<_>>(),
            &column(|c| c.prompt_tokens as i64),
            &column(|c| c.completion_tokens as i64),
            &calls.iter().map(|c| c.audio_seconds).collect::<Vec<_>>(),
            &calls.iter().map(|c| c.cost_usd).collect::<Vec<_>>(),
        )
        .execute(pool)
        .await?;
        Ok(())
    }
}

/// One answered provider call, to settle against its grant and bill.
#[derive(Clone, Debug, PartialEq)]
pub struct Settlement {
    /// Whom to bill (None: nobody, e.g. a test's call).
    pub tenant: Option<TenantId>,
    /// The grant's slot.
    pub slot: i64,
    /// The tokens counted at grant time.
    pub estimated_tokens: u64,
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub audio_seconds: f64,
    pub cost_usd: f64,
}

/// One process's grants and settlements for one limiter, sent to the database in batches: under
/// load, one round trip and one hold of the limiter's lock (or of the current slot's row) serve
/// every call waiting at that moment. One at a time, grants passed the lock from backend to
/// backend at about 700/s on 2 cores. When idle, a call goes out at once, alone.
#[derive(Clone)]
pub struct BatchedLimit {
    grants: Batcher<(Option<TenantId>, u64), Permit>,
    settlements: Batcher<Settlement, ()>,
}

impl BatchedLimit {
    /// Starts the senders; they stop when the last clone is dropped.
    pub fn spawn(pool: PgPool, limit: RateLimit) -> Self {
        let (grant_pool, grant_limit) = (pool.clone(), limit.clone());
        Self {
            grants: Batcher::spawn(move |asks| {
                let (pool, limit) = (grant_pool.clone(), grant_limit.clone());
                async move { limit.acquire_many(&pool, &asks).await }
            }),
            settlements: Batcher::spawn(move |calls: Vec<Settlement>| {
                let (pool, limit) = (pool.clone(), limit.clone());
                async move {
                    limit.settle_many(&pool, &calls).await?;
                    Ok(vec![(); calls.len()])
                }
            }),
        }
    }

    /// As [`RateLimit::acquire`].
    pub async fn acquire(
        &self,
        tenant: Option<TenantId>,
        tokens: u64,
    ) -> Result<Permit, sqlx::Error> {
        self.grants.call((tenant, tokens)).await
    }

    /// As [`RateLimit::settle`].
    pub async fn settle(&self, call: Settlement) -> Result<(), sqlx::Error> {
        self.settlements.call(call).await
    }
}

/// Calls decided in one statement at most (a bound on how long a lock is held).
const MAX_BATCH: usize = 256;

type Answer<A> = tokio::sync::oneshot::Sender<Result<A, String>>;

/// Sends what callers queue in batches through `run`: the batch waiting when the previous one
/// returns goes next, so batches grow with the load and add no delay when idle.
struct Batcher<Q, A> {
    queue: tokio::sync::mpsc::UnboundedSender<(Q, Answer<A>)>,
}

impl<Q, A> Clone for Batcher<Q, A> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<Q: Send + 'static, A: Send + 'static> Batcher<Q, A> {
    fn spawn<F, Fut>(run: F) -> Self
    where
        F: Fn(Vec<Q>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<Vec<A>, sqlx::Error>> + Send,
    {
        let (queue, mut waiting) = tokio::sync::mpsc::unbounded_channel::<(Q, Answer<A>)>();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (calls, answers): (Vec<Q>, Vec<Answer<A>>) = batch.drain(..).unzip();
                match run(calls).await {
                    // Were the answer short, the callers left over get an error when their
                    // sender is dropped, instead of waiting forever.
                    Ok(results) => {
                        for (answer, result) in answers.into_iter().zip(results) {
                            let _ = answer.send(Ok(result));
                        }
                    }
                    Err(err) => {
                        let err = err.to_string();
                        for answer in answers {
                            let _ = answer.send(Err(err.clone()));
                        }
                    }
                }
            }
        });
        Self { queue }
    }

    async fn call(&self, call: Q) -> Result<A, sqlx::Error> {
        let (answer, result) = tokio::sync::oneshot::channel();
        self.queue
            .send((call, answer))
            .map_err(|_| sqlx::Error::PoolClosed)?;
        result
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?
            .map_err(sqlx::Error::Protocol)
    }
}
