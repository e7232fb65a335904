//! The customer's data lifecycle ([J]): a company's retention period, the erasure of one customer
//! on request (with its audit record), and the export of one customer's data.
//!
//! - **Erasure** ([`erase`]): one `tenant_tx`. The conversation's row is locked first (the first
//!   lock of ingest, the turn's commit and the handoff transitions, so none of them runs beside
//!   it), then its jobs (cancelled when pending or dead; a running one loses its lease, so none of
//!   its fenced writes can land and its next run finds nothing), then every row about the customer
//!   is deleted, children first so each table's count is known, and one `audit_log` row records
//!   the counts. Jobs before data: a handler holds its job's row while it writes (the lease
//!   fence), so taking job rows before message rows is the handlers' own order.
//! - **Retention** ([`apply_retention`]): messages (their audio and Telegram rows go with them by
//!   foreign key) and webhook events with their deliveries and attempts older than the company's
//!   `retention_days`, in bounded batches of their own transactions. Leads and the conversation
//!   rows stay: a conversation's `last_seq` is untouched, so the seq allocator
//!   (conversation_next_seq(), message_append()) goes on after it and seqs never repeat.
//!   Messages still in the pipeline (queued, transcribing, processing) and events with a pending
//!   delivery are left for a later pass.
//! - **Export** ([`export`]): the customer, the handoff state, the lead and every message.
//!
//! What the erasure cannot reach: copies outside salesbot — the lead mirrored into amoCRM,
//! payloads webhook receivers already got, the managers' Telegram chat.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::conversation::{
    ConversationMode, MessageKind, MessageRole, MessageState, TranscriptState,
};
use crate::domain::lead_status::LeadStatus;
use crate::domain::{BotUserId, TenantId, UserId};

use super::handoff::HandoffError;
use super::messages::Channel;
use super::tenant_tx;

type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// The longest retention period a company may set, in days (ten years; the column's CHECK too).
pub const MAX_RETENTION_DAYS: i64 = 3650;

/// A company's retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct RetentionSettings {
    /// Messages, transcripts and webhook delivery logs older than this many days are deleted
    /// (leads are kept with their fields); null keeps them forever.
    #[schema(minimum = 1, maximum = 3650)]
    pub retention_days: Option<i32>,
}

pub async fn retention(pool: &PgPool, tenant: TenantId) -> Result<RetentionSettings, sqlx::Error> {
    let retention_days =
        sqlx::query_scalar!("SELECT retention_days FROM tenants WHERE id = $1", tenant.0)
            .fetch_one(pool)
            .await?;
    Ok(RetentionSettings { retention_days })
}

pub async fn set_retention(
    pool: &PgPool,
    tenant: TenantId,
    settings: RetentionSettings,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE tenants SET retention_days = $2 WHERE id = $1",
        tenant.0,
        settings.retention_days
    )
    .execute(pool)
    .await?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Erasure

/// What an erasure removed. No personal data: the audit record keeps the same.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Erasure {
    /// The `audit_log` row that records it.
    pub audit_id: Uuid,
    /// The erased conversation's id (it no longer exists).
    pub bot_user_id: Uuid,
    pub channel: Channel,
    /// Rows deleted, by table.
    pub deleted: BTreeMap<String, i64>,
    /// Queued or dead jobs of the conversation that were removed.
    pub jobs_cancelled: i64,
    /// Running jobs of the conversation whose lease was taken away: their writes cannot land, and
    /// their next run finds nothing.
    pub jobs_revoked: i64,
}

/// Erases one customer — the conversation named like the handoff routes name it — and everything
/// linked to it, and records it in the audit log, all in one transaction.
pub async fn erase(
    pool: &PgPool,
    tenant: TenantId,
    actor: UserId,
    user_id: &str,
    channel: Option<Channel>,
) -> Result<Erasure, HandoffError> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let (bot_user, channel, _) = super::handoff::lock(&mut tx, tenant, user_id, channel).await?;
    let lead = sqlx::query_scalar!(
        "SELECT id FROM leads WHERE tenant_id = $1 AND bot_user_id = $2",
        tenant.0,
        bot_user.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    let (jobs_cancelled, jobs_revoked) = erase_jobs(&mut tx, tenant, bot_user, lead).await?;
    let deleted = erase_rows(&mut tx, tenant, bot_user, lead).await?;
    let audit_id = Uuid::now_v7();
    let detail = serde_json::json!({
        "channel": channel,
        "deleted": deleted,
        "jobs_cancelled": jobs_cancelled,
        "jobs_revoked": jobs_revoked,
    });
    sqlx::query!(
        "INSERT INTO audit_log (tenant_id, id, actor_user_id, action, subject, detail)
         VALUES ($1, $2, $3, 'conversation.erased', $4, $5)",
        tenant.0,
        audit_id,
        actor.0,
        bot_user.0,
        detail
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Erasure {
        audit_id,
        bot_user_id: bot_user.0,
        channel,
        deleted,
        jobs_cancelled,
        jobs_revoked,
    })
}

/// The conversation's jobs — every kind names its bot user or its lead in the payload — are
/// cancelled (queue_cancel() keeps the per-key counts), or, when running, lose their lease and
/// become due again at once. Then the conversation's key rows left idle go, since their names
/// hold its id. Returns (cancelled, revoked).
async fn erase_jobs(
    tx: &mut Tx,
    tenant: TenantId,
    bot_user: BotUserId,
    lead: Option<Uuid>,
) -> Result<(i64, i64), sqlx::Error> {
    let jobs = sqlx::query!(
        r#"SELECT id, key FROM jobs
           WHERE tenant_id = $1
             AND (payload->>'bot_user_id' = $2::uuid::text OR payload->>'lead_id' = $3::uuid::text)
           ORDER BY id"#,
        tenant.0,
        bot_user.0,
        lead
    )
    .fetch_all(&mut **tx)
    .await?;
    let (mut cancelled, mut running) = (0, Vec::new());
    for job in &jobs {
        // One by one, in id order: cancelling a key's head promotes the next, which is then
        // cancelled in its new state.
        let state = sqlx::query_scalar!(r#"SELECT queue_cancel($1)::text AS "state""#, job.id)
            .fetch_one(&mut **tx)
            .await?;
        match state.as_deref() {
            Some("running") => running.push(job.id),
            Some(_) => cancelled += 1,
            None => {}
        }
    }
    let revoked = sqlx::query!(
        "UPDATE jobs SET lease_token = gen_random_uuid(), lease_until = now(), run_at = now()
         WHERE id = ANY ($1) AND state = 'running'",
        &running
    )
    .execute(&mut **tx)
    .await?
    .rows_affected() as i64;
    let mut keys: Vec<String> = jobs.into_iter().filter_map(|j| j.key).collect();
    keys.extend(
        ["conversation", "deliver", "notify", "forward"]
            .iter()
            .map(|prefix| format!("{prefix}:{bot_user}")),
    );
    keys.extend(lead.map(|lead| format!("crm:{lead}")));
    sqlx::query!(
        "DELETE FROM job_keys WHERE key = ANY ($1) AND pending = 0",
        &keys
    )
    .execute(&mut **tx)
    .await?;
    Ok((cancelled, revoked))
}

/// Deletes every row about the customer, children before parents (the foreign keys' cascades
/// would do it too, but uncounted), by table.
async fn erase_rows(
    tx: &mut Tx,
    tenant: TenantId,
    bot_user: BotUserId,
    lead: Option<Uuid>,
) -> Result<BTreeMap<String, i64>, sqlx::Error> {
    let (t, b) = (tenant.0, bot_user.0);
    let mut deleted = BTreeMap::new();
    let mut count = |table: &str, n: u64| {
        deleted.insert(table.to_owned(), n as i64);
    };
    let n = sqlx::query!(
        "DELETE FROM message_audio a USING messages m
         WHERE a.tenant_id = $1 AND m.tenant_id = $1 AND m.bot_user_id = $2 AND a.message_id = m.id",
        t,
        b
    )
    .execute(&mut **tx)
    .await?;
    count("message_audio", n.rows_affected());
    let n = sqlx::query!(
        "DELETE FROM telegram_files f USING messages m
         WHERE f.tenant_id = $1 AND m.tenant_id = $1 AND m.bot_user_id = $2 AND f.message_id = m.id",
        t,
        b
    )
    .execute(&mut **tx)
    .await?;
    count("telegram_files", n.rows_affected());
    let n = sqlx::query!(
        "DELETE FROM telegram_sent_parts p USING messages m
         WHERE p.tenant_id = $1 AND m.tenant_id = $1 AND m.bot_user_id = $2 AND p.message_id = m.id",
        t,
        b
    )
    .execute(&mut **tx)
    .await?;
    count("telegram_sent_parts", n.rows_affected());
    // Forwards are keyed `msg:<message>` and `handoff:<bot user>:<time>` (db::handoff).
    let n = sqlx::query!(
        "DELETE FROM manager_forwards f
         WHERE f.tenant_id = $1
           AND (f.key LIKE 'handoff:' || $2::uuid::text || ':%'
                OR f.key IN (SELECT 'msg:' || m.id FROM messages m
                             WHERE m.tenant_id = $1 AND m.bot_user_id = $2))",
        t,
        b
    )
    .execute(&mut **tx)
    .await?;
    count("manager_forwards", n.rows_affected());
    let n = sqlx::query!(
        "DELETE FROM webhook_attempts a USING webhook_deliveries d, webhook_events e
         WHERE a.tenant_id = $1 AND d.tenant_id = $1 AND e.tenant_id = $1 AND e.bot_user_id = $2
           AND d.event_id = e.id AND a.delivery_id = d.id",
        t,
        b
    )
    .execute(&mut **tx)
    .await?;
    count("webhook_attempts", n.rows_affected());
    let n = sqlx::query!(
        "DELETE FROM webhook_deliveries d USING webhook_events e
         WHERE d.tenant_id = $1 AND e.tenant_id = $1 AND e.bot_user_id = $2 AND d.event_id = e.id",
        t,
        b
    )
    .execute(&mut **tx)
    .await?;
    count("webhook_deliveries", n.rows_affected());
    let n = sqlx::query!(
        "DELETE FROM webhook_events WHERE tenant_id = $1 AND bot_user_id = $2",
        t,
        b
    )
    .execute(&mut **tx)
    .await?;
    count("webhook_events", n.rows_affected());
    if let Some(lead) = lead {
        let n = sqlx::query!(
            "DELETE FROM amocrm_links WHERE tenant_id = $1 AND lead_id = $2",
            t,
            lead
        )
        .execute(&mut **tx)
        .await?;
        count("amocrm_links", n.rows_affected());
        let n = sqlx::query!(
            "DELETE FROM lead_notifications WHERE tenant_id = $1 AND lead_id = $2",
            t,
            lead
        )
        .execute(&mut **tx)
        .await?;
        count("lead_notifications", n.rows_affected());
    }
    let n = sqlx::query!(
        "DELETE FROM leads WHERE tenant_id = $1 AND bot_user_id = $2",
        t,
        b
    )
    .execute(&mut **tx)
    .await?;
    count("leads", n.rows_affected());
    let n = sqlx::query!(
        "DELETE FROM messages WHERE tenant_id = $1 AND bot_user_id = $2",
        t,
        b
    )
    .execute(&mut **tx)
    .await?;
    count("messages", n.rows_affected());
    let n = sqlx::query!(
        "DELETE FROM bot_users WHERE tenant_id = $1 AND id = $2",
        t,
        b
    )
    .execute(&mut **tx)
    .await?;
    count("bot_users", n.rows_affected());
    Ok(deleted)
}

// ------------------------------------------------------------------------------------------------
// Export

/// Everything salesbot holds about one customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerExport {
    pub exported_at: DateTime<Utc>,
    pub customer: ExportedCustomer,
    pub handoff: ExportedHandoff,
    /// The lead qualified from the conversation, if any.
    pub lead: Option<ExportedLead>,
    /// Every message still kept (the company's retention period may have removed older ones),
    /// in order.
    pub messages: Vec<ExportedMessage>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportedCustomer {
    pub id: Uuid,
    pub channel: Channel,
    /// The customer's id in its channel.
    pub external_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// ru, kk, en or mixed, once known.
    pub language: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the customer blocked the company's Telegram bot, if they did.
    pub blocked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportedHandoff {
    pub mode: ConversationMode,
    pub handoff_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportedLead {
    pub id: Uuid,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub object_type: Option<String>,
    pub area_m2: Option<f64>,
    pub summary: Option<String>,
    pub status: LeadStatus,
    pub loss_reason: Option<String>,
    pub version: i32,
    /// Which engine last changed it.
    pub engine: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub qualified_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportedMessage {
    pub seq: i64,
    pub role: MessageRole,
    pub kind: MessageKind,
    /// The text (empty for a voice note: see `transcript`).
    pub text: String,
    pub transcript: Option<String>,
    pub transcript_status: Option<TranscriptState>,
    pub status: MessageState,
    pub created_at: DateTime<Utc>,
}

/// The customer named like the handoff routes name one (404, or 409 when ambiguous).
pub async fn export(
    pool: &PgPool,
    tenant: TenantId,
    user_id: &str,
    channel: Option<Channel>,
) -> Result<CustomerExport, HandoffError> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let rows = sqlx::query!(
        r#"SELECT id, channel AS "channel: Channel", external_id, name, phone, language,
                  created_at, blocked_at, mode AS "mode: ConversationMode", handoff_at,
                  released_at, now() AS "now!"
           FROM bot_users
           WHERE tenant_id = $1 AND external_id = $2 AND ($3::text IS NULL OR channel = $3)
           ORDER BY channel LIMIT 2"#,
        tenant.0,
        user_id,
        channel.map(Channel::as_str)
    )
    .fetch_all(&mut *tx)
    .await?;
    let row = match rows.as_slice() {
        [] => return Err(HandoffError::NotFound),
        [row] => row,
        _ => return Err(HandoffError::Ambiguous),
    };
    let lead = sqlx::query_as!(
        ExportedLead,
        r#"SELECT id, name, phone, city, object_type, area_m2, summary,
                  status AS "status: LeadStatus", loss_reason, version, engine, created_at,
                  updated_at, qualified_at
           FROM leads WHERE tenant_id = $1 AND bot_user_id = $2"#,
        tenant.0,
        row.id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let messages = sqlx::query_as!(
        ExportedMessage,
        r#"SELECT seq, role AS "role: MessageRole", kind AS "kind: MessageKind", content AS text,
                  transcript, transcript_status AS "transcript_status: TranscriptState",
                  status AS "status: MessageState", created_at
           FROM messages WHERE tenant_id = $1 AND bot_user_id = $2 ORDER BY seq"#,
        tenant.0,
        row.id
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(CustomerExport {
        exported_at: row.now,
        customer: ExportedCustomer {
            id: row.id,
            channel: row.channel,
            external_id: row.external_id.clone(),
            name: row.name.clone(),
            phone: row.phone.clone(),
            language: row.language.clone(),
            created_at: row.created_at,
            blocked_at: row.blocked_at,
        },
        handoff: ExportedHandoff {
            mode: row.mode,
            handoff_at: row.handoff_at,
            released_at: row.released_at,
        },
        lead,
        messages,
    })
}

// ------------------------------------------------------------------------------------------------
// Retention

/// Rows one pass of the retention deleted, by table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPass {
    pub messages: u64,
    pub webhook_events: u64,
    pub webhook_deliveries: u64,
    pub webhook_attempts: u64,
}

impl RetentionPass {
    pub fn add(&mut self, other: RetentionPass) {
        self.messages += other.messages;
        self.webhook_events += other.webhook_events;
        self.webhook_deliveries += other.webhook_deliveries;
        self.webhook_attempts += other.webhook_attempts;
    }

    pub fn is_empty(&self) -> bool {
        *self == RetentionPass::default()
    }
}

/// Rows per batch: each batch is a transaction of its own, so a company with a large backlog
/// never holds locks or the vacuum horizon for long.
pub const RETENTION_BATCH: i64 = 500;
/// Batches per table, company and pass: a backlog larger than this goes over several passes, so
/// one company cannot keep the maintenance task from the others.
pub const RETENTION_MAX_BATCHES: u32 = 20;

/// The companies that set a retention period, with it (`tenants` is the identity directory: no
/// tenant scope needed to list them).
pub async fn tenants_with_retention(pool: &PgPool) -> Result<Vec<(TenantId, i32)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id, retention_days AS "retention_days!" FROM tenants
           WHERE retention_days IS NOT NULL ORDER BY id"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (TenantId(r.id), r.retention_days))
        .collect())
}

/// One pass of a company's retention as of `now` (the maintenance task passes the clock's time;
/// tests pass a later one instead of ageing rows).
pub async fn apply_retention(
    pool: &PgPool,
    tenant: TenantId,
    days: i32,
    now: DateTime<Utc>,
) -> Result<RetentionPass, sqlx::Error> {
    let cutoff = now - chrono::Duration::days(i64::from(days));
    let mut pass = RetentionPass::default();
    for _ in 0..RETENTION_MAX_BATCHES {
        let n = delete_old_messages(pool, tenant, cutoff).await?;
        pass.messages += n;
        if n < RETENTION_BATCH as u64 {
            break;
        }
    }
    for _ in 0..RETENTION_MAX_BATCHES {
        let batch = delete_old_webhook_events(pool, tenant, cutoff).await?;
        let full = batch.webhook_events >= RETENTION_BATCH as u64;
        pass.add(batch);
        if !full {
            break;
        }
    }
    Ok(pass)
}

/// The smallest UUID v7 of the millisecond `at`: message ids are v7 (made when the message is
/// stored), so every message stored before `at` has a smaller id, and the batch is a range of the
/// primary key (tenant_id, id) instead of a scan of the company's messages.
fn v7_floor(at: DateTime<Utc>) -> Uuid {
    let millis = at.timestamp_millis().max(0) as u128;
    Uuid::from_u128(millis << 80)
}

async fn delete_old_messages(
    pool: &PgPool,
    tenant: TenantId,
    cutoff: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    // `created_at` decides; the id bound only narrows the scan (an id made a moment before its
    // row's `created_at`, on a host whose clock runs ahead, waits for the next pass). Messages
    // still in the pipeline are a turn's input; their `msg:` forwards are only needed while the
    // message waits for an answer.
    let deleted = sqlx::query_scalar!(
        r#"WITH doomed AS (
               SELECT id FROM messages
                WHERE tenant_id = $1 AND id < $2 AND created_at < $3
                  AND status NOT IN ('queued', 'transcribing', 'processing')
                ORDER BY id LIMIT $4
                  FOR UPDATE SKIP LOCKED),
           forwards AS (
               DELETE FROM manager_forwards f USING doomed d
                WHERE f.tenant_id = $1 AND f.key = 'msg:' || d.id),
           gone AS (
               DELETE FROM messages m USING doomed d
                WHERE m.tenant_id = $1 AND m.id = d.id RETURNING 1)
           SELECT count(*) AS "n!" FROM gone"#,
        tenant.0,
        v7_floor(cutoff),
        cutoff,
        RETENTION_BATCH
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(deleted as u64)
}

async fn delete_old_webhook_events(
    pool: &PgPool,
    tenant: TenantId,
    cutoff: DateTime<Utc>,
) -> Result<RetentionPass, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    // An event with a delivery still pending is being retried: its log goes when it is done.
    let row = sqlx::query!(
        r#"WITH doomed AS (
               SELECT e.id FROM webhook_events e
                WHERE e.tenant_id = $1 AND e.created_at < $2
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                                  WHERE d.tenant_id = $1 AND d.event_id = e.id
                                    AND d.state = 'pending')
                ORDER BY e.created_at LIMIT $3
                  FOR UPDATE SKIP LOCKED),
           deliveries AS (
               SELECT d.id FROM webhook_deliveries d JOIN doomed x ON d.event_id = x.id
                WHERE d.tenant_id = $1),
           attempts AS (
               DELETE FROM webhook_attempts a USING deliveries d
                WHERE a.tenant_id = $1 AND a.delivery_id = d.id RETURNING 1),
           gone_deliveries AS (
               DELETE FROM webhook_deliveries w USING deliveries d
                WHERE w.tenant_id = $1 AND w.id = d.id RETURNING 1),
           gone_events AS (
               DELETE FROM webhook_events e USING doomed x
                WHERE e.tenant_id = $1 AND e.id = x.id RETURNING 1)
           SELECT (SELECT count(*) FROM gone_events) AS "events!",
                  (SELECT count(*) FROM gone_deliveries) AS "deliveries!",
                  (SELECT count(*) FROM attempts) AS "attempts!""#,
        tenant.0,
        cutoff,
        RETENTION_BATCH
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(RetentionPass {
        messages: 0,
        webhook_events: row.events as u64,
        webhook_deliveries: row.deliveries as u64,
        webhook_attempts: row.attempts as u64,
    })
}

/// One pass over every company that set a retention period, as of `now`. A company whose pass
/// fails is logged and skipped; the next pass tries it again.
pub async fn retention_pass(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<RetentionPass, sqlx::Error> {
    let mut total = RetentionPass::default();
    for (tenant, days) in tenants_with_retention(pool).await? {
        match apply_retention(pool, tenant, days, now).await {
            Ok(pass) => {
                if !pass.is_empty() {
                    tracing::info!(tenant_id = %tenant, messages = pass.messages,
                        webhook_events = pass.webhook_events,
                        webhook_deliveries = pass.webhook_deliveries,
                        webhook_attempts = pass.webhook_attempts, "retention applied");
                }
                crate::metrics::retention_deleted(&pass);
                total.add(pass);
            }
            Err(err) => {
                tracing::warn!(tenant_id = %tenant, error = %err, "retention pass failed");
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v7_floor_orders_ids_by_their_millisecond() {
        let at = DateTime::parse_from_rfc3339("2025-03-01T12:00:00.500Z")
            .unwrap()
            .with_timezone(&Utc);
        let floor = v7_floor(at);
        let just_before = v7_floor(at - chrono::Duration::milliseconds(1));
        assert!(just_before < floor);
        // A v7 id of that millisecond, whatever its random bits, is not below the floor; one of
        // the millisecond before is.
        let of_at = Uuid::from_u128(((at.timestamp_millis() as u128) << 80) | (0x7 << 76) | 0xffff);
        assert!(of_at >= floor);
        let max_before =
            Uuid::from_u128((((at.timestamp_millis() - 1) as u128) << 80) | ((1u128 << 80) - 1));
        assert!(max_before < floor);
        assert_eq!(floor.get_version_num(), 0, "a bound, not an id");
    }
}
