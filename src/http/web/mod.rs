//! The managers' dashboard ([G], in parts): server-rendered pages (maud, no JS build) on the same
//! accounts as the API. Built: sign-up, sign-in, sign-out, the leads table with its filters and
//! CSV (or, on a first visit, how to send a first message), a lead with its conversation (voice notes with their
//! transcripts, new messages appended live by a small script long-polling the page's own endpoint),
//! its status changes, and the handoff: take over, reply, hand back. Russian by default, English
//! by `?lang=en` (remembered in a cookie).
//!
//! The session is the API's sign-in token in an HttpOnly cookie (SameSite=Lax; Secure behind
//! HTTPS). Every form POST carries a CSRF token that must equal the `salesbot_csrf` cookie (double
//! submit): another site can neither read nor set that cookie, so it cannot forge the form. A
//! page another company's lead would be is a 404, as in the API.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use crate::db;
use crate::db::leads::{LeadFilter, LeadSort};
use crate::domain::city::City;
use crate::domain::conversation::ConversationMode;
use crate::domain::lead_status::LeadStatus;
use crate::domain::text::{LossReason, SearchText};
use crate::domain::{Email, Password, TenantName};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::auth::AuthUser;
use crate::http::limits::ClientAddress;
use crate::http::routes::auth::{RegisterRequest, sign_in, sign_up};

const SESSION: &str = "salesbot_session";
const CSRF: &str = "salesbot_csrf";
const LANG: &str = "salesbot_lang";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/register", get(register_page).post(register))
        .route("/logout", post(logout))
        .route("/leads.csv", get(leads_csv))
        .route("/leads/{id}", get(lead_page))
        .route("/leads/{id}/status", post(change_status))
        .route("/leads/{id}/handoff", post(handoff_action))
        .route("/leads/{id}/messages", get(lead_messages))
        .route("/assets/live.js", get(live_js))
}

/// The live conversation's script (a file, since the pages' CSP allows no inline script).
async fn live_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("assets/live.js"),
    )
        .into_response()
}

// ------------------------------------------------------------------------------------------------
// Language

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Ru,
    En,
}

/// The dashboard's words, Russian first.
fn t(lang: Lang, key: &str) -> &'static str {
    let (ru, en) = match key {
        "title" => ("Salesbot — заявки", "Salesbot — leads"),
        "login" => ("Вход", "Sign in"),
        "register" => ("Регистрация компании", "Register your company"),
        "logout" => ("Выйти", "Sign out"),
        "email" => ("Email", "Email"),
        "password" => ("Пароль", "Password"),
        "company" => ("Название компании", "Company name"),
        "no_account" => (
            "Нет аккаунта? Зарегистрируйте компанию",
            "No account? Register your company",
        ),
        "have_account" => ("Уже есть аккаунт? Войти", "Have an account? Sign in"),
        "bad_credentials" => ("Неверный email или пароль.", "Incorrect email or password."),
        "leads" => ("Заявки", "Leads"),
        "empty" => ("Заявок пока нет", "No leads yet"),
        "empty_how" => (
            "Отправьте первое сообщение клиента через API — бот ответит, а заявка появится здесь:",
            "Send a first customer message through the API — the bot answers and the lead appears here:",
        ),
        "empty_telegram" => (
            "Или подключите Telegram-бота компании: PUT /api/settings/telegram (документация — /docs).",
            "Or connect your company's Telegram bot: PUT /api/settings/telegram (see /docs).",
        ),
        "name" => ("Имя", "Name"),
        "phone" => ("Телефон", "Phone"),
        "city" => ("Город", "City"),
        "object" => ("Объект", "Object"),
        "area" => ("Площадь, м²", "Area, m²"),
        "status" => ("Статус", "Status"),
        "created" => ("Создана", "Created"),
        "summary" => ("Кратко", "Summary"),
        "conversation" => ("Переписка", "Conversation"),
        "transcript" => ("Расшифровка голосового", "Voice note transcript"),
        "customer" => ("Клиент", "Customer"),
        "bot" => ("Бот", "Bot"),
        "manager" => ("Менеджер", "Manager"),
        "not_found" => ("Такой страницы нет.", "No such page."),
        "back" => ("← Все заявки", "← All leads"),
        "change_status" => ("Сменить статус", "Change status"),
        "loss_reason" => ("Причина отказа (для «lost»)", "Loss reason (for lost)"),
        "save" => ("Сохранить", "Save"),
        "mode_bot" => ("Диалог ведёт бот.", "The bot has this conversation."),
        "mode_human" => (
            "Диалог ведёт менеджер — бот молчит.",
            "A manager has this conversation — the bot is silent.",
        ),
        "take_over" => ("Взять диалог", "Take over"),
        "release" => ("Вернуть боту", "Hand back to the bot"),
        "reply" => ("Ответить клиенту", "Reply to the customer"),
        "send" => ("Отправить", "Send"),
        "all" => ("Все", "All"),
        "qualified_only" => ("Только квалифицированные", "Qualified only"),
        "search" => ("Поиск: имя, телефон, текст", "Search: name, phone, text"),
        "filter" => ("Показать", "Filter"),
        "csv" => ("Скачать CSV", "Download CSV"),
        "no_match" => (
            "Нет заявок по этому фильтру.",
            "No leads match this filter.",
        ),
        "err_status" => (
            "Этот переход статуса невозможен.",
            "That status change is not possible.",
        ),
        "err_loss_reason" => (
            "Для статуса «lost» нужна причина отказа.",
            "A lost lead needs a loss reason.",
        ),
        "err_reply" => ("Напишите текст ответа.", "Write the reply's text."),
        "err_take_over" => (
            "Сначала возьмите диалог у бота.",
            "Take the conversation over first.",
        ),
        "forbidden" => (
            "Форма устарела. Обновите страницу и отправьте снова.",
            "The form has expired. Reload the page and send it again.",
        ),
        _ => ("", ""),
    };
    match lang {
        Lang::Ru => ru,
        Lang::En => en,
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

#[derive(Debug, Deserialize, Default)]
struct LangQuery {
    lang: Option<String>,
}

/// The page's language: `?lang=` (then remembered), else the cookie, else Russian.
fn language(headers: &HeaderMap, query: &LangQuery) -> (Lang, Option<HeaderValue>) {
    let chosen = match query.lang.as_deref() {
        Some("en") => Some(Lang::En),
        Some("ru") => Some(Lang::Ru),
        _ => None,
    };
    let remembered = match cookie(headers, LANG) {
        Some("en") => Lang::En,
        _ => Lang::Ru,
    };
    let set = chosen.map(|lang| {
        let code = if lang == Lang::En { "en" } else { "ru" };
        HeaderValue::from_str(&format!(
            "{LANG}={code}; Path=/; Max-Age=31536000; SameSite=Lax"
        ))
        .expect("ASCII")
    });
    (chosen.unwrap_or(remembered), set)
}

// ------------------------------------------------------------------------------------------------
// Session and CSRF

fn secure(state: &AppState) -> &'static str {
    if state.served_over_https() {
        "; Secure"
    } else {
        ""
    }
}

fn session_cookie(state: &AppState, token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        state.auth.ttl().as_secs(),
        secure(state)
    ))
    .expect("a JWT is ASCII")
}

fn cleared_session(state: &AppState) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        secure(state)
    ))
    .expect("ASCII")
}

/// The form's CSRF token: the cookie's, or a new one (then set with the page).
fn csrf_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(token) = cookie(headers, CSRF).filter(|t| t.len() == 43) {
        return (token.to_owned(), None);
    }
    use base64::Engine;
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let set = HeaderValue::from_str(&format!(
        "{CSRF}={token}; Path=/; HttpOnly; SameSite=Strict{}",
        secure(state)
    ))
    .expect("base64url is ASCII");
    (token, Some(set))
}

/// Whether a form's token is the cookie's (compared in constant time).
fn csrf_ok(headers: &HeaderMap, sent: &str) -> bool {
    use subtle::ConstantTimeEq;
    cookie(headers, CSRF).is_some_and(|expected| {
        expected.len() == 43 && bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))
    })
}

/// The signed-in manager of a page request, if the session cookie names a valid account.
async fn web_user(state: &AppState, headers: &HeaderMap) -> Option<AuthUser> {
    let token = cookie(headers, SESSION)?;
    AuthUser::signed_in(token, state).await.ok()
}

fn page(lang: Lang, title: &str, user: Option<&AuthUser>, csrf: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(if lang == Lang::En { "en" } else { "ru" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (maud::PreEscaped(CSS)) }
            }
            body {
                header {
                    a.brand href="/" { "Salesbot" }
                    nav {
                        a href="?lang=ru" { "RU" } " · " a href="?lang=en" { "EN" }
                        @if let Some(user) = user {
                            span.who { (user.tenant_name) " · " (user.email) }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { (t(lang, "logout")) }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

const CSS: &str = "
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f23;background:#f6f7f9}
header{display:flex;justify-content:space-between;align-items:center;flex-wrap:wrap;gap:.5rem;padding:.75rem 1rem;background:#fff;border-bottom:1px solid #dde1e6}
.brand{font-weight:700;text-decoration:none;color:#0b5cad}
nav{display:flex;align-items:center;gap:.75rem;flex-wrap:wrap}
.who{color:#57606a}
main{max-width:1100px;margin:0 auto;padding:1rem}
form.card{background:#fff;max-width:420px;margin:2rem auto;padding:1.5rem;border-radius:8px;border:1px solid #dde1e6}
form.card label{display:block;margin:.75rem 0 .25rem}
input{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;border:1px solid #c9d1d9;border-radius:6px}
button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:0;background:#0b5cad;color:#fff;cursor:pointer;margin-top:1rem}
form.inline{display:inline}form.inline button{margin:0;background:#57606a}
.error{color:#b42318;margin:.5rem 0}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{padding:.5rem;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
pre{background:#0d1117;color:#e6edf3;padding:1rem;border-radius:6px;overflow:auto;white-space:pre-wrap}
.msg{background:#fff;border:1px solid #eaeef2;border-radius:8px;padding:.5rem .75rem;margin:.5rem 0;max-width:80%}
.msg.user{margin-right:auto}.msg.assistant,.msg.manager{margin-left:auto;background:#eef6ff}
.meta{color:#57606a;font-size:.85em}
#filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:0 0 1rem}
#filters input[type=search]{flex:1;min-width:10rem;width:auto}#filters button{margin:0}
#status-form,#reply-form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:1rem 0}
#status-form input,#reply-form input{flex:1;min-width:12rem;width:auto}
#status-form button,#reply-form button{margin:0}
select{font:inherit;padding:.4rem}
@media (max-width:640px){.hide-narrow{display:none}.msg{max-width:100%}}
";

/// An HTML page with the cookies it sets.
fn respond(
    status: StatusCode,
    markup: Markup,
    cookies: impl IntoIterator<Item = HeaderValue>,
) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn see_other(to: &str, cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    let mut response = Redirect::to(to).into_response();
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn forbidden(lang: Lang) -> Response {
    respond(
        StatusCode::FORBIDDEN,
        page(
            lang,
            "403",
            None,
            "",
            html! { p.error { (t(lang, "forbidden")) } },
        ),
        [],
    )
}

// ------------------------------------------------------------------------------------------------
// Sign-in, sign-up, sign-out

fn login_form(lang: Lang, csrf: &str, error: Option<&str>, email: &str) -> Markup {
    html! {
        form.card method="post" action="/login" {
            h1 { (t(lang, "login")) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            input type="hidden" name="csrf" value=(csrf);
            label for="email" { (t(lang, "email")) }
            input #email type="email" name="email" value=(email) required autocomplete="username";
            label for="password" { (t(lang, "password")) }
            input #password type="password" name="password" required autocomplete="current-password";
            button #submit type="submit" { (t(lang, "login")) }
            p { a href="/register" { (t(lang, "no_account")) } }
        }
    }
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let (lang, lang_cookie) = language(&headers, &query);
    if web_user(&state, &headers).await.is_some() {
        return see_other("/", lang_cookie);
    }
    let (csrf, csrf_cookie) = csrf_token(&state, &headers);
    let body = login_form(lang, &csrf, None, "");
    respond(
        StatusCode::OK,
        page(lang, t(lang, "login"), None, &csrf, body),
        lang_cookie.into_iter().chain(csrf_cookie),
    )
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    csrf: Option<String>,
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let (lang, _) = language(&headers, &LangQuery::default());
    if !csrf_ok(&headers, form.csrf.as_deref().unwrap_or_default()) {
        return forbidden(lang);
    }
    match sign_in(&state, client, &form.email, &form.password).await {
        Ok(user) => match state.auth.issue(&user) {
            Ok(token) => see_other("/", [session_cookie(&state, &token)]),
            Err(err) => err.into_response(),
        },
        Err(AppError::Unauthorized { .. }) => {
            let (csrf, _) = csrf_token(&state, &headers);
            let body = login_form(lang, &csrf, Some(t(lang, "bad_credentials")), &form.email);
            respond(
                StatusCode::UNAUTHORIZED,
                page(lang, t(lang, "login"), None, &csrf, body),
                [],
            )
        }
        Err(err) => err.into_response(),
    }
}

fn register_form(lang: Lang, csrf: &str, error: Option<&str>) -> Markup {
    html! {
        form.card method="post" action="/register" {
            h1 { (t(lang, "register")) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            input type="hidden" name="csrf" value=(csrf);
            label for="company_name" { (t(lang, "company")) }
            input #company_name type="text" name="company_name" required maxlength="200";
            label for="email" { (t(lang, "email")) }
            input #email type="email" name="email" required autocomplete="username";
            label for="password" { (t(lang, "password")) }
            input #password type="password" name="password" required minlength="8" autocomplete="new-password";
            button #submit type="submit" { (t(lang, "register")) }
            p { a href="/login" { (t(lang, "have_account")) } }
        }
    }
}

async fn register_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let (lang, lang_cookie) = language(&headers, &query);
    let (csrf, csrf_cookie) = csrf_token(&state, &headers);
    respond(
        StatusCode::OK,
        page(
            lang,
            t(lang, "register"),
            None,
            &csrf,
            register_form(lang, &csrf, None),
        ),
        lang_cookie.into_iter().chain(csrf_cookie),
    )
}

#[derive(Debug, Deserialize)]
struct RegisterForm {
    csrf: Option<String>,
    company_name: String,
    email: String,
    password: String,
}

async fn register(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> Response {
    let (lang, _) = language(&headers, &LangQuery::default());
    if !csrf_ok(&headers, form.csrf.as_deref().unwrap_or_default()) {
        return forbidden(lang);
    }
    let (csrf, _) = csrf_token(&state, &headers);
    let refuse = |status: StatusCode, message: String| {
        respond(
            status,
            page(
                lang,
                t(lang, "register"),
                None,
                &csrf,
                register_form(lang, &csrf, Some(&message)),
            ),
            [],
        )
    };
    let parsed = (|| {
        Ok::<_, String>(RegisterRequest {
            email: Email::parse(&form.email).map_err(|e| e.to_string())?,
            password: Password::parse(form.password.clone()).map_err(|e| e.to_string())?,
            company_name: TenantName::parse(&form.company_name).map_err(|e| e.to_string())?,
        })
    })();
    let request = match parsed {
        Ok(request) => request,
        Err(message) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, message),
    };
    match sign_up(&state, client, request).await {
        Ok(user) => match state.auth.issue(&user) {
            Ok(token) => see_other("/", [session_cookie(&state, &token)]),
            Err(err) => err.into_response(),
        },
        Err(AppError::Conflict { message, .. }) => refuse(StatusCode::CONFLICT, message),
        Err(err) => err.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (lang, _) = language(&headers, &LangQuery::default());
    if !csrf_ok(&headers, form.csrf.as_deref().unwrap_or_default()) {
        return forbidden(lang);
    }
    see_other("/login", [cleared_session(&state)])
}

// ------------------------------------------------------------------------------------------------
// Leads

/// The leads table's filters, read leniently: a value that does not parse is no filter.
#[derive(Debug, Deserialize, Default, Clone)]
struct LeadsQuery {
    lang: Option<String>,
    status: Option<String>,
    city: Option<String>,
    qualified: Option<String>,
    q: Option<String>,
}

impl LeadsQuery {
    fn filter(&self) -> LeadFilter {
        LeadFilter {
            status: self.status.as_deref().and_then(|s| s.parse().ok()),
            city: self
                .city
                .as_deref()
                .and_then(City::from_key)
                .map(|c| c.as_str().to_owned()),
            qualified: self.qualified.as_deref().map(|q| q == "on" || q == "true"),
            q: self
                .q
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .and_then(|q| SearchText::parse(q).ok())
                .map(|q| q.as_str().to_owned()),
            ..Default::default()
        }
    }

    /// The filters as a query string, for the CSV link.
    fn as_query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("status", &self.status),
            ("city", &self.city),
            ("qualified", &self.qualified),
            ("q", &self.q),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                query.append_pair(key, value);
            }
        }
        query.finish()
    }
}

async fn leads_csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LeadsQuery>,
) -> Result<Response, AppError> {
    let Some(user) = web_user(&state, &headers).await else {
        return Ok(see_other("/login", []));
    };
    crate::http::routes::leads::csv_export(
        &state,
        user.tenant_id,
        &query.filter(),
        LeadSort::NewestFirst,
    )
    .await
}

async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LeadsQuery>,
) -> Result<Response, AppError> {
    let (lang, lang_cookie) = language(
        &headers,
        &LangQuery {
            lang: query.lang.clone(),
        },
    );
    let Some(user) = web_user(&state, &headers).await else {
        return Ok(see_other("/login", lang_cookie));
    };
    let (csrf, csrf_cookie) = csrf_token(&state, &headers);
    let filter = query.filter();
    let filtered = filter.status.is_some()
        || filter.city.is_some()
        || filter.qualified.is_some()
        || filter.q.is_some();
    let (leads, _) = db::leads::search(
        &state.pool,
        user.tenant_id,
        &filter,
        LeadSort::NewestFirst,
        None,
        100,
    )
    .await?;
    let curl = format!(
        "curl {}/api/chat \\\n  -H \"Authorization: Bearer $TOKEN\" \\\n  -d user_id=client-1 -d text='Здравствуйте! Дом 120 м² в Алматы'",
        state.public_url
    );
    let body = html! {
        h1 { (t(lang, "leads")) }
        @if !leads.is_empty() || filtered {
            form #filters method="get" action="/" {
                select #status-filter name="status" aria-label=(t(lang, "status")) {
                    option value="" { (t(lang, "all")) }
                    @for s in LeadStatus::ALL {
                        option value=(s.as_str()) selected[filter.status == Some(*s)] { (s.as_str()) }
                    }
                }
                select #city-filter name="city" aria-label=(t(lang, "city")) {
                    option value="" { (t(lang, "city")) ": " (t(lang, "all")) }
                    @for c in City::ALL {
                        option value=(c.as_str()) selected[filter.city.as_deref() == Some(c.as_str())] { (c.as_str()) }
                    }
                }
                label { input type="checkbox" name="qualified" checked[filter.qualified == Some(true)]; " " (t(lang, "qualified_only")) }
                input #q type="search" name="q" placeholder=(t(lang, "search")) value=(query.q.as_deref().unwrap_or(""));
                button #apply type="submit" { (t(lang, "filter")) }
                a #csv href={ "/leads.csv?" (query.as_query()) } { (t(lang, "csv")) }
            }
        }
        @if leads.is_empty() && filtered {
            p #no-match { (t(lang, "no_match")) }
        } @else if leads.is_empty() {
            section #empty-state {
                h2 { (t(lang, "empty")) }
                p { (t(lang, "empty_how")) }
                pre { "TOKEN=$(curl -s " (state.public_url) "/api/auth/login -d username=" (user.email) " -d password=…" " | jq -r .access_token)\n" (curl) }
                p { (t(lang, "empty_telegram")) }
            }
        } @else {
            table #leads {
                thead { tr {
                    th { (t(lang, "name")) } th { (t(lang, "phone")) } th { (t(lang, "city")) }
                    th.hide-narrow { (t(lang, "object")) } th.hide-narrow { (t(lang, "area")) }
                    th { (t(lang, "status")) } th.hide-narrow { (t(lang, "created")) }
                } }
                tbody {
                    @for lead in &leads {
                        tr {
                            td { a href={ "/leads/" (lead.id) } { (lead.name.as_deref().unwrap_or(&lead.user_id)) } }
                            td { (lead.phone.as_deref().unwrap_or("—")) }
                            td { (lead.city.as_deref().unwrap_or("—")) }
                            td.hide-narrow { (lead.object_type.as_deref().unwrap_or("—")) }
                            td.hide-narrow { @if let Some(area) = lead.area_m2 { (area) } @else { "—" } }
                            td.status { (lead.status.as_str()) }
                            td.hide-narrow { (lead.created_at.format("%Y-%m-%d %H:%M")) }
                        }
                    }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page(lang, t(lang, "title"), Some(&user), &csrf, body),
        lang_cookie.into_iter().chain(csrf_cookie),
    ))
}

#[derive(Debug, Deserialize, Default)]
struct LeadQuery {
    lang: Option<String>,
    /// A message key (`t`) of what the last form could not do.
    error: Option<String>,
}

async fn lead_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<LeadQuery>,
) -> Result<Response, AppError> {
    let (lang, lang_cookie) = language(
        &headers,
        &LangQuery {
            lang: query.lang.clone(),
        },
    );
    let Some(user) = web_user(&state, &headers).await else {
        return Ok(see_other("/login", lang_cookie));
    };
    let (csrf, csrf_cookie) = csrf_token(&state, &headers);
    let found = match Uuid::parse_str(&id) {
        Ok(id) => db::leads::by_id(&state.pool, user.tenant_id, id).await?,
        Err(_) => None,
    };
    let Some((lead, _)) = found else {
        let body = html! { p { (t(lang, "not_found")) } p { a href="/" { (t(lang, "back")) } } };
        return Ok(respond(
            StatusCode::NOT_FOUND,
            page(lang, "404", Some(&user), &csrf, body),
            lang_cookie.into_iter().chain(csrf_cookie),
        ));
    };
    let bot_user = crate::domain::BotUserId(lead.bot_user_id);
    let messages = db::messages::after_seq(&state.pool, user.tenant_id, bot_user, 0, 500).await?;
    let mode = db::handoff::conversation_mode(&state.pool, user.tenant_id, bot_user)
        .await?
        .map(|(mode, _)| mode);
    let human = mode == Some(ConversationMode::Human);
    let error = query
        .error
        .as_deref()
        .filter(|e| e.starts_with("err_"))
        .map(|e| t(lang, e))
        .filter(|e| !e.is_empty());
    let next: Vec<LeadStatus> = LeadStatus::ALL
        .iter()
        .copied()
        .filter(|s| *s != lead.status && lead.status.can_move_to(*s))
        .collect();
    let labels = serde_json::json!({
        "user": t(lang, "customer"), "assistant": t(lang, "bot"), "manager": t(lang, "manager"),
        "transcript": t(lang, "transcript"),
    })
    .to_string();
    let body = html! {
        script src="/assets/live.js" defer {}
        p { a href="/" { (t(lang, "back")) } }
        h1 { (lead.name.as_deref().unwrap_or(&lead.user_id)) }
        table #lead {
            tr { th { (t(lang, "phone")) } td { (lead.phone.as_deref().unwrap_or("—")) } }
            tr { th { (t(lang, "city")) } td { (lead.city.as_deref().unwrap_or("—")) } }
            tr { th { (t(lang, "object")) } td { (lead.object_type.as_deref().unwrap_or("—")) } }
            tr { th { (t(lang, "area")) } td { @if let Some(area) = lead.area_m2 { (area) } @else { "—" } } }
            tr { th { (t(lang, "summary")) } td { (lead.summary.as_deref().unwrap_or("—")) } }
            tr { th { (t(lang, "status")) } td.status { (lead.status.as_str()) } }
        }
        @if let Some(error) = error { p.error role="alert" { (error) } }
        @if !next.is_empty() {
            form #status-form method="post" action={ "/leads/" (lead.id) "/status" } {
                input type="hidden" name="csrf" value=(csrf);
                label for="status" { (t(lang, "change_status")) " " }
                select #status name="status" {
                    @for s in &next { option value=(s.as_str()) { (s.as_str()) } }
                }
                label for="loss_reason" { (t(lang, "loss_reason")) }
                input #loss_reason type="text" name="loss_reason" maxlength="500";
                button #save-status type="submit" { (t(lang, "save")) }
            }
        }
        h2 { (t(lang, "conversation")) }
        p #mode { (t(lang, if human { "mode_human" } else { "mode_bot" })) }
        form.inline method="post" action={ "/leads/" (lead.id) "/handoff" } {
            input type="hidden" name="csrf" value=(csrf);
            @if human {
                input type="hidden" name="action" value="release";
                button #release type="submit" { (t(lang, "release")) }
            } @else {
                input type="hidden" name="action" value="take_over";
                button #take-over type="submit" { (t(lang, "take_over")) }
            }
        }
        section #conversation data-lead=(lead.id)
            data-after-seq=(messages.last().map_or(0, |m| m.seq))
            data-labels=(labels) {
            @for m in &messages {
                div class={ "msg " (m.role.as_str()) } {
                    div.meta {
                        (match m.role.as_str() { "user" => t(lang, "customer"), "manager" => t(lang, "manager"), _ => t(lang, "bot") })
                        " · " (m.created_at.format("%Y-%m-%d %H:%M"))
                    }
                    @if m.kind.as_str() == "voice" {
                        div.transcript { em { (t(lang, "transcript")) ": " } (m.transcript.as_deref().unwrap_or("…")) }
                    } @else {
                        div.text { (m.content) }
                    }
                }
            }
        }
        @if human {
            form #reply-form method="post" action={ "/leads/" (lead.id) "/handoff" } {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="action" value="reply";
                label for="text" { (t(lang, "reply")) }
                input #text type="text" name="text" required maxlength="16384";
                button #send type="submit" { (t(lang, "send")) }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page(lang, t(lang, "title"), Some(&user), &csrf, body),
        lang_cookie.into_iter().chain(csrf_cookie),
    ))
}

// ------------------------------------------------------------------------------------------------
// A lead's forms: status, take over, reply, hand back

/// The signed-in manager and the lead of a form POST, its CSRF token checked.
async fn lead_form(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    csrf: Option<&str>,
) -> Result<(AuthUser, db::leads::Lead), Response> {
    let (lang, _) = language(headers, &LangQuery::default());
    if !csrf_ok(headers, csrf.unwrap_or_default()) {
        return Err(forbidden(lang));
    }
    let Some(user) = web_user(state, headers).await else {
        return Err(see_other("/login", []));
    };
    let found = match Uuid::parse_str(id) {
        Ok(id) => db::leads::by_id(&state.pool, user.tenant_id, id)
            .await
            .map_err(|e| AppError::from(e).into_response())?,
        Err(_) => None,
    };
    match found {
        Some((lead, _)) => Ok((user, lead)),
        None => Err(respond(
            StatusCode::NOT_FOUND,
            page(
                lang,
                "404",
                Some(&user),
                "",
                html! { p { (t(lang, "not_found")) } },
            ),
            [],
        )),
    }
}

#[derive(Debug, Deserialize)]
struct StatusForm {
    csrf: Option<String>,
    status: String,
    loss_reason: Option<String>,
}

async fn change_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> Response {
    let (user, lead) = match lead_form(&state, &headers, &id, form.csrf.as_deref()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let back = |error: Option<&str>| {
        let query = error.map(|e| format!("?error={e}")).unwrap_or_default();
        see_other(&format!("/leads/{}{query}", lead.id), [])
    };
    let Ok(status) = form.status.parse::<LeadStatus>() else {
        return back(Some("err_status"));
    };
    let loss_reason = match form
        .loss_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(reason) => match LossReason::parse(reason) {
            Ok(reason) => Some(reason.as_str().to_owned()),
            Err(_) => return back(Some("err_loss_reason")),
        },
        None => None,
    };
    let edit = db::leads::LeadEdit {
        status: Some(status),
        loss_reason,
        ..Default::default()
    };
    match db::leads::edit(&state.pool, user.tenant_id, lead.id, &edit).await {
        Ok(()) => {
            tracing::info!(tenant_id = %user.tenant_id, lead_id = %lead.id, status = status.as_str(),
                "lead status changed on the dashboard");
            back(None)
        }
        Err(db::leads::EditError::LossReasonRequired) => back(Some("err_loss_reason")),
        Err(db::leads::EditError::InvalidTransition { .. }) => back(Some("err_status")),
        Err(db::leads::EditError::NotFound) => back(None),
        Err(db::leads::EditError::Db(e)) => AppError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct HandoffForm {
    csrf: Option<String>,
    /// `take_over`, `reply` or `release`.
    action: String,
    text: Option<String>,
}

async fn handoff_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<HandoffForm>,
) -> Response {
    let (user, lead) = match lead_form(&state, &headers, &id, form.csrf.as_deref()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let bot_user = crate::domain::BotUserId(lead.bot_user_id);
    let channel = match db::handoff::conversation_mode(&state.pool, user.tenant_id, bot_user).await
    {
        Ok(found) => found.map(|(_, channel)| channel),
        Err(e) => return AppError::from(e).into_response(),
    };
    let (tenant, who) = (user.tenant_id, lead.user_id.as_str());
    let done = match form.action.as_str() {
        "take_over" => {
            db::handoff::take_over(&state.pool, tenant, who, channel, state.handoff_timeout)
                .await
                .map(|_| ())
        }
        "release" => db::handoff::release(&state.pool, tenant, who, channel)
            .await
            .map(|_| ()),
        "reply" => {
            let text = form.text.as_deref().map(str::trim).unwrap_or_default();
            match crate::domain::text::ReplyText::parse(text) {
                Ok(text) => db::handoff::reply(&state.pool, tenant, who, channel, text.as_str())
                    .await
                    .map(|_| ()),
                Err(_) => return see_other(&format!("/leads/{}?error=err_reply", lead.id), []),
            }
        }
        _ => return see_other(&format!("/leads/{}", lead.id), []),
    };
    match done {
        Ok(()) => {
            state.waker.wake();
            tracing::info!(tenant_id = %tenant, lead_id = %lead.id, action = %form.action,
                "conversation handled on the dashboard");
            see_other(&format!("/leads/{}", lead.id), [])
        }
        Err(db::handoff::HandoffError::NotInHumanMode) => {
            see_other(&format!("/leads/{}?error=err_take_over", lead.id), [])
        }
        Err(e) => crate::http::routes::handoff::map(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct AfterSeq {
    after_seq: Option<i64>,
}

/// The live conversation's long-poll: the lead's messages after `after_seq`, as JSON.
async fn lead_messages(
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
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound("lead"))?;
    let (lead, _) = db::leads::by_id(&state.pool, user.tenant_id, id)
        .await?
        .ok_or(AppError::NotFound("lead"))?;
    let messages = crate::http::routes::chat::wait_for_messages(
        &state,
        user.tenant_id,
        crate::domain::BotUserId(lead.bot_user_id),
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
