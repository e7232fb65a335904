//! Abuse limits every web process shares, on the `throttle` table (migrations/0019_throttle.sql).
//!
//! GCRA (the generic cell rate algorithm): a subject allowed `burst` actions per `period` has an
//! emission interval `period / burst`; each action moves its theoretical arrival time (`tat`) one
//! interval past `max(tat, now)`, and is refused when that would put `tat` more than `period`
//! ahead of now. So a quiet subject may act `burst` times at once, then once per interval. One
//! upsert decides and records; only a refused action reads the row again, for `Retry-After`.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::config::RateLimit;

/// What a limit says about one more action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Allowed,
    /// Refused: the subject may act again after this long.
    Wait(Duration),
}

/// The kinds of subject a limit counts.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    LoginAccount,
    LoginAddress,
    RegisterAddress,
    ChatTenant,
    /// Deliveries to one webhook endpoint (its own `rate_limit_per_second`).
    WebhookEndpoint,
    /// Requests to one company's amoCRM.
    AmoCrm,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginAccount => "login-account",
            Self::LoginAddress => "login-ip",
            Self::RegisterAddress => "register-ip",
            Self::ChatTenant => "chat-tenant",
            Self::WebhookEndpoint => "webhook-endpoint",
            Self::AmoCrm => "amocrm",
        }
    }
}

/// The stored key: no email or address is kept in the table.
fn key(rule: Rule, subject: &str) -> Vec<u8> {
    let mut digest = Sha256::new();
    digest.update(rule.name().as_bytes());
    digest.update(b":");
    digest.update(subject.as_bytes());
    digest.finalize().to_vec()
}

/// Records one action of `subject` under `rule`, unless the limit refuses it.
pub async fn take(
    pool: &PgPool,
    rule: Rule,
    subject: &str,
    limit: RateLimit,
) -> Result<Decision, sqlx::Error> {
    let key = key(rule, subject);
    let interval = limit.period.as_secs_f64() / f64::from(limit.burst);
    let period = limit.period.as_secs_f64();
    let recorded = sqlx::query_scalar!(
        r#"INSERT INTO throttle AS t (key, tat) VALUES ($1, now() + $2 * interval '1 second')
           ON CONFLICT (key) DO UPDATE
              SET tat = greatest(t.tat, now()) + $2 * interval '1 second'
            WHERE greatest(t.tat, now()) + $2 * interval '1 second'
                  <= now() + $3 * interval '1 second'
           RETURNING true AS "recorded!""#,
        key,
        interval,
        period
    )
    .fetch_optional(pool)
    .await?;
    if recorded.is_some() {
        return Ok(Decision::Allowed);
    }
    // Allowed again once max(tat, now) + interval - now <= period, i.e. at tat + interval - period.
    let wait = sqlx::query_scalar!(
        r#"SELECT greatest(extract(epoch FROM tat - now())::float8 + $2 - $3, 0) AS "wait!"
           FROM throttle WHERE key = $1"#,
        key,
        interval,
        period
    )
    .fetch_optional(pool)
    .await?
    .unwrap_or(0.0);
    Ok(Decision::Wait(Duration::from_secs_f64(wait)))
}

/// Deletes rows whose time has passed: they allow what a missing row allows.
pub async fn forget_expired(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM throttle WHERE tat < now()")
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
