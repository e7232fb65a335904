//! Conversations: the list (last message, who has it: bot or manager), a conversation's page, and
//! the conversation section a lead's page shows too: messages appended live (assets/live.js
//! long-polls `/conversations/{id}/messages`), take over, reply, hand back. For the owner: the
//! customer's data exported as JSON, or erased after typing the customer's id to confirm.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::fields::Fields;
use super::{Ctx, csrf_field, see_other, web_user, when};
use crate::db;
use crate::db::leads::Conversation;
use crate::db::messages::ConversationMessage;
use crate::domain::BotUserId;
use crate::domain::conversation::{ConversationMode, MessageKind, MessageRole};
use crate::error::AppError;
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list))
        .route("/conversations/{id}", get(view))
        .route("/conversations/{id}/handoff", post(handoff))
        .route("/conversations/{id}/messages", get(messages))
        .route("/conversations/{id}/export", get(export))
        .route("/conversations/{id}/erase", post(erase))
}

/// Which page a conversation's forms return to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Back {
    Lead,
    Conversation,
}

#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    error: Option<String>,
    /// Set after an erasure, which lands on the list.
    erased: Option<String>,
}

/// Longer last messages are cut here in the list.
const PREVIEW_CHARS: usize = 120;

async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let conversations =
        db::leads::conversations(&state.pool, ctx.user.tenant_id, None, 200).await?;
    let body = html! {
        h1 { (ctx.t("conversations")) }
        @if query.erased.is_some() { p.notice #erased role="status" { (ctx.t("erased")) } }
        @if conversations.is_empty() {
            p #no-conversations { (ctx.t("no_conversations")) }
        } @else {
            div.scroll { table #conversations {
                thead { tr {
                    th { (ctx.t("customer")) } th.hide-narrow { (ctx.t("channel")) }
                    th { (ctx.t("last_message")) } th { (ctx.t("mode")) }
                    th.hide-narrow { (ctx.t("status")) } th.hide-narrow { (ctx.t("updated")) }
                } }
                tbody {
                    @for c in &conversations {
                        tr {
                            td { a href={ "/conversations/" (c.bot_user_id) } { (customer(c)) } }
                            td.hide-narrow { (c.channel.as_str()) }
                            td.last {
                                @if let Some(text) = &c.last_message {
                                    span.meta { (role_label(&ctx, c.last_message_role)) ": " }
                                    (preview(text))
                                }
                            }
                            td.mode { (mode_label(&ctx, c.mode)) }
                            td.hide-narrow { (c.lead_status.map_or("—", |s| s.as_str())) }
                            td.hide-narrow { (when(&c.updated_at)) }
                        }
                    }
                }
            } }
        }
    };
    Ok(ctx.render(StatusCode::OK, ctx.t("conversations"), body))
}

fn customer(c: &Conversation) -> &str {
    c.name.as_deref().unwrap_or(&c.user_id)
}

fn preview(text: &str) -> String {
    match text.char_indices().nth(PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn role_label(ctx: &Ctx, role: Option<MessageRole>) -> &'static str {
    match role {
        Some(MessageRole::User) => ctx.t("customer"),
        Some(MessageRole::Manager) => ctx.t("manager"),
        _ => ctx.t("bot"),
    }
}

fn mode_label(ctx: &Ctx, mode: ConversationMode) -> &'static str {
    match mode {
        ConversationMode::Human => ctx.t("manager"),
        ConversationMode::Bot => ctx.t("bot"),
    }
}

/// The tenant's conversation of bot user `id` (a path segment), or None.
async fn find(state: &AppState, ctx: &Ctx, id: &str) -> Result<Option<Conversation>, AppError> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Ok(None);
    };
    Ok(db::leads::conversation(&state.pool, ctx.user.tenant_id, BotUserId(id)).await?)
}

async fn view(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let Some(conversation) = find(&state, &ctx, &id).await? else {
        return Ok(ctx.not_found());
    };
    let bot_user = BotUserId(conversation.bot_user_id);
    let messages =
        db::messages::after_seq(&state.pool, ctx.user.tenant_id, bot_user, 0, 500).await?;
    let error = super::leads::form_error(&ctx, query.error.as_deref()).or_else(|| {
        (query.error.as_deref() == Some("err_erase_confirm")).then(|| ctx.t("err_erase_confirm"))
    });
    let body = html! {
        p { a href="/conversations" { (ctx.t("back_conversations")) } }
        h1 { (customer(&conversation)) }
        p.meta {
            (conversation.channel.as_str()) " · " (conversation.user_id)
            @if let Some(phone) = &conversation.phone { " · " (phone) }
        }
        @if let Some(lead) = conversation.lead_id {
            p { a #lead-link href={ "/leads/" (lead) } { (ctx.t("open_lead")) } }
        }
        @if let Some(error) = error { p.error role="alert" { (error) } }
        (section(&ctx, &conversation, &messages, Back::Conversation))
        @if ctx.user.role == crate::domain::Role::Owner {
            (customer_data(&ctx, &conversation))
        }
    };
    Ok(ctx.render(StatusCode::OK, ctx.t("conversations"), body))
}

/// The owner's panel: export the customer's data, or erase it. Erasing cannot be undone, so the
/// form asks for the customer's id typed out, not a click.
fn customer_data(ctx: &Ctx, conversation: &Conversation) -> Markup {
    let id = conversation.bot_user_id;
    html! {
        section.panel #customer-data {
            h2 { (ctx.t("customer_data")) }
            p { a #export href={ "/conversations/" (id) "/export" } download { (ctx.t("export_data")) } }
            form #erase-form method="post" action={ "/conversations/" (id) "/erase" } {
                (csrf_field(&ctx.csrf))
                label for="confirm" { (ctx.t("erase_how")) " " code { (conversation.user_id) } }
                input #confirm type="text" name="confirm" required autocomplete="off";
                button #erase.danger type="submit" { (ctx.t("erase")) }
            }
        }
    }
}

/// A conversation as a page shows it: who has it, the hand-off buttons, the messages (the script
/// appends new ones), and the reply form while a manager has it.
pub(super) fn section(
    ctx: &Ctx,
    conversation: &Conversation,
    messages: &[ConversationMessage],
    back: Back,
) -> Markup {
    let human = conversation.mode == ConversationMode::Human;
    let action = format!("/conversations/{}/handoff", conversation.bot_user_id);
    let back = match back {
        Back::Lead => "lead",
        Back::Conversation => "conversation",
    };
    let labels = serde_json::json!({
        "user": ctx.t("customer"), "assistant": ctx.t("bot"), "manager": ctx.t("manager"),
        "transcript": ctx.t("transcript"),
    })
    .to_string();
    html! {
        script src="/assets/live.js" defer {}
        h2 { (ctx.t("conversation")) }
        p #mode { (ctx.t(if human { "mode_human" } else { "mode_bot" })) }
        form.inline method="post" action=(action) {
            (csrf_field(&ctx.csrf))
            input type="hidden" name="back" value=(back);
            @if human {
                input type="hidden" name="action" value="release";
                button #release type="submit" { (ctx.t("release")) }
            } @else {
                input type="hidden" name="action" value="take_over";
                button #take-over type="submit" { (ctx.t("take_over")) }
            }
        }
        section #conversation
            data-messages={ "/conversations/" (conversation.bot_user_id) "/messages" }
            data-after-seq=(messages.last().map_or(0, |m| m.seq))
            data-labels=(labels) {
            @for m in messages {
                div class={ "msg " (m.role.as_str()) } {
                    div.meta { (role_label(ctx, Some(m.role))) " · " (when(&m.created_at)) }
                    @if m.kind == MessageKind::Voice {
                        div.transcript { em { (ctx.t("transcript")) ": " } (m.transcript.as_deref().unwrap_or("…")) }
                    } @else {
                        div.text { (m.content) }
                    }
                }
            }
        }
        @if human {
            form #reply-form method="post" action=(action) {
                (csrf_field(&ctx.csrf))
                input type="hidden" name="back" value=(back);
                input type="hidden" name="action" value="reply";
                label for="text" { (ctx.t("reply")) }
                input #text type="text" name="text" required maxlength="16384";
                button #send type="submit" { (ctx.t("send")) }
            }
        }
    }
}

/// Take over, reply or hand back (`action`), then back to the page the form was on.
async fn handoff(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Response {
    let ctx = match Ctx::form(&state, &headers, form.csrf()).await {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    let conversation = match find(&state, &ctx, &id).await {
        Ok(Some(conversation)) => conversation,
        Ok(None) => return ctx.not_found(),
        Err(e) => return e.into_response(),
    };
    let page = match (form.get("back"), conversation.lead_id) {
        (Some("lead"), Some(lead)) => format!("/leads/{lead}"),
        _ => format!("/conversations/{}", conversation.bot_user_id),
    };
    let (tenant, who) = (ctx.user.tenant_id, conversation.user_id.as_str());
    let channel = Some(conversation.channel);
    let action = form.get("action").unwrap_or_default();
    let done = match action {
        "take_over" => {
            db::handoff::take_over(&state.pool, tenant, who, channel, state.handoff_timeout)
                .await
                .map(|_| ())
        }
        "release" => db::handoff::release(&state.pool, tenant, who, channel)
            .await
            .map(|_| ()),
        "reply" => {
            match crate::domain::text::ReplyText::parse(form.get("text").unwrap_or_default()) {
                Ok(text) => db::handoff::reply(&state.pool, tenant, who, channel, text.as_str())
                    .await
                    .map(|_| ()),
                Err(_) => return see_other(&format!("{page}?error=err_reply"), []),
            }
        }
        _ => return see_other(&page, []),
    };
    match done {
        Ok(()) => {
            state.waker.wake();
            tracing::info!(tenant_id = %tenant, bot_user_id = %conversation.bot_user_id, action,
                "conversation handled on the dashboard");
            see_other(&page, [])
        }
        Err(db::handoff::HandoffError::NotInHumanMode) => {
            see_other(&format!("{page}?error=err_take_over"), [])
        }
        Err(e) => crate::http::routes::handoff::map(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct AfterSeq {
    after_seq: Option<i64>,
}

/// The live conversation's long-poll: messages after `after_seq`, as JSON.
async fn messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<AfterSeq>,
) -> Result<Response, AppError> {
    let Some(user) = web_user(&state, &headers).await else {
        return Err(AppError::Unauthorized {
            code: "invalid_token",
            message: "sign in again".into(),
        });
    };
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound("conversation"))?;
    let conversation = db::leads::conversation(&state.pool, user.tenant_id, BotUserId(id))
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    let messages = crate::http::routes::chat::wait_for_messages(
        &state,
        user.tenant_id,
        BotUserId(conversation.bot_user_id),
        query.after_seq.unwrap_or(0).max(0),
        std::time::Duration::from_secs(20),
    )
    .await?;
    let mut response = axum::Json(messages).into_response();
    // A tenant's conversation: no cache may keep it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The customer's data as the API exports it, as a file (the owner's).
async fn export(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    if let Some(refused) = ctx.not_owner() {
        return Ok(refused);
    }
    let Some(conversation) = find(&state, &ctx, &id).await? else {
        return Ok(ctx.not_found());
    };
    let export = db::lifecycle::export(
        &state.pool,
        ctx.user.tenant_id,
        &conversation.user_id,
        Some(conversation.channel),
    )
    .await
    .map_err(crate::http::routes::handoff::map)?;
    tracing::info!(tenant_id = %ctx.user.tenant_id, bot_user_id = %conversation.bot_user_id,
        actor = %ctx.user.user_id, "customer data exported on the dashboard");
    let mut response = axum::Json(export).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!(
            "attachment; filename=\"customer-{}.json\"",
            conversation.bot_user_id
        ))
        .map_err(AppError::internal)?,
    );
    Ok(response)
}

/// Erases the customer once the owner typed their id (`confirm`), then the list.
async fn erase(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Response {
    let ctx = match Ctx::form(&state, &headers, form.csrf()).await {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    if let Some(refused) = ctx.not_owner() {
        return refused;
    }
    let conversation = match find(&state, &ctx, &id).await {
        Ok(Some(conversation)) => conversation,
        Ok(None) => return ctx.not_found(),
        Err(e) => return e.into_response(),
    };
    if form.get("confirm").map(str::trim) != Some(conversation.user_id.as_str()) {
        return see_other(
            &format!(
                "/conversations/{}?error=err_erase_confirm",
                conversation.bot_user_id
            ),
            [],
        );
    }
    match crate::http::routes::lifecycle::erase_customer(
        &state,
        &ctx.user,
        &conversation.user_id,
        Some(conversation.channel),
    )
    .await
    {
        Ok(_) => see_other("/conversations?erased=1", []),
        Err(e) => e.into_response(),
    }
}
