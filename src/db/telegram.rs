//! A tenant's Telegram bot: its settings (token encrypted at rest), the webhook routing directory, and
//! the records the inbound webhook writes for updates that are not customer messages.
//!
//! `telegram_webhooks` is read before any tenant is known (the webhook URL names only a webhook id),
//! so like login's `users` it is outside RLS; this file is the only one that touches it, and it holds
//! nothing secret. Everything else here runs in [`tenant_tx`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::crypto::SecretBox;
use crate::domain::language::Language;
use crate::domain::phone::Phone;
use crate::domain::telegram::{
    BotToken, ChatId, Inbound, Update, greeting_text, new_webhook_secret, too_large_text,
    unsupported_text,
};
use crate::domain::working_hours::WorkingHours;
use crate::domain::{BotUserId, MessageId, TenantId};
use crate::jobs;
use crate::queue;

use super::messages::{Body, Channel, Incoming};
use super::tenant_tx;

/// The settings as the API shows them: the token only as a hint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TelegramSettings {
    /// `123456:…abcd`: the bot id and the token's last four characters.
    pub bot_token: String,
    /// The address Telegram posts updates to.
    pub webhook_url: String,
    /// Where lead notifications go; null: the platform's chat.
    pub managers_chat_id: Option<String>,
    /// Language of the managers' notifications: `ru`, `kk` or `en`.
    pub language: String,
    /// The managers' working hours in Kazakhstan time, e.g. `09:00-18:00`; null: always.
    pub working_hours: Option<String>,
    pub updated_at: DateTime<Utc>,
}

fn hours_text(from: Option<i16>, to: Option<i16>) -> Option<String> {
    WorkingHours::from_minutes(from, to).map(|h| h.to_string())
}

/// What a PUT changes. A missing token keeps the stored one (it is never shown, so a client cannot
/// send it back).
pub struct SettingsUpdate {
    pub bot_token: Option<BotToken>,
    pub managers_chat_id: Option<ChatId>,
    pub language: Language,
    pub working_hours: Option<WorkingHours>,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("bot_token is required the first time")]
    TokenRequired,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The webhook's path for a webhook id.
pub fn webhook_url(public_url: &str, webhook_id: Uuid) -> String {
    format!("{public_url}/telegram/{webhook_id}")
}

/// Saves the settings and, when the token changed, enqueues the `setWebhook` call in the same
/// transaction (a new token also gets a new webhook secret: the old bot's secret must not keep
/// working). The webhook id stays the same for the tenant's lifetime.
pub async fn save_settings(
    pool: &PgPool,
    secrets: &SecretBox,
    public_url: &str,
    tenant: TenantId,
    update: SettingsUpdate,
) -> Result<TelegramSettings, SaveError> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let sealed = update
        .bot_token
        .as_ref()
        .map(|t| (secrets.encrypt(tenant, t.expose()), t.hint()));
    let (ciphertext, hint) = match sealed {
        Some((c, h)) => (Some(c), Some(h)),
        None => (None, None),
    };
    let row = sqlx::query!(
        r#"INSERT INTO telegram_bots AS t (tenant_id, token_ciphertext, token_hint, webhook_secret,
                                          managers_chat_id, language, work_from_min, work_to_min)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE $2::bytea IS NOT NULL
           ON CONFLICT (tenant_id) DO UPDATE SET
               token_ciphertext = EXCLUDED.token_ciphertext, token_hint = EXCLUDED.token_hint,
               webhook_secret = EXCLUDED.webhook_secret, managers_chat_id = EXCLUDED.managers_chat_id,
               language = EXCLUDED.language, work_from_min = EXCLUDED.work_from_min,
               work_to_min = EXCLUDED.work_to_min, updated_at = now()
           RETURNING token_hint, managers_chat_id, language, work_from_min, work_to_min, updated_at"#,
        tenant.0,
        ciphertext,
        hint,
        new_webhook_secret(),
        update.managers_chat_id.as_ref().map(ChatId::as_str),
        update.language.code(),
        update.working_hours.map(WorkingHours::from_minute),
        update.working_hours.map(WorkingHours::to_minute),
    )
    .fetch_optional(&mut *tx)
    .await?;
    let row = match row {
        Some(row) => row,
        None => {
            // No token given: only the other settings change, and only if a bot exists.
            let kept = sqlx::query!(
                r#"UPDATE telegram_bots SET managers_chat_id = $2, language = $3, work_from_min = $4,
                          work_to_min = $5, updated_at = now()
                   WHERE tenant_id = $1
                   RETURNING token_hint, managers_chat_id, language, work_from_min, work_to_min,
                             updated_at"#,
                tenant.0,
                update.managers_chat_id.as_ref().map(ChatId::as_str),
                update.language.code(),
                update.working_hours.map(WorkingHours::from_minute),
                update.working_hours.map(WorkingHours::to_minute),
            )
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(SaveError::TokenRequired)?;
            let webhook_id = webhook_id(&mut tx, tenant).await?;
            tx.commit().await?;
            return Ok(TelegramSettings {
                bot_token: kept.token_hint,
                webhook_url: webhook_url(public_url, webhook_id),
                managers_chat_id: kept.managers_chat_id,
                language: kept.language,
                working_hours: hours_text(kept.work_from_min, kept.work_to_min),
                updated_at: kept.updated_at,
            });
        }
    };
    // A v4 (random) id, not v7: the URL must not be guessable, and v7 would give away its time.
    sqlx::query!(
        "INSERT INTO telegram_webhooks (webhook_id, tenant_id) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO NOTHING",
        Uuid::new_v4(),
        tenant.0
    )
    .execute(&mut *tx)
    .await?;
    let webhook_id = webhook_id(&mut tx, tenant).await?;
    queue::enqueue(
        &mut *tx,
        &jobs::TelegramSetWebhook { tenant_id: tenant }.job(),
    )
    .await?;
    tx.commit().await?;
    Ok(TelegramSettings {
        bot_token: row.token_hint,
        webhook_url: webhook_url(public_url, webhook_id),
        managers_chat_id: row.managers_chat_id,
        language: row.language,
        working_hours: hours_text(row.work_from_min, row.work_to_min),
        updated_at: row.updated_at,
    })
}

async fn webhook_id(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    tenant: TenantId,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT webhook_id FROM telegram_webhooks WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_one(&mut **tx)
    .await
}

pub async fn settings(
    pool: &PgPool,
    public_url: &str,
    tenant: TenantId,
) -> Result<Option<TelegramSettings>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let row = sqlx::query!(
        r#"SELECT b.token_hint, b.managers_chat_id, b.language, b.work_from_min, b.work_to_min,
                  b.updated_at, w.webhook_id
           FROM telegram_bots b JOIN telegram_webhooks w ON w.tenant_id = b.tenant_id
           WHERE b.tenant_id = $1"#,
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|r| TelegramSettings {
        bot_token: r.token_hint,
        webhook_url: webhook_url(public_url, r.webhook_id),
        managers_chat_id: r.managers_chat_id,
        language: r.language,
        working_hours: hours_text(r.work_from_min, r.work_to_min),
        updated_at: r.updated_at,
    }))
}

/// The tenant a webhook id belongs to, if any (the routing directory; no tenant context yet).
pub async fn webhook_tenant(
    pool: &PgPool,
    webhook_id: Uuid,
) -> Result<Option<TenantId>, sqlx::Error> {
    let tenant = sqlx::query_scalar!(
        "SELECT tenant_id FROM telegram_webhooks WHERE webhook_id = $1",
        webhook_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(tenant.map(TenantId))
}

/// The tenant's bot id when `given` is its webhook secret (compared in constant time), else None.
pub async fn webhook_bot(
    pool: &PgPool,
    tenant: TenantId,
    given: &[u8],
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let bot = sqlx::query!(
        "SELECT webhook_secret, token_hint FROM telegram_bots WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(bot
        .filter(|b| bool::from(b.webhook_secret.as_bytes().ct_eq(given)))
        .map(|b| bot_id(&b.token_hint).to_owned()))
}

/// The bot's own id, the part of its token (or token hint) before the colon.
pub fn bot_id(token: &str) -> &str {
    token.split(':').next().unwrap_or_default()
}

/// Every tenant with a bot (for `salesbot telegram …` operations across tenants).
pub async fn tenants_with_bots(pool: &PgPool) -> Result<Vec<TenantId>, sqlx::Error> {
    let ids = sqlx::query_scalar!("SELECT tenant_id FROM telegram_webhooks ORDER BY tenant_id")
        .fetch_all(pool)
        .await?;
    Ok(ids.into_iter().map(TenantId).collect())
}

/// What a worker needs to act as the tenant's bot.
pub struct Bot {
    pub token_ciphertext: Vec<u8>,
    pub webhook_secret: String,
    pub webhook_id: Uuid,
    pub managers_chat_id: Option<String>,
    pub language: String,
}

pub async fn bot(pool: &PgPool, tenant: TenantId) -> Result<Option<Bot>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let bot = sqlx::query_as!(
        Bot,
        r#"SELECT b.token_ciphertext, b.webhook_secret, w.webhook_id, b.managers_chat_id, b.language
           FROM telegram_bots b JOIN telegram_webhooks w ON w.tenant_id = b.tenant_id
           WHERE b.tenant_id = $1"#,
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(bot)
}

/// Re-encrypts a tenant's token under the current key (after a SECRET_KEY rotation). Returns false
/// when it was already current or the tenant has no bot.
pub async fn reencrypt(
    pool: &PgPool,
    secrets: &SecretBox,
    tenant: TenantId,
) -> anyhow::Result<bool> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let Some(stored) = sqlx::query_scalar!(
        "SELECT token_ciphertext FROM telegram_bots WHERE tenant_id = $1 FOR UPDATE",
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(false);
    };
    let (token, current) = secrets.decrypt(tenant, &stored)?;
    if current {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE telegram_bots SET token_ciphertext = $2 WHERE tenant_id = $1",
        tenant.0,
        secrets.encrypt(tenant, &token)
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// What recording an update did.
pub struct Recorded {
    /// Something new was stored (a message or a fixed answer): workers have work.
    pub fresh: bool,
    /// The conversation of a new customer message.
    pub bot_user: Option<BotUserId>,
}

/// Records what one Telegram update means (webhook and long-poll alike): a customer message through
/// the same ingest as `POST /api/chat` (idempotency key `tg:<bot id>:<update_id>`), or a fixed
/// answer recorded under its dedup key, or nothing. Only records and enqueues: no Telegram call.
/// Keys carry the bot id because update ids are per bot: a company that changes its bot must not
/// have new updates taken for old ones.
pub async fn record_update(
    pool: &PgPool,
    tenant: TenantId,
    bot_id: &str,
    update: &Update,
) -> Result<Recorded, sqlx::Error> {
    let update_id = update.update_id;
    let language = update
        .language_code()
        .and_then(|c| c.parse::<Language>().ok())
        .unwrap_or(Language::Ru);
    let message = |chat_id: i64, body: Body, shared_phone: Option<Phone>| Incoming {
        channel: Channel::Telegram,
        external_id: chat_id.to_string(),
        body,
        idempotency_key: Some(format!("tg:{bot_id}:{update_id}")),
        shared_phone,
    };
    let once = format!("update:{bot_id}:{update_id}");
    let mut answered = false;
    let recorded = match update.inbound() {
        Inbound::Text { chat_id, text } => Some(message(chat_id, Body::Text(text), None)),
        Inbound::Voice {
            chat_id,
            file_id,
            mime,
            file_size,
        } => Some(message(
            chat_id,
            Body::TelegramVoice {
                file_id,
                mime,
                file_size,
            },
            None,
        )),
        Inbound::Contact { chat_id, phone } => match Phone::parse(&phone) {
            // The number is also the message's text, so the conversation (and its lead) sees it.
            Ok(phone) => Some(message(
                chat_id,
                Body::Text(phone.as_str().to_owned()),
                Some(phone),
            )),
            Err(_) => Some(message(chat_id, Body::Text(phone), None)),
        },
        Inbound::Start { chat_id } => {
            answered =
                service_reply(pool, tenant, chat_id, &once, greeting_text(language), true).await?;
            None
        }
        Inbound::TooLarge { chat_id } => {
            answered = service_reply(
                pool,
                tenant,
                chat_id,
                &once,
                too_large_text(language),
                false,
            )
            .await?;
            None
        }
        Inbound::Unsupported { chat_id } => {
            answered = service_reply(
                pool,
                tenant,
                chat_id,
                &once,
                unsupported_text(language),
                false,
            )
            .await?;
            None
        }
        Inbound::Album {
            chat_id,
            group,
            caption: Some(caption),
        } => {
            // The album's other photos must not get the polite "text please" on top of the answer.
            mark_seen(pool, tenant, &format!("album:{bot_id}:{group}")).await?;
            Some(Incoming {
                // One message per album, whichever of its updates carries the caption.
                idempotency_key: Some(format!("tg:{bot_id}:album:{group}")),
                ..message(chat_id, Body::Text(caption), None)
            })
        }
        Inbound::Album {
            chat_id,
            group,
            caption: None,
        } => {
            let key = format!("album:{bot_id}:{group}");
            answered = service_reply(
                pool,
                tenant,
                chat_id,
                &key,
                unsupported_text(language),
                false,
            )
            .await?;
            None
        }
        Inbound::Ignore => {
            tracing::debug!(tenant_id = %tenant, update_id, "Telegram update ignored");
            None
        }
    };
    let Some(incoming) = recorded else {
        return Ok(Recorded {
            fresh: answered,
            bot_user: None,
        });
    };
    let ingested = super::messages::ingest(pool, tenant, incoming).await?;
    tracing::info!(
        tenant_id = %tenant, bot_user_id = %ingested.bot_user_id,
        message_id = %ingested.message_id, update_id, duplicate = ingested.duplicate,
        "new Telegram message"
    );
    Ok(Recorded {
        fresh: !ingested.duplicate,
        bot_user: (!ingested.duplicate).then_some(ingested.bot_user_id),
    })
}

async fn service_reply(
    pool: &PgPool,
    tenant: TenantId,
    chat_id: i64,
    key: &str,
    text: &str,
    greeting: bool,
) -> Result<bool, sqlx::Error> {
    let fresh = record_service_reply(pool, tenant, chat_id, key, text, greeting).await?;
    tracing::info!(tenant_id = %tenant, key, duplicate = !fresh, "Telegram service reply recorded");
    Ok(fresh)
}

/// Answers an update that is not a customer message (/start, a sticker) with a fixed text: the
/// text is stored as an assistant message of the conversation and its delivery enqueued, in one
/// transaction with its dedup key (`update:<id>`, `album:<media group>`), so a redelivered update, or
/// another photo of the same album, is answered once. No turn, so no lead.
/// With `greeting`, the tenant's own greeting (if it set one) replaces `text`. Returns false for a
/// duplicate.
pub async fn record_service_reply(
    pool: &PgPool,
    tenant: TenantId,
    chat_id: i64,
    key: &str,
    text: &str,
    greeting: bool,
) -> Result<bool, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let fresh = sqlx::query!(
        "INSERT INTO telegram_updates (tenant_id, key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        tenant.0,
        key
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    // The conversation (the customer may not have written yet), then the text at its next seq.
    let bot_user = sqlx::query_scalar!(
        r#"INSERT INTO bot_users AS b (id, tenant_id, channel, external_id, last_seq)
           VALUES ($1, $2, $3, $4, 0)
           ON CONFLICT (tenant_id, channel, external_id) DO UPDATE SET updated_at = now()
           RETURNING id"#,
        Uuid::now_v7(),
        tenant.0,
        Channel::Telegram as Channel,
        chat_id.to_string(),
    )
    .fetch_one(&mut *tx)
    .await?;
    let message = MessageId::new();
    sqlx::query!(
        "SELECT FROM message_append($1, $2, $3, 'assistant',
                                    coalesce(CASE WHEN $5 THEN (SELECT nullif(trim(greeting), '')
                                                                  FROM tenants WHERE id = $1) END,
                                             $4),
                                    'service', NULL, false)",
        tenant.0,
        bot_user,
        message.0,
        text,
        greeting
    )
    .execute(&mut *tx)
    .await?;
    enqueue_delivery(&mut tx, tenant, BotUserId(bot_user), message).await?;
    tx.commit().await?;
    Ok(true)
}

/// The managers' working hours, when the company set them.
pub async fn working_hours(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<Option<WorkingHours>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT work_from_min, work_to_min FROM telegram_bots WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_optional(tx)
    .await?;
    Ok(row.and_then(|r| WorkingHours::from_minutes(r.work_from_min, r.work_to_min)))
}

/// getUpdates mode: the next update id to ask the tenant's bot for.
pub async fn poll_offset(pool: &PgPool, tenant: TenantId) -> Result<i64, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let offset = sqlx::query_scalar!(
        "SELECT poll_offset FROM telegram_bots WHERE tenant_id = $1",
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(offset.unwrap_or(0))
}

/// Moves the offset forward (never back: a slow poller cannot undo a newer one's progress).
pub async fn store_poll_offset(
    pool: &PgPool,
    tenant: TenantId,
    offset: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    sqlx::query!(
        "UPDATE telegram_bots SET poll_offset = greatest(poll_offset, $2) WHERE tenant_id = $1",
        tenant.0,
        offset
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Records a dedup key with no answer attached (an album whose caption is the answered message).
pub async fn mark_seen(pool: &PgPool, tenant: TenantId, key: &str) -> Result<(), sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    sqlx::query!(
        "INSERT INTO telegram_updates (tenant_id, key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        tenant.0,
        key
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Enqueues the delivery of a stored message to the customer's chat, inside the caller's transaction
/// (the outbox), as [`jobs::DeliverReply`] says.
pub async fn enqueue_delivery(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    bot_user: BotUserId,
    message: MessageId,
) -> Result<(), sqlx::Error> {
    let delivery = jobs::DeliverReply {
        tenant_id: tenant,
        bot_user_id: bot_user,
        message_id: message,
    };
    queue::enqueue(tx, &delivery.job()).await?;
    Ok(())
}
