//! `GET /api/leads` (the prototype's array of the company's leads) and `GET /api/conversations`.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::db;
use crate::db::leads::{Conversation, Lead};
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::AuthUser;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListParams {
    /// At most this many rows (1–500, default 100).
    pub limit: Option<i64>,
}

impl ListParams {
    fn limit(&self) -> i64 {
        self.limit.unwrap_or(100).clamp(1, 500)
    }
}

/// The company's leads, newest first. The body is a JSON array, as the prototype returned.
#[utoipa::path(get, path = "/api/leads", tag = "leads", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, body = [Lead]), (status = 401, body = ErrorBody)))]
pub async fn list_leads(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Lead>>, AppError> {
    Ok(Json(
        db::leads::list(&state.pool, user.tenant_id, params.limit()).await?,
    ))
}

/// The company's conversations (one per customer and channel), most recently active first.
#[utoipa::path(get, path = "/api/conversations", tag = "conversations", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, body = [Conversation]), (status = 401, body = ErrorBody)))]
pub async fn list_conversations(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Conversation>>, AppError> {
    Ok(Json(
        db::leads::conversations(&state.pool, user.tenant_id, params.limit()).await?,
    ))
}
