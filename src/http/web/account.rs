//! Sign-up, sign-in and sign-out: the API's accounts, its sign-in token kept in the session
//! cookie.

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::words::{Lang, t};
use super::{
    cleared_session, csrf_field, csrf_ok, csrf_token, forbidden, language, page, respond,
    see_other, session_cookie, web_user,
};
use crate::domain::{Email, Password, TenantName};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::limits::ClientAddress;
use crate::http::routes::auth::{RegisterRequest, sign_in, sign_up};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/register", get(register_page).post(register))
        .route("/logout", post(logout))
}

#[derive(Debug, Deserialize, Default)]
struct LangQuery {
    lang: Option<String>,
}

fn login_form(lang: Lang, csrf: &str, error: Option<&str>, email: &str) -> Markup {
    html! {
        form.card method="post" action="/login" {
            h1 { (t(lang, "login")) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            (csrf_field(csrf))
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
    let (lang, lang_cookie) = language(&headers, query.lang.as_deref());
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
    let (lang, _) = language(&headers, None);
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
            (csrf_field(csrf))
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
    let (lang, lang_cookie) = language(&headers, query.lang.as_deref());
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
    let (lang, _) = language(&headers, None);
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
    let (lang, _) = language(&headers, None);
    if !csrf_ok(&headers, form.csrf.as_deref().unwrap_or_default()) {
        return forbidden(lang);
    }
    see_other("/login", [cleared_session(&state)])
}
