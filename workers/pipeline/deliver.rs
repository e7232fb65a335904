//! `deliver_reply`: sends a stored reply (the bot's or a manager's) to the customer's Telegram chat.
//!
//! Keyed per conversation (`deliver:<bot user>`), so replies arrive in the order they were stored;
//! apart from the turn's key, so a rate-limited send never holds back the next turn. A long reply is
//! split at ≤ 4096 characters on paragraph/sentence boundaries and its parts sent in order; each part
//! sent is recorded (`telegram_sent_parts`, reply id + part) under the job's lease right after
//! Telegram accepted it, so a retried job resumes after the last part sent — a crash between the send
//! and the record can repeat one part, never lose one. 429 re-schedules the job for Telegram's
//! `retry_after` without using an attempt; 403 (the customer blocked the bot) marks the conversation
//! blocked and ends the job: nothing more is sent to it.

use std::sync::Arc;
use std::time::Duration;

use crate::db::{self, tenant_tx};
use crate::domain::telegram::{MAX_MESSAGE_CHARS, split_message};
use crate::jobs::{self, JobPayload};
use crate::queue;
use crate::workers::integrations::telegram::TelegramError;
use crate::workers::telegram::{Telegram, job_error};
use crate::workers::{Handler, JobContext, JobError, JobFuture};

pub struct DeliverHandler {
    pub telegram: Arc<Telegram>,
}

impl Handler for DeliverHandler {
    fn kind(&self) -> &'static str {
        jobs::DeliverReply::KIND
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(20)
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let telegram = self.telegram.clone();
        Box::pin(async move {
            let p = jobs::DeliverReply::read(&ctx.job.payload)
                .map_err(|e| JobError::fatal(anyhow::anyhow!("bad deliver payload: {e}")))?;
            deliver(&telegram, &ctx, p).await
        })
    }
}

async fn deliver(
    telegram: &Telegram,
    ctx: &JobContext,
    p: jobs::DeliverReply,
) -> Result<(), JobError> {
    let mut tx = tenant_tx(&ctx.db, p.tenant_id).await?;
    let target = sqlx::query!(
        r#"SELECT m.content, b.external_id, b.channel AS "channel: db::messages::Channel",
                  b.blocked_at IS NOT NULL AS "blocked!"
           FROM messages m JOIN bot_users b ON b.tenant_id = m.tenant_id AND b.id = m.bot_user_id
           WHERE m.tenant_id = $1 AND m.id = $2"#,
        p.tenant_id.0,
        p.message_id.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    let sent: Vec<i32> = sqlx::query_scalar!(
        "SELECT part FROM telegram_sent_parts WHERE tenant_id = $1 AND message_id = $2",
        p.tenant_id.0,
        p.message_id.0
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let Some(target) = target.filter(|t| t.channel == db::messages::Channel::Telegram) else {
        return Ok(()); // the message is gone, or not a Telegram conversation
    };
    if target.blocked {
        tracing::info!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id,
            message_id = %p.message_id, "customer blocked the bot; reply not sent");
        return Ok(());
    }
    let Some(bot) = telegram.bot(&ctx.db, p.tenant_id).await? else {
        tracing::warn!(tenant_id = %p.tenant_id, message_id = %p.message_id,
            "the tenant's Telegram bot was removed; reply not sent");
        return Ok(());
    };
    let parts = split_message(&target.content, MAX_MESSAGE_CHARS);
    for (index, text) in parts.iter().enumerate() {
        let part = index as i32;
        if sent.contains(&part) {
            continue;
        }
        match telegram
            .client
            .send_text(&bot.token, &target.external_id, text)
            .await
        {
            Ok(telegram_id) => record_part(ctx, p, part, telegram_id).await?,
            Err(TelegramError::Forbidden(reason)) => {
                mark_blocked(ctx, p).await?;
                tracing::warn!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id,
                    message_id = %p.message_id, job_id = %ctx.job.id, %reason,
                    "Telegram refused: the customer blocked the bot; conversation marked blocked");
                return Ok(());
            }
            Err(err) => return Err(job_error(err)),
        }
    }
    tracing::info!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id,
        message_id = %p.message_id, job_id = %ctx.job.id, parts = parts.len(),
        "reply delivered on Telegram");
    Ok(())
}

async fn record_part(
    ctx: &JobContext,
    p: jobs::DeliverReply,
    part: i32,
    telegram_id: i64,
) -> Result<(), JobError> {
    let mut tx = tenant_tx(&ctx.db, p.tenant_id).await?;
    if !queue::holds_lease(&mut tx, ctx.lease()).await? {
        return Err(JobError::retry(anyhow::anyhow!(
            "lease lost after sending part {part}"
        )));
    }
    sqlx::query!(
        "INSERT INTO telegram_sent_parts (tenant_id, message_id, part, telegram_message_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        p.tenant_id.0,
        p.message_id.0,
        part,
        telegram_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn mark_blocked(ctx: &JobContext, p: jobs::DeliverReply) -> Result<(), JobError> {
    let mut tx = tenant_tx(&ctx.db, p.tenant_id).await?;
    if !queue::holds_lease(&mut tx, ctx.lease()).await? {
        return Err(JobError::retry(anyhow::anyhow!("lease lost")));
    }
    sqlx::query!(
        "UPDATE bot_users SET blocked_at = coalesce(blocked_at, now())
         WHERE tenant_id = $1 AND id = $2",
        p.tenant_id.0,
        p.bot_user_id.0
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
