//! Human handoff: a manager takes a conversation over from the bot, answers the customer, and gives
//! it back.
//!
//! State machine on `bot_users` (all transitions under the conversation's row lock, the lock ingest
//! and the turn's commit take first, so each sees the others' result):
//! - `bot → human` (`begin`): a manager's action, or the engine's structured handoff request in a
//!   turn's commit. Sets `handoff_at`, enqueues the managers' alert (`forward_to_managers`) and the
//!   no-answer check (`handoff_timeout`: after HANDOFF_TIMEOUT, or at once outside the managers'
//!   working hours). Already human: nothing happens.
//! - in `human`: turns stay silent; each customer message is forwarded to the managers' chat; a
//!   manager's reply (`reply`) is stored as a `manager` message that answers every unanswered
//!   customer message (so no later turn answers them again) and is delivered through `deliver_reply`
//!   in order.
//! - `human → bot` (`release`): sets `released_at`; customer messages nobody answered get one turn.
//!   A handoff request in a message older than `released_at` never starts another handoff, so
//!   giving a conversation back cannot loop.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::conversation::{ConversationMode, MessageRole};
use crate::domain::{BotUserId, TenantId};
use crate::jobs;
use crate::queue::{self, NewJob};

use super::messages::Channel;
use super::tenant_tx;

/// A conversation's handoff state, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HandoffState {
    pub user_id: String,
    pub channel: Channel,
    pub mode: ConversationMode,
    pub handoff_at: Option<DateTime<Utc>>,
}

/// A manager's reply as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ManagerReply {
    pub id: Uuid,
    pub seq: i64,
    pub content: String,
    /// How many customer messages it answered.
    pub answered: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("conversation not found")]
    NotFound,
    #[error("the user id names conversations in several channels; add ?channel=api or telegram")]
    Ambiguous,
    #[error("the bot has this conversation: take it over first (POST …/handoff)")]
    NotInHumanMode,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// Finds and locks the conversation named by the customer's channel id (and channel, if given).
/// Also the erasure's first step (`db::lifecycle::erase`), so both name a conversation alike.
pub(super) async fn lock(
    tx: &mut Tx,
    tenant: TenantId,
    user_id: &str,
    channel: Option<Channel>,
) -> Result<(BotUserId, Channel, ConversationMode), HandoffError> {
    let rows = sqlx::query!(
        r#"SELECT id, channel AS "channel: Channel", mode AS "mode: ConversationMode" FROM bot_users
           WHERE tenant_id = $1 AND external_id = $2 AND ($3::text IS NULL OR channel = $3)
           ORDER BY channel LIMIT 2 FOR UPDATE"#,
        tenant.0,
        user_id,
        channel.map(Channel::as_str)
    )
    .fetch_all(&mut **tx)
    .await?;
    match rows.as_slice() {
        [] => Err(HandoffError::NotFound),
        [row] => Ok((BotUserId(row.id), row.channel, row.mode)),
        _ => Err(HandoffError::Ambiguous),
    }
}

/// A manager takes the conversation over.
pub async fn take_over(
    pool: &PgPool,
    tenant: TenantId,
    user_id: &str,
    channel: Option<Channel>,
    timeout: std::time::Duration,
) -> Result<HandoffState, HandoffError> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let (bot_user, _, _) = lock(&mut tx, tenant, user_id, channel).await?;
    begin(
        &mut tx,
        tenant,
        bot_user,
        "a manager took the conversation over",
        timeout,
    )
    .await?;
    let state = state(&mut tx, tenant, bot_user).await?;
    tx.commit().await?;
    Ok(state)
}

/// `bot → human` inside the caller's transaction, which holds the conversation's lock. Returns false
/// when it was already human.
pub async fn begin(
    tx: &mut Tx,
    tenant: TenantId,
    bot_user: BotUserId,
    reason: &str,
    timeout: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    let Some(handoff_at) = sqlx::query_scalar!(
        "UPDATE bot_users SET mode = 'human', handoff_at = clock_timestamp(), updated_at = now()
         WHERE tenant_id = $1 AND id = $2 AND mode = 'bot' RETURNING handoff_at AS \"handoff_at!\"",
        tenant.0,
        bot_user.0
    )
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(false);
    };
    queue::enqueue(&mut **tx, &forward_job(tenant, bot_user, Some(reason))).await?;
    // Outside the managers' working hours nobody will answer soon: the customer hears so at once.
    let closed = super::telegram::bots::working_hours(tx, tenant)
        .await?
        .is_some_and(|hours| !hours.is_open(Utc::now()));
    let wait = if closed {
        std::time::Duration::ZERO
    } else {
        timeout
    };
    let timeout = jobs::HandoffTimeout {
        tenant_id: tenant,
        bot_user_id: bot_user,
        handoff_at,
    };
    queue::enqueue(&mut **tx, &timeout.job(wait)).await?;
    tracing::info!(tenant_id = %tenant, bot_user_id = %bot_user, reason, "conversation handed to a manager");
    Ok(true)
}

/// The job that forwards the conversation's news to the managers' chat; with a reason it starts
/// with the "a customer needs a manager" alert.
pub fn forward_job(tenant: TenantId, bot_user: BotUserId, reason: Option<&str>) -> NewJob {
    jobs::ForwardToManagers {
        tenant_id: tenant,
        bot_user_id: bot_user,
        reason: reason.map(str::to_owned),
    }
    .job()
}

/// For a turn: true when a manager has the conversation, in which case its new customer messages
/// are queued for forwarding to the managers instead of being answered by the bot.
pub async fn forward_if_human(
    pool: &PgPool,
    tenant: TenantId,
    bot_user: BotUserId,
) -> Result<bool, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let mode = sqlx::query_scalar!(
        r#"SELECT mode AS "mode: ConversationMode" FROM bot_users WHERE tenant_id = $1 AND id = $2"#,
        tenant.0,
        bot_user.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    let human = mode == Some(ConversationMode::Human);
    if human {
        queue::enqueue(&mut *tx, &forward_job(tenant, bot_user, None)).await?;
    }
    tx.commit().await?;
    Ok(human)
}

/// Who has the conversation now, and its channel (the dashboard's lead page).
pub async fn conversation_mode(
    pool: &PgPool,
    tenant: TenantId,
    bot_user: BotUserId,
) -> Result<Option<(ConversationMode, Channel)>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query!(
        r#"SELECT mode AS "mode: ConversationMode", channel AS "channel: Channel"
             FROM bot_users WHERE tenant_id = $1 AND id = $2"#,
        tenant.0,
        bot_user.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|r| (r.mode, r.channel)))
}

/// A manager's answer: stored in the conversation, answering every unanswered customer message, and
/// delivered to a Telegram customer.
pub async fn reply(
    pool: &PgPool,
    tenant: TenantId,
    user_id: &str,
    channel: Option<Channel>,
    text: &str,
) -> Result<(BotUserId, ManagerReply), HandoffError> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let (bot_user, channel, mode) = lock(&mut tx, tenant, user_id, channel).await?;
    if mode != ConversationMode::Human {
        return Err(HandoffError::NotInHumanMode);
    }
    let message = super::messages::append(
        &mut tx,
        tenant,
        bot_user,
        MessageRole::Manager,
        text,
        None,
        true,
    )
    .await?;
    let id = message.id;
    let answered = sqlx::query!(
        "UPDATE messages SET reply_id = $3, status = 'answered', answered_at = clock_timestamp()
         WHERE tenant_id = $1 AND bot_user_id = $2 AND role = 'user' AND reply_id IS NULL",
        tenant.0,
        bot_user.0,
        id.0
    )
    .execute(&mut *tx)
    .await?
    .rows_affected() as i64;
    if channel == Channel::Telegram {
        super::telegram::outbox::enqueue_delivery(&mut tx, tenant, bot_user, id).await?;
    }
    super::webhooks::emit_reply(&mut tx, tenant, bot_user, id).await?;
    tx.commit().await?;
    Ok((
        bot_user,
        ManagerReply {
            id: id.0,
            seq: message.seq,
            content: text.to_owned(),
            answered,
            created_at: message.created_at,
        },
    ))
}

/// `human → bot`. Customer messages nobody answered get one turn; the loop guard is `released_at`.
pub async fn release(
    pool: &PgPool,
    tenant: TenantId,
    user_id: &str,
    channel: Option<Channel>,
) -> Result<HandoffState, HandoffError> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let (bot_user, _, mode) = lock(&mut tx, tenant, user_id, channel).await?;
    if mode == ConversationMode::Human {
        sqlx::query!(
            "UPDATE bot_users SET mode = 'bot', handoff_at = NULL, released_at = clock_timestamp(),
                    updated_at = now()
             WHERE tenant_id = $1 AND id = $2",
            tenant.0,
            bot_user.0
        )
        .execute(&mut *tx)
        .await?;
        let waiting = sqlx::query_scalar!(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE tenant_id = $1 AND bot_user_id = $2
                            AND role = 'user' AND reply_id IS NULL) AS \"waiting!\"",
            tenant.0,
            bot_user.0
        )
        .fetch_one(&mut *tx)
        .await?;
        if waiting {
            queue::enqueue(
                &mut *tx,
                &jobs::Turn {
                    tenant_id: tenant,
                    bot_user_id: bot_user,
                }
                .job(),
            )
            .await?;
        }
        tracing::info!(tenant_id = %tenant, bot_user_id = %bot_user, waiting, "conversation given back to the bot");
    }
    let state = state(&mut tx, tenant, bot_user).await?;
    tx.commit().await?;
    Ok(state)
}

async fn state(
    tx: &mut Tx,
    tenant: TenantId,
    bot_user: BotUserId,
) -> Result<HandoffState, sqlx::Error> {
    sqlx::query_as!(
        HandoffState,
        r#"SELECT external_id AS user_id, channel AS "channel: Channel",
                  mode AS "mode: ConversationMode", handoff_at
           FROM bot_users WHERE tenant_id = $1 AND id = $2"#,
        tenant.0,
        bot_user.0
    )
    .fetch_one(&mut **tx)
    .await
}

/// What `forward_to_managers` has to send for a conversation.
pub struct ForwardBacklog {
    pub external_id: String,
    pub channel: Channel,
    pub mode: ConversationMode,
    /// The "a customer needs a manager" alert's idempotency key, when this handoff's alert is
    /// still to be sent.
    pub alert_key: Option<String>,
    /// Customer messages nobody answered and nobody forwarded yet, with their words, in order.
    pub messages: Vec<ForwardedMessage>,
}

pub struct ForwardedMessage {
    /// Its key in `manager_forwards`, once it is sent.
    pub key: String,
    pub text: String,
}

/// The conversation's news for the managers' chat (None: the conversation is gone). The alert is
/// asked for by `with_alert` (the job carries a handoff reason) and keyed by the handoff's start,
/// so one handoff alerts once and the next one alerts again.
pub async fn forward_backlog(
    pool: &PgPool,
    tenant: TenantId,
    bot_user: BotUserId,
    with_alert: bool,
) -> Result<Option<ForwardBacklog>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let conversation = sqlx::query!(
        r#"SELECT external_id, channel AS "channel: Channel", mode AS "mode: ConversationMode",
                  handoff_at
           FROM bot_users WHERE tenant_id = $1 AND id = $2"#,
        tenant.0,
        bot_user.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(conversation) = conversation else {
        return Ok(None);
    };
    // A voice note waits for its transcript: the transcribe job's turn forwards it then.
    let messages = sqlx::query_as!(
        ForwardedMessage,
        r#"SELECT k.key AS "key!",
                  CASE WHEN m.kind = 'voice' THEN coalesce(m.transcript, '🎤') ELSE m.content END AS "text!"
           FROM messages m CROSS JOIN LATERAL (SELECT 'msg:' || m.id::text AS key) k
           WHERE m.tenant_id = $1 AND m.bot_user_id = $2 AND m.role = 'user' AND m.reply_id IS NULL
             AND coalesce(m.transcript_status, 'done') <> 'pending'
             AND NOT EXISTS (SELECT 1 FROM manager_forwards f
                             WHERE f.tenant_id = m.tenant_id AND f.key = k.key)
           ORDER BY m.seq"#,
        tenant.0,
        bot_user.0
    )
    .fetch_all(&mut *tx)
    .await?;
    let alert_key = match conversation.handoff_at.filter(|_| with_alert) {
        Some(at) => {
            let key = format!("handoff:{bot_user}:{}", at.timestamp_micros());
            let sent = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM manager_forwards WHERE tenant_id = $1 AND key = $2) AS "sent!""#,
                tenant.0,
                key
            )
            .fetch_one(&mut *tx)
            .await?;
            (!sent).then_some(key)
        }
        None => None,
    };
    tx.commit().await?;
    Ok(Some(ForwardBacklog {
        external_id: conversation.external_id,
        channel: conversation.channel,
        mode: conversation.mode,
        alert_key,
        messages,
    }))
}

/// Records one forward as sent, under the job's lease: a re-run of the job skips it.
pub async fn record_forward(
    pool: &PgPool,
    tenant: TenantId,
    lease: queue::Lease,
    key: &str,
) -> Result<(), super::FencedError> {
    let mut tx = super::fenced_tx(pool, tenant, lease).await?;
    sqlx::query!(
        "INSERT INTO manager_forwards (tenant_id, key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        tenant.0,
        key
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A conversation in human mode that no manager has answered yet.
pub struct Unanswered {
    pub channel: Channel,
    /// The customer's language, when known.
    pub language: Option<String>,
}

/// The conversation, locked (so a manager's reply or a release cannot slip in), when it still
/// waits for a manager since `handoff_at`: in human mode, in that same handoff, and no manager
/// message since.
pub async fn lock_unanswered(
    tx: &mut Tx,
    tenant: TenantId,
    bot_user: BotUserId,
    handoff_at: DateTime<Utc>,
) -> Result<Option<Unanswered>, sqlx::Error> {
    let conversation = sqlx::query!(
        r#"SELECT mode AS "mode: ConversationMode", handoff_at,
                  channel AS "channel: Channel", language
           FROM bot_users WHERE tenant_id = $1 AND id = $2 FOR UPDATE"#,
        tenant.0,
        bot_user.0
    )
    .fetch_optional(&mut **tx)
    .await?;
    // Compared at the database's precision: the job's payload went through JSON.
    let same_handoff = |at: Option<DateTime<Utc>>| {
        at.map(|a| a.timestamp_micros()) == Some(handoff_at.timestamp_micros())
    };
    let Some(conversation) =
        conversation.filter(|c| c.mode == ConversationMode::Human && same_handoff(c.handoff_at))
    else {
        return Ok(None); // released, or a newer handoff has its own timer
    };
    let answered = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM messages WHERE tenant_id = $1 AND bot_user_id = $2
                          AND role = 'manager' AND created_at >= $3) AS "answered!""#,
        tenant.0,
        bot_user.0,
        handoff_at
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((!answered).then_some(Unanswered {
        channel: conversation.channel,
        language: conversation.language,
    }))
}
