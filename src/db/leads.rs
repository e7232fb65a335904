//! Leads and the conversations (bot users) they come from. Every finder takes the tenant and runs in
//! a tenant-scoped transaction.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::TenantId;

use super::tenant_tx;

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Lead {
    pub id: uuid::Uuid,
    pub bot_user_id: uuid::Uuid,
    /// The customer's id in its channel (the prototype's `user_id`).
    pub user_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub object_type: Option<String>,
    pub area_m2: Option<f64>,
    pub summary: Option<String>,
    pub status: String,
    pub loss_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The tenant's leads, newest first.
pub async fn list(pool: &PgPool, tenant: TenantId, limit: i64) -> Result<Vec<Lead>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let leads = sqlx::query_as!(
        Lead,
        r#"SELECT l.id, l.bot_user_id, b.external_id AS user_id, l.name, l.phone, l.city,
                  l.object_type, l.area_m2, l.summary, l.status, l.loss_reason, l.created_at,
                  l.updated_at
           FROM leads l
           JOIN bot_users b ON b.tenant_id = l.tenant_id AND b.id = l.bot_user_id
           WHERE l.tenant_id = $1
           ORDER BY l.created_at DESC, l.id DESC
           LIMIT $2"#,
        tenant.0,
        limit
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(leads)
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Conversation {
    pub bot_user_id: uuid::Uuid,
    /// The customer's id in its channel.
    pub user_id: String,
    pub channel: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub language: Option<String>,
    /// `bot`, or `human` while a manager has taken over.
    pub mode: String,
    pub last_seq: i64,
    pub lead_status: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// The tenant's conversations, most recently active first.
pub async fn conversations(
    pool: &PgPool,
    tenant: TenantId,
    limit: i64,
) -> Result<Vec<Conversation>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let rows = sqlx::query_as!(
        Conversation,
        r#"SELECT b.id AS bot_user_id, b.external_id AS user_id, b.channel, b.name, b.phone,
                  b.language, b.mode, b.last_seq, l.status AS "lead_status?", b.updated_at
           FROM bot_users b
           LEFT JOIN leads l ON l.tenant_id = b.tenant_id AND l.bot_user_id = b.id
           WHERE b.tenant_id = $1
           ORDER BY b.updated_at DESC, b.id DESC
           LIMIT $2"#,
        tenant.0,
        limit
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}
