//! `/api/webhooks`: the company's webhook endpoints ([E2]). The owner, signed in, or an API key with
//! `webhooks:manage` (which only the owner can make) manages them: an endpoint sends the company's
//! conversations and leads out of salesbot, so a manager's sign-in may not add one. A URL must resolve to public addresses only (unless
//! WEBHOOK_ALLOW_PRIVATE); the signing secret is shown when the endpoint is created and when it is
//! rotated, never again.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db;
use crate::db::webhooks::{DeliveryState, DeliveryView, Endpoint, EndpointEdit, RedeliverError};
use crate::domain::dates::Instant;
use crate::domain::text::EndpointDescription;
use crate::domain::webhook::{EndpointUrl, EventType};
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::{Actor, Authorized, WebhooksManage};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, BodyIntIn, IntIn, distinct_non_empty};
use crate::reachable;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    pub url: EndpointUrl,
    /// At least one.
    #[schema(min_items = 1)]
    pub events: Vec<EventType>,
    pub description: Option<EndpointDescription>,
}

/// A new endpoint: `secret` (`whsec_…`) is shown here only.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpoint {
    pub secret: String,
    #[serde(flatten)]
    pub endpoint: Endpoint,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Endpoints {
    pub endpoints: Vec<Endpoint>,
}

/// Absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    pub url: Option<EndpointUrl>,
    #[schema(min_items = 1)]
    pub events: Option<Vec<EventType>>,
    pub description: Option<EndpointDescription>,
    /// Enabling an endpoint salesbot disabled for failing clears its failure state.
    pub enabled: Option<bool>,
    /// At most this many deliveries per second; 0 removes the limit.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000)]
    pub rate_limit_per_second: Option<BodyIntIn<0, 1000>>,
}

/// The new secret; the previous one keeps signing beside it until `previous_secret_expires_at`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    pub secret: String,
    #[serde(flatten)]
    pub endpoint: Endpoint,
}

/// A sign-in must be the owner's; a key has already shown its scope.
fn owner_or_key(auth: &Authorized<WebhooksManage>) -> Result<(), AppError> {
    match &auth.actor {
        Actor::User(user) => user.require_owner("manages webhook endpoints"),
        Actor::ApiKey(_) => Ok(()),
    }
}

async fn check_reachable(state: &AppState, url: &EndpointUrl) -> Result<(), AppError> {
    reachable::resolve(url, state.webhook_allow_private)
        .await
        .map(|_| ())
        .map_err(|e| AppError::Validation(format!("field `url`: {e}")))
}

/// Creates an endpoint.
#[utoipa::path(post, path = "/api/webhooks", tag = "webhooks",
    security(("bearer" = []), ("api_key" = ["webhooks:manage"])),
    request_body = NewEndpoint,
    responses(
        (status = 201, body = CreatedEndpoint),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "Invalid fields, or a URL that does not resolve to public addresses", body = ErrorBody)))]
pub async fn create_endpoint(
    State(state): State<AppState>,
    auth: Authorized<WebhooksManage>,
    ApiJson(request): ApiJson<NewEndpoint>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), AppError> {
    owner_or_key(&auth)?;
    let events = distinct_non_empty(request.events, "events")?;
    check_reachable(&state, &request.url).await?;
    let (endpoint, secret) = db::webhooks::create(
        &state.pool,
        &state.secrets,
        auth.tenant_id,
        &request.url,
        &events,
        request
            .description
            .as_ref()
            .map(EndpointDescription::as_str),
    )
    .await?;
    tracing::info!(tenant_id = %auth.tenant_id, actor = %auth.actor_id(), endpoint_id = %endpoint.id,
        "webhook endpoint created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint {
            secret: secret.expose(),
            endpoint,
        }),
    ))
}

/// The company's endpoints, oldest first.
#[utoipa::path(get, path = "/api/webhooks", tag = "webhooks",
    security(("bearer" = []), ("api_key" = ["webhooks:manage"])),
    responses(
        (status = 200, body = Endpoints),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_endpoints(
    State(state): State<AppState>,
    auth: Authorized<WebhooksManage>,
) -> Result<Json<Endpoints>, AppError> {
    owner_or_key(&auth)?;
    let endpoints = db::webhooks::list(&state.pool, auth.tenant_id).await?;
    Ok(Json(Endpoints { endpoints }))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/webhooks/{id}", tag = "webhooks",
    security(("bearer" = []), ("api_key" = ["webhooks:manage"])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Endpoint),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_endpoint(
    State(state): State<AppState>,
    auth: Authorized<WebhooksManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Endpoint>, AppError> {
    owner_or_key(&auth)?;
    db::webhooks::get(&state.pool, auth.tenant_id, id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("webhook endpoint"))
}

/// Changes an endpoint's URL, events, description, or turns it off and on.
#[utoipa::path(patch, path = "/api/webhooks/{id}", tag = "webhooks",
    security(("bearer" = []), ("api_key" = ["webhooks:manage"])),
    params(("id" = Uuid, Path)), request_body = EndpointPatch,
    responses(
        (status = 200, body = Endpoint),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch_endpoint(
    State(state): State<AppState>,
    auth: Authorized<WebhooksManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(patch): ApiJson<EndpointPatch>,
) -> Result<Json<Endpoint>, AppError> {
    owner_or_key(&auth)?;
    let events = patch
        .events
        .map(|e| distinct_non_empty(e, "events"))
        .transpose()?;
    if let Some(url) = &patch.url {
        check_reachable(&state, url).await?;
    }
    let edit = EndpointEdit {
        url: patch.url.as_ref(),
        events: events.as_deref(),
        description: patch.description.as_ref().map(EndpointDescription::as_str),
        enabled: patch.enabled,
        rate_limit_per_second: patch
            .rate_limit_per_second
            .map(|r| (r.0 > 0).then_some(r.0 as i32)),
    };
    let endpoint = db::webhooks::edit(&state.pool, auth.tenant_id, id, &edit)
        .await?
        .ok_or(AppError::NotFound("webhook endpoint"))?;
    tracing::info!(tenant_id = %auth.tenant_id, actor = %auth.actor_id(), endpoint_id = %id,
        "webhook endpoint changed");
    Ok(Json(endpoint))
}

/// Removes an endpoint.
#[utoipa::path(delete, path = "/api/webhooks/{id}", tag = "webhooks",
    security(("bearer" = []), ("api_key" = ["webhooks:manage"])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    auth: Authorized<WebhooksManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, AppError> {
    owner_or_key(&auth)?;
    if !db::webhooks::delete(&state.pool, auth.tenant_id, id).await? {
        return Err(AppError::NotFound("webhook endpoint"));
    }
    tracing::info!(tenant_id = %auth.tenant_id, actor = %auth.actor_id(), endpoint_id = %id,
        "webhook endpoint removed");
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret; the previous one stays valid for 24 hours (both signatures are sent).
#[utoipa::path(post, path = "/api/webhooks/{id}/rotate-secret", tag = "webhooks",
    security(("bearer" = []), ("api_key" = ["webhooks:manage"])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = RotatedSecret),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: Authorized<WebhooksManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<RotatedSecret>, AppError> {
    owner_or_key(&auth)?;
    let (endpoint, secret) =
        db::webhooks::rotate_secret(&state.pool, &state.secrets, auth.tenant_id, id)
            .await?
            .ok_or(AppError::NotFound("webhook endpoint"))?;
    tracing::info!(tenant_id = %auth.tenant_id, actor = %auth.actor_id(), endpoint_id = %id,
        "webhook secret rotated");
    Ok(Json(RotatedSecret {
        secret: secret.expose(),
        endpoint,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries in this state.
    #[param(inline)]
    pub state: Option<DeliveryState>,
    /// At most this many, newest first (default 50).
    #[param(inline)]
    pub limit: Option<IntIn<1, 200>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deliveries {
    pub deliveries: Vec<DeliveryView>,
}

/// The endpoint's deliveries, newest first, each with its attempts.
#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", tag = "webhooks",
    security(("bearer" = []), ("api_key" = ["webhooks:manage"])),
    params(("id" = Uuid, Path), DeliveryQuery),
    responses(
        (status = 200, body = Deliveries),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    auth: Authorized<WebhooksManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Json<Deliveries>, AppError> {
    owner_or_key(&auth)?;
    let limit = query.limit.map_or(50, |l| l.0);
    db::webhooks::deliveries(&state.pool, auth.tenant_id, id, query.state, limit)
        .await?
        .map(|deliveries| Json(Deliveries { deliveries }))
        .ok_or(AppError::NotFound("webhook endpoint"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Requeued {
    /// How many deliveries were queued again.
    pub deliveries: usize,
}

fn redeliver_error(e: RedeliverError) -> AppError {
    match e {
        RedeliverError::NotFound => AppError::NotFound("webhook delivery"),
        RedeliverError::Disabled => AppError::Conflict {
            code: "endpoint_disabled",
            message: e.to_string(),
        },
        RedeliverError::Db(e) => e.into(),
    }
}

/// Sends one delivery again (a new round of the retry schedule, the same `webhook-id`). A delivery
/// still pending is on its way already (0 re-queued).
#[utoipa::path(post, path = "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = ["webhooks:manage"])),
    params(("id" = Uuid, Path), ("delivery_id" = Uuid, Path)),
    responses(
        (status = 202, body = Requeued),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The endpoint is disabled", body = ErrorBody)))]
pub async fn redeliver(
    State(state): State<AppState>,
    auth: Authorized<WebhooksManage>,
    ApiPath((id, delivery)): ApiPath<(Uuid, Uuid)>,
) -> Result<(StatusCode, Json<Requeued>), AppError> {
    owner_or_key(&auth)?;
    let deliveries = db::webhooks::redeliver(&state.pool, auth.tenant_id, id, Some(delivery), None)
        .await
        .map_err(redeliver_error)?;
    tracing::info!(tenant_id = %auth.tenant_id, actor = %auth.actor_id(), endpoint_id = %id,
        delivery_id = %delivery, deliveries, "webhook redelivery requested");
    Ok((StatusCode::ACCEPTED, Json(Requeued { deliveries })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recover {
    /// Failed deliveries created at or after this instant are sent again.
    pub since: Instant,
}

/// Sends again every failed delivery since `since`, in order (after an outage of the receiver).
#[utoipa::path(post, path = "/api/webhooks/{id}/recover", tag = "webhooks",
    security(("bearer" = []), ("api_key" = ["webhooks:manage"])),
    params(("id" = Uuid, Path)), request_body = Recover,
    responses(
        (status = 202, body = Requeued),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The endpoint is disabled", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn recover(
    State(state): State<AppState>,
    auth: Authorized<WebhooksManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<Recover>,
) -> Result<(StatusCode, Json<Requeued>), AppError> {
    owner_or_key(&auth)?;
    let deliveries = db::webhooks::redeliver(
        &state.pool,
        auth.tenant_id,
        id,
        None,
        Some(request.since.utc()),
    )
    .await
    .map_err(redeliver_error)?;
    tracing::info!(tenant_id = %auth.tenant_id, actor = %auth.actor_id(), endpoint_id = %id,
        deliveries, "webhook recovery requested");
    Ok((StatusCode::ACCEPTED, Json(Requeued { deliveries })))
}
