//! The customer's data lifecycle ([J], `db::lifecycle`): erasing one customer
//! (`DELETE /api/conversations/{user_id}`), exporting one customer's data
//! (`GET /api/conversations/{user_id}/export`), and the company's retention period
//! (`GET/PUT /api/settings/retention`).
//!
//! Who may: erasure is irreversible, so it takes the owner's own sign-in — no API key, whatever
//! its scopes (`leads:write` edits leads; it does not destroy them). Export hands out everything
//! about a customer, so it takes the owner's sign-in or an API key with `leads:read` (which
//! already reads leads and conversations: an integration answering a customer's access request);
//! a manager's sign-in is refused. The retention period is the owner's to change, anyone signed
//! in may read it.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::db;
use crate::db::lifecycle::{CustomerExport, Erasure, MAX_RETENTION_DAYS, RetentionSettings};
use crate::domain::text::ExternalUserId;
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::{Actor, AuthUser, Authorized, LeadsRead};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, BodyIntIn};
use crate::http::routes::handoff::{ChannelParam, map};

/// Erases the customer and everything linked to them: the conversation, its messages and voice
/// notes, the lead, the managers' notifications and forwards, the webhook events about them with
/// their deliveries and attempts, the amoCRM link, and their queued jobs. Recorded in the audit
/// log (with counts, no personal data). Copies outside salesbot (amoCRM, webhook receivers, the
/// managers' Telegram chat) are not reached. The company's owner only, signed in: API keys are
/// refused.
#[utoipa::path(delete, path = "/api/conversations/{user_id}", tag = "conversations",
    security(("bearer" = [])),
    params(("user_id" = ExternalUserId, Path, description = "The customer's id in its channel"), ChannelParam),
    responses((status = 200, body = Erasure), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn erase(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(user_id): ApiPath<ExternalUserId>,
    ApiQuery(ChannelParam { channel }): ApiQuery<ChannelParam>,
) -> Result<Json<Erasure>, AppError> {
    erase_customer(&state, &user, user_id.as_str(), channel)
        .await
        .map(Json)
}

/// The erasure as the API and the dashboard's form run it: owner check, erase, count, log.
pub(crate) async fn erase_customer(
    state: &AppState,
    user: &AuthUser,
    user_id: &str,
    channel: Option<db::messages::Channel>,
) -> Result<Erasure, AppError> {
    user.require_owner("can erase a customer's data")?;
    let erased = db::lifecycle::erase(&state.pool, user.tenant_id, user.user_id, user_id, channel)
        .await
        .map_err(map)?;
    crate::metrics::conversation_erased();
    tracing::info!(tenant_id = %user.tenant_id, bot_user_id = %erased.bot_user_id,
        audit_id = %erased.audit_id, actor = %user.user_id,
        jobs_cancelled = erased.jobs_cancelled, jobs_revoked = erased.jobs_revoked,
        "customer erased");
    Ok(erased)
}

/// Everything salesbot holds about one customer, as JSON: who they are in their channel, the
/// handoff state, the lead with all its fields, and every message kept. The company's owner
/// (signed in), or an API key with `leads:read`.
#[utoipa::path(get, path = "/api/conversations/{user_id}/export", tag = "conversations",
    security(("bearer" = []), ("api_key" = ["leads:read"])),
    params(("user_id" = ExternalUserId, Path, description = "The customer's id in its channel"), ChannelParam),
    responses((status = 200, body = CustomerExport), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    auth: Authorized<LeadsRead>,
    ApiPath(user_id): ApiPath<ExternalUserId>,
    ApiQuery(ChannelParam { channel }): ApiQuery<ChannelParam>,
) -> Result<Json<CustomerExport>, AppError> {
    if let Actor::User(user) = &auth.actor {
        user.require_owner("can export a customer's data")?;
    }
    let export = db::lifecycle::export(&state.pool, auth.tenant_id, user_id.as_str(), channel)
        .await
        .map_err(map)?;
    tracing::info!(tenant_id = %auth.tenant_id, bot_user_id = %export.customer.id,
        actor = %auth.actor_id(), "customer data exported");
    Ok(Json(export))
}

#[utoipa::path(get, path = "/api/settings/retention", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = RetentionSettings), (status = 401, body = ErrorBody)))]
pub async fn get_retention(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<RetentionSettings>, AppError> {
    Ok(Json(
        db::lifecycle::retention(&state.pool, user.tenant_id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRequest {
    /// Days to keep messages, transcripts and webhook delivery logs (1–3650); null or absent
    /// keeps them forever.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650)]
    pub retention_days: Option<BodyIntIn<1, { MAX_RETENTION_DAYS }>>,
}

/// Sets how long the company keeps its customers' messages (owners only). Leads are kept.
#[utoipa::path(put, path = "/api/settings/retention", tag = "settings", security(("bearer" = [])),
    request_body = RetentionRequest,
    responses((status = 200, body = RetentionSettings), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_retention(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<RetentionRequest>,
) -> Result<Json<RetentionSettings>, AppError> {
    user.require_owner("changes the retention period")?;
    let settings = RetentionSettings {
        retention_days: request.retention_days.map(|d| d.0 as i32),
    };
    db::lifecycle::set_retention(&state.pool, user.tenant_id, settings).await?;
    tracing::info!(tenant_id = %user.tenant_id, retention_days = ?settings.retention_days,
        "retention period set");
    Ok(Json(settings))
}
