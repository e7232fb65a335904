//! `GET/PUT /api/settings/telegram`: the company's own Telegram bot (the customer channel) and where
//! its managers get lead notifications. The token is stored encrypted and only ever shown as a hint.
//! `GET/PUT/DELETE /api/settings/amocrm`: the company's amoCRM, which its leads are mirrored into;
//! the token is stored encrypted and never shown.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::db::amocrm::AmoSettings;
use crate::db::telegram::bots::{SaveError, SettingsUpdate, TelegramSettings};
use crate::domain::amocrm::{AmoDomain, AmoToken};
use crate::domain::language::Language;
use crate::domain::object_type::ObjectType;
use crate::domain::price::{MAX_PER_M2, PriceItem, PriceList};
use crate::domain::telegram::{BotToken, ChatId};
use crate::domain::text::PriceConditions;
use crate::domain::working_hours::WorkingHours;
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::extract::{ApiJson, BodyIntIn};

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

/// A line of the price list: tenge per m² (two bounds, in either order) and its conditions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceRange {
    #[schema(inline)]
    pub min_per_m2: BodyIntIn<1, { MAX_PER_M2 as i64 }>,
    #[schema(inline)]
    pub max_per_m2: BodyIntIn<1, { MAX_PER_M2 as i64 }>,
    /// What the price assumes or includes — materials, finish, and any discount or deadline the
    /// company promises: the only terms the bot may state.
    pub conditions: Option<PriceConditions>,
}

/// The company's price list, one optional line per object type: the only prices, discounts and
/// deadlines the bot may state. A missing or null line is not on the list.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceListBody {
    #[serde(default)]
    pub house: Option<PriceRange>,
    #[serde(default)]
    pub cottage: Option<PriceRange>,
    #[serde(default)]
    pub apartment_renovation: Option<PriceRange>,
    #[serde(default)]
    pub bathhouse: Option<PriceRange>,
    #[serde(default)]
    pub garage: Option<PriceRange>,
    #[serde(default)]
    pub commercial: Option<PriceRange>,
    #[serde(default)]
    pub other: Option<PriceRange>,
}

impl PriceListBody {
    /// The line of `object` (a match, so a new object type cannot be forgotten here).
    fn line(&mut self, object: ObjectType) -> &mut Option<PriceRange> {
        match object {
            ObjectType::House => &mut self.house,
            ObjectType::Cottage => &mut self.cottage,
            ObjectType::ApartmentRenovation => &mut self.apartment_renovation,
            ObjectType::Bathhouse => &mut self.bathhouse,
            ObjectType::Garage => &mut self.garage,
            ObjectType::Commercial => &mut self.commercial,
            ObjectType::Other => &mut self.other,
        }
    }

    fn into_items(mut self) -> Vec<PriceItem> {
        ObjectType::ALL
            .into_iter()
            .filter_map(|object| {
                // BodyIntIn's bounds fit a u32.
                self.line(object).take().map(|r| PriceItem {
                    object_type: object,
                    min_per_m2: r.min_per_m2.0 as u32,
                    max_per_m2: r.max_per_m2.0 as u32,
                    conditions: r.conditions.map(PriceConditions::into_string),
                })
            })
            .collect()
    }

    fn from_list(list: &PriceList) -> Self {
        let mut body = Self::default();
        for item in list.items() {
            *body.line(item.object_type) = Some(PriceRange {
                min_per_m2: BodyIntIn(i64::from(item.min_per_m2)),
                max_per_m2: BodyIntIn(i64::from(item.max_per_m2)),
                // Stored conditions passed the same policy when they were saved.
                conditions: item
                    .conditions
                    .as_deref()
                    .and_then(|c| PriceConditions::parse(c).ok()),
            });
        }
        body
    }
}

#[utoipa::path(get, path = "/api/settings/prices", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = PriceListBody), (status = 401, body = ErrorBody)))]
pub async fn get_prices(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<PriceListBody>, AppError> {
    let list = db::prices::list(&state.pool, user.tenant_id).await?;
    Ok(Json(PriceListBody::from_list(&list)))
}

/// Replaces the price list (the bot quotes from it from the next turn on).
#[utoipa::path(put, path = "/api/settings/prices", tag = "settings", security(("bearer" = [])),
    request_body = PriceListBody,
    responses(
        (status = 200, body = PriceListBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn put_prices(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<PriceListBody>,
) -> Result<Json<PriceListBody>, AppError> {
    user.require_owner("sets the price list")?;
    let list =
        PriceList::parse(request.into_items()).map_err(|e| AppError::Validation(e.to_string()))?;
    db::prices::replace(&state.pool, user.tenant_id, &list).await?;
    tracing::info!(tenant_id = %user.tenant_id, lines = list.items().len(), "price list saved");
    Ok(Json(PriceListBody::from_list(&list)))
}
