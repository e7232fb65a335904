//! API keys (`migrations/0023_api_keys.sql`): part of the identity directory, like `users`, since a
//! request's key is found before any tenant is known. Every query here but [`authenticate`] names
//! the tenant.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::api_key::{self, ApiKeySecret, Scope};
use crate::domain::{TenantId, UserId};

/// A key as lists show it: never the key itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub shown: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    /// Within a minute: the stamp is refreshed at most once a minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

struct Row {
    id: Uuid,
    name: String,
    shown: String,
    scopes: Vec<String>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<Row> for ApiKey {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            name: r.name,
            shown: r.shown,
            // The column's CHECK admits exactly the scopes there are.
            scopes: r.scopes.iter().filter_map(|s| Scope::from_key(s)).collect(),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

fn keys(scopes: &[Scope]) -> Vec<String> {
    scopes.iter().map(|s| s.as_str().to_owned()).collect()
}

/// A new key of the tenant; the secret is returned here only.
pub async fn create(
    pool: &PgPool,
    tenant: TenantId,
    created_by: UserId,
    name: &str,
    scopes: &[Scope],
) -> Result<(ApiKey, ApiKeySecret), sqlx::Error> {
    let secret = ApiKeySecret::generate();
    let row = sqlx::query_as!(
        Row,
        r#"INSERT INTO api_keys (id, tenant_id, name, shown, hash, scopes, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING id, name, shown, scopes, created_at, last_used_at, revoked_at"#,
        Uuid::now_v7(),
        tenant.0,
        name,
        secret.shown(),
        secret.hash(),
        &keys(scopes),
        created_by.0
    )
    .fetch_one(pool)
    .await?;
    Ok((row.into(), secret))
}

/// The tenant's keys, newest first, revoked ones included (they say when).
pub async fn list(pool: &PgPool, tenant: TenantId) -> Result<Vec<ApiKey>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, name, shown, scopes, created_at, last_used_at, revoked_at
           FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC"#,
        tenant.0
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(ApiKey::from).collect())
}

/// Revokes one of the tenant's keys (at once: keys are not cached). None: no such key of this
/// tenant. Revoking a revoked key changes nothing.
pub async fn revoke(
    pool: &PgPool,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<ApiKey>, sqlx::Error> {
    let row = sqlx::query_as!(
        Row,
        r#"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
           WHERE tenant_id = $1 AND id = $2
           RETURNING id, name, shown, scopes, created_at, last_used_at, revoked_at"#,
        tenant.0,
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(ApiKey::from))
}

/// Who a presented key is.
#[derive(Debug, Clone)]
pub struct KeyHolder {
    pub key_id: Uuid,
    pub tenant_id: TenantId,
    pub scopes: Vec<Scope>,
}

/// The live key `credential` is, if any, stamping its use (at most once a minute, so a busy
/// integration does not write a row per request). One statement.
pub async fn authenticate(
    pool: &PgPool,
    credential: &str,
) -> Result<Option<KeyHolder>, sqlx::Error> {
    let row = sqlx::query!(
        r#"WITH key AS (
               SELECT id, tenant_id, scopes, last_used_at FROM api_keys
               WHERE hash = $1 AND revoked_at IS NULL
           ), stamp AS (
               UPDATE api_keys a SET last_used_at = now() FROM key
               WHERE a.id = key.id
                 AND (key.last_used_at IS NULL OR key.last_used_at < now() - interval '1 minute')
           )
           SELECT id AS "id!", tenant_id AS "tenant_id!", scopes AS "scopes!" FROM key"#,
        api_key::hash(credential)
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| KeyHolder {
        key_id: r.id,
        tenant_id: TenantId(r.tenant_id),
        scopes: r.scopes.iter().filter_map(|s| Scope::from_key(s)).collect(),
    }))
}
