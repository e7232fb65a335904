//! `GET /api/usage`: what the LLM cost the tenant; `GET/PUT /api/settings/assistant`: how the
//! assistant speaks for the company and its monthly budget.

use axum::Json;
use axum::extract::State;
use chrono::{Datelike, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::db::tenants::{self, AssistantSettings};
use crate::db::usage::{self, UsageReport};
use crate::domain::dates::Day;
use crate::domain::text::{AboutText, CompanyPhoneText, GreetingText};
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::extract::{ApiJson, ApiQuery, BodyIntIn};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// First day (UTC); default: the first day of this month.
    #[param(inline)]
    pub from: Option<Day>,
    /// Last day, inclusive; default: today.
    #[param(inline)]
    pub to: Option<Day>,
}

/// LLM usage and cost per day and model, with the monthly budget and billing state. The rows are
/// the days that had usage, so any range is cheap; `from` after `to` is an empty range.
#[utoipa::path(get, path = "/api/usage", tag = "usage", security(("bearer" = [])),
    params(UsageQuery),
    responses((status = 200, body = UsageReport), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn usage_report(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<Json<UsageReport>, AppError> {
    let today = Utc::now().date_naive();
    let to = query.to.map_or(today, Day::date);
    let from = query
        .from
        .map_or_else(|| today.with_day(1).unwrap_or(today), Day::date);
    Ok(Json(
        usage::report(&state.pool, user.tenant_id, from, to).await?,
    ))
}

#[utoipa::path(get, path = "/api/settings/assistant", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = AssistantSettings), (status = 401, body = ErrorBody)))]
pub async fn get_assistant_settings(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<AssistantSettings>, AppError> {
    Ok(Json(
        tenants::assistant_settings(&state.pool, user.tenant_id).await?,
    ))
}

/// How the assistant should speak for the company. Blank texts are the same as null.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssistantSettingsRequest {
    /// What the company builds and offers, for the LLM's system prompt.
    pub about: Option<AboutText>,
    /// A custom first greeting.
    pub greeting: Option<GreetingText>,
    /// The company's phone, offered to customers who prefer to call.
    pub company_phone: Option<CompanyPhoneText>,
    /// Burst coalescing: a turn waits this long (milliseconds) after the customer's last message.
    #[schema(inline)]
    pub coalesce_ms: BodyIntIn<0, 60_000>,
    /// Monthly LLM budget in USD; when spent, the offline engine answers until the month ends.
    #[schema(minimum = 0, maximum = 1000000000)]
    pub monthly_budget_usd: Option<f64>,
}

/// Replaces the assistant settings (owners only: the budget is a spending decision).
#[utoipa::path(put, path = "/api/settings/assistant", tag = "settings", security(("bearer" = [])),
    request_body = AssistantSettingsRequest,
    responses((status = 200, body = AssistantSettings), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_assistant_settings(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(settings): ApiJson<AssistantSettingsRequest>,
) -> Result<Json<AssistantSettings>, AppError> {
    user.require_owner("changes these settings")?;
    let settings = normalize(settings)?;
    tenants::set_assistant_settings(&state.pool, user.tenant_id, &settings).await?;
    Ok(Json(settings))
}

fn normalize(s: AssistantSettingsRequest) -> Result<AssistantSettings, AppError> {
    let text = |v: Option<String>| v.filter(|v| !v.is_empty());
    if let Some(b) = s.monthly_budget_usd
        && !(b.is_finite() && (0.0..=1e9).contains(&b))
    {
        return Err(AppError::Validation(
            "field `monthly_budget_usd` must be from 0 to 1000000000".into(),
        ));
    }
    Ok(AssistantSettings {
        about: text(s.about.map(AboutText::into_string)),
        greeting: text(s.greeting.map(GreetingText::into_string)),
        company_phone: text(s.company_phone.map(CompanyPhoneText::into_string)),
        coalesce_ms: s.coalesce_ms.0 as i32,
        monthly_budget_usd: s.monthly_budget_usd.map(|b| (b * 100.0).round() / 100.0),
    })
}
