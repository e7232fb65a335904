//! The deliveries of stored messages to customers' Telegram chats: enqueued in the transaction
//! that stores the message (the outbox), read and marked by the `deliver_reply` job.

use sqlx::PgPool;

use crate::db::messages::Channel;
use crate::db::tenant_tx;
use crate::domain::{BotUserId, MessageId, TenantId};
use crate::jobs;
use crate::queue;

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

/// What a delivery needs to know about the stored message and its conversation.
pub struct Delivery {
    pub content: String,
    /// The customer's chat id.
    pub chat: String,
    /// The conversation is a Telegram one (else there is nothing to deliver).
    pub telegram: bool,
    /// The customer blocked the bot.
    pub blocked: bool,
    /// The parts already sent, by index.
    pub sent_parts: Vec<i32>,
}

/// The message to deliver and the parts of it already sent; None when the message is gone.
pub async fn delivery(
    pool: &PgPool,
    tenant: TenantId,
    message: MessageId,
) -> Result<Option<Delivery>, sqlx::Error> {
    let mut tx = tenant_tx(pool, tenant).await?;
    let target = sqlx::query!(
        r#"SELECT m.content, b.external_id, b.channel AS "channel: Channel",
                  b.blocked_at IS NOT NULL AS "blocked!"
           FROM messages m JOIN bot_users b ON b.tenant_id = m.tenant_id AND b.id = m.bot_user_id
           WHERE m.tenant_id = $1 AND m.id = $2"#,
        tenant.0,
        message.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    let sent_parts = sqlx::query_scalar!(
        "SELECT part FROM telegram_sent_parts WHERE tenant_id = $1 AND message_id = $2",
        tenant.0,
        message.0
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(target.map(|t| Delivery {
        content: t.content,
        chat: t.external_id,
        telegram: t.channel == Channel::Telegram,
        blocked: t.blocked,
        sent_parts,
    }))
}

/// Records a part Telegram accepted, in the caller's [`fenced_tx`](crate::db::fenced_tx): a
/// retried delivery resumes after it.
pub async fn record_part(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    message: MessageId,
    part: i32,
    telegram_message_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO telegram_sent_parts (tenant_id, message_id, part, telegram_message_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        tenant.0,
        message.0,
        part,
        telegram_message_id
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// The customer blocked the bot: nothing more is sent to the conversation until they write again.
pub async fn mark_blocked(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    bot_user: BotUserId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE bot_users SET blocked_at = coalesce(blocked_at, now())
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        bot_user.0
    )
    .execute(tx)
    .await?;
    Ok(())
}
