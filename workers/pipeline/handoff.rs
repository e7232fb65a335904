//! The worker side of human handoff (the state machine is in `src/db/handoff.rs`):
//! - `forward_to_managers` (key `forward:<bot user>`): the "a customer needs a manager" alert, then
//!   every customer message of a conversation in human mode, to the managers' chat (the company's
//!   own, else the platform's). Each is recorded in `manager_forwards` under the lease right after
//!   it was sent, so a re-run sends nothing twice.
//! - `handoff_timeout`: if no manager answered within HANDOFF_TIMEOUT of this handoff, the customer
//!   is told honestly that a manager will answer later — once, and never after a manager answered,
//!   the conversation was released, or a newer handoff began.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::db;
use crate::domain::conversation::{ConversationMode, MessageRole};
use crate::domain::language::Language;
use crate::domain::working_hours::WorkingHours;
use crate::jobs::{self, JobPayload};
use crate::workers::integrations::telegram::html_escape;
use crate::workers::telegram::{Telegram, job_error};
use crate::workers::{Handler, JobContext, JobError, JobFuture};

use super::notify::{Notifier, managers_route};

pub struct ForwardHandler {
    pub platform: Option<Arc<Notifier>>,
    pub telegram: Option<Arc<Telegram>>,
}

impl Handler for ForwardHandler {
    fn kind(&self) -> &'static str {
        jobs::ForwardToManagers::KIND
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(20)
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let (platform, telegram) = (self.platform.clone(), self.telegram.clone());
        Box::pin(async move {
            let p = jobs::ForwardToManagers::read(&ctx.job.payload)
                .map_err(|e| JobError::fatal(anyhow::anyhow!("bad forward payload: {e}")))?;
            forward(platform.as_ref(), telegram.as_ref(), &ctx, p).await
        })
    }
}

async fn forward(
    platform: Option<&Arc<Notifier>>,
    telegram: Option<&Arc<Telegram>>,
    ctx: &JobContext,
    p: jobs::ForwardToManagers,
) -> Result<(), JobError> {
    let backlog =
        db::handoff::forward_backlog(&ctx.db, p.tenant_id, p.bot_user_id, p.reason.is_some())
            .await?;
    let Some(backlog) = backlog else {
        return Ok(());
    };
    if backlog.mode != ConversationMode::Human {
        return Ok(()); // released before this ran: nothing to forward
    }
    let Some(route) = managers_route(platform, telegram, &ctx.db, p.tenant_id).await? else {
        tracing::warn!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id,
            "human mode but no managers' chat configured: nothing forwarded");
        return Ok(());
    };
    let words = labels(route.language);
    let who = format!(
        "{} {} ({})",
        words.customer,
        html_escape(&backlog.external_id),
        backlog.channel
    );
    let reply_hint = format!(
        "{}: POST {}/api/conversations/{}/reply",
        words.answer,
        route.public_url,
        html_escape(&backlog.external_id)
    );
    if let Some(key) = backlog.alert_key {
        let text = format!(
            "🙋 <b>{}</b> · {who}\n{}: {}\n{reply_hint}",
            words.needs_manager,
            words.reason,
            html_escape(p.reason.as_deref().unwrap_or_default()),
        );
        route
            .client
            .send_message(&route.token, &route.chat_id, &text)
            .await
            .map_err(job_error)?;
        db::handoff::record_forward(&ctx.db, p.tenant_id, ctx.lease(), &key).await?;
    }
    for message in &backlog.messages {
        let text = format!("💬 {who}:\n{}\n{reply_hint}", html_escape(&message.text));
        route
            .client
            .send_message(&route.token, &route.chat_id, &text)
            .await
            .map_err(job_error)?;
        db::handoff::record_forward(&ctx.db, p.tenant_id, ctx.lease(), &message.key).await?;
    }
    tracing::info!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, job_id = %ctx.job.id,
        forwarded = backlog.messages.len(), "customer messages forwarded to the managers");
    Ok(())
}

struct Labels {
    customer: &'static str,
    needs_manager: &'static str,
    reason: &'static str,
    answer: &'static str,
}

fn labels(language: Language) -> Labels {
    match language {
        Language::Kk => Labels {
            customer: "Клиент",
            needs_manager: "Клиентке менеджер керек",
            reason: "Себебі",
            answer: "Жауап беру",
        },
        Language::En => Labels {
            customer: "Customer",
            needs_manager: "A customer needs a manager",
            reason: "Reason",
            answer: "Reply",
        },
        Language::Ru | Language::Mixed => Labels {
            customer: "Клиент",
            needs_manager: "Клиенту нужен менеджер",
            reason: "Причина",
            answer: "Ответить",
        },
    }
}

pub struct TimeoutHandler;

impl Handler for TimeoutHandler {
    fn kind(&self) -> &'static str {
        jobs::HandoffTimeout::KIND
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        Box::pin(async move {
            let p = jobs::HandoffTimeout::read(&ctx.job.payload)
                .map_err(|e| JobError::fatal(anyhow::anyhow!("bad timeout payload: {e}")))?;
            let mut tx = db::fenced_tx(&ctx.db, p.tenant_id, ctx.lease()).await?;
            let conversation =
                db::handoff::lock_unanswered(&mut tx, p.tenant_id, p.bot_user_id, p.handoff_at)
                    .await?;
            let Some(conversation) = conversation else {
                return Ok(()); // answered, released, or a newer handoff has its own timer
            };
            let language = conversation
                .language
                .as_deref()
                .and_then(|l| l.parse().ok())
                .unwrap_or(Language::Ru);
            let text = match db::telegram::bots::working_hours(&mut tx, p.tenant_id).await? {
                Some(hours) if !hours.is_open(Utc::now()) => after_hours(language, hours),
                _ => still_waiting(language).to_owned(),
            };
            let id = db::messages::append(
                &mut tx,
                p.tenant_id,
                p.bot_user_id,
                MessageRole::Assistant,
                &text,
                Some("service"),
                true,
            )
            .await?
            .id;
            if conversation.channel == db::messages::Channel::Telegram {
                db::telegram::outbox::enqueue_delivery(&mut tx, p.tenant_id, p.bot_user_id, id)
                    .await?;
            }
            tx.commit().await?;
            let _ = db::messages::announce_reply(&ctx.db, p.bot_user_id).await;
            tracing::info!(tenant_id = %p.tenant_id, bot_user_id = %p.bot_user_id, message_id = %id,
                "no manager answered in time: the customer was told");
            Ok(())
        })
    }
}

/// Outside working hours: when the managers work, in the customer's language.
fn after_hours(language: Language, hours: WorkingHours) -> String {
    let (from, to) = hours
        .to_string()
        .split_once('-')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap_or_default();
    match language {
        Language::Kk => format!(
            "Қазір жұмыс уақыты емес. Менеджерлер {from}-ден {to}-ге дейін (Астана уақыты) жұмыс істейді және сол уақытта жауап береді. Сұрағыңыз сақталды."
        ),
        Language::En => format!(
            "It is outside working hours now. Our managers work from {from} to {to} (Astana time) and will answer you then. Your question is saved."
        ),
        Language::Ru | Language::Mixed => format!(
            "Сейчас нерабочее время. Менеджеры работают с {from} до {to} (время Астаны) и ответят вам в это время. Ваш вопрос сохранён."
        ),
    }
}

/// Honest, and promises no time we cannot keep.
fn still_waiting(language: Language) -> &'static str {
    match language {
        Language::Kk => {
            "Менеджер әзірге жауап бере алмады. Ол жұмыс уақытында мүмкіндігінше тез жауап береді — әдетте бір жұмыс күні ішінде. Сұрағыңыз сақталды."
        }
        Language::En => {
            "Our manager has not been able to answer yet. They will reply as soon as they can during working hours — usually within one working day. Your question is saved."
        }
        Language::Ru | Language::Mixed => {
            "Менеджер пока не успел ответить. Он ответит, как только сможет, в рабочее время — обычно в течение одного рабочего дня. Ваш вопрос сохранён."
        }
    }
}
