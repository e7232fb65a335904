//! `GET/PUT /api/settings/telegram`: the company's own Telegram bot (the customer channel) and where
//! its managers get lead notifications. The token is stored encrypted and only ever shown as a hint.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::db;
use crate::db::telegram::{SaveError, SettingsUpdate, TelegramSettings};
use crate::domain::Role;
use crate::domain::language::Language;
use crate::domain::telegram::{BotToken, ChatId};
use crate::domain::working_hours::WorkingHours;
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::json::ApiJson;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TelegramSettingsRequest {
    /// The bot's token from @BotFather. Required the first time; omit it to keep the stored one.
    pub bot_token: Option<String>,
    /// The managers' chat for lead notifications (e.g. `-1001234567890`); null: the platform chat.
    pub managers_chat_id: Option<String>,
    /// Language of the notifications: `ru` (default), `kk` or `en`.
    pub language: Option<String>,
    /// The managers' working hours in Kazakhstan time, e.g. `09:00-18:00`; null: always. Outside
    /// them a customer handed to a manager is told at once when the managers will answer.
    pub working_hours: Option<String>,
}

/// The company's Telegram settings (404 until they are saved).
#[utoipa::path(get, path = "/api/settings/telegram", tag = "settings", security(("bearer" = [])),
    responses(
        (status = 200, body = TelegramSettings),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_telegram(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<TelegramSettings>, AppError> {
    db::telegram::settings(&state.pool, &state.public_url, user.tenant_id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("telegram settings"))
}

/// Saves the company's bot; a new token registers the webhook with Telegram (a background job).
#[utoipa::path(put, path = "/api/settings/telegram", tag = "settings", security(("bearer" = [])),
    request_body = TelegramSettingsRequest,
    responses(
        (status = 200, body = TelegramSettings),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn put_telegram(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<TelegramSettingsRequest>,
) -> Result<Json<TelegramSettings>, AppError> {
    if user.role != Role::Owner {
        return Err(AppError::Forbidden(
            "only the company's owner can change its Telegram bot".into(),
        ));
    }
    let bot_token = request
        .bot_token
        .as_deref()
        .map(BotToken::parse)
        .transpose()
        .map_err(|e| AppError::Validation(format!("bot_token: {e}")))?;
    let managers_chat_id = request
        .managers_chat_id
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(ChatId::parse)
        .transpose()
        .map_err(|e| AppError::Validation(format!("managers_chat_id: {e}")))?;
    let language = match request.language.as_deref() {
        None => Language::Ru,
        Some(code) => match code.parse::<Language>() {
            Ok(l @ (Language::Ru | Language::Kk | Language::En)) => l,
            _ => {
                return Err(AppError::Validation(
                    "language: expected ru, kk or en".into(),
                ));
            }
        },
    };
    let working_hours = request
        .working_hours
        .as_deref()
        .filter(|h| !h.trim().is_empty())
        .map(WorkingHours::parse)
        .transpose()
        .map_err(|e| AppError::Validation(format!("working_hours: {e}")))?;
    let token_changed = bot_token.is_some();
    let saved = db::telegram::save_settings(
        &state.pool,
        &state.secrets,
        &state.public_url,
        user.tenant_id,
        SettingsUpdate {
            bot_token,
            managers_chat_id,
            language,
            working_hours,
        },
    )
    .await
    .map_err(|err| match err {
        SaveError::TokenRequired => AppError::Validation(err.to_string()),
        SaveError::Db(err) => AppError::from(err),
    })?;
    if token_changed {
        state.waker.wake();
    }
    tracing::info!(tenant_id = %user.tenant_id, token_changed, "telegram settings saved");
    Ok(Json(saved))
}
