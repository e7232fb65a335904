//! What one Telegram update means, recorded (the webhook and the long-poll mode alike): a customer
//! message through the chat's ingest, or a fixed answer under the update's dedup key; and the
//! poller's position in the bot's update stream. Everything here runs in [`tenant_tx`].

use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::language::Language;
use crate::domain::phone::Phone;
use crate::domain::{BotUserId, MessageId, TenantId};
use crate::telegram_api::{Inbound, Update, greeting_text, too_large_text, unsupported_text};

use crate::db::messages::{Body, Channel, Incoming};
use crate::db::tenant_tx;

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
    let ingested = crate::db::messages::ingest(pool, tenant, incoming).await?;
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
    super::outbox::enqueue_delivery(&mut tx, tenant, BotUserId(bot_user), message).await?;
    tx.commit().await?;
    Ok(true)
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
