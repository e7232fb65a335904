//! The company's follow-ups ([J], `db::follow_ups`): `GET/PUT /api/settings/follow-ups`. Anyone
//! signed in may read them; the owner changes them (they speak to customers in the company's
//! name).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::db;
use crate::db::follow_ups::FollowUpSettings;
use crate::domain::follow_up::{MAX_COUNT, MAX_DELAY_MINUTES, MIN_DELAY_MINUTES};
use crate::domain::text::FollowUpText;
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::extract::{ApiJson, BodyIntIn};

#[utoipa::path(get, path = "/api/settings/follow-ups", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = FollowUpSettings), (status = 401, body = ErrorBody)))]
pub async fn get_follow_ups(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<FollowUpSettings>, AppError> {
    Ok(Json(
        db::follow_ups::settings(&state.pool, user.tenant_id).await?,
    ))
}

/// The whole setting; texts left out, null or blank are the built-in ones. The bounds are the
/// domain's (and the database's CHECKs, migration 0030).

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    /// Follow-ups in a row to a customer who does not answer (0: none).
    #[schema(inline)]
    pub max_count: BodyIntIn<0, { MAX_COUNT }>,
    /// Minutes after the bot's last message (10 minutes to 14 days).
    #[schema(inline)]
    pub delay_minutes: BodyIntIn<{ MIN_DELAY_MINUTES }, { MAX_DELAY_MINUTES }>,
    /// The company's words in Russian.
    pub text_ru: Option<FollowUpText>,
    /// In Kazakh.
    pub text_kk: Option<FollowUpText>,
    /// In English.
    pub text_en: Option<FollowUpText>,
}

/// Sets the company's follow-ups (owners only). A follow-up already scheduled keeps its time and
/// reads the count and the words when it runs.
#[utoipa::path(put, path = "/api/settings/follow-ups", tag = "settings", security(("bearer" = [])),
    request_body = FollowUpRequest,
    responses((status = 200, body = FollowUpSettings), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_follow_ups(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<FollowUpRequest>,
) -> Result<Json<FollowUpSettings>, AppError> {
    user.require_owner("sets the follow-ups")?;
    let text = |t: Option<FollowUpText>| t.map(FollowUpText::into_string).filter(|t| !t.is_empty());
    let settings = FollowUpSettings {
        max_count: request.max_count.0 as i16,
        delay_minutes: request.delay_minutes.0 as i32,
        text_ru: text(request.text_ru),
        text_kk: text(request.text_kk),
        text_en: text(request.text_en),
    };
    db::follow_ups::set_settings(&state.pool, user.tenant_id, &settings).await?;
    tracing::info!(tenant_id = %user.tenant_id, max_count = settings.max_count,
        delay_minutes = settings.delay_minutes, "follow-ups set");
    Ok(Json(settings))
}
