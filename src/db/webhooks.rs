//! A tenant's webhook endpoints (`migrations/0024_webhook_endpoints.sql`). Secrets are sealed with
//! SECRET_KEY before they are stored and leave only through [`create`] and [`rotate_secret`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::crypto::SecretBox;
use crate::domain::webhook::{EndpointUrl, EventType, SigningSecret};
use crate::domain::webhook_payload::EndpointStatus;
use crate::domain::{BotUserId, MessageId, TenantId};

use super::tenant_tx;

/// How long a rotated secret keeps signing beside the new one.
pub const ROTATION_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// An endpoint as the API shows it: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<EventType>,
    pub description: Option<String>,
    pub enabled: bool,
    /// At most this many deliveries per second; null: as fast as they come.
    pub rate_limit_per_second: Option<i32>,
    /// Since when deliveries that ran out of attempts have been failing (null: the last one
    /// succeeded). After WEBHOOK_DISABLE_AFTER of this the endpoint is disabled.
    pub failing_since: Option<DateTime<Utc>>,
    /// Set when salesbot disabled the endpoint for failing (enabling it again clears it).
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// Until then deliveries are also signed with the secret before the last rotation.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

struct Row {
    id: Uuid,
    url: String,
    events: Vec<String>,
    description: Option<String>,
    enabled: bool,
    rate_limit_per_second: Option<i32>,
    failing_since: Option<DateTime<Utc>>,
    disabled_at: Option<DateTime<Utc>>,
    disabled_reason: Option<String>,
    previous_secret_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Endpoint {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            url: r.url,
            // The column's CHECK admits exactly the event types there are.
            events: r
                .events
                .iter()
                .filter_map(|e| EventType::from_key(e))
                .collect(),
            description: r.description,
            enabled: r.enabled,
            rate_limit_per_second: r.rate_limit_per_second,
            failing_since: r.failing_since,
            disabled_at: r.disabled_at,
            disabled_reason: r.disabled_reason,
            previous_secret_expires_at: r.previous_secret_expires_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn keys(events: &[EventType]) -> Vec<String> {
    events.iter().map(|e| e.as_str().to_owned()).collect()
}

/// A new endpoint with a fresh secret, returned here only.
pub async fn create(
    pool: &PgPool,
    secrets: &SecretBox,
    tenant: TenantId,
    url: &EndpointUrl,
    events: &[EventType],
    description: Option<&str>,
) -> Result<(Endpoint, SigningSecret), sqlx::Error> {
    let secret = SigningSecret::generate();
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query_as!(
        Row,
        r#"INSERT INTO webhook_endpoints (tenant_id, id, url, events, description, secret)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id, url, events, description, enabled, rate_limit_per_second, failing_since,
                     disabled_at, disabled_reason, previous_secret_expires_at, created_at,
                     updated_at"#,
        tenant.0,
        Uuid::now_v7(),
        url.as_str(),
        &keys(events),
        description,
        secrets.encrypt(tenant, &secret.expose())
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((row.into(), secret))
}

/// The tenant's endpoints, oldest first.
pub async fn list(pool: &PgPool, tenant: TenantId) -> Result<Vec<Endpoint>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, url, events, description, enabled, rate_limit_per_second, failing_since,
                  disabled_at, disabled_reason, previous_secret_expires_at, created_at, updated_at
           FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id"#,
        tenant.0
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(Endpoint::from).collect())
}

pub async fn get(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<Endpoint>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query_as!(
        Row,
        r#"SELECT id, url, events, description, enabled, rate_limit_per_second, failing_since,
                  disabled_at, disabled_reason, previous_secret_expires_at, created_at, updated_at
           FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2"#,
        tenant.0,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(Endpoint::from))
}

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct EndpointEdit<'a> {
    pub url: Option<&'a EndpointUrl>,
    pub events: Option<&'a [EventType]>,
    pub description: Option<&'a str>,
    pub enabled: Option<bool>,
    /// `Some(None)` removes the limit.
    pub rate_limit_per_second: Option<Option<i32>>,
}

pub async fn edit(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
    edit: &EndpointEdit<'_>,
) -> Result<Option<Endpoint>, sqlx::Error> {
    let events = edit.events.map(keys);
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query_as!(
        Row,
        r#"UPDATE webhook_endpoints
              SET url = coalesce($3, url), events = coalesce($4, events),
                  description = coalesce($5, description), enabled = coalesce($6, enabled),
                  rate_limit_per_second = CASE WHEN $7 THEN $8 ELSE rate_limit_per_second END,
                  -- Enabling it again is the tenant's word that the receiver is fixed.
                  failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END,
                  disabled_at = CASE WHEN $6 THEN NULL ELSE disabled_at END,
                  disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END,
                  updated_at = now()
            WHERE tenant_id = $1 AND id = $2
        RETURNING id, url, events, description, enabled, rate_limit_per_second, failing_since,
                  disabled_at, disabled_reason, previous_secret_expires_at, created_at, updated_at"#,
        tenant.0,
        id,
        edit.url.map(EndpointUrl::as_str),
        events.as_deref(),
        edit.description,
        edit.enabled,
        edit.rate_limit_per_second.is_some(),
        edit.rate_limit_per_second.flatten()
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(Endpoint::from))
}

/// Removes an endpoint; false when the tenant has no such endpoint.
pub async fn delete(pool: &PgPool, tenant: TenantId, id: Uuid) -> Result<bool, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let deleted = sqlx::query!(
        "DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(deleted > 0)
}

/// A new secret for the endpoint; the current one keeps signing beside it for [`ROTATION_GRACE`]
/// (a rotation within that time replaces the previous one). None: no such endpoint.
pub async fn rotate_secret(
    pool: &PgPool,
    secrets: &SecretBox,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<(Endpoint, SigningSecret)>, sqlx::Error> {
    let secret = SigningSecret::generate();
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query_as!(
        Row,
        r#"UPDATE webhook_endpoints
              SET previous_secret = secret, previous_secret_expires_at = now() + make_interval(secs => $4),
                  secret = $3, updated_at = now()
            WHERE tenant_id = $1 AND id = $2
        RETURNING id, url, events, description, enabled, rate_limit_per_second, failing_since,
                  disabled_at, disabled_reason, previous_secret_expires_at, created_at, updated_at"#,
        tenant.0,
        id,
        secrets.encrypt(tenant, &secret.expose()),
        ROTATION_GRACE.num_seconds() as f64
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|r| (r.into(), secret)))
}

/// Records a `reply.created` for a stored reply (a manager's answer: the bot's are emitted by
/// turn_commit()), in the caller's transaction, when an endpoint subscribes to it.
pub async fn emit_reply(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    bot_user: BotUserId,
    reply: MessageId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT webhook_emit($1, $2, 'reply.created', webhook_reply($1, $2, $3))
          WHERE webhook_subscribed($1, 'reply.created')",
        tenant.0,
        bot_user.0,
        reply.0
    )
    .fetch_optional(tx)
    .await?;
    Ok(())
}

/// Records a `lead.updated` for the conversation's lead as the caller's transaction left it.
pub async fn emit_lead_updated(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    bot_user: BotUserId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT webhook_emit($1, $2, 'lead.updated',
                             jsonb_build_object('lead', webhook_lead($1, $2)))
          WHERE webhook_subscribed($1, 'lead.updated')",
        tenant.0,
        bot_user.0
    )
    .fetch_optional(tx)
    .await?;
    Ok(())
}

/// What the `webhook` job needs to send one delivery.
pub struct Delivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub state: DeliveryState,
    pub created_at: DateTime<Utc>,
    pub event_id: Uuid,
    pub event_type: String,
    /// The event's payload as stored: the same bytes on every attempt.
    pub body: String,
    pub url: String,
    pub enabled: bool,
    /// The current secret, then the previous one while its grace lasts.
    pub secrets: Vec<SigningSecret>,
    pub rate_limit_per_second: Option<i32>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("the endpoint's secret: {0}")]
    Secret(String),
}

/// The delivery, its event and its endpoint; None when the endpoint (and so the delivery) is gone.
pub async fn delivery(
    pool: &PgPool,
    secrets: &SecretBox,
    tenant: TenantId,
    delivery: Uuid,
) -> Result<Option<Delivery>, DeliveryError> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query!(
        r#"SELECT d.id, d.endpoint_id, d.state AS "state: DeliveryState", d.created_at, e.id AS event_id,
                  e.type AS event_type, e.payload::text AS "body!", p.url, p.enabled, p.secret,
                  CASE WHEN p.previous_secret_expires_at > now() THEN p.previous_secret END
                      AS previous_secret,
                  p.rate_limit_per_second
             FROM webhook_deliveries d
             JOIN webhook_events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
             JOIN webhook_endpoints p ON p.tenant_id = d.tenant_id AND p.id = d.endpoint_id
            WHERE d.tenant_id = $1 AND d.id = $2"#,
        tenant.0,
        delivery
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(row) = row else { return Ok(None) };
    let open = |sealed: &[u8]| {
        let (text, _) = secrets
            .decrypt(tenant, sealed)
            .map_err(|e| DeliveryError::Secret(e.to_string()))?;
        SigningSecret::parse(&text).map_err(|e| DeliveryError::Secret(e.to_string()))
    };
    let mut signing = vec![open(&row.secret)?];
    if let Some(previous) = &row.previous_secret {
        signing.push(open(previous)?);
    }
    Ok(Some(Delivery {
        id: row.id,
        endpoint_id: row.endpoint_id,
        state: row.state,
        created_at: row.created_at,
        event_id: row.event_id,
        event_type: row.event_type,
        body: row.body,
        url: row.url,
        enabled: row.enabled,
        secrets: signing,
        rate_limit_per_second: row.rate_limit_per_second,
    }))
}

/// One attempt to send a delivery, as the receiver answered it.
pub struct Attempt {
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// None: no HTTP answer.
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

/// Where an attempt leaves its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    /// Failed; the next attempt is due then.
    RetryAt(DateTime<Utc>),
    /// Failed, and the schedule has run out.
    Failed,
}

/// What an attempt changed about its endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointChange {
    None,
    /// It had been failing and succeeded again (`endpoint.recovered`).
    Recovered(EndpointStatus),
    /// Failing too long: disabled (`endpoint.disabled`).
    Disabled(EndpointStatus),
}

/// Records an attempt and its outcome in the caller's (fenced) transaction: the attempt, the
/// delivery's state, and the endpoint's failure state: a success clears `failing_since` (emitting
/// `endpoint.recovered` if it was set); a delivery out of attempts sets it to the delivery's
/// start, and disables the endpoint once it is `disable_after` old (emitting `endpoint.disabled`
/// to the tenant's other endpoints).
pub async fn record_attempt(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    delivery: &Delivery,
    attempt: &Attempt,
    outcome: AttemptOutcome,
    disable_after: std::time::Duration,
) -> Result<EndpointChange, sqlx::Error> {
    let (delivery_id, endpoint) = (delivery.id, delivery.endpoint_id);
    let (state, next) = match outcome {
        AttemptOutcome::Succeeded => (DeliveryState::Succeeded, None),
        AttemptOutcome::RetryAt(at) => (DeliveryState::Pending, Some(at)),
        AttemptOutcome::Failed => (DeliveryState::Failed, None),
    };
    sqlx::query!(
        "WITH d AS (
             UPDATE webhook_deliveries
                SET attempts = attempts + 1, last_attempt_at = $3, last_status = $5,
                    last_error = $6, state = $8, next_attempt_at = $9,
                    finished_at = CASE WHEN $8 = 'pending' THEN NULL ELSE now() END
              WHERE tenant_id = $1 AND id = $2
          RETURNING attempts)
         INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, started_at, duration_ms,
                                       status_code, error, response_body)
         SELECT $1, $2, d.attempts, $3, $4, $5, $6, $7 FROM d",
        tenant.0,
        delivery_id,
        attempt.started_at,
        attempt.duration_ms,
        attempt.status_code,
        attempt.error.as_deref(),
        attempt.response_body.as_deref(),
        state as DeliveryState,
        next
    )
    .execute(&mut *tx)
    .await?;
    let change = match outcome {
        AttemptOutcome::RetryAt(_) => EndpointChange::None,
        AttemptOutcome::Succeeded => sqlx::query!(
            r#"UPDATE webhook_endpoints p SET failing_since = NULL
                 FROM webhook_endpoints before
                WHERE p.tenant_id = $1 AND p.id = $2 AND p.failing_since IS NOT NULL
                  AND before.tenant_id = p.tenant_id AND before.id = p.id
            RETURNING p.url, before.failing_since AS "failing_since!""#,
            tenant.0,
            endpoint
        )
        .fetch_optional(&mut *tx)
        .await?
        .map_or(EndpointChange::None, |r| {
            EndpointChange::Recovered(EndpointStatus {
                endpoint_id: endpoint,
                url: r.url,
                failing_since: r.failing_since,
                reason: None,
            })
        }),
        AttemptOutcome::Failed => {
            let r = sqlx::query!(
                r#"UPDATE webhook_endpoints
                      SET failing_since = coalesce(failing_since, $3),
                          enabled = enabled AND coalesce(failing_since, $3)
                                                > now() - make_interval(secs => $4),
                          disabled_at = CASE WHEN enabled
                                              AND coalesce(failing_since, $3)
                                                  <= now() - make_interval(secs => $4)
                                             THEN now() ELSE disabled_at END
                    WHERE tenant_id = $1 AND id = $2
                RETURNING url, failing_since AS "failing_since!", disabled_at,
                          coalesce(disabled_at = now(), false) AS "disabled_now!""#,
                tenant.0,
                endpoint,
                delivery.created_at,
                disable_after.as_secs_f64()
            )
            .fetch_optional(&mut *tx)
            .await?;
            match r {
                Some(r) if r.disabled_now => {
                    let reason = format!(
                        "every delivery since {} failed",
                        r.failing_since.format("%Y-%m-%d %H:%M UTC")
                    );
                    sqlx::query!(
                        "UPDATE webhook_endpoints SET disabled_reason = $3
                          WHERE tenant_id = $1 AND id = $2",
                        tenant.0,
                        endpoint,
                        reason
                    )
                    .execute(&mut *tx)
                    .await?;
                    EndpointChange::Disabled(EndpointStatus {
                        endpoint_id: endpoint,
                        url: r.url,
                        failing_since: r.failing_since,
                        reason: Some(reason),
                    })
                }
                _ => EndpointChange::None,
            }
        }
    };
    let (event, status) = match &change {
        EndpointChange::None => return Ok(change),
        EndpointChange::Recovered(s) => (EventType::EndpointRecovered, s),
        EndpointChange::Disabled(s) => (EventType::EndpointDisabled, s),
    };
    sqlx::query!(
        "SELECT webhook_emit($1, NULL, $2, $3)",
        tenant.0,
        event.as_str(),
        serde_json::to_value(status).expect("plain fields")
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(change)
}

/// Ends a delivery without an attempt: its endpoint was disabled (or a secret cannot be opened).
pub async fn abandon(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    delivery_id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE webhook_deliveries
            SET state = 'failed', last_error = $3, next_attempt_at = NULL, finished_at = now()
          WHERE tenant_id = $1 AND id = $2 AND state = 'pending'",
        tenant.0,
        delivery_id,
        reason
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// A delivery as `GET /api/webhooks/{id}/deliveries` lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    /// The event's id: the `webhook-id` header of every attempt.
    pub event_id: Uuid,
    pub event_type: EventType,
    pub state: DeliveryState,
    pub attempts: i32,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// When the next attempt is due (pending deliveries after a failed attempt).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The body every attempt sent (a `WebhookEvent`).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Every attempt, first first.
    pub attempt_log: Vec<AttemptView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// The receiver's HTTP status; null when it did not answer.
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// The start of the receiver's answer.
    pub response_body: Option<String>,
}

/// The endpoint's deliveries, newest first, optionally only those in `state`; None when the
/// tenant has no such endpoint.
pub async fn deliveries(
    pool: &PgPool,
    tenant: TenantId,
    endpoint: Uuid,
    state: Option<DeliveryState>,
    limit: i64,
) -> Result<Option<Vec<DeliveryView>>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2)
               AS "exists!""#,
        tenant.0,
        endpoint
    )
    .fetch_one(&mut *tx)
    .await?;
    if !exists {
        return Ok(None);
    }
    let rows = sqlx::query!(
        r#"SELECT d.id, d.event_id, e.type AS event_type, d.state AS "state: DeliveryState",
                  d.attempts, d.last_attempt_at, d.last_status, d.last_error, d.next_attempt_at,
                  d.finished_at, d.created_at, e.payload
             FROM webhook_deliveries d
             JOIN webhook_events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
            WHERE d.tenant_id = $1 AND d.endpoint_id = $2
              AND ($3::text IS NULL OR d.state = $3)
            ORDER BY d.created_at DESC, d.id DESC
            LIMIT $4"#,
        tenant.0,
        endpoint,
        state as Option<DeliveryState>,
        limit
    )
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let attempts = sqlx::query!(
        "SELECT delivery_id, attempt, started_at, duration_ms, status_code, error, response_body
           FROM webhook_attempts
          WHERE tenant_id = $1 AND delivery_id = ANY ($2)
          ORDER BY delivery_id, attempt",
        tenant.0,
        &ids
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut log: std::collections::HashMap<Uuid, Vec<AttemptView>> = Default::default();
    for a in attempts {
        log.entry(a.delivery_id).or_default().push(AttemptView {
            attempt: a.attempt,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            error: a.error,
            response_body: a.response_body,
        });
    }
    Ok(Some(
        rows.into_iter()
            .filter_map(|r| {
                Some(DeliveryView {
                    id: r.id,
                    event_id: r.event_id,
                    // The endpoint's events CHECK admits exactly the event types there are.
                    event_type: EventType::from_key(&r.event_type)?,
                    state: r.state,
                    attempts: r.attempts,
                    last_attempt_at: r.last_attempt_at,
                    last_status: r.last_status,
                    last_error: r.last_error,
                    next_attempt_at: r.next_attempt_at,
                    finished_at: r.finished_at,
                    created_at: r.created_at,
                    payload: r.payload,
                    attempt_log: log.remove(&r.id).unwrap_or_default(),
                })
            })
            .collect(),
    ))
}

#[derive(Debug, thiserror::Error)]
pub enum RedeliverError {
    #[error("no such endpoint or delivery")]
    NotFound,
    #[error("the endpoint is disabled: enable it first")]
    Disabled,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Sends the endpoint's finished deliveries again, through the whole retry schedule: one
/// (`only`), or every failed one created since `since`. Jobs are enqueued in creation order, so
/// each conversation's events still arrive in order. Returns how many were re-queued.
pub async fn redeliver(
    pool: &PgPool,
    tenant: TenantId,
    endpoint: Uuid,
    only: Option<Uuid>,
    since: Option<DateTime<Utc>>,
) -> Result<usize, RedeliverError> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let enabled = sqlx::query_scalar!(
        "SELECT enabled FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        endpoint
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(RedeliverError::NotFound)?;
    if !enabled {
        return Err(RedeliverError::Disabled);
    }
    let rows = sqlx::query!(
        r#"WITH again AS (
               UPDATE webhook_deliveries d
                  SET state = 'pending', next_attempt_at = now(), finished_at = NULL
                 FROM webhook_events e
                WHERE d.tenant_id = $1 AND d.endpoint_id = $2
                  AND e.tenant_id = d.tenant_id AND e.id = d.event_id
                  AND CASE WHEN $3::uuid IS NOT NULL THEN d.id = $3 AND d.state <> 'pending'
                           ELSE d.state = 'failed' AND d.created_at >= $4 END
            RETURNING d.id, d.created_at, e.bot_user_id)
           SELECT id AS "id!", bot_user_id FROM again ORDER BY created_at, id"#,
        tenant.0,
        endpoint,
        only,
        since
    )
    .fetch_all(&mut *tx)
    .await?;
    if let Some(only) = only
        && rows.is_empty()
    {
        let pending = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM webhook_deliveries
                               WHERE tenant_id = $1 AND endpoint_id = $2 AND id = $3)
                   AS "exists!""#,
            tenant.0,
            endpoint,
            only
        )
        .fetch_one(&mut *tx)
        .await?;
        // A pending delivery is on its way already: asking again is not an error.
        return if pending {
            Ok(0)
        } else {
            Err(RedeliverError::NotFound)
        };
    }
    let jobs: Vec<_> = rows
        .iter()
        .map(|r| {
            crate::jobs::DeliverWebhook {
                tenant_id: tenant,
                delivery_id: r.id,
                endpoint_id: endpoint,
                bot_user_id: r.bot_user_id.map(BotUserId),
            }
            .job()
        })
        .collect();
    for job in &jobs {
        crate::queue::enqueue(&mut *tx, job).await?;
    }
    tx.commit().await?;
    Ok(jobs.len())
}
