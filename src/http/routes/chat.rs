//! `POST /api/chat` (the prototype's endpoint) and the message-status and long-poll endpoints.
//!
//! Ingest records the message and its jobs in one transaction; then, as the prototype answered
//! synchronously, the request waits (LISTEN/NOTIFY via the reply hub, no polling) up to
//! CHAT_WAIT_SECONDS for the reply and answers 200 with it — or 202 with a status URL when the reply
//! is not ready in time or the client sent `Prefer: respond-async`.

use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db;
use crate::db::leads::Lead;
use crate::db::messages::{Body, Channel, ConversationMessage, Incoming, MessageStatus};
use crate::db::throttle::Rule;
use crate::domain::audio::{AudioFormat, MAX_AUDIO_BYTES};
use crate::domain::conversation::{MessageKind, MessageState};
use crate::domain::text::{ExternalUserId, MessageText, TextError};
use crate::domain::{BotUserId, MessageId, TenantId};
use crate::error::{AppError, ErrorBody};
use crate::http::AppState;
use crate::http::auth::{Authorized, ChatWrite};
use crate::http::extract::{self, ApiForm, ApiJson, ApiPath, ApiQuery, IntIn};
use crate::http::limits;

const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;

/// Documents the `Idempotency-Key` header as [`idempotency_key`] reads it.
pub struct IdempotencyKey;

impl utoipa::PartialSchema for IdempotencyKey {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .min_length(Some(1))
            .max_length(Some(MAX_IDEMPOTENCY_KEY_CHARS))
            // Visible ASCII, spaces inside only (HTTP drops them around a header value).
            .pattern(Some("^[!-~](?:[ -~]*[!-~])?$"))
            .into()
    }
}

impl utoipa::ToSchema for IdempotencyKey {}

/// A text message, as JSON or as a form (`application/x-www-form-urlencoded`, what `curl -d` and
/// Python's `requests.post(data=…)` send, as the prototype's FastAPI `Form` fields accepted).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// The customer's id in your channel, e.g. `client_telegram_123`.
    pub user_id: ExternalUserId,
    pub text: MessageText,
}

/// Multipart form of a chat message: `user_id` and either `text` or a voice file (`audio`, or
/// `voice` as some clients name it). Documents what [`parse_chat_body`] accepts.
pub struct ChatUpload;

impl utoipa::PartialSchema for ChatUpload {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::Ref;
        use utoipa::openapi::schema::{
            AdditionalProperties, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type,
        };
        let audio = ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some(
                "A voice note: ogg/oga/opus, mp3, m4a, wav or webm (recognised by content), at \
                 most 25 MB; also accepted as `voice`.",
            ));
        // "user_id and exactly one of text and audio", said without oneOf: two properties of
        // these three.
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .property("user_id", Ref::from_schema_name("ExternalUserId"))
            .property("text", Ref::from_schema_name("MessageText"))
            .property("audio", audio)
            .required("user_id")
            .min_properties(Some(2))
            .max_properties(Some(2))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .description(Some("`user_id`, and `text` or `audio` (not both)."))
            .into()
    }
}

impl ToSchema for ChatUpload {}

/// The reply, when it was ready in time.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatAnswer {
    /// The bot's reply (the prototype's field).
    pub response: String,
    pub message_id: Uuid,
    pub reply_id: Uuid,
    pub status: MessageState,
    pub user_id: String,
    pub kind: MessageKind,
    /// What was heard in a voice note (null for text, or when it could not be transcribed).
    pub transcript: Option<String>,
    /// The lead so far (null while the conversation has none).
    pub lead: Option<Lead>,
}

/// Accepted: the message is durable; poll `status_url` (or the conversation's long-poll) for the reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatAccepted {
    pub message_id: Uuid,
    pub status: MessageState,
    pub status_url: String,
}

/// Sends a customer message; answers with the bot's reply.
#[utoipa::path(post, path = "/api/chat", tag = "chat", security(("bearer" = []), ("api_key" = ["chat:write"])),
    params(
        ("Idempotency-Key" = Option<IdempotencyKey>, Header, description = "A retry with the same key returns the first answer"),
        ("Prefer" = Option<String>, Header, description = "`respond-async`: answer 202 at once"),
    ),
    request_body(content(
        (ChatUpload = "multipart/form-data"),
        (ChatRequest = "application/x-www-form-urlencoded"),
        (ChatRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "The reply", body = ChatAnswer),
        (status = 202, description = "Recorded; the reply is not ready yet", body = ChatAccepted),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, description = "The company's CHAT_RATE_LIMIT is spent; see Retry-After", body = ErrorBody),
    ))]
pub async fn chat(
    State(state): State<AppState>,
    auth: Authorized<ChatWrite>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, AppError> {
    let idempotency_key = idempotency_key(&headers)?;
    limits::check(
        &state,
        Rule::ChatTenant,
        &auth.tenant_id.to_string(),
        state.limits.chat_per_tenant,
        "this company sends more messages than its limit allows: try again later",
    )
    .await?;
    let respond_async = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
        });
    let (external_id, body) = parse_chat_body(&state, request).await?;
    let external_id = external_id.into_string();
    let ingested = state
        .ingestor
        .ingest(
            auth.tenant_id,
            Incoming {
                channel: Channel::Api,
                external_id: external_id.clone(),
                body,
                idempotency_key,
                shared_phone: None,
            },
        )
        .await?;
    if !ingested.duplicate {
        state.waker.wake();
        // Long-polls of this conversation in this process see the customer's message at once.
        state.replies.wake(ingested.bot_user_id.0);
    }
    tracing::info!(
        tenant_id = %auth.tenant_id,
        actor = %auth.actor_id(),
        bot_user_id = %ingested.bot_user_id,
        message_id = %ingested.message_id,
        seq = ingested.seq,
        duplicate = ingested.duplicate,
        "new message"
    );
    if respond_async {
        // The client asked not to wait: 202 at once, whatever the pipeline is doing.
        let message = ingested.message_id.0;
        return Ok(accepted(message, MessageState::Queued));
    }
    let deadline = Instant::now() + state.chat_wait;
    let status = wait_for_reply(
        &state,
        auth.tenant_id,
        ingested.bot_user_id,
        ingested.message_id,
        deadline,
    )
    .await?;
    match status.reply {
        Some(reply) if matches!(status.status, MessageState::Answered | MessageState::Failed) => {
            let lead =
                db::leads::for_bot_user(&state.pool, auth.tenant_id, ingested.bot_user_id).await?;
            Ok((
                StatusCode::OK,
                Json(ChatAnswer {
                    response: reply.content,
                    message_id: status.id,
                    reply_id: reply.id,
                    status: status.status,
                    user_id: external_id,
                    kind: status.kind,
                    transcript: status.transcript,
                    lead,
                }),
            )
                .into_response())
        }
        _ => Ok(accepted(status.id, status.status)),
    }
}

fn accepted(message_id: Uuid, status: MessageState) -> Response {
    let status_url = format!("/api/messages/{message_id}");
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, status_url.clone())],
        Json(ChatAccepted {
            message_id,
            status,
            status_url,
        }),
    )
        .into_response()
}

/// Waits until the message is answered (or failed) or the deadline passes; returns its status.
async fn wait_for_reply(
    state: &AppState,
    tenant: TenantId,
    bot_user: BotUserId,
    message: MessageId,
    deadline: Instant,
) -> Result<MessageStatus, AppError> {
    let subscription = state.replies.subscribe(bot_user.0);
    loop {
        // Subscribe before reading, so a reply committed in between still wakes us.
        let notified = subscription.notify().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let status = db::messages::status(&state.pool, tenant, message)
            .await?
            .ok_or(AppError::NotFound("message"))?;
        let settled = status.reply.is_some()
            && matches!(status.status, MessageState::Answered | MessageState::Failed);
        if settled || Instant::now() >= deadline {
            return Ok(status);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return db::messages::status(&state.pool, tenant, message)
                .await?
                .ok_or(AppError::NotFound("message"));
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let refused = || {
        AppError::Validation(format!(
            "Idempotency-Key must be 1–{MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"
        ))
    };
    let key = value.to_str().map_err(|_| refused())?.trim_matches(' ');
    let visible = key.bytes().all(|b| (b' '..=b'~').contains(&b));
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_CHARS || !visible {
        return Err(refused());
    }
    Ok(Some(key.to_owned()))
}

async fn parse_chat_body(
    state: &AppState,
    request: Request,
) -> Result<(ExternalUserId, Body), AppError> {
    let media_type = extract::media_type(request.headers()).unwrap_or_default();
    if extract::is_json(request.headers()) {
        let ApiJson(body) = ApiJson::<ChatRequest>::from_request(request, state).await?;
        return Ok((body.user_id, Body::Text(body.text.into_string())));
    }
    if media_type == "application/x-www-form-urlencoded" {
        let ApiForm(body) = ApiForm::<ChatRequest>::from_request(request, state).await?;
        return Ok((body.user_id, Body::Text(body.text.into_string())));
    }
    if media_type != "multipart/form-data" {
        return Err(AppError::UnsupportedMediaType(
            "send application/json, application/x-www-form-urlencoded (user_id, text), \
             or multipart/form-data (user_id, and text or audio)"
                .into(),
        ));
    }
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|_| AppError::BadRequest("the multipart body has no boundary".into()))?;
    let (mut user_id, mut text, mut audio) = (None, None, None);
    let field_text =
        |name: &str, error: TextError| AppError::Validation(format!("field `{name}` {error}"));
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "user_id" => {
                let raw = field.text().await.map_err(multipart_error)?;
                user_id = Some(ExternalUserId::parse(&raw).map_err(|e| field_text("user_id", e))?);
            }
            "text" => {
                let raw = field.text().await.map_err(multipart_error)?;
                text = Some(MessageText::parse(&raw).map_err(|e| field_text("text", e))?);
            }
            "audio" | "voice" => {
                let file_name = field.file_name().unwrap_or("voice").to_owned();
                let bytes = field.bytes().await.map_err(multipart_error)?;
                audio = Some((file_name, bytes));
            }
            _ => {
                return Err(AppError::Validation(
                    "unknown field: expected user_id, text, audio or voice".into(),
                ));
            }
        }
    }
    let user_id =
        user_id.ok_or_else(|| AppError::Validation("field `user_id` is required".into()))?;
    match (text, audio) {
        (Some(_), Some(_)) => Err(AppError::Validation(
            "send either text or audio, not both".into(),
        )),
        (Some(text), None) => Ok((user_id, Body::Text(text.into_string()))),
        (None, Some((file_name, bytes))) => {
            if bytes.len() > MAX_AUDIO_BYTES {
                return Err(AppError::PayloadTooLarge(
                    "audio must be at most 25 MB".into(),
                ));
            }
            let format = AudioFormat::sniff(&bytes).ok_or_else(|| {
                AppError::UnsupportedMediaType(
                    "the file is not audio we accept (ogg/oga/opus, mp3, m4a, wav, webm)".into(),
                )
            })?;
            let file_name = sanitize_file_name(&file_name, format);
            Ok((
                user_id,
                Body::Voice {
                    audio: bytes.to_vec(),
                    format,
                    file_name,
                },
            ))
        }
        (None, None) => Err(AppError::Validation(
            "a message needs text or an audio file".into(),
        )),
    }
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> AppError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge("the request is larger than allowed (audio: 25 MB)".into())
    } else {
        AppError::BadRequest("the multipart body could not be read".into())
    }
}

/// Keeps a safe file name with the extension of the real format (the API uses it to guess the codec).
fn sanitize_file_name(raw: &str, format: AudioFormat) -> String {
    let stem: String = raw
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("voice")
        .split('.')
        .next()
        .unwrap_or("voice")
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    let stem = if stem.is_empty() {
        "voice".into()
    } else {
        stem
    };
    format!("{stem}.{}", format.extension())
}

/// A customer message's status, transcript and reply.
#[utoipa::path(get, path = "/api/messages/{id}", tag = "chat", security(("bearer" = []), ("api_key" = ["chat:write"])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MessageStatus), (status = 404, body = ErrorBody)))]
pub async fn message_status(
    State(state): State<AppState>,
    auth: Authorized<ChatWrite>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<MessageStatus>, AppError> {
    db::messages::status(&state.pool, auth.tenant_id, MessageId(id))
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("message"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LongPoll {
    /// Only messages with a greater seq (default 0: from the start).
    #[param(inline)]
    pub after_seq: Option<IntIn<0, { i64::MAX }>>,
    /// Seconds to wait for something newer when there is nothing yet (default 0).
    #[param(inline)]
    pub wait: Option<IntIn<0, 30>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationMessages {
    pub messages: Vec<ConversationMessage>,
    /// The greatest seq returned (pass it back as `after_seq`), or the one asked for.
    pub last_seq: i64,
}

/// A conversation's messages after `after_seq`; with `wait`, a long-poll that returns as soon as
/// something newer exists.
#[utoipa::path(get, path = "/api/conversations/{user_id}/messages", tag = "conversations",
    security(("bearer" = []), ("api_key" = ["chat:write"])),
    params(("user_id" = ExternalUserId, Path, description = "The customer's id in the API channel"), LongPoll),
    responses((status = 200, body = ConversationMessages), (status = 404, body = ErrorBody)))]
pub async fn conversation_messages(
    State(state): State<AppState>,
    auth: Authorized<ChatWrite>,
    ApiPath(user_id): ApiPath<ExternalUserId>,
    ApiQuery(params): ApiQuery<LongPoll>,
) -> Result<Json<ConversationMessages>, AppError> {
    let bot_user = db::messages::find_conversation(
        &state.pool,
        auth.tenant_id,
        Channel::Api,
        user_id.as_str(),
    )
    .await?
    .ok_or(AppError::NotFound("conversation"))?;
    let after = params.after_seq.map_or(0, |s| s.0);
    let wait = Duration::from_secs(params.wait.map_or(0, |w| w.0) as u64);
    wait_for_messages(&state, auth.tenant_id, bot_user, after, wait)
        .await
        .map(Json)
}

/// A conversation's messages after `after`, waiting up to `wait` for a reply when there are none
/// yet (the API's long-poll, and the dashboard's live conversation).
pub(crate) async fn wait_for_messages(
    state: &AppState,
    tenant: TenantId,
    bot_user: BotUserId,
    after: i64,
    wait: Duration,
) -> Result<ConversationMessages, AppError> {
    let deadline = Instant::now() + wait;
    let subscription = state.replies.subscribe(bot_user.0);
    loop {
        let notified = subscription.notify().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let messages = db::messages::after_seq(&state.pool, tenant, bot_user, after, 200).await?;
        if !messages.is_empty()
            || Instant::now() >= deadline
            || tokio::time::timeout_at(deadline, notified).await.is_err()
        {
            let last_seq = messages.last().map_or(after, |m| m.seq);
            return Ok(ConversationMessages { messages, last_seq });
        }
    }
}
