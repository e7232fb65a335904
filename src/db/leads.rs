//! Leads and the conversations (bot users) they come from. Every finder takes the tenant and runs in
//! a tenant-scoped transaction.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::conversation::{Channel, ConversationMode, MessageRole};
use crate::domain::lead_status::LeadStatus;
use crate::domain::{BotUserId, LeadId, TenantId};

use super::tenant_tx;

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
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
    pub status: LeadStatus,
    pub loss_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The lead of one conversation, if it has one.
pub async fn for_bot_user(
    pool: &PgPool,
    tenant: TenantId,
    bot_user: crate::domain::BotUserId,
) -> Result<Option<Lead>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let lead = sqlx::query_as!(
        Lead,
        r#"SELECT l.id, l.bot_user_id, b.external_id AS user_id, l.name, l.phone, l.city,
                  l.object_type, l.area_m2, l.summary, l.status AS "status: LeadStatus", l.loss_reason, l.created_at,
                  l.updated_at
           FROM leads l
           JOIN bot_users b ON b.tenant_id = l.tenant_id AND b.id = l.bot_user_id
           WHERE l.tenant_id = $1 AND l.bot_user_id = $2"#,
        tenant.0,
        bot_user.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(lead)
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Conversation {
    pub bot_user_id: uuid::Uuid,
    /// The customer's id in its channel.
    pub user_id: String,
    pub channel: Channel,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub language: Option<String>,
    pub mode: ConversationMode,
    pub last_seq: i64,
    /// The latest message's text (a voice note's transcript), and who wrote it.
    pub last_message: Option<String>,
    pub last_message_role: Option<MessageRole>,
    /// The conversation's lead, once the bot has made one.
    pub lead_id: Option<uuid::Uuid>,
    pub lead_status: Option<LeadStatus>,
    pub updated_at: DateTime<Utc>,
}

/// The tenant's conversations, most recently active first (only the one of bot user `only`, when
/// given).
pub async fn conversations(
    pool: &PgPool,
    tenant: TenantId,
    only: Option<BotUserId>,
    limit: i64,
) -> Result<Vec<Conversation>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let rows = sqlx::query_as!(
        Conversation,
        r#"SELECT b.id AS bot_user_id, b.external_id AS user_id, b.channel AS "channel: Channel",
                  b.name, b.phone, b.language, b.mode AS "mode: ConversationMode", b.last_seq,
                  m.text AS "last_message?", m.role AS "last_message_role?: MessageRole",
                  l.id AS "lead_id?", l.status AS "lead_status?: LeadStatus", b.updated_at
           FROM bot_users b
           LEFT JOIN leads l ON l.tenant_id = b.tenant_id AND l.bot_user_id = b.id
           LEFT JOIN LATERAL (
               SELECT CASE WHEN kind = 'voice' THEN coalesce(transcript, '') ELSE content END AS text,
                      role
               FROM messages
               WHERE tenant_id = b.tenant_id AND bot_user_id = b.id AND seq = b.last_seq) m ON true
           WHERE b.tenant_id = $1 AND ($2::uuid IS NULL OR b.id = $2)
           ORDER BY b.updated_at DESC, b.id DESC
           LIMIT $3"#,
        tenant.0,
        only.map(|b| b.0),
        limit
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// One conversation, by its bot user.
pub async fn conversation(
    pool: &PgPool,
    tenant: TenantId,
    bot_user: BotUserId,
) -> Result<Option<Conversation>, sqlx::Error> {
    Ok(conversations(pool, tenant, Some(bot_user), 1).await?.pop())
}

/// Filters of the leads list (all optional; combined with AND).
#[derive(Debug, Default, Clone)]
pub struct LeadFilter {
    pub status: Option<LeadStatus>,
    pub city: Option<String>,
    pub qualified: Option<bool>,
    /// Case-insensitive search in name, phone, summary and the customer's id.
    pub q: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
}

/// The order of a lead list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, utoipa::ToSchema)]
pub enum LeadSort {
    #[default]
    #[serde(rename = "-created_at")]
    NewestFirst,
    #[serde(rename = "created_at")]
    OldestFirst,
    #[serde(rename = "-updated_at")]
    RecentlyUpdated,
}

/// Where the previous page ended (keyset pagination: stable while leads are added).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LeadCursor {
    pub at: DateTime<Utc>,
    pub id: uuid::Uuid,
}

/// A page of the tenant's leads and the cursor of the next page, if any.
///
/// Built with `QueryBuilder` because filters and sort vary; every value is bound, never spliced.
pub async fn search(
    pool: &PgPool,
    tenant: TenantId,
    filter: &LeadFilter,
    sort: LeadSort,
    after: Option<LeadCursor>,
    limit: i64,
) -> Result<(Vec<Lead>, Option<LeadCursor>), sqlx::Error> {
    let (column, descending) = match sort {
        LeadSort::NewestFirst => ("l.created_at", true),
        LeadSort::OldestFirst => ("l.created_at", false),
        LeadSort::RecentlyUpdated => ("l.updated_at", true),
    };
    let mut query = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "SELECT l.id, l.bot_user_id, b.external_id AS user_id, l.name, l.phone, l.city,
                l.object_type, l.area_m2, l.summary, l.status, l.loss_reason, l.created_at,
                l.updated_at
         FROM leads l JOIN bot_users b ON b.tenant_id = l.tenant_id AND b.id = l.bot_user_id
         WHERE l.tenant_id = ",
    );
    query.push_bind(tenant.0);
    if let Some(status) = filter.status {
        query.push(" AND l.status = ").push_bind(status.as_str());
    }
    if let Some(city) = &filter.city {
        query.push(" AND l.city = ").push_bind(city.clone());
    }
    if let Some(qualified) = filter.qualified {
        query.push(if qualified {
            " AND l.qualified_at IS NOT NULL"
        } else {
            " AND l.qualified_at IS NULL"
        });
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.trim().is_empty()) {
        let pattern = format!(
            "%{}%",
            q.trim()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        query
            .push(" AND (l.name ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR l.phone ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR l.summary ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR b.external_id ILIKE ")
            .push_bind(pattern)
            .push(")");
    }
    if let Some(from) = filter.created_from {
        query.push(" AND l.created_at >= ").push_bind(from);
    }
    if let Some(to) = filter.created_to {
        query.push(" AND l.created_at < ").push_bind(to);
    }
    if let Some(cursor) = after {
        query
            .push(format!(
                " AND ({column}, l.id) {} (",
                if descending { "<" } else { ">" }
            ))
            .push_bind(cursor.at)
            .push(", ")
            .push_bind(cursor.id)
            .push(")");
    }
    let direction = if descending { "DESC" } else { "ASC" };
    query.push(format!(
        " ORDER BY {column} {direction}, l.id {direction} LIMIT "
    ));
    query.push_bind(limit + 1);

    let mut tx = tenant_tx(pool, tenant).await?;
    let mut leads: Vec<Lead> = query.build_query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let next = if leads.len() as i64 > limit {
        leads.truncate(limit as usize);
        leads.last().map(|l| LeadCursor {
            at: if sort == LeadSort::RecentlyUpdated {
                l.updated_at
            } else {
                l.created_at
            },
            id: l.id,
        })
    } else {
        None
    };
    Ok((leads, next))
}

pub async fn by_id(
    pool: &PgPool,
    tenant: TenantId,
    id: uuid::Uuid,
) -> Result<Option<(Lead, i32)>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query!(
        r#"SELECT l.id, l.bot_user_id, b.external_id AS user_id, l.name, l.phone, l.city,
                  l.object_type, l.area_m2, l.summary, l.status AS "status: LeadStatus", l.loss_reason, l.created_at,
                  l.updated_at, l.version
           FROM leads l JOIN bot_users b ON b.tenant_id = l.tenant_id AND b.id = l.bot_user_id
           WHERE l.tenant_id = $1 AND l.id = $2"#,
        tenant.0,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|r| {
        (
            Lead {
                id: r.id,
                bot_user_id: r.bot_user_id,
                user_id: r.user_id,
                name: r.name,
                phone: r.phone,
                city: r.city,
                object_type: r.object_type,
                area_m2: r.area_m2,
                summary: r.summary,
                status: r.status,
                loss_reason: r.loss_reason,
                created_at: r.created_at,
                updated_at: r.updated_at,
            },
            r.version,
        )
    }))
}

/// A manager's change to a lead; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct LeadEdit {
    pub status: Option<LeadStatus>,
    pub loss_reason: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub object_type: Option<String>,
    pub area_m2: Option<f64>,
    pub summary: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("lead not found")]
    NotFound,
    #[error("a lead cannot move from {from} to {to}")]
    InvalidTransition { from: LeadStatus, to: LeadStatus },
    #[error("a lost lead needs a loss_reason")]
    LossReasonRequired,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Applies a manager's edit under the row lock, so two managers' edits cannot interleave; the
/// transition is checked against the status as it is now, not as the client last saw it.
pub async fn edit(
    pool: &PgPool,
    tenant: TenantId,
    id: uuid::Uuid,
    edit: &LeadEdit,
) -> Result<(), EditError> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let current = sqlx::query!(
        "SELECT status, bot_user_id FROM leads WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        tenant.0,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(EditError::NotFound)?;
    let from: LeadStatus = current
        .status
        .parse()
        .map_err(|e: String| sqlx::Error::Decode(e.into()))?;
    let to = edit.status.unwrap_or(from);
    if !from.can_move_to(to) {
        return Err(EditError::InvalidTransition { from, to });
    }
    if to == LeadStatus::Lost && from != LeadStatus::Lost && edit.loss_reason.is_none() {
        return Err(EditError::LossReasonRequired);
    }
    sqlx::query!(
        "UPDATE leads SET status = $3, loss_reason = coalesce($4, loss_reason),
                name = coalesce($5, name), phone = coalesce($6, phone), city = coalesce($7, city),
                object_type = coalesce($8, object_type), area_m2 = coalesce($9, area_m2),
                summary = coalesce($10, summary), version = version + 1, updated_at = now(),
                qualified_at = CASE WHEN $3 = 'qualified' THEN coalesce(qualified_at, now())
                                    ELSE qualified_at END
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id,
        to.as_str(),
        edit.loss_reason,
        edit.name,
        edit.phone,
        edit.city,
        edit.object_type,
        edit.area_m2,
        edit.summary
    )
    .execute(&mut *tx)
    .await?;
    super::webhooks::emit_lead_updated(&mut tx, tenant, BotUserId(current.bot_user_id)).await?;
    tx.commit().await?;
    Ok(())
}

/// What the managers' notification card shows of a lead.
pub struct LeadCard {
    pub company: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub object_type: Option<String>,
    pub area_m2: Option<f64>,
    pub summary: Option<String>,
    pub status: LeadStatus,
}

/// The lead's card for the managers' notification of its `version`; None when that version was
/// notified already or the lead is gone.
pub async fn card_to_notify(
    pool: &PgPool,
    tenant: TenantId,
    lead: LeadId,
    version: i32,
) -> Result<Option<LeadCard>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let card = sqlx::query_as!(
        LeadCard,
        r#"SELECT t.name AS company, l.name, l.phone, l.city, l.object_type, l.area_m2, l.summary,
                  l.status AS "status: LeadStatus"
           FROM leads l JOIN tenants t ON t.id = l.tenant_id
           WHERE l.tenant_id = $1 AND l.id = $2
             AND NOT EXISTS (SELECT 1 FROM lead_notifications n
                             WHERE n.tenant_id = l.tenant_id AND n.lead_id = l.id AND n.version = $3)"#,
        tenant.0,
        lead.0,
        version
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(card)
}

/// Records the notification of the lead's `version` as sent. After the send, and not fenced: a
/// crash in between can repeat one notification, never lose one.
pub async fn record_notification(
    pool: &PgPool,
    tenant: TenantId,
    lead: LeadId,
    version: i32,
) -> Result<(), sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    sqlx::query!(
        "INSERT INTO lead_notifications (tenant_id, lead_id, version) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        tenant.0,
        lead.0,
        version
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
