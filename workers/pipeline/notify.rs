//! `notify_manager`: tells the company's managers on Telegram that a lead was created, became
//! qualified or changed — once per lead version. It has an ordering key of its own (per
//! conversation), apart from the conversation's turns, so a failing notification never delays a
//! customer's reply.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::db::tenant_tx;
use crate::domain::city::City;
use crate::domain::language::Language;
use crate::domain::object_type::ObjectType;
use crate::domain::{BotUserId, LeadId, TenantId};
use crate::queue::{self, NewJob};
use crate::workers::integrations::telegram::{TelegramClient, TelegramError, html_escape};
use crate::workers::{Handler, JobContext, JobError, JobFuture};

pub const NOTIFY_JOB: &str = "notify_manager";

/// Where notifications go: the platform bot and chat (TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID, as in
/// the prototype). Per-tenant bots and chats come with the Telegram channel.
pub struct Notifier {
    pub telegram: TelegramClient,
    pub bot_token: Secret,
    pub chat_id: String,
    /// Base of the links in notifications.
    pub public_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadEvent {
    Created,
    Qualified,
    Updated,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    tenant_id: TenantId,
    lead_id: LeadId,
    version: i32,
    event: LeadEvent,
}

/// The outbox entry the turn writes in its own transaction.
pub fn job(
    tenant: TenantId,
    bot_user: BotUserId,
    lead: LeadId,
    version: i32,
    event: LeadEvent,
) -> NewJob {
    NewJob::new(
        NOTIFY_JOB,
        serde_json::to_value(Payload {
            tenant_id: tenant,
            lead_id: lead,
            version,
            event,
        })
        .expect("serialisable payload"),
    )
    .key(format!("notify:{bot_user}"))
    .tenant(tenant)
    .max_attempts(8)
}

pub struct NotifyHandler {
    pub notifier: std::sync::Arc<Notifier>,
}

impl Handler for NotifyHandler {
    fn kind(&self) -> &'static str {
        NOTIFY_JOB
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(15)
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let notifier = self.notifier.clone();
        Box::pin(async move {
            let p: Payload = serde_json::from_value(ctx.job.payload.clone())
                .map_err(|e| JobError::fatal(anyhow::anyhow!("bad notify payload: {e}")))?;
            let mut tx = tenant_tx(&ctx.db, p.tenant_id).await?;
            let sent = sqlx::query_scalar!(
                "SELECT EXISTS (SELECT 1 FROM lead_notifications
                                WHERE tenant_id = $1 AND lead_id = $2 AND version = $3) AS \"sent!\"",
                p.tenant_id.0,
                p.lead_id.0,
                p.version
            )
            .fetch_one(&mut *tx)
            .await?;
            let lead = sqlx::query!(
                "SELECT l.name, l.phone, l.city, l.object_type, l.area_m2, l.summary, l.status,
                        t.name AS company
                 FROM leads l JOIN tenants t ON t.id = l.tenant_id
                 WHERE l.tenant_id = $1 AND l.id = $2",
                p.tenant_id.0,
                p.lead_id.0
            )
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            let Some(lead) = lead.filter(|_| !sent) else {
                return Ok(()); // already sent for this version, or the lead is gone
            };
            let text = render(
                &Card {
                    company: &lead.company,
                    event: p.event,
                    name: lead.name.as_deref(),
                    phone: lead.phone.as_deref(),
                    city: lead.city.as_deref(),
                    object_type: lead.object_type.as_deref(),
                    area_m2: lead.area_m2,
                    summary: lead.summary.as_deref(),
                    status: &lead.status,
                },
                &format!("{}/api/leads/{}", notifier.public_url, p.lead_id),
            );
            notifier
                .telegram
                .send_message(&notifier.bot_token, &notifier.chat_id, &text)
                .await
                .map_err(|err| match err {
                    TelegramError::RateLimited { retry_after } => {
                        JobError::defer(retry_after, "Telegram rate limit")
                    }
                    TelegramError::Retryable(_) => JobError::retry(err),
                    TelegramError::Forbidden(_) | TelegramError::Fatal(_) => JobError::fatal(err),
                })?;
            // Recorded after the send: a crash in between can repeat one notification, never lose one.
            let mut tx = tenant_tx(&ctx.db, p.tenant_id).await?;
            sqlx::query!(
                "INSERT INTO lead_notifications (tenant_id, lead_id, version) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                p.tenant_id.0,
                p.lead_id.0,
                p.version
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(tenant_id = %p.tenant_id, lead_id = %p.lead_id, version = p.version,
                event = ?p.event, "managers notified");
            Ok(())
        })
    }
}

/// Enqueues the notification inside the turn's transaction.
pub async fn enqueue(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    bot_user: BotUserId,
    lead: LeadId,
    version: i32,
    event: LeadEvent,
) -> Result<(), sqlx::Error> {
    queue::enqueue(tx, &job(tenant, bot_user, lead, version, event)).await?;
    Ok(())
}

struct Card<'a> {
    company: &'a str,
    event: LeadEvent,
    name: Option<&'a str>,
    phone: Option<&'a str>,
    city: Option<&'a str>,
    object_type: Option<&'a str>,
    area_m2: Option<f64>,
    summary: Option<&'a str>,
    status: &'a str,
}

/// The managers' message (Russian: the tenants' notification language arrives with their Telegram
/// settings). Values come from customers, so everything is escaped.
fn render(card: &Card<'_>, link: &str) -> String {
    let headline = match card.event {
        LeadEvent::Created => "🆕 Новая заявка",
        LeadEvent::Qualified => "✅ Заявка квалифицирована",
        LeadEvent::Updated => "✏️ Заявка обновлена",
    };
    let dash = "—";
    let city = card
        .city
        .and_then(|c| c.parse::<City>().ok())
        .and_then(|c| c.display_name(Language::Ru))
        .map(str::to_owned)
        .or_else(|| card.city.map(str::to_owned));
    let object = card
        .object_type
        .and_then(|o| o.parse::<ObjectType>().ok())
        .map(|o| o.display_name(Language::Ru).to_owned());
    let area = card.area_m2.map(|a| format!("{a} м²"));
    let lines = [
        format!("<b>{headline}</b> · {}", html_escape(card.company)),
        format!("Имя: {}", html_escape(card.name.unwrap_or(dash))),
        // Telegram makes an E.164 number tappable on its own.
        format!("Телефон: {}", html_escape(card.phone.unwrap_or(dash))),
        format!("Город: {}", html_escape(city.as_deref().unwrap_or(dash))),
        format!("Объект: {}", html_escape(object.as_deref().unwrap_or(dash))),
        format!("Площадь: {}", html_escape(area.as_deref().unwrap_or(dash))),
        format!("Статус: {}", html_escape(card.status)),
        format!("Кратко: {}", html_escape(card.summary.unwrap_or(dash))),
        format!("<a href=\"{}\">Открыть заявку</a>", html_escape(link)),
    ];
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_has_every_field_escaped() {
        let text = render(
            &Card {
                company: "ТОО <Құрылыс>",
                event: LeadEvent::Qualified,
                name: Some("Ерлан"),
                phone: Some("+77012345678"),
                city: Some("almaty"),
                object_type: Some("house"),
                area_m2: Some(150.0),
                summary: None,
                status: "qualified",
            },
            "http://localhost:8000/api/leads/1",
        );
        assert!(text.contains("квалифицирована"));
        assert!(text.contains("&lt;Құрылыс&gt;"));
        assert!(text.contains("+77012345678"));
        assert!(text.contains("Алматы"));
        assert!(text.contains("150 м²"));
        assert!(text.contains("Кратко: —"));
    }
}
