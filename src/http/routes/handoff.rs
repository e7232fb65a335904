//! Human handoff: `POST /api/conversations/{user_id}/handoff`, `/reply` and `/release` (the state
//! machine is described in `db::handoff`). The web process records and enqueues; workers deliver.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::db;
use crate::db::handoff::{HandoffError, HandoffState, ManagerReply};
use crate::db::messages::Channel;
use crate::domain::text::{ExternalUserId, ReplyText};
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelParam {
    /// Needed only when the user id exists in both channels.
    #[param(inline)]
    pub channel: Option<Channel>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagerReplyRequest {
    /// Long answers reach a Telegram customer in several messages.
    pub text: ReplyText,
}

pub(crate) fn map(err: HandoffError) -> AppError {
    match err {
        HandoffError::NotFound => AppError::NotFound("conversation"),
        HandoffError::Ambiguous => AppError::Conflict {
            code: "ambiguous_conversation",
            message: err.to_string(),
        },
        HandoffError::NotInHumanMode => AppError::Conflict {
            code: "not_in_human_mode",
            message: err.to_string(),
        },
        HandoffError::Db(err) => AppError::from(err),
    }
}

/// A manager takes the conversation over: the bot goes silent, the customer's messages are forwarded
/// to the managers' chat. Taking over a conversation already in human mode changes nothing.
#[utoipa::path(post, path = "/api/conversations/{user_id}/handoff", tag = "conversations",
    security(("bearer" = [])),
    params(("user_id" = ExternalUserId, Path, description = "The customer's id in its channel"), ChannelParam),
    responses((status = 200, body = HandoffState), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn handoff(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(user_id): ApiPath<ExternalUserId>,
    ApiQuery(ChannelParam { channel }): ApiQuery<ChannelParam>,
) -> Result<Json<HandoffState>, AppError> {
    let taken = db::handoff::take_over(
        &state.pool,
        user.tenant_id,
        user_id.as_str(),
        channel,
        state.handoff_timeout,
    )
    .await
    .map_err(map)?;
    state.waker.wake();
    tracing::info!(tenant_id = %user.tenant_id, manager = %user.user_id, "conversation taken over");
    Ok(Json(taken))
}

/// A manager's answer to the customer (human mode only: 409 otherwise). It answers every customer
/// message still unanswered, and reaches a Telegram customer in order.
#[utoipa::path(post, path = "/api/conversations/{user_id}/reply", tag = "conversations",
    security(("bearer" = [])),
    params(("user_id" = ExternalUserId, Path, description = "The customer's id in its channel"), ChannelParam),
    request_body = ManagerReplyRequest,
    responses((status = 201, body = ManagerReply), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reply(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(user_id): ApiPath<ExternalUserId>,
    ApiQuery(ChannelParam { channel }): ApiQuery<ChannelParam>,
    ApiJson(request): ApiJson<ManagerReplyRequest>,
) -> Result<(StatusCode, Json<ManagerReply>), AppError> {
    let (bot_user, stored) = db::handoff::reply(
        &state.pool,
        user.tenant_id,
        user_id.as_str(),
        channel,
        request.text.as_str(),
    )
    .await
    .map_err(map)?;
    state.waker.wake();
    state.replies.wake(bot_user.0);
    tracing::info!(tenant_id = %user.tenant_id, bot_user_id = %bot_user, message_id = %stored.id,
        manager = %user.user_id, "manager replied");
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Gives the conversation back to the bot; customer messages nobody answered get one bot reply.
#[utoipa::path(post, path = "/api/conversations/{user_id}/release", tag = "conversations",
    security(("bearer" = [])),
    params(("user_id" = ExternalUserId, Path, description = "The customer's id in its channel"), ChannelParam),
    responses((status = 200, body = HandoffState), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn release(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(user_id): ApiPath<ExternalUserId>,
    ApiQuery(ChannelParam { channel }): ApiQuery<ChannelParam>,
) -> Result<Json<HandoffState>, AppError> {
    let released = db::handoff::release(&state.pool, user.tenant_id, user_id.as_str(), channel)
        .await
        .map_err(map)?;
    state.waker.wake();
    tracing::info!(tenant_id = %user.tenant_id, manager = %user.user_id, "conversation released");
    Ok(Json(released))
}
