//! The managers' dashboard: server-rendered pages (maud, no JS build, assets in the binary) on the
//! same accounts as the API. Leads (table, filters, CSV, a lead's page), conversations (list and
//! view, new messages appended live by a small script long-polling the page's own endpoint; take
//! over, reply, hand back), settings (Telegram, assistant with coalescing and budget, amoCRM, API
//! keys, webhooks and their deliveries), usage and cost, and the owner's queue panel. Russian by
//! default, Kazakh and English by `?lang=` (remembered in a cookie).
//!
//! The session is the API's sign-in token in an HttpOnly cookie (SameSite=Lax; Secure behind
//! HTTPS). Every form POST carries a CSRF token that must equal the `salesbot_csrf` cookie (double
//! submit): another site can neither read nor set that cookie, so it cannot forge the form. A
//! page of another company's lead or conversation is a 404, as in the API. Forms that change the
//! company's set-up call the API's own handlers, so a rule (validation, the owner check, what a
//! change wakes) is written once.

mod account;
mod conversations;
mod fields;
mod leads;
mod ops;
mod settings;
mod words;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};

use crate::domain::Role;
use crate::http::AppState;
use crate::http::auth::AuthUser;
use words::{Lang, t};

const SESSION: &str = "salesbot_session";
const CSRF: &str = "salesbot_csrf";
const LANG: &str = "salesbot_lang";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/live.js", get(live_js))
        .merge(account::router())
        .merge(leads::router())
        .merge(conversations::router())
        .merge(settings::router())
        .merge(ops::router())
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

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// The page's language: `?lang=` (then remembered), else the cookie, else Russian.
fn language(headers: &HeaderMap, asked: Option<&str>) -> (Lang, Option<HeaderValue>) {
    let chosen = asked.and_then(Lang::from_code);
    let remembered = cookie(headers, LANG)
        .and_then(Lang::from_code)
        .unwrap_or(Lang::Ru);
    let set = chosen.map(|lang| {
        HeaderValue::from_str(&format!(
            "{LANG}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
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

/// A signed-in request: who, in which language, the form token its page carries, and the
/// cookies the answer sets.
struct Ctx {
    lang: Lang,
    user: AuthUser,
    csrf: String,
    cookies: Vec<HeaderValue>,
}

/// A page's request: the signed-in manager, the language (`?lang=`, the cookie, Russian), the
/// form token; without a session, the way to the sign-in page.
impl axum::extract::FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let asked = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .find_map(|(k, v)| (k == "lang").then_some(v));
        let (lang, lang_cookie) = language(&parts.headers, asked.as_deref());
        let Some(user) = web_user(state, &parts.headers).await else {
            return Err(see_other("/login", lang_cookie));
        };
        let (csrf, csrf_cookie) = csrf_token(state, &parts.headers);
        Ok(Ctx {
            lang,
            user,
            csrf,
            cookies: lang_cookie.into_iter().chain(csrf_cookie).collect(),
        })
    }
}

impl Ctx {
    /// A form's request: its CSRF token checked first (403), then the session.
    async fn form(state: &AppState, headers: &HeaderMap, csrf: &str) -> Result<Ctx, Response> {
        let (lang, _) = language(headers, None);
        if !csrf_ok(headers, csrf) {
            return Err(forbidden(lang));
        }
        let Some(user) = web_user(state, headers).await else {
            return Err(see_other("/login", []));
        };
        Ok(Ctx {
            lang,
            user,
            csrf: csrf.to_owned(),
            cookies: Vec::new(),
        })
    }

    fn t(&self, key: &str) -> &'static str {
        t(self.lang, key)
    }

    /// For a page of the company's owner only: the 403 page anyone else gets.
    fn not_owner(&self) -> Option<Response> {
        if self.user.role == Role::Owner {
            return None;
        }
        let body = html! { p.error #owner-only { (self.t("owner_only")) } };
        Some(self.render(StatusCode::FORBIDDEN, "403", body))
    }

    fn render(&self, status: StatusCode, title: &str, body: Markup) -> Response {
        respond(
            status,
            page(self.lang, title, Some(&self.user), &self.csrf, body),
            self.cookies.iter().cloned(),
        )
    }

    fn not_found(&self) -> Response {
        let body = html! {
            p { (self.t("not_found")) }
            p { a href="/" { (self.t("back")) } }
        };
        self.render(StatusCode::NOT_FOUND, "404", body)
    }
}

/// The hidden CSRF field every form carries.
fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

fn page(lang: Lang, title: &str, user: Option<&AuthUser>, csrf: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (maud::PreEscaped(CSS)) }
            }
            body {
                header {
                    a.brand href="/" { "Salesbot" }
                    @if let Some(user) = user {
                        nav #menu {
                            a href="/" { (t(lang, "leads")) }
                            a href="/conversations" { (t(lang, "conversations")) }
                            a href="/usage" { (t(lang, "usage")) }
                            @if user.role == Role::Owner {
                                a href="/settings" { (t(lang, "settings")) }
                                a href="/queue" { (t(lang, "queue")) }
                            }
                        }
                    }
                    nav {
                        @for (i, other) in Lang::ALL.iter().enumerate() {
                            @if i > 0 { " · " }
                            a href={ "?lang=" (other.code()) } lang=(other.code()) { (other.label()) }
                        }
                        @if let Some(user) = user {
                            span.who { (user.tenant_name) " · " (user.email) }
                            form.inline method="post" action="/logout" {
                                (csrf_field(csrf))
                                button #logout type="submit" { (t(lang, "logout")) }
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
form.card label,section.panel label{display:block;margin:.75rem 0 .25rem}
section.panel{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:1rem 1.25rem;margin:0 0 1rem}
section.panel h2{margin-top:0}
input,textarea{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;border:1px solid #c9d1d9;border-radius:6px}
input[type=checkbox]{width:auto}
button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:0;background:#0b5cad;color:#fff;cursor:pointer;margin-top:1rem}
form.inline{display:inline}form.inline button{margin:0;background:#57606a}
button.danger{background:#b42318}
.error{color:#b42318;margin:.5rem 0}.notice{color:#1a7f37;margin:.5rem 0}
.secret{font-family:ui-monospace,monospace;background:#fff8c5;padding:.5rem;border-radius:6px;word-break:break-all}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{padding:.5rem;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
pre{background:#0d1117;color:#e6edf3;padding:1rem;border-radius:6px;overflow:auto;white-space:pre-wrap}
.msg{background:#fff;border:1px solid #eaeef2;border-radius:8px;padding:.5rem .75rem;margin:.5rem 0;max-width:80%}
.msg.user{margin-right:auto}.msg.assistant,.msg.manager{margin-left:auto;background:#eef6ff}
.meta{color:#57606a;font-size:.85em}
.scroll{overflow-x:auto}
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

/// A time as managers read it (UTC, minutes).
fn when(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}
