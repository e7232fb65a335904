//! `GET /api/usage`: what the LLM cost the tenant; `GET/PUT /api/settings/assistant`: how the
//! assistant speaks for the company and its monthly budget.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{Datelike, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::db::tenants::{self, AssistantSettings};
use crate::db::usage::{self, UsageReport};
use crate::domain::Role;
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::json::ApiJson;

#[derive(Debug, Deserialize, IntoParams)]
pub struct UsageQuery {
    /// First day (YYYY-MM-DD, UTC); default: the first day of this month.
    pub from: Option<NaiveDate>,
    /// Last day, inclusive; default: today.
    pub to: Option<NaiveDate>,
}

/// LLM usage and cost per day and model, with the monthly budget and billing state.
#[utoipa::path(get, path = "/api/usage", tag = "usage", security(("bearer" = [])),
    params(UsageQuery),
    responses((status = 200, body = UsageReport), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn usage_report(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<UsageQuery>,
) -> Result<Json<UsageReport>, AppError> {
    let today = Utc::now().date_naive();
    let to = query.to.unwrap_or(today);
    let from = query
        .from
        .unwrap_or_else(|| today.with_day(1).unwrap_or(today));
    if from > to {
        return Err(AppError::Validation("`from` is after `to`".into()));
    }
    if (to - from).num_days() > 366 {
        return Err(AppError::Validation(
            "ask for at most a year at a time".into(),
        ));
    }
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

/// Replaces the assistant settings (owners only: the budget is a spending decision).
#[utoipa::path(put, path = "/api/settings/assistant", tag = "settings", security(("bearer" = [])),
    request_body = AssistantSettings,
    responses((status = 200, body = AssistantSettings), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_assistant_settings(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(settings): ApiJson<AssistantSettings>,
) -> Result<Json<AssistantSettings>, AppError> {
    if user.role != Role::Owner {
        return Err(AppError::Forbidden(
            "only the company's owner changes these settings".into(),
        ));
    }
    let settings = normalize(settings)?;
    tenants::set_assistant_settings(&state.pool, user.tenant_id, &settings).await?;
    Ok(Json(settings))
}

fn normalize(s: AssistantSettings) -> Result<AssistantSettings, AppError> {
    let text = |v: Option<String>, max: usize, field: &str| -> Result<Option<String>, AppError> {
        let v = v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        match v {
            Some(v) if v.chars().count() > max => Err(AppError::Validation(format!(
                "`{field}` is longer than {max} characters"
            ))),
            v => Ok(v),
        }
    };
    if !(0..=60_000).contains(&s.coalesce_ms) {
        return Err(AppError::Validation(
            "`coalesce_ms` must be between 0 and 60000".into(),
        ));
    }
    if let Some(b) = s.monthly_budget_usd
        && !(b.is_finite() && (0.0..1e9).contains(&b))
    {
        return Err(AppError::Validation(
            "`monthly_budget_usd` must be a non-negative amount".into(),
        ));
    }
    Ok(AssistantSettings {
        about: text(s.about, 2000, "about")?,
        greeting: text(s.greeting, 1000, "greeting")?,
        company_phone: text(s.company_phone, 40, "company_phone")?,
        coalesce_ms: s.coalesce_ms,
        monthly_budget_usd: s.monthly_budget_usd.map(|b| (b * 100.0).round() / 100.0),
    })
}
