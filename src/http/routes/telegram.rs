//! `POST /telegram/{webhook_id}`: updates from a company's Telegram bot.
//!
//! The webhook id names the tenant (through the routing directory); the
//! `X-Telegram-Bot-Api-Secret-Token` header proves the call comes from Telegram (compared in constant
//! time; 401 and nothing stored otherwise). The handler only records and enqueues, so it answers in
//! milliseconds, far inside Telegram's redelivery timeout. Customer messages go through the same
//! ingest as `POST /api/chat`, deduplicated by `update_id` (their idempotency key `tg:<update_id>`);
//! updates that need only a fixed answer are recorded with their update id (an album's photos, with
//! their media group id: an album is one message).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db;
use crate::db::messages::{Body, Channel, Incoming};
use crate::domain::TenantId;
use crate::domain::language::Language;
use crate::domain::phone::Phone;
use crate::domain::telegram::{Inbound, Update};
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;

const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAck {
    pub ok: bool,
}

/// Receives an update from Telegram (called by Telegram, not by clients).
#[utoipa::path(post, path = "/telegram/{webhook_id}", tag = "telegram",
    params(
        ("webhook_id" = Uuid, Path, description = "The bot's webhook id (see GET /api/settings/telegram)"),
        ("X-Telegram-Bot-Api-Secret-Token" = String, Header, description = "The secret given to setWebhook"),
    ),
    request_body(content = Object, description = "A Telegram Update"),
    responses(
        (status = 200, description = "Recorded (or deliberately ignored)", body = WebhookAck),
        (status = 401, description = "Unknown webhook or wrong secret; nothing stored", body = ErrorBody)))]
pub async fn webhook(
    State(state): State<AppState>,
    Path(webhook_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookAck>, AppError> {
    let tenant = authenticate(&state, &webhook_id, &headers).await?;
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(err) => {
            // Refusing it would make Telegram redeliver it forever.
            tracing::warn!(tenant_id = %tenant, error = %err, "unreadable Telegram update ignored");
            return Ok(Json(WebhookAck { ok: true }));
        }
    };
    let update_id = update.update_id;
    let language = update
        .language_code()
        .and_then(|c| c.parse::<Language>().ok())
        .unwrap_or(Language::Ru);
    let message = |chat_id: i64, body: Body, shared_phone: Option<Phone>| Incoming {
        channel: Channel::Telegram,
        external_id: chat_id.to_string(),
        body,
        idempotency_key: Some(format!("tg:{update_id}")),
        shared_phone,
    };
    let once = format!("update:{update_id}");
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
            service_reply(&state, tenant, chat_id, &once, greeting(language), true).await?;
            None
        }
        Inbound::TooLarge { chat_id } => {
            service_reply(&state, tenant, chat_id, &once, too_large(language), false).await?;
            None
        }
        Inbound::Unsupported { chat_id } => {
            service_reply(&state, tenant, chat_id, &once, unsupported(language), false).await?;
            None
        }
        Inbound::Album {
            chat_id,
            group,
            caption: Some(caption),
        } => {
            // The album's other photos must not get the polite "text please" on top of the answer.
            db::telegram::mark_seen(&state.pool, tenant, &format!("album:{group}")).await?;
            Some(Incoming {
                // One message per album, whichever of its updates carries the caption.
                idempotency_key: Some(format!("tg:album:{group}")),
                ..message(chat_id, Body::Text(caption), None)
            })
        }
        Inbound::Album {
            chat_id,
            group,
            caption: None,
        } => {
            let key = format!("album:{group}");
            service_reply(&state, tenant, chat_id, &key, unsupported(language), false).await?;
            None
        }
        Inbound::Ignore => {
            tracing::debug!(tenant_id = %tenant, update_id, "Telegram update ignored");
            None
        }
    };
    if let Some(incoming) = recorded {
        let ingested = db::messages::ingest(&state.pool, tenant, incoming).await?;
        if !ingested.duplicate {
            state.waker.wake();
            state.replies.wake(ingested.bot_user_id.0);
        }
        tracing::info!(
            tenant_id = %tenant, bot_user_id = %ingested.bot_user_id,
            message_id = %ingested.message_id, update_id, duplicate = ingested.duplicate,
            "new Telegram message"
        );
    }
    Ok(Json(WebhookAck { ok: true }))
}

/// The tenant of a webhook call, or 401 (the same for an unknown id and a wrong secret).
async fn authenticate(
    state: &AppState,
    webhook_id: &str,
    headers: &HeaderMap,
) -> Result<TenantId, AppError> {
    let refused = || AppError::unauthorized("unknown webhook or wrong secret token");
    let webhook_id = Uuid::parse_str(webhook_id).map_err(|_| refused())?;
    let tenant = db::telegram::webhook_tenant(&state.pool, webhook_id)
        .await?
        .ok_or_else(refused)?;
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !db::telegram::secret_matches(&state.pool, tenant, given).await? {
        tracing::warn!(tenant_id = %tenant, "Telegram webhook call with a wrong secret refused");
        return Err(refused());
    }
    Ok(tenant)
}

async fn service_reply(
    state: &AppState,
    tenant: TenantId,
    chat_id: i64,
    key: &str,
    text: &str,
    greeting: bool,
) -> Result<(), AppError> {
    let fresh =
        db::telegram::record_service_reply(&state.pool, tenant, chat_id, key, text, greeting)
            .await?;
    if fresh {
        state.waker.wake();
    }
    tracing::info!(tenant_id = %tenant, key, duplicate = !fresh, "Telegram service reply recorded");
    Ok(())
}

fn greeting(language: Language) -> &'static str {
    match language {
        Language::Kk => {
            "Сәлеметсіз бе! Мен компанияның сату көмекшісімін. Қандай нысан салғыңыз келеді — үй, монша, гараж? Қалаңыз бен шамамен ауданын жазыңыз."
        }
        Language::En => {
            "Hello! I'm the company's sales assistant. What would you like to build — a house, a bath house, a garage? Tell me your city and the approximate area."
        }
        Language::Ru | Language::Mixed => {
            "Здравствуйте! Я помощник отдела продаж. Что вы хотите построить — дом, баню, гараж? Напишите город и примерную площадь."
        }
    }
}

fn unsupported(language: Language) -> &'static str {
    match language {
        Language::Kk => {
            "Кешіріңіз, мен мәтін мен дауыстық хабарламаларды ғана түсінемін. Сұрағыңызды жазыңыз немесе дауыспен жіберіңіз."
        }
        Language::En => {
            "Sorry, I can only read text and voice messages. Please write your question or send a voice note."
        }
        Language::Ru | Language::Mixed => {
            "Извините, я понимаю только текст и голосовые сообщения. Напишите, пожалуйста, вопрос или отправьте голосовое."
        }
    }
}

fn too_large(language: Language) -> &'static str {
    match language {
        Language::Kk => {
            "Кешіріңіз, бұл файл тым үлкен (20 МБ-тан асады). Қысқа дауыстық хабарлама жіберіңіз немесе жазыңыз."
        }
        Language::En => {
            "Sorry, this file is too large (over 20 MB). Please send a shorter voice note or write."
        }
        Language::Ru | Language::Mixed => {
            "Извините, файл слишком большой (больше 20 МБ). Отправьте, пожалуйста, голосовое покороче или напишите."
        }
    }
}
