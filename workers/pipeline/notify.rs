//! `notify_manager`: tells the company's managers on Telegram that a lead was created, became
//! qualified or changed — once per lead version. It goes through the company's own bot to its
//! managers' chat, in its notification language, when the company set those up; otherwise through
//! the platform bot (TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID), as in the prototype. It has an ordering key of its own (per
//! conversation), apart from the conversation's turns, so a failing notification never delays a
//! customer's reply.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Secret;
use crate::db;
use crate::domain::TenantId;
use crate::domain::city::City;
use crate::domain::language::Language;
use crate::domain::object_type::ObjectType;
use crate::jobs::{self, JobPayload, LeadEvent};
use crate::workers::integrations::telegram::{TelegramClient, html_escape};
use crate::workers::telegram::{Telegram, job_error};
use crate::workers::{Handler, JobContext, JobError, JobFuture};

/// The platform's bot and chat (TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID, as in the prototype): the
/// default for companies without their own managers' chat.
pub struct Notifier {
    pub telegram: TelegramClient,
    pub bot_token: Secret,
    pub chat_id: String,
    /// Base of the links in notifications.
    pub public_url: String,
}

pub struct NotifyHandler {
    pub platform: Option<Arc<Notifier>>,
    pub telegram: Option<Arc<Telegram>>,
}

/// Where a message for a company's managers goes.
pub struct Route {
    pub client: TelegramClient,
    pub token: Secret,
    pub chat_id: String,
    pub language: Language,
    pub public_url: String,
}

impl NotifyHandler {
    async fn route(&self, db: &sqlx::PgPool, tenant: TenantId) -> Result<Option<Route>, JobError> {
        managers_route(self.platform.as_ref(), self.telegram.as_ref(), db, tenant).await
    }
}

/// The company's bot and managers' chat when it has both, else the platform's, else nowhere.
pub async fn managers_route(
    platform: Option<&Arc<Notifier>>,
    telegram: Option<&Arc<Telegram>>,
    db: &sqlx::PgPool,
    tenant: TenantId,
) -> Result<Option<Route>, JobError> {
    let own = match telegram {
        Some(telegram) => telegram.bot(db, tenant).await?.map(|bot| (telegram, bot)),
        None => None,
    };
    let language = own
        .as_ref()
        .and_then(|(_, b)| b.bot.language.parse().ok())
        .unwrap_or(Language::Ru);
    if let Some((telegram, bot)) = own
        && let Some(chat_id) = bot.bot.managers_chat_id.clone()
    {
        return Ok(Some(Route {
            client: telegram.client.clone(),
            token: bot.token,
            chat_id,
            language,
            public_url: telegram.public_url.clone(),
        }));
    }
    Ok(platform.map(|p| Route {
        client: p.telegram.clone(),
        token: p.bot_token.clone(),
        chat_id: p.chat_id.clone(),
        language,
        public_url: p.public_url.clone(),
    }))
}

impl Handler for NotifyHandler {
    fn kind(&self) -> &'static str {
        jobs::NotifyManager::KIND
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(15)
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let handler = NotifyHandler {
            platform: self.platform.clone(),
            telegram: self.telegram.clone(),
        };
        Box::pin(async move {
            let p = jobs::NotifyManager::read(&ctx.job.payload)
                .map_err(|e| JobError::fatal(anyhow::anyhow!("bad notify payload: {e}")))?;
            let lead =
                db::leads::card_to_notify(&ctx.db, p.tenant_id, p.lead_id, p.version).await?;
            let Some(lead) = lead else {
                return Ok(()); // already sent for this version, or the lead is gone
            };
            let Some(route) = handler.route(&ctx.db, p.tenant_id).await? else {
                tracing::debug!(tenant_id = %p.tenant_id, lead_id = %p.lead_id,
                    "no managers' chat configured; notification skipped");
                return Ok(());
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
                    status: lead.status.as_str(),
                },
                &format!("{}/api/leads/{}", route.public_url, p.lead_id),
                route.language,
            );
            route
                .client
                .send_message(&route.token, &route.chat_id, &text)
                .await
                .map_err(job_error)?;
            db::leads::record_notification(&ctx.db, p.tenant_id, p.lead_id, p.version).await?;
            tracing::info!(tenant_id = %p.tenant_id, lead_id = %p.lead_id, version = p.version,
                event = ?p.event, "managers notified");
            Ok(())
        })
    }
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

/// The words of a notification in one language.
struct Labels {
    created: &'static str,
    qualified: &'static str,
    updated: &'static str,
    name: &'static str,
    phone: &'static str,
    city: &'static str,
    object: &'static str,
    area: &'static str,
    status: &'static str,
    summary: &'static str,
    open: &'static str,
}

fn labels(language: Language) -> Labels {
    match language {
        Language::Kk => Labels {
            created: "🆕 Жаңа өтінім",
            qualified: "✅ Өтінім тексерілді",
            updated: "✏️ Өтінім жаңартылды",
            name: "Аты",
            phone: "Телефон",
            city: "Қала",
            object: "Нысан",
            area: "Ауданы",
            status: "Күйі",
            summary: "Қысқаша",
            open: "Өтінімді ашу",
        },
        Language::En => Labels {
            created: "🆕 New lead",
            qualified: "✅ Lead qualified",
            updated: "✏️ Lead updated",
            name: "Name",
            phone: "Phone",
            city: "City",
            object: "Object",
            area: "Area",
            status: "Status",
            summary: "Summary",
            open: "Open the lead",
        },
        Language::Ru | Language::Mixed => Labels {
            created: "🆕 Новая заявка",
            qualified: "✅ Заявка квалифицирована",
            updated: "✏️ Заявка обновлена",
            name: "Имя",
            phone: "Телефон",
            city: "Город",
            object: "Объект",
            area: "Площадь",
            status: "Статус",
            summary: "Кратко",
            open: "Открыть заявку",
        },
    }
}

/// The managers' message in the company's notification language. Values come from customers, so
/// everything is escaped.
fn render(card: &Card<'_>, link: &str, language: Language) -> String {
    let l = labels(language);
    let headline = match card.event {
        LeadEvent::Created => l.created,
        LeadEvent::Qualified => l.qualified,
        LeadEvent::Updated => l.updated,
    };
    let dash = "—";
    let city = card
        .city
        .and_then(|c| c.parse::<City>().ok())
        .and_then(|c| c.display_name(language))
        .map(str::to_owned)
        .or_else(|| card.city.map(str::to_owned));
    let object = card
        .object_type
        .and_then(|o| o.parse::<ObjectType>().ok())
        .map(|o| o.display_name(language).to_owned());
    let area = card.area_m2.map(|a| format!("{a} м²"));
    let lines = [
        format!("<b>{headline}</b> · {}", html_escape(card.company)),
        format!("{}: {}", l.name, html_escape(card.name.unwrap_or(dash))),
        // An E.164 number in the text is a phone entity in Telegram: one tap calls it (Bot API
        // links accept only http(s)/tg URLs, so a tel: link would be refused).
        format!("{}: {}", l.phone, html_escape(card.phone.unwrap_or(dash))),
        format!(
            "{}: {}",
            l.city,
            html_escape(city.as_deref().unwrap_or(dash))
        ),
        format!(
            "{}: {}",
            l.object,
            html_escape(object.as_deref().unwrap_or(dash))
        ),
        format!(
            "{}: {}",
            l.area,
            html_escape(area.as_deref().unwrap_or(dash))
        ),
        format!("{}: {}", l.status, html_escape(card.status)),
        format!(
            "{}: {}",
            l.summary,
            html_escape(card.summary.unwrap_or(dash))
        ),
        format!("<a href=\"{}\">{}</a>", html_escape(link), l.open),
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
            Language::Ru,
        );
        assert!(text.contains("квалифицирована"));
        assert!(text.contains("&lt;Құрылыс&gt;"));
        assert!(text.contains("+77012345678"));
        assert!(text.contains("Алматы"));
        assert!(text.contains("150 м²"));
        assert!(text.contains("Кратко: —"));
    }
}
