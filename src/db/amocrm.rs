//! A company's amoCRM connection and its leads' ids there (`migrations/0027_amocrm.sql`). The
//! token is sealed with SECRET_KEY and leaves only through [`connection`], for the sync job.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::crypto::SecretBox;
use crate::domain::amocrm::AmoDomain;
use crate::domain::lead_status::LeadStatus;
use crate::domain::{LeadId, TenantId};

use super::tenant_tx;

/// The settings as the API shows them: never the token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AmoSettings {
    pub base_domain: String,
    /// Set when amoCRM refused the token (401): nothing is synced until a token is saved again.
    pub unauthorized_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

pub async fn settings(pool: &PgPool, tenant: TenantId) -> Result<Option<AmoSettings>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query_as!(
        AmoSettings,
        "SELECT base_domain, unauthorized_at, updated_at FROM amocrm_settings WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Saves the connection (a new token clears a refusal) and queues a sync of every lead not yet
/// in amoCRM, so connecting brings the existing leads along. Returns the settings and how many
/// syncs were queued.
pub async fn save(
    pool: &PgPool,
    secrets: &SecretBox,
    tenant: TenantId,
    domain: &AmoDomain,
    token: &str,
) -> Result<(AmoSettings, u64), sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let saved = sqlx::query_as!(
        AmoSettings,
        "INSERT INTO amocrm_settings (tenant_id, base_domain, token) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE
            SET base_domain = EXCLUDED.base_domain, token = EXCLUDED.token,
                unauthorized_at = NULL, updated_at = now()
         RETURNING base_domain, unauthorized_at, updated_at",
        tenant.0,
        domain.as_str(),
        secrets.encrypt(tenant, token)
    )
    .fetch_one(&mut *tx)
    .await?;
    // Through the leads trigger, the one place a sync is queued.
    let queued = sqlx::query!(
        "UPDATE leads l SET updated_at = l.updated_at
          WHERE l.tenant_id = $1
            AND NOT EXISTS (SELECT 1 FROM amocrm_links k
                             WHERE k.tenant_id = l.tenant_id AND k.lead_id = l.id)",
        tenant.0
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((saved, queued))
}

/// Disconnects amoCRM; the leads' ids there are kept for a reconnection.
pub async fn delete(pool: &PgPool, tenant: TenantId) -> Result<bool, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let deleted = sqlx::query!("DELETE FROM amocrm_settings WHERE tenant_id = $1", tenant.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(deleted > 0)
}

/// What the sync job needs: where, with which token, and whether amoCRM still takes it.
pub struct Connection {
    pub domain: String,
    pub token: String,
    pub refused: bool,
}

pub async fn connection(
    pool: &PgPool,
    secrets: &SecretBox,
    tenant: TenantId,
) -> Result<Option<Connection>, anyhow::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query!(
        "SELECT base_domain, token, unauthorized_at FROM amocrm_settings WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(row) = row else { return Ok(None) };
    let (token, _) = secrets.decrypt(tenant, &row.token)?;
    Ok(Some(Connection {
        domain: row.base_domain,
        token,
        refused: row.unauthorized_at.is_some(),
    }))
}

/// Flags the token as refused (amoCRM answered 401), in the caller's fenced transaction.
pub async fn mark_refused(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE amocrm_settings SET unauthorized_at = coalesce(unauthorized_at, now())
          WHERE tenant_id = $1",
        tenant.0
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// A lead as amoCRM gets it, with its ids there once it has them.
pub struct LeadToSync {
    pub version: i32,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub summary: Option<String>,
    pub user_id: String,
    pub status: LeadStatus,
    pub amo_lead_id: Option<i64>,
    pub amo_contact_id: Option<i64>,
    pub synced_version: Option<i32>,
}

pub async fn lead_to_sync(
    pool: &PgPool,
    tenant: TenantId,
    lead: LeadId,
) -> Result<Option<LeadToSync>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query_as!(
        LeadToSync,
        r#"SELECT l.version, l.name, l.phone, l.summary, b.external_id AS user_id,
                  l.status AS "status: LeadStatus", k.amo_lead_id AS "amo_lead_id?",
                  k.amo_contact_id, k.synced_version AS "synced_version?"
             FROM leads l
             JOIN bot_users b ON b.tenant_id = l.tenant_id AND b.id = l.bot_user_id
             LEFT JOIN amocrm_links k ON k.tenant_id = l.tenant_id AND k.lead_id = l.id
            WHERE l.tenant_id = $1 AND l.id = $2"#,
        tenant.0,
        lead.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Records what amoCRM now holds of the lead, in the caller's fenced transaction.
pub async fn record_sync(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    lead: LeadId,
    amo_lead_id: i64,
    amo_contact_id: Option<i64>,
    version: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO amocrm_links (tenant_id, lead_id, amo_lead_id, amo_contact_id, synced_version)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, lead_id) DO UPDATE
            SET amo_lead_id = EXCLUDED.amo_lead_id,
                amo_contact_id = coalesce(EXCLUDED.amo_contact_id, amocrm_links.amo_contact_id),
                synced_version = greatest(amocrm_links.synced_version, EXCLUDED.synced_version),
                synced_at = now()",
        tenant.0,
        lead.0,
        amo_lead_id,
        amo_contact_id,
        version
    )
    .execute(tx)
    .await?;
    Ok(())
}
