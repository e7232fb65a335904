//! `POST /telegram/{webhook_id}`: updates from a company's Telegram bot.
//!
//! The webhook id names the tenant (through the routing directory); the
//! `X-Telegram-Bot-Api-Secret-Token` header proves the call comes from Telegram (compared in constant
//! time; 401 and nothing stored otherwise). The handler only records and enqueues, so it answers in
//! milliseconds, far inside Telegram's redelivery timeout. Customer messages go through the same
//! ingest as `POST /api/chat`, deduplicated by `update_id` (their idempotency key `tg:<bot id>:<update_id>`);
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
use crate::domain::TenantId;
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::telegram_api::Update;

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
    let (tenant, bot_id) = authenticate(&state, &webhook_id, &headers).await?;
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(err) => {
            // Refusing it would make Telegram redeliver it forever.
            tracing::warn!(tenant_id = %tenant, error = %err, "unreadable Telegram update ignored");
            return Ok(Json(WebhookAck { ok: true }));
        }
    };
    let recorded =
        db::telegram::updates::record_update(&state.pool, tenant, &bot_id, &update).await?;
    if recorded.fresh {
        state.waker.wake();
    }
    if let Some(bot_user) = recorded.bot_user {
        // Long-polls of this conversation in this process see the customer's message at once.
        state.replies.wake(bot_user.0);
    }
    Ok(Json(WebhookAck { ok: true }))
}

/// The tenant and bot of a webhook call, or 401 (the same for an unknown id and a wrong secret).
async fn authenticate(
    state: &AppState,
    webhook_id: &str,
    headers: &HeaderMap,
) -> Result<(TenantId, String), AppError> {
    let refused = || AppError::unauthorized("unknown webhook or wrong secret token");
    let webhook_id = Uuid::parse_str(webhook_id).map_err(|_| refused())?;
    let tenant = db::telegram::bots::webhook_tenant(&state.pool, webhook_id)
        .await?
        .ok_or_else(refused)?;
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let Some(bot_id) = db::telegram::bots::webhook_bot(&state.pool, tenant, given).await? else {
        tracing::warn!(tenant_id = %tenant, "Telegram webhook call with a wrong secret refused");
        return Err(refused());
    };
    Ok((tenant, bot_id))
}
