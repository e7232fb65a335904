//! The company's set-up, for its owner: the Telegram bot, the assistant (burst coalescing and the
//! monthly budget among it), the price list, follow-ups, amoCRM, API keys, webhook endpoints with
//! their deliveries, and the data retention period.
//!
//! Every change goes through the API's own handler, its request built from the form's fields as
//! the JSON body the API would get: one set of rules (parsing, the owner check, the SSRF check of a
//! webhook URL, what a change wakes). What a handler refuses is shown on the page beside the form;
//! a secret (an API key, a webhook's signing secret) is shown once, on the page that created it.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::{Value, json};
use uuid::Uuid;

use super::fields::Fields;
use super::{Ctx, csrf_field, see_other, when};
use crate::db;
use crate::db::webhooks::{DeliveryState, Endpoint};
use crate::domain::api_key::Scope;
use crate::domain::follow_up;
use crate::domain::language::Language;
use crate::domain::object_type::ObjectType;
use crate::domain::webhook::EventType;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::auth::Authorized;
use crate::http::extract::{ApiJson, ApiPath, parse_json};
use crate::http::routes;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings", get(show))
        .route("/settings/telegram", post(save_telegram))
        .route("/settings/assistant", post(save_assistant))
        .route("/settings/prices", post(save_prices))
        .route("/settings/follow-ups", post(save_follow_ups))
        .route("/settings/retention", post(save_retention))
        .route("/settings/amocrm", post(connect_amocrm))
        .route("/settings/amocrm/disconnect", post(disconnect_amocrm))
        .route("/settings/keys", post(create_key))
        .route("/settings/keys/{id}/revoke", post(revoke_key))
        .route("/settings/webhooks", post(create_endpoint))
        .route("/settings/webhooks/{id}", get(endpoint_page))
        .route("/settings/webhooks/{id}/enable", post(enable_endpoint))
        .route("/settings/webhooks/{id}/delete", post(delete_endpoint))
        .route(
            "/settings/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(redeliver),
        )
}

/// The page's sections, by their anchors.
const SECTIONS: [&str; 8] = [
    "telegram",
    "assistant",
    "prices",
    "follow_ups",
    "amocrm",
    "keys",
    "webhooks",
    "retention",
];

/// What the page says above one of its sections after a form.
enum Notice {
    Saved(&'static str),
    Refused(&'static str, String),
    /// A secret shown this once, at the top of the page.
    Secret(String),
}

impl Notice {
    fn show(&self, ctx: &Ctx, section: &str) -> Markup {
        html! {
            @match self {
                Notice::Saved(s) if *s == section => p.notice role="status" { (ctx.t("saved")) },
                Notice::Refused(s, message) if *s == section => p.error role="alert" { (message) },
                _ => {},
            }
        }
    }
}

#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    saved: Option<String>,
}

async fn show(State(state): State<AppState>, ctx: Ctx, Query(query): Query<PageQuery>) -> Response {
    let saved = query
        .saved
        .as_deref()
        .and_then(|s| SECTIONS.into_iter().find(|known| *known == s));
    settings_page(&state, &ctx, StatusCode::OK, saved.map(Notice::Saved)).await
}

async fn settings_page(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    notice: Option<Notice>,
) -> Response {
    if let Some(refused) = ctx.not_owner() {
        return refused;
    }
    match settings_body(state, ctx, notice.as_ref()).await {
        Ok(body) => ctx.render(status, ctx.t("settings"), body),
        Err(e) => e.into_response(),
    }
}

async fn settings_body(
    state: &AppState,
    ctx: &Ctx,
    notice: Option<&Notice>,
) -> Result<Markup, AppError> {
    let tenant = ctx.user.tenant_id;
    let telegram = db::telegram::bots::settings(&state.pool, &state.public_url, tenant).await?;
    let assistant = db::tenants::assistant_settings(&state.pool, tenant).await?;
    let prices = db::prices::list(&state.pool, tenant).await?;
    let amocrm = db::amocrm::settings(&state.pool, tenant).await?;
    let keys = db::api_keys::list(&state.pool, tenant).await?;
    let endpoints = db::webhooks::list(&state.pool, tenant).await?;
    let retention = db::lifecycle::retention(&state.pool, tenant).await?;
    let follow_ups = db::follow_ups::settings(&state.pool, tenant).await?;
    let secret = match notice {
        Some(Notice::Secret(secret)) => Some(secret),
        _ => None,
    };
    let notice = |section: &str| match notice {
        Some(notice) => notice.show(ctx, section),
        None => html! {},
    };
    let csrf = csrf_field(&ctx.csrf);
    let language = telegram.as_ref().map_or("ru", |t| t.language.as_str());
    Ok(html! {
        h1 { (ctx.t("settings")) }
        @if let Some(secret) = secret {
            p.notice { (ctx.t("shown_once")) }
            p.secret #secret { (secret) }
        }
        section.panel #telegram {
            h2 { (ctx.t("telegram")) }
            (notice("telegram"))
            @match &telegram {
                Some(bot) => {
                    p { (ctx.t("bot_token")) ": " code #bot-hint { (bot.bot_token) } }
                    p { (ctx.t("webhook_url")) ": " code { (bot.webhook_url) } }
                },
                None => p #no-bot { (ctx.t("telegram_none")) },
            }
            p.meta { (ctx.t("telegram_how")) }
            form method="post" action="/settings/telegram" {
                (csrf)
                label for="bot_token" { (ctx.t("bot_token")) @if telegram.is_some() { " (" (ctx.t("keep_empty")) ")" } }
                input #bot_token type="password" name="bot_token" autocomplete="off";
                label for="managers_chat_id" { (ctx.t("managers_chat")) }
                input #managers_chat_id type="text" name="managers_chat_id"
                    value=(telegram.as_ref().and_then(|t| t.managers_chat_id.as_deref()).unwrap_or(""));
                label for="language" { (ctx.t("notify_language")) }
                select #language name="language" {
                    @for (code, name) in [("ru", "Русский"), ("kk", "Қазақша"), ("en", "English")] {
                        option value=(code) selected[language == code] { (name) }
                    }
                }
                label for="working_hours" { (ctx.t("working_hours")) }
                input #working_hours type="text" name="working_hours" placeholder="09:00-18:00"
                    value=(telegram.as_ref().and_then(|t| t.working_hours.as_deref()).unwrap_or(""));
                button #save-telegram type="submit" { (ctx.t("save")) }
            }
        }
        section.panel #assistant {
            h2 { (ctx.t("assistant")) }
            (notice("assistant"))
            form method="post" action="/settings/assistant" {
                (csrf)
                label for="about" { (ctx.t("about")) }
                textarea #about name="about" rows="4" maxlength="2000" { (assistant.about.as_deref().unwrap_or("")) }
                label for="greeting" { (ctx.t("greeting")) }
                input #greeting type="text" name="greeting" value=(assistant.greeting.as_deref().unwrap_or(""));
                label for="company_phone" { (ctx.t("company_phone")) }
                input #company_phone type="text" name="company_phone" value=(assistant.company_phone.as_deref().unwrap_or(""));
                label for="coalesce_ms" { (ctx.t("coalesce")) }
                input #coalesce_ms type="number" name="coalesce_ms" min="0" max="60000" value=(assistant.coalesce_ms);
                label for="monthly_budget_usd" { (ctx.t("budget")) }
                input #monthly_budget_usd type="number" name="monthly_budget_usd" min="0" step="0.01"
                    value=(assistant.monthly_budget_usd.map(|b| b.to_string()).unwrap_or_default());
                button #save-assistant type="submit" { (ctx.t("save")) }
            }
        }
        section.panel #prices {
            h2 { (ctx.t("prices")) }
            (notice("prices"))
            p.meta { (ctx.t("prices_how")) }
            form method="post" action="/settings/prices" {
                (csrf)
                div.scroll { table #price-list {
                    thead { tr {
                        th { (ctx.t("object")) } th { (ctx.t("price_from")) } th { (ctx.t("price_to")) }
                        th { (ctx.t("conditions")) }
                    } }
                    tbody { @for object in ObjectType::ALL {
                        @let line = prices.for_object(object);
                        tr {
                            td { (object.display_name(ctx.lang.language())) }
                            td { input type="number" min="1" name={ "min_" (object.as_str()) }
                                value=(line.map(|l| l.min_per_m2.to_string()).unwrap_or_default()); }
                            td { input type="number" min="1" name={ "max_" (object.as_str()) }
                                value=(line.map(|l| l.max_per_m2.to_string()).unwrap_or_default()); }
                            td { input type="text" maxlength="500" name={ "conditions_" (object.as_str()) }
                                value=(line.and_then(|l| l.conditions.as_deref()).unwrap_or("")); }
                        }
                    } }
                } }
                button #save-prices type="submit" { (ctx.t("save")) }
            }
        }
        section.panel #amocrm {
            h2 { (ctx.t("amocrm")) }
            (notice("amocrm"))
            @if let Some(amo) = &amocrm {
                p #amo-connected { (ctx.t("amo_connected")) " " code { (amo.base_domain) } }
                @if amo.unauthorized_at.is_some() { p.error { (ctx.t("amo_unauthorized")) } }
                form.inline method="post" action="/settings/amocrm/disconnect" {
                    (csrf)
                    button #amo-disconnect type="submit" { (ctx.t("disconnect")) }
                }
            }
            form method="post" action="/settings/amocrm" {
                (csrf)
                label for="base_domain" { (ctx.t("amo_domain")) }
                input #base_domain type="text" name="base_domain"
                    value=(amocrm.as_ref().map_or("", |a| a.base_domain.as_str()));
                label for="access_token" { (ctx.t("amo_token")) }
                input #access_token type="password" name="access_token" autocomplete="off";
                button #save-amocrm type="submit" { (ctx.t("save")) }
            }
        }
        section.panel #keys {
            h2 { (ctx.t("api_keys")) }
            (notice("keys"))
            @if keys.is_empty() {
                p { (ctx.t("none_yet")) }
            } @else {
                div.scroll { table #key-list {
                    thead { tr {
                        th { (ctx.t("key_name")) } th { "" } th { (ctx.t("scopes")) }
                        th.hide-narrow { (ctx.t("last_used")) } th { "" }
                    } }
                    tbody { @for key in &keys {
                        tr {
                            td { (key.name) } td { code { (key.shown) "…" } }
                            td { (key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                            td.hide-narrow { (key.last_used_at.as_ref().map(when).unwrap_or_else(|| "—".into())) }
                            td {
                                @if key.revoked_at.is_some() {
                                    span.revoked { (ctx.t("revoked")) }
                                } @else {
                                    form.inline method="post" action={ "/settings/keys/" (key.id) "/revoke" } {
                                        (csrf)
                                        button.revoke type="submit" { (ctx.t("revoke")) }
                                    }
                                }
                            }
                        }
                    } }
                } }
            }
            form method="post" action="/settings/keys" {
                (csrf)
                label for="key_name" { (ctx.t("key_name")) }
                input #key_name type="text" name="name" required maxlength="100";
                fieldset {
                    legend { (ctx.t("scopes")) }
                    @for scope in Scope::ALL {
                        label { input type="checkbox" name="scope" value=(scope.as_str()); " " code { (scope.as_str()) } }
                    }
                }
                button #create-key type="submit" { (ctx.t("create")) }
            }
        }
        section.panel #webhooks {
            h2 { (ctx.t("webhooks")) }
            (notice("webhooks"))
            @if endpoints.is_empty() {
                p { (ctx.t("none_yet")) }
            } @else {
                div.scroll { table #endpoint-list {
                    thead { tr { th { "URL" } th.hide-narrow { (ctx.t("events")) } th { (ctx.t("state")) } } }
                    tbody { @for e in &endpoints {
                        tr {
                            td { a href={ "/settings/webhooks/" (e.id) } { (e.url) } }
                            td.hide-narrow { (events_text(e)) }
                            td { (endpoint_state(ctx, e)) }
                        }
                    } }
                } }
            }
            form method="post" action="/settings/webhooks" {
                (csrf)
                label for="url" { (ctx.t("url")) }
                input #url type="url" name="url" required;
                label for="description" { (ctx.t("description")) }
                input #description type="text" name="description" maxlength="500";
                fieldset {
                    legend { (ctx.t("events")) }
                    @for event in EventType::ALL {
                        label { input type="checkbox" name="event" value=(event.as_str()); " " code { (event.as_str()) } }
                    }
                }
                button #create-endpoint type="submit" { (ctx.t("create")) }
            }
        }
        section.panel #follow_ups {
            h2 { (ctx.t("follow_ups")) }
            (notice("follow_ups"))
            p.meta { (ctx.t("follow_ups_how")) }
            form method="post" action="/settings/follow-ups" {
                (csrf)
                label for="max_count" { (ctx.t("follow_ups_count")) }
                input #max_count type="number" name="max_count" min="0"
                    max=(follow_up::MAX_COUNT) required value=(follow_ups.max_count);
                label for="delay_minutes" { (ctx.t("follow_ups_delay")) }
                input #delay_minutes type="number" name="delay_minutes"
                    min=(follow_up::MIN_DELAY_MINUTES) max=(follow_up::MAX_DELAY_MINUTES) required
                    value=(follow_ups.delay_minutes);
                @for (language, field, name) in [(Language::Ru, "text_ru", "Русский"), (Language::Kk, "text_kk", "Қазақша"), (Language::En, "text_en", "English")] {
                    label for=(field) { (ctx.t("follow_ups_text")) " · " (name) }
                    textarea id=(field) name=(field) rows="3" maxlength="1000"
                        placeholder=(follow_up::default_text(language)) {
                        (follow_ups.text(language).unwrap_or(""))
                    }
                }
                button #save-follow-ups type="submit" { (ctx.t("save")) }
            }
        }
        section.panel #retention {
            h2 { (ctx.t("retention")) }
            (notice("retention"))
            p.meta { (ctx.t("retention_how")) }
            form method="post" action="/settings/retention" {
                (csrf)
                label for="retention_days" { (ctx.t("retention_days")) }
                input #retention_days type="number" name="retention_days" min="1" max=(db::lifecycle::MAX_RETENTION_DAYS)
                    value=(retention.retention_days.map(|d| d.to_string()).unwrap_or_default());
                button #save-retention type="submit" { (ctx.t("save")) }
            }
        }
    })
}

fn events_text(e: &Endpoint) -> String {
    e.events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn endpoint_state(ctx: &Ctx, e: &Endpoint) -> Markup {
    html! {
        @if e.enabled { (ctx.t("enabled")) } @else { strong.error { (ctx.t("disabled")) } }
        @if let Some(since) = &e.failing_since { br; span.meta { (ctx.t("failing_since")) " " (when(since)) } }
    }
}

/// The request body a form stands for, parsed as the API parses it.
fn request<T: DeserializeOwned>(body: Value) -> Result<T, AppError> {
    parse_json(&serde_json::to_vec(&body).expect("a JSON value serializes"))
}

/// A number field as JSON: a number when it reads as one, else the text (which the API refuses
/// with its own message).
fn number(raw: Option<&str>) -> Value {
    match raw {
        None => Value::Null,
        Some(raw) => raw
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| raw.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::from(raw)),
    }
}

/// A settings form's request: CSRF, session and owner checked.
async fn owner_form(state: &AppState, headers: &HeaderMap, csrf: &str) -> Result<Ctx, Response> {
    let ctx = Ctx::form(state, headers, csrf).await?;
    match ctx.not_owner() {
        Some(refused) => Err(refused),
        None => Ok(ctx),
    }
}

/// A path's id; a malformed one is as absent as another company's.
fn path_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound("page"))
}

/// Runs a settings form: the owner's, its `body` parsed as the API request `T`, handed to `call`
/// (the API's handler). Then the page: back at `section` (saved), with a secret `call` returns
/// shown once, or with what the handler refused beside the form.
async fn submit<T: DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    form: &Fields,
    section: &'static str,
    body: Value,
    call: impl AsyncFnOnce(&Ctx, T) -> Result<Option<String>, AppError>,
) -> Response {
    let ctx = match owner_form(state, headers, form.csrf()).await {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    let done = match request(body) {
        Ok(request) => call(&ctx, request).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(None) => see_other(&format!("/settings?saved={section}#{section}"), []),
        Ok(Some(secret)) => {
            settings_page(state, &ctx, StatusCode::OK, Some(Notice::Secret(secret))).await
        }
        Err(e) if e.status().is_server_error() => e.into_response(),
        Err(e) => {
            let notice = Notice::Refused(section, e.to_string());
            settings_page(state, &ctx, e.status(), Some(notice)).await
        }
    }
}

async fn save_telegram(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let body = json!({
        "bot_token": form.get("bot_token"),
        "managers_chat_id": form.get("managers_chat_id"),
        "language": form.get("language"),
        "working_hours": form.get("working_hours"),
    });
    submit(
        &state,
        &headers,
        &form,
        "telegram",
        body,
        async |ctx, request| {
            routes::settings::put_telegram(State(state.clone()), ctx.user.clone(), ApiJson(request))
                .await
                .map(|_| None)
        },
    )
    .await
}

async fn save_assistant(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let body = json!({
        "about": form.get("about"),
        "greeting": form.get("greeting"),
        "company_phone": form.get("company_phone"),
        "coalesce_ms": number(form.get("coalesce_ms")),
        "monthly_budget_usd": number(form.get("monthly_budget_usd")),
    });
    submit(
        &state,
        &headers,
        &form,
        "assistant",
        body,
        async |ctx, request| {
            let user = ctx.user.clone();
            routes::usage::put_assistant_settings(State(state.clone()), user, ApiJson(request))
                .await
                .map(|_| None)
        },
    )
    .await
}

/// The list's rows: an object type is listed when its row has a price.
async fn save_prices(State(state): State<AppState>, headers: HeaderMap, form: Fields) -> Response {
    let mut body = serde_json::Map::new();
    for object in ObjectType::ALL {
        let key = object.as_str();
        let (min, max) = (
            form.get(&format!("min_{key}")),
            form.get(&format!("max_{key}")),
        );
        if min.is_some() || max.is_some() {
            let line = json!({
                "min_per_m2": number(min),
                "max_per_m2": number(max),
                "conditions": form.get(&format!("conditions_{key}")),
            });
            body.insert(key.to_owned(), line);
        }
    }
    let body = Value::Object(body);
    submit(
        &state,
        &headers,
        &form,
        "prices",
        body,
        async |ctx, request| {
            routes::settings::put_prices(State(state.clone()), ctx.user.clone(), ApiJson(request))
                .await
                .map(|_| None)
        },
    )
    .await
}

/// An empty text is the built-in one (the API's handler makes blank null).
async fn save_follow_ups(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let body = json!({
        "max_count": number(form.get("max_count")),
        "delay_minutes": number(form.get("delay_minutes")),
        "text_ru": form.get("text_ru"),
        "text_kk": form.get("text_kk"),
        "text_en": form.get("text_en"),
    });
    submit(
        &state,
        &headers,
        &form,
        "follow_ups",
        body,
        async |ctx, request| {
            let user = ctx.user.clone();
            routes::follow_ups::put_follow_ups(State(state.clone()), user, ApiJson(request))
                .await
                .map(|_| None)
        },
    )
    .await
}

/// An empty field keeps messages forever (null), as the API's request says it.
async fn save_retention(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let days = form.get("retention_days").filter(|d| !d.trim().is_empty());
    let body = json!({ "retention_days": number(days) });
    submit(
        &state,
        &headers,
        &form,
        "retention",
        body,
        async |ctx, request| {
            let user = ctx.user.clone();
            routes::lifecycle::put_retention(State(state.clone()), user, ApiJson(request))
                .await
                .map(|_| None)
        },
    )
    .await
}

async fn connect_amocrm(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let body = json!({
        "base_domain": form.get("base_domain"),
        "access_token": form.get("access_token"),
    });
    submit(
        &state,
        &headers,
        &form,
        "amocrm",
        body,
        async |ctx, request| {
            routes::settings::put_amocrm(State(state.clone()), ctx.user.clone(), ApiJson(request))
                .await
                .map(|_| None)
        },
    )
    .await
}

async fn disconnect_amocrm(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    submit(
        &state,
        &headers,
        &form,
        "amocrm",
        json!({}),
        async |ctx, _: IgnoredAny| {
            routes::settings::delete_amocrm(State(state.clone()), ctx.user.clone())
                .await
                .map(|_| None)
        },
    )
    .await
}

async fn create_key(State(state): State<AppState>, headers: HeaderMap, form: Fields) -> Response {
    let body = json!({ "name": form.get("name"), "scopes": form.all("scope") });
    submit(
        &state,
        &headers,
        &form,
        "keys",
        body,
        async |ctx, request| {
            routes::api_keys::create_key(State(state.clone()), ctx.user.clone(), ApiJson(request))
                .await
                .map(|(_, created)| Some(created.0.key))
        },
    )
    .await
}

async fn revoke_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Response {
    submit(
        &state,
        &headers,
        &form,
        "keys",
        json!({}),
        async |ctx, _: IgnoredAny| {
            let id = ApiPath(path_id(&id)?);
            routes::api_keys::revoke_key(State(state.clone()), ctx.user.clone(), id)
                .await
                .map(|_| None)
        },
    )
    .await
}

async fn create_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let body = json!({
        "url": form.get("url"),
        "events": form.all("event"),
        "description": form.get("description"),
    });
    submit(
        &state,
        &headers,
        &form,
        "webhooks",
        body,
        async |ctx, request| {
            let owner = Authorized::user(ctx.user.clone());
            routes::webhooks::create_endpoint(State(state.clone()), owner, ApiJson(request))
                .await
                .map(|(_, created)| Some(created.0.secret))
        },
    )
    .await
}

async fn delete_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Response {
    submit(
        &state,
        &headers,
        &form,
        "webhooks",
        json!({}),
        async |ctx, _: IgnoredAny| {
            let (owner, id) = (Authorized::user(ctx.user.clone()), ApiPath(path_id(&id)?));
            routes::webhooks::delete_endpoint(State(state.clone()), owner, id)
                .await
                .map(|_| None)
        },
    )
    .await
}

// ------------------------------------------------------------------------------------------------
// One endpoint and its deliveries

#[derive(Debug, Deserialize, Default)]
struct EndpointQuery {
    /// Set after a redelivery was queued.
    redelivered: Option<String>,
}

async fn endpoint_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(query): Query<EndpointQuery>,
) -> Response {
    let notice = query
        .redelivered
        .is_some()
        .then_some(Notice::Saved("deliveries"));
    endpoint_view(&state, &ctx, &id, StatusCode::OK, notice).await
}

async fn endpoint_view(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    status: StatusCode,
    notice: Option<Notice>,
) -> Response {
    if let Some(refused) = ctx.not_owner() {
        return refused;
    }
    let Ok(id) = Uuid::parse_str(id) else {
        return ctx.not_found();
    };
    let tenant = ctx.user.tenant_id;
    let found = async {
        let endpoint = db::webhooks::get(&state.pool, tenant, id).await?;
        let deliveries = db::webhooks::deliveries(&state.pool, tenant, id, None, 100).await?;
        Ok::<_, sqlx::Error>(endpoint.zip(deliveries))
    }
    .await;
    let (endpoint, deliveries) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return ctx.not_found(),
        Err(e) => return AppError::from(e).into_response(),
    };
    let csrf = csrf_field(&ctx.csrf);
    let body = html! {
        p { a href="/settings#webhooks" { (ctx.t("back_settings")) } }
        h1 { (endpoint.url) }
        p.meta { (events_text(&endpoint)) }
        @if let Some(description) = &endpoint.description { p { (description) } }
        p #endpoint-state { (endpoint_state(ctx, &endpoint)) }
        @if let Some(reason) = &endpoint.disabled_reason {
            p.error #disabled-reason { (ctx.t("disabled_for")) " " (reason) }
        }
        @if !endpoint.enabled {
            form.inline method="post" action={ "/settings/webhooks/" (endpoint.id) "/enable" } {
                (csrf)
                button #enable type="submit" { (ctx.t("enable")) }
            }
            " "
        }
        form.inline method="post" action={ "/settings/webhooks/" (endpoint.id) "/delete" } {
            (csrf)
            button #delete-endpoint type="submit" { (ctx.t("delete")) }
        }
        h2 { (ctx.t("deliveries")) }
        @match &notice {
            Some(Notice::Saved(_)) => p.notice role="status" { (ctx.t("redelivered")) },
            Some(Notice::Refused(_, message)) => p.error role="alert" { (message) },
            _ => {},
        }
        @if deliveries.is_empty() {
            p #no-deliveries { (ctx.t("no_deliveries")) }
        } @else {
            div.scroll { table #deliveries {
                thead { tr {
                    th { (ctx.t("created")) } th { (ctx.t("event")) } th { (ctx.t("state")) }
                    th { (ctx.t("attempts")) } th.hide-narrow { (ctx.t("last_answer")) } th { "" }
                } }
                tbody { @for d in &deliveries {
                    tr {
                        td { (when(&d.created_at)) }
                        td { code { (d.event_type.as_str()) } }
                        td.state { (d.state.as_str()) }
                        td { (d.attempts) }
                        td.hide-narrow {
                            @if let Some(code) = d.last_status { (code) " " }
                            (d.last_error.as_deref().unwrap_or(""))
                        }
                        td {
                            @if d.state != DeliveryState::Pending {
                                form.inline method="post"
                                    action={ "/settings/webhooks/" (endpoint.id) "/deliveries/" (d.id) "/redeliver" } {
                                    (csrf)
                                    button.redeliver type="submit" { (ctx.t("redeliver")) }
                                }
                            }
                        }
                    }
                } }
            } }
        }
    };
    ctx.render(status, ctx.t("deliveries"), body)
}

async fn enable_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Response {
    let ctx = match owner_form(&state, &headers, form.csrf()).await {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    let done = async {
        let endpoint = path_id(&id)?;
        let patch = request(json!({ "enabled": true }))?;
        routes::webhooks::patch_endpoint(
            State(state.clone()),
            Authorized::user(ctx.user.clone()),
            ApiPath(endpoint),
            ApiJson(patch),
        )
        .await
        .map(|_| ())
    }
    .await;
    match done {
        Ok(()) => see_other(&format!("/settings/webhooks/{id}"), []),
        Err(e) if e.status().is_server_error() => e.into_response(),
        Err(e) => {
            let notice = Notice::Refused("deliveries", e.to_string());
            endpoint_view(&state, &ctx, &id, e.status(), Some(notice)).await
        }
    }
}

async fn redeliver(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, delivery)): Path<(String, String)>,
    form: Fields,
) -> Response {
    let ctx = match owner_form(&state, &headers, form.csrf()).await {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    let done = async {
        let ids = (path_id(&id)?, path_id(&delivery)?);
        routes::webhooks::redeliver(
            State(state.clone()),
            Authorized::user(ctx.user.clone()),
            ApiPath(ids),
        )
        .await
        .map(|_| ())
    }
    .await;
    match done {
        Ok(()) => see_other(&format!("/settings/webhooks/{id}?redelivered=1"), []),
        Err(e) if e.status().is_server_error() => e.into_response(),
        Err(e) => {
            let notice = Notice::Refused("deliveries", e.to_string());
            endpoint_view(&state, &ctx, &id, e.status(), Some(notice)).await
        }
    }
}
