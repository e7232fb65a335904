//! `follow_up`: the bot writes once more to a customer who went quiet before their lead was
//! qualified, as a sales manager would (src/jobs.rs `FollowUp`; the company's settings in
//! src/db/follow_ups.rs).
//!
//! `turn_commit()` schedules the first one in the turn's own transaction, after the company's
//! delay; a later turn re-arms it in place. When it runs it decides, under the conversation's
//! lock, whether it still has a reason to write: nothing newer than the bot message it follows
//! (a customer's answer, a manager's, another reply), the bot has the conversation, the customer
//! has not blocked the bot, the lead is still open (none, or `new`), and the company still wants
//! this many follow-ups. Otherwise it ends without sending (counted as cancelled) — so a
//! customer's message cancels it without anyone looking for the job. Outside the managers'
//! working hours it waits for them (a deferral: no attempt spent). It is sent like every bot
//! message: `message_append()`, the Telegram outbox (`deliver_reply`), the `reply.created` webhook
//! event and the replies' NOTIFY, all but the NOTIFY in one transaction fenced by the lease.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db;
use crate::db::follow_ups::Conversation;
use crate::domain::TenantId;
use crate::domain::conversation::{ConversationMode, MessageRole};
use crate::domain::follow_up;
use crate::domain::language::Language;
use crate::domain::price::PriceList;
use crate::domain::working_hours::WorkingHours;
use crate::jobs::{self, JobPayload};
use crate::workers::engine::guard;
use crate::workers::{Handler, JobContext, JobError, JobFuture};

/// The `engine` its messages are stored with (the dashboard and exports tell them apart).
pub const ENGINE: &str = "follow_up";

pub struct FollowUpHandler;

impl Handler for FollowUpHandler {
    fn kind(&self) -> &'static str {
        jobs::FollowUp::KIND
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        Box::pin(async move {
            let p = jobs::FollowUp::read(&ctx.job.payload)
                .map_err(|e| JobError::fatal(anyhow::anyhow!("bad follow_up payload: {e}")))?;
            run(&ctx, p, Utc::now()).await
        })
    }
}

async fn run(ctx: &JobContext, p: jobs::FollowUp, now: DateTime<Utc>) -> Result<(), JobError> {
    // Read before the conversation's lock is taken: the company's own words are held to its list.
    let prices = db::prices::list(&ctx.db, p.tenant_id).await?;
    let mut tx = db::fenced_tx(&ctx.db, p.tenant_id, ctx.lease()).await?;
    let conversation =
        db::follow_ups::lock_conversation(&mut tx, p.tenant_id, p.bot_user_id).await?;
    let Some(conversation) = conversation else {
        cancelled(&p, "the conversation is gone");
        return Ok(());
    };
    if let Some(reason) = why_not(&conversation, &p) {
        cancelled(&p, reason);
        return Ok(());
    }
    if let Some(hours) = managers_hours(&mut tx, p.tenant_id).await? {
        let open = hours.next_open(now);
        if open > now {
            crate::metrics::follow_up("deferred");
            tracing::info!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, %open,
                "follow-up waits for the managers' working hours");
            let wait = (open - now).to_std().unwrap_or(Duration::from_secs(60));
            return Err(JobError::defer(wait, "outside the managers' working hours"));
        }
    }
    let language = conversation.language.unwrap_or(Language::Ru);
    let text = words(&conversation, language, &prices);
    let message = db::messages::append(
        &mut tx,
        p.tenant_id,
        p.bot_user_id,
        MessageRole::Assistant,
        text,
        Some(ENGINE),
        false,
    )
    .await?;
    if conversation.channel == db::messages::Channel::Telegram {
        db::telegram::outbox::enqueue_delivery(&mut tx, p.tenant_id, p.bot_user_id, message.id)
            .await?;
    }
    db::webhooks::emit_reply(&mut tx, p.tenant_id, p.bot_user_id, message.id).await?;
    let next = p.number < i32::from(conversation.settings.max_count);
    if next {
        let delay = minutes(conversation.settings.delay_minutes);
        let job = jobs::FollowUp {
            after_seq: message.seq,
            number: p.number + 1,
            ..p
        };
        crate::queue::enqueue(&mut *tx, &job.job(delay)).await?;
    }
    tx.commit().await?;
    let _ = db::messages::announce_reply(&ctx.db, p.bot_user_id).await;
    crate::metrics::follow_up("sent");
    tracing::info!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, message_id = %message.id,
        number = p.number, next, "follow-up sent");
    Ok(())
}

/// Why this follow-up no longer has a reason to be sent, if it has none.
fn why_not(c: &Conversation, p: &jobs::FollowUp) -> Option<&'static str> {
    if c.last_seq != p.after_seq {
        Some("the conversation moved on since it was scheduled")
    } else if c.mode != ConversationMode::Bot {
        Some("a manager has the conversation")
    } else if c.blocked {
        Some("the customer blocked the bot")
    } else if !c.lead_open {
        Some("the lead is qualified or in the managers' hands")
    } else if p.number > i32::from(c.settings.max_count) {
        Some("the company wants no more follow-ups")
    } else {
        None
    }
}

fn cancelled(p: &jobs::FollowUp, reason: &'static str) {
    crate::metrics::follow_up("cancelled");
    tracing::debug!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, number = p.number,
        reason, "follow-up not sent");
}

/// When the managers work: the one place follow-ups learn it (today the company's bot settings;
/// per-company time zones and days will change only this source).
async fn managers_hours(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
) -> Result<Option<WorkingHours>, sqlx::Error> {
    db::telegram::bots::working_hours(tx, tenant).await
}

/// The company's words in the customer's language, else the built-in ones. The company's words
/// pass the same price guard as every reply (they could promise a price or a deadline its list
/// does not hold); if they do not, the built-in text goes instead.
fn words<'a>(c: &'a Conversation, language: Language, prices: &PriceList) -> &'a str {
    let built_in = follow_up::default_text(language);
    match c.settings.text(language) {
        Some(own) => match guard::check(own, prices) {
            None => own,
            Some(violation) => {
                crate::metrics::reply_guarded(violation.as_str(), ENGINE);
                tracing::warn!(
                    violation = violation.as_str(),
                    "the company's follow-up names what its price list does not hold: the built-in text goes"
                );
                built_in
            }
        },
        None => built_in,
    }
}

fn minutes(n: i32) -> Duration {
    Duration::from_secs(u64::try_from(n).unwrap_or(0) * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_words_pass_the_price_guard_with_no_price_list() {
        for language in [Language::Ru, Language::Kk, Language::En, Language::Mixed] {
            let text = follow_up::default_text(language);
            assert_eq!(
                guard::check(text, &PriceList::default()),
                None,
                "{language:?}: {text}"
            );
        }
    }
}
