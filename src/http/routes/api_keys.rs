//! `/api/keys`: the company's API keys, for integrations. Only the owner manages them, signed in
//! (a key cannot make keys); the key itself is shown once, in the answer that creates it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db;
use crate::db::api_keys::ApiKey;
use crate::domain::api_key::Scope;
use crate::domain::text::KeyName;
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::extract::{ApiJson, ApiPath, distinct_non_empty};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: KeyName,
    /// At least one.
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
}

/// A new key: `key` is shown here only.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// `sk_…`: send it as `Authorization: Bearer sk_…` or `X-API-Key: sk_…`.
    pub key: String,
    #[serde(flatten)]
    pub api_key: ApiKey,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeys {
    pub keys: Vec<ApiKey>,
}

const OWNER_ONLY: &str = "manages API keys";

/// Creates a key with the given scopes.
#[utoipa::path(post, path = "/api/keys", tag = "settings", security(("bearer" = [])),
    request_body = NewApiKey,
    responses(
        (status = 201, body = CreatedApiKey),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_key(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(request): ApiJson<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), AppError> {
    user.require_owner(OWNER_ONLY)?;
    let scopes = distinct_non_empty(request.scopes, "scopes")?;
    let (api_key, secret) = db::api_keys::create(
        &state.pool,
        user.tenant_id,
        user.user_id,
        request.name.as_str(),
        &scopes,
    )
    .await?;
    tracing::info!(tenant_id = %user.tenant_id, user_id = %user.user_id, key_id = %api_key.id,
        scopes = ?scopes, "API key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: secret.expose().to_owned(),
            api_key,
        }),
    ))
}

/// The company's keys, newest first (revoked ones too); never the keys themselves.
#[utoipa::path(get, path = "/api/keys", tag = "settings", security(("bearer" = [])),
    responses(
        (status = 200, body = ApiKeys),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_keys(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<ApiKeys>, AppError> {
    user.require_owner(OWNER_ONLY)?;
    let keys = db::api_keys::list(&state.pool, user.tenant_id).await?;
    Ok(Json(ApiKeys { keys }))
}

/// Revokes a key: refused from the next request on.
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "settings", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The key, revoked", body = ApiKey),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ApiKey>, AppError> {
    user.require_owner(OWNER_ONLY)?;
    let key = db::api_keys::revoke(&state.pool, user.tenant_id, id)
        .await?
        .ok_or(AppError::NotFound("API key"))?;
    tracing::info!(tenant_id = %user.tenant_id, user_id = %user.user_id, key_id = %id,
        "API key revoked");
    Ok(Json(key))
}
