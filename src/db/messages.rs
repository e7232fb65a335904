//! Messages and the ingest transaction: a customer message and the jobs that will answer it commit
//! together (a 2xx means the message is durable).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::audio::AudioFormat;
pub use crate::domain::conversation::Channel;
use crate::domain::conversation::{MessageKind, MessageRole, MessageState, TranscriptState};
use crate::domain::phone::Phone;
use crate::domain::{BotUserId, MessageId, TenantId};
use crate::jobs::{self, JobPayload};

use super::tenant_tx;

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

/// Records a customer message and enqueues its processing, in one round trip and one short
/// transaction (`message_ingest`, sql/functions/message_ingest.sql).
///
/// The conversation upsert allocates the message's `seq` and holds the conversation's row lock until
/// commit, so concurrent messages of one conversation get gap-free seqs in commit order, and a retry
/// with the same idempotency key (checked after that lock) finds the first request's message.
/// The jobs it enqueues, as [`jobs::Transcribe`] (a voice note) and [`jobs::Turn`] say (the turn
/// run at the end of the tenant's coalescing window).
pub async fn ingest(
    pool: &PgPool,
    tenant: TenantId,
    incoming: Incoming,
) -> Result<Ingested, sqlx::Error> {
    let (kind, content) = match &incoming.body {
        Body::Text(text) => (MessageKind::Text, text.as_str()),
        Body::Voice { .. } | Body::TelegramVoice { .. } => (MessageKind::Voice, ""),
    };
    let (audio, audio_mime, audio_file_name) = match &incoming.body {
        Body::Voice {
            audio,
            format,
            file_name,
        } => (
            Some(audio.as_slice()),
            Some(format.mime()),
            Some(file_name.as_str()),
        ),
        _ => (None, None, None),
    };
    let (telegram_file_id, telegram_mime, telegram_file_size) = match &incoming.body {
        Body::TelegramVoice {
            file_id,
            mime,
            file_size,
        } => (Some(file_id.as_str()), Some(mime.as_str()), *file_size),
        _ => (None, None, None),
    };
    let row = sqlx::query!(
        r#"SELECT message_id AS "message_id!", bot_user_id AS "bot_user_id!", seq AS "seq!",
                  duplicate AS "duplicate!", transcribe_job AS "transcribe_job!",
                  turn_job AS "turn_job!"
           FROM message_ingest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"#,
        tenant.0,
        incoming.channel.as_str(),
        incoming.external_id,
        Uuid::now_v7(),
        MessageId::new().0,
        kind.as_str(),
        content,
        incoming.idempotency_key,
        incoming.shared_phone.as_ref().map(|p| p.as_str()),
        audio,
        audio_mime,
        audio_file_name,
        telegram_file_id,
        telegram_mime,
        telegram_file_size,
    )
    .fetch_one(pool)
    .await?;
    if !row.duplicate {
        crate::metrics::message_ingested(incoming.channel.as_str(), kind.as_str());
    }
    if row.transcribe_job {
        crate::metrics::job_enqueued(jobs::Transcribe::KIND, 1);
    }
    if row.turn_job {
        crate::metrics::job_enqueued(jobs::Turn::KIND, 1);
    }
    Ok(Ingested {
        message_id: MessageId(row.message_id),
        bot_user_id: BotUserId(row.bot_user_id),
        seq: row.seq,
        duplicate: row.duplicate,
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
    pub kind: MessageKind,
    pub content: String,
    pub status: MessageState,
    pub transcript: Option<String>,
    pub transcript_status: Option<TranscriptState>,
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
        r#"SELECT m.id, b.external_id, m.seq, m.kind AS "kind: MessageKind", m.content,
                  m.status AS "status: MessageState", m.transcript,
                  m.transcript_status AS "transcript_status: TranscriptState", m.created_at,
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
    pub role: MessageRole,
    pub kind: MessageKind,
    pub content: String,
    pub transcript: Option<String>,
    pub status: MessageState,
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
        r#"SELECT id, seq, role AS "role: MessageRole", kind AS "kind: MessageKind", content,
                  transcript, status AS "status: MessageState", created_at
           FROM messages WHERE tenant_id = $1 AND bot_user_id = $2 AND seq > $3
           ORDER BY seq LIMIT $4"#,
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

/// A message of the conversation that is not a customer's, at its next seq (`message_append`,
/// sql/functions/message_append.sql): a manager's answer or a service notice (`engine` names
/// which). `moves_up` puts the conversation at the top of the managers' list. Runs in the
/// caller's transaction, which has the tenant scope and usually the conversation's lock already.
#[allow(clippy::too_many_arguments)]
pub async fn append(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    bot_user: BotUserId,
    role: MessageRole,
    content: &str,
    engine: Option<&str>,
    moves_up: bool,
) -> Result<Appended, sqlx::Error> {
    let id = MessageId::new();
    let row = sqlx::query!(
        r#"SELECT seq AS "seq!", created_at AS "created_at!"
             FROM message_append($1, $2, $3, $4, $5, $6, NULL, $7)"#,
        tenant.0,
        bot_user.0,
        id.0,
        role as MessageRole,
        content,
        engine,
        moves_up
    )
    .fetch_one(tx)
    .await?;
    Ok(Appended {
        id,
        seq: row.seq,
        created_at: row.created_at,
    })
}

/// A message [`append`] stored.
pub struct Appended {
    pub id: MessageId,
    pub seq: i64,
    pub created_at: DateTime<Utc>,
}

/// Where a voice note's audio is: stored with the message (the HTTP API), or a Telegram file still
/// to download.
pub enum VoiceAudio {
    Stored {
        content: Vec<u8>,
        mime: String,
        file_name: String,
    },
    Telegram {
        file_id: String,
        mime: String,
    },
}

/// A voice note to transcribe: its audio (None when there is none to fetch) and the customer's
/// language, when known.
pub struct VoiceNote {
    pub audio: Option<VoiceAudio>,
    pub language: Option<String>,
}

/// The voice note `message` (None: the message is gone).
pub async fn voice_note(
    pool: &PgPool,
    tenant: TenantId,
    message: MessageId,
) -> Result<Option<VoiceNote>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query!(
        r#"SELECT a.content AS "content?", a.mime AS "mime?", a.file_name AS "file_name?",
                  f.file_id AS "file_id?", f.mime AS "file_mime?", b.language
           FROM messages m
           JOIN bot_users b ON b.tenant_id = m.tenant_id AND b.id = m.bot_user_id
           LEFT JOIN message_audio a ON a.tenant_id = m.tenant_id AND a.message_id = m.id
           LEFT JOIN telegram_files f ON f.tenant_id = m.tenant_id AND f.message_id = m.id
           WHERE m.tenant_id = $1 AND m.id = $2"#,
        tenant.0,
        message.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|row| {
        let audio = match (
            row.content,
            row.mime,
            row.file_name,
            row.file_id,
            row.file_mime,
        ) {
            (Some(content), Some(mime), Some(file_name), _, _) => Some(VoiceAudio::Stored {
                content,
                mime,
                file_name,
            }),
            (_, _, _, Some(file_id), Some(mime)) => Some(VoiceAudio::Telegram { file_id, mime }),
            _ => None,
        };
        VoiceNote {
            audio,
            language: row.language,
        }
    }))
}

/// Stores a voice note's transcript under the transcribe job's lease (a message still waiting for
/// it becomes `queued`), with the conversation's next turn: the turn may be waiting for exactly
/// this transcript. The audio is deleted in the same transaction, whatever the outcome (done,
/// unavailable, failed, or given up by the dead job's hook): nothing reads it after transcription,
/// and a customer's voice is not kept longer than that needs.
pub async fn store_transcript(
    pool: &PgPool,
    lease: crate::queue::Lease,
    job: &jobs::Transcribe,
    text: Option<&str>,
    state: TranscriptState,
) -> Result<(), super::FencedError> {
    let mut tx = super::fenced_tx(pool, job.tenant_id, lease).await?;
    let stored = sqlx::query!(
        "UPDATE messages SET transcript = $3, transcript_status = $4,
                status = CASE WHEN status = $5 THEN $6 ELSE status END
         WHERE tenant_id = $1 AND id = $2",
        job.tenant_id.0,
        job.message_id.0,
        text,
        state as TranscriptState,
        MessageState::Transcribing as MessageState,
        MessageState::Queued as MessageState
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if stored == 0 {
        // The message is gone (its customer was erased): there is no turn to wake.
        tx.commit().await?;
        return Ok(());
    }
    sqlx::query!(
        "DELETE FROM message_audio WHERE tenant_id = $1 AND message_id = $2",
        job.tenant_id.0,
        job.message_id.0
    )
    .execute(&mut *tx)
    .await?;
    crate::queue::enqueue(
        &mut *tx,
        &jobs::Turn {
            tenant_id: job.tenant_id,
            bot_user_id: job.bot_user_id,
        }
        .job(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
