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

use crate::db::{self, telegram::outbox};
use crate::jobs::{self, JobPayload};
use crate::telegram_api::{MAX_MESSAGE_CHARS, split_message};
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
    let target = outbox::delivery(&ctx.db, p.tenant_id, p.message_id).await?;
    let Some(target) = target.filter(|t| t.telegram) else {
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
        if target.sent_parts.contains(&part) {
            continue;
        }
        match telegram
            .client
            .send_text(&bot.token, &target.chat, text)
            .await
        {
            Ok(telegram_id) => {
                let mut tx = db::fenced_tx(&ctx.db, p.tenant_id, ctx.lease()).await?;
                outbox::record_part(&mut tx, p.tenant_id, p.message_id, part, telegram_id).await?;
                tx.commit().await?;
            }
            Err(TelegramError::Forbidden(reason)) => {
                let mut tx = db::fenced_tx(&ctx.db, p.tenant_id, ctx.lease()).await?;
                outbox::mark_blocked(&mut tx, p.tenant_id, p.bot_user_id).await?;
                tx.commit().await?;
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
