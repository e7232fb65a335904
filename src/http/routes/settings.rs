//! `GET/PUT /api/settings/telegram`: the company's own Telegram bot (the customer channel) and where
//! its managers get lead notifications. The token is stored encrypted and only ever shown as a hint.
//! `GET/PUT/DELETE /api/settings/amocrm`: the company's amoCRM, which its leads are mirrored into;
//! the token is stored encrypted and never shown.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::db;
use crate::db::amocrm::AmoSettings;
use crate::db::telegram::bots::{SaveError, SettingsUpdate, TelegramSettings};
use crate::domain::amocrm::{AmoDomain, AmoToken};
use crate::domain::language::Language;
use crate::domain::telegram::{BotToken, ChatId};
use crate::domain::working_hours::WorkingHours;
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::extract::ApiJson;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TelegramSettingsRequest {
    /// Required the first time (409 `bot_token_required` otherwise); omit it to keep the stored one.
    pub bot_token: Option<BotToken>,
    /// The managers' chat for lead notifications; null: the platform chat.
    pub managers_chat_id: Option<ChatId>,
    /// Language of the notifications (default `ru`).
    pub language: Option<NotificationLanguage>,
    /// The managers' working hours; null: always. Outside them a customer handed to a manager is
    /// told at once when the managers will answer.
    pub working_hours: Option<WorkingHours>,
}

/// The languages managers' notifications are written in.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotificationLanguage {
    Ru,
    Kk,
    En,
}

impl From<NotificationLanguage> for Language {
    fn from(language: NotificationLanguage) -> Self {
        match language {
            NotificationLanguage::Ru => Language::Ru,
            NotificationLanguage::Kk => Language::Kk,
            NotificationLanguage::En => Language::En,
        }
    }
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
    db::telegram::bots::settings(&state.pool, &state.public_url, user.tenant_id)
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
        (status = 409, description = "No bot yet: the first save needs `bot_token`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn put_telegram(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<TelegramSettingsRequest>,
) -> Result<Json<TelegramSettings>, AppError> {
    user.require_owner("can change its Telegram bot")?;
    let TelegramSettingsRequest {
        bot_token,
        managers_chat_id,
        language,
        working_hours,
    } = request;
    let language = language.map_or(Language::Ru, Language::from);
    let token_changed = bot_token.is_some();
    let saved = db::telegram::bots::save_settings(
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
        SaveError::TokenRequired => AppError::Conflict {
            code: "bot_token_required",
            message: err.to_string(),
        },
        SaveError::Db(err) => AppError::from(err),
    })?;
    if token_changed {
        state.waker.wake();
    }
    tracing::info!(tenant_id = %user.tenant_id, token_changed, "telegram settings saved");
    Ok(Json(saved))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmoSettingsRequest {
    /// The account's domain, as amoCRM shows it (`stroy.amocrm.ru`).
    pub base_domain: AmoDomain,
    /// A long-lived token of the account's private integration.
    pub access_token: AmoToken,
}

/// The company's amoCRM connection (404 until it is saved).
#[utoipa::path(get, path = "/api/settings/amocrm", tag = "settings", security(("bearer" = [])),
    responses(
        (status = 200, body = AmoSettings),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_amocrm(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<AmoSettings>, AppError> {
    db::amocrm::settings(&state.pool, user.tenant_id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("amoCRM settings"))
}

/// Connects amoCRM (or replaces the token, clearing a refusal): every lead not yet there is
/// queued for sync, and every later change of a lead is mirrored.
#[utoipa::path(put, path = "/api/settings/amocrm", tag = "settings", security(("bearer" = [])),
    request_body = AmoSettingsRequest,
    responses(
        (status = 200, body = AmoSettings),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn put_amocrm(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<AmoSettingsRequest>,
) -> Result<Json<AmoSettings>, AppError> {
    user.require_owner("can connect amoCRM")?;
    let (saved, queued) = db::amocrm::save(
        &state.pool,
        &state.secrets,
        user.tenant_id,
        &request.base_domain,
        request.access_token.expose(),
    )
    .await?;
    if queued > 0 {
        state.waker.wake();
    }
    tracing::info!(tenant_id = %user.tenant_id, domain = %request.base_domain, queued,
        "amoCRM connected");
    Ok(Json(saved))
}

/// Disconnects amoCRM: nothing more is synced (the leads' ids there are kept).
#[utoipa::path(delete, path = "/api/settings/amocrm", tag = "settings", security(("bearer" = [])),
    responses(
        (status = 204, description = "Disconnected"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete_amocrm(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<axum::http::StatusCode, AppError> {
    user.require_owner("can disconnect amoCRM")?;
    if !db::amocrm::delete(&state.pool, user.tenant_id).await? {
        return Err(AppError::NotFound("amoCRM settings"));
    }
    tracing::info!(tenant_id = %user.tenant_id, "amoCRM disconnected");
    Ok(axum::http::StatusCode::NO_CONTENT)
}
