//! A tenant's webhook endpoints (`migrations/0024_webhook_endpoints.sql`). Secrets are sealed with
//! SECRET_KEY before they are stored and leave only through [`create`] and [`rotate_secret`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::crypto::SecretBox;
use crate::domain::TenantId;
use crate::domain::webhook::{EndpointUrl, EventType, SigningSecret};

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
           RETURNING id, url, events, description, enabled, previous_secret_expires_at,
                     created_at, updated_at"#,
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
        r#"SELECT id, url, events, description, enabled, previous_secret_expires_at, created_at,
                  updated_at
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
        r#"SELECT id, url, events, description, enabled, previous_secret_expires_at, created_at,
                  updated_at
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
                  updated_at = now()
            WHERE tenant_id = $1 AND id = $2
        RETURNING id, url, events, description, enabled, previous_secret_expires_at, created_at,
                  updated_at"#,
        tenant.0,
        id,
        edit.url.map(EndpointUrl::as_str),
        events.as_deref(),
        edit.description,
        edit.enabled
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
        RETURNING id, url, events, description, enabled, previous_secret_expires_at, created_at,
                  updated_at"#,
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
