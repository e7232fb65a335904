//! Messages and the ingest transaction: a customer message and the jobs that will answer it commit
//! together (a 2xx means the message is durable).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::audio::AudioFormat;
use crate::domain::phone::Phone;
use crate::domain::{BotUserId, MessageId, TenantId};
use crate::queue::{self, NewJob};

use super::tenant_tx;

/// Job kinds of the pipeline (the worker side registers their handlers).
pub const TRANSCRIBE_JOB: &str = "transcribe";
pub const TURN_JOB: &str = "turn";

/// NOTIFY channel on which workers announce a conversation's new reply (payload: bot user id).
pub const REPLIES_CHANNEL: &str = "salesbot_replies";

/// Tells waiting requests that a conversation has a new reply (workers call it after the commit).
/// synchronous_commit is off: the NOTIFY-only transaction need not wait for a WAL flush, and a lost
/// notification only makes a waiter fall back to its timeout.
pub async fn announce_reply(pool: &PgPool, bot_user: BotUserId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)",
        REPLIES_CHANNEL,
        bot_user.to_string()
    )
    .fetch_one(pool)
    .await?;
    Ok(())
}

/// The ordering key of a conversation's jobs: one turn at a time per bot user, in message order.
pub fn conversation_key(bot_user: BotUserId) -> String {
    format!("conversation:{bot_user}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Api,
    Telegram,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Telegram => "telegram",
        }
    }
}

pub enum Body {
    Text(String),
    Voice {
        audio: Vec<u8>,
        format: AudioFormat,
        file_name: String,
    },
    /// A Telegram voice note: only its file id now; the transcribe job downloads it.
    TelegramVoice {
        file_id: String,
        mime: String,
        file_size: Option<i64>,
    },
}

pub struct Incoming {
    pub channel: Channel,
    /// The customer's id in the channel (the prototype's `user_id`).
    pub external_id: String,
    pub body: Body,
    pub idempotency_key: Option<String>,
    /// A phone the customer shared through the channel itself (Telegram's contact button): stored
    /// on the conversation at once; the message text carries it to the turn, which puts it on the
    /// lead (and so notifies the managers of the new lead version).
    pub shared_phone: Option<Phone>,
}

#[derive(Debug, Clone, Copy)]
pub struct Ingested {
    pub message_id: MessageId,
    pub bot_user_id: BotUserId,
    pub seq: i64,
    /// True when the idempotency key named an earlier message: nothing new was stored.
    pub duplicate: bool,
}

/// Records a customer message and enqueues its processing, in one short transaction.
///
/// The bot-user upsert allocates the message's `seq` and holds the conversation's row lock until
/// commit, so concurrent messages of one conversation get gap-free seqs in commit order, and a retry
/// with the same idempotency key (checked after that lock) finds the first request's message.
pub async fn ingest(
    pool: &PgPool,
    tenant: TenantId,
    incoming: Incoming,
) -> Result<Ingested, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let conversation = sqlx::query!(
        r#"INSERT INTO bot_users AS b (id, tenant_id, channel, external_id, last_seq)
           VALUES ($1, $2, $3, $4, 1)
           ON CONFLICT (tenant_id, channel, external_id)
           -- a customer who writes again has unblocked the bot
           DO UPDATE SET last_seq = b.last_seq + 1, updated_at = now(), blocked_at = NULL
           RETURNING id, last_seq,
                     (SELECT coalesce_ms FROM tenants WHERE id = $2) AS "coalesce_ms!""#,
        Uuid::now_v7(),
        tenant.0,
        incoming.channel.as_str(),
        incoming.external_id,
    )
    .fetch_one(&mut *tx)
    .await?;
    let bot_user = BotUserId(conversation.id);

    if let Some(key) = &incoming.idempotency_key {
        let earlier = sqlx::query!(
            "SELECT id, bot_user_id, seq FROM messages WHERE tenant_id = $1 AND idempotency_key = $2",
            tenant.0,
            key
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(earlier) = earlier {
            // Undo the seq we just took: the retry stores nothing.
            tx.rollback().await?;
            return Ok(Ingested {
                message_id: MessageId(earlier.id),
                bot_user_id: BotUserId(earlier.bot_user_id),
                seq: earlier.seq,
                duplicate: true,
            });
        }
    }

    let message_id = MessageId::new();
    let (kind, content, transcript_status) = match &incoming.body {
        Body::Text(text) => ("text", text.as_str(), None),
        Body::Voice { .. } | Body::TelegramVoice { .. } => ("voice", "", Some("pending")),
    };
    sqlx::query!(
        r#"INSERT INTO messages (id, tenant_id, bot_user_id, seq, role, kind, content,
                                 transcript_status, idempotency_key, status)
           VALUES ($1, $2, $3, $4, 'user', $5, $6, $7, $8,
                   CASE WHEN $5 = 'voice' THEN 'transcribing' ELSE 'queued' END)"#,
        message_id.0,
        tenant.0,
        bot_user.0,
        conversation.last_seq,
        kind,
        content,
        transcript_status,
        incoming.idempotency_key,
    )
    .execute(&mut *tx)
    .await?;

    match &incoming.body {
        Body::Text(_) => {}
        Body::Voice {
            audio,
            format,
            file_name,
        } => {
            sqlx::query!(
                "INSERT INTO message_audio (tenant_id, message_id, content, mime, file_name)
                 VALUES ($1, $2, $3, $4, $5)",
                tenant.0,
                message_id.0,
                audio,
                format.mime(),
                file_name
            )
            .execute(&mut *tx)
            .await?;
        }
        Body::TelegramVoice {
            file_id,
            mime,
            file_size,
        } => {
            sqlx::query!(
                "INSERT INTO telegram_files (tenant_id, message_id, file_id, mime, file_size)
                 VALUES ($1, $2, $3, $4, $5)",
                tenant.0,
                message_id.0,
                file_id,
                mime,
                *file_size
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    if let Some(phone) = &incoming.shared_phone {
        sqlx::query!(
            "UPDATE bot_users SET phone = $3 WHERE tenant_id = $1 AND id = $2",
            tenant.0,
            bot_user.0,
            phone.as_str()
        )
        .execute(&mut *tx)
        .await?;
    }
    if matches!(
        incoming.body,
        Body::Voice { .. } | Body::TelegramVoice { .. }
    ) {
        // Transcription runs ahead of the conversation, in parallel with other work.
        queue::enqueue(
            &mut *tx,
            &NewJob::new(
                TRANSCRIBE_JOB,
                serde_json::json!({"tenant_id": tenant, "message_id": message_id, "bot_user_id": bot_user}),
            )
            .tenant(tenant),
        )
        .await?;
    }

    let coalesce = chrono::Duration::milliseconds(conversation.coalesce_ms.into());
    let run_at = Utc::now() + coalesce;
    let turn = queue::enqueue(
        &mut *tx,
        &NewJob::new(
            TURN_JOB,
            serde_json::json!({"tenant_id": tenant, "bot_user_id": bot_user}),
        )
        .key(conversation_key(bot_user))
        .dedup(conversation_key(bot_user))
        .tenant(tenant)
        .run_at(run_at),
    )
    .await?;
    if !turn.inserted && conversation.coalesce_ms > 0 {
        // A burst: the pending turn waits for this message's quiet period too.
        queue::reschedule_pending(&mut *tx, turn.id, run_at).await?;
    }
    tx.commit().await?;
    Ok(Ingested {
        message_id,
        bot_user_id: bot_user,
        seq: conversation.last_seq,
        duplicate: false,
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reply {
    pub id: Uuid,
    pub content: String,
    /// Which engine wrote it (`offline`, `openai`, …).
    pub engine: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A customer message and where it is in the pipeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageStatus {
    pub id: Uuid,
    pub user_id: String,
    pub seq: i64,
    /// `text` or `voice`.
    pub kind: String,
    pub content: String,
    /// queued → transcribing → processing → answered | failed
    pub status: String,
    pub transcript: Option<String>,
    pub transcript_status: Option<String>,
    pub reply: Option<Reply>,
    pub created_at: DateTime<Utc>,
}

pub async fn status(
    pool: &PgPool,
    tenant: TenantId,
    id: MessageId,
) -> Result<Option<MessageStatus>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query!(
        r#"SELECT m.id, b.external_id, m.seq, m.kind, m.content, m.status, m.transcript,
                  m.transcript_status, m.created_at,
                  r.id AS "reply_id?", r.content AS "reply_content?", r.engine AS reply_engine,
                  r.created_at AS "reply_created_at?"
           FROM messages m
           JOIN bot_users b ON b.tenant_id = m.tenant_id AND b.id = m.bot_user_id
           LEFT JOIN messages r ON r.tenant_id = m.tenant_id AND r.id = m.reply_id
           WHERE m.tenant_id = $1 AND m.id = $2 AND m.role = 'user'"#,
        tenant.0,
        id.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|r| MessageStatus {
        id: r.id,
        user_id: r.external_id,
        seq: r.seq,
        kind: r.kind,
        content: r.content,
        status: r.status,
        transcript: r.transcript,
        transcript_status: r.transcript_status,
        reply: match (r.reply_id, r.reply_content, r.reply_created_at) {
            (Some(id), Some(content), Some(created_at)) => Some(Reply {
                id,
                content,
                engine: r.reply_engine,
                created_at,
            }),
            _ => None,
        },
        created_at: r.created_at,
    }))
}

/// One message of a conversation, as clients poll them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationMessage {
    pub id: Uuid,
    pub seq: i64,
    /// `user`, `assistant` or `manager`.
    pub role: String,
    pub kind: String,
    pub content: String,
    pub transcript: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// The conversation's bot user, by its channel id.
pub async fn find_conversation(
    pool: &PgPool,
    tenant: TenantId,
    channel: Channel,
    external_id: &str,
) -> Result<Option<BotUserId>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let id = sqlx::query_scalar!(
        "SELECT id FROM bot_users WHERE tenant_id = $1 AND channel = $2 AND external_id = $3",
        tenant.0,
        channel.as_str(),
        external_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id.map(BotUserId))
}

/// Messages of a conversation after `after_seq`, oldest first.
pub async fn after_seq(
    pool: &PgPool,
    tenant: TenantId,
    bot_user: BotUserId,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<ConversationMessage>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let rows = sqlx::query_as!(
        ConversationMessage,
        "SELECT id, seq, role, kind, content, transcript, status, created_at
         FROM messages WHERE tenant_id = $1 AND bot_user_id = $2 AND seq > $3
         ORDER BY seq LIMIT $4",
        tenant.0,
        bot_user.0,
        after_seq,
        limit
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}
