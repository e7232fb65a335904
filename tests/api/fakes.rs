//! Small fake servers of the outside APIs, on 127.0.0.1, that behave like the real ones (including
//! their errors), so tests exercise the real clients over real HTTP.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Scripted answers: status and body, in order.
type Script = VecDeque<(u16, Value)>;

/// A fake Telegram Bot API: records every call (path `bot<token>/<method>` and JSON body) and
/// answers with the scripted replies in order (per method first, then the shared script), then like
/// Telegram: `sendMessage` gives a new message id, `getFile` describes a file added with
/// [`FakeTelegram::add_file`], which `GET /file/bot<token>/<file_path>` then serves. Tokens added
/// with [`FakeTelegram::accept_token`] are the only ones accepted (401 otherwise), when any are.
#[derive(Clone, Default)]
pub struct FakeTelegram {
    pub calls: Arc<Mutex<Vec<(String, Value)>>>,
    script: Arc<Mutex<Script>>,
    method_scripts: Arc<Mutex<HashMap<String, Script>>>,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    tokens: Arc<Mutex<Vec<String>>>,
    failing_chats: Arc<Mutex<HashMap<String, (u16, Value)>>>,
    pub downloads: Arc<Mutex<Vec<String>>>,
    next_message_id: Arc<Mutex<i64>>,
}

impl FakeTelegram {
    pub async fn start() -> (Self, SocketAddr) {
        let fake = Self::default();
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::post(handle).get(download))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, addr)
    }

    /// The next call gets this status and body (as Telegram sends them).
    pub fn then_reply(&self, status: u16, body: Value) {
        self.script.lock().unwrap().push_back((status, body));
    }

    /// The next call of `method` gets this status and body.
    pub fn then_reply_to(&self, method: &str, status: u16, body: Value) {
        self.method_scripts
            .lock()
            .unwrap()
            .entry(method.to_owned())
            .or_default()
            .push_back((status, body));
    }

    /// Every `sendMessage` to this chat gets this answer from now on.
    pub fn fail_chat(&self, chat_id: &str, status: u16, body: Value) {
        self.failing_chats
            .lock()
            .unwrap()
            .insert(chat_id.to_owned(), (status, body));
    }

    /// Only these tokens are accepted from now on.
    pub fn accept_token(&self, token: &str) {
        self.tokens.lock().unwrap().push(token.to_owned());
    }

    /// A file `getFile` knows and the file endpoint serves.
    pub fn add_file(&self, file_id: &str, bytes: &[u8]) {
        self.files
            .lock()
            .unwrap()
            .insert(file_id.to_owned(), bytes.to_vec());
    }

    pub fn calls_to(&self, method: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path.ends_with(&format!("/{method}")))
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// The paths (`bot<token>/<method>`) of every call, in order.
    pub fn paths(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(path, _)| path.clone())
            .collect()
    }

    fn token_ok(&self, token: &str) -> bool {
        let tokens = self.tokens.lock().unwrap();
        tokens.is_empty() || tokens.iter().any(|t| t == token)
    }
}

fn not_found() -> (StatusCode, Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"ok": false, "error_code": 404, "description": "Not Found"})),
    )
}

async fn handle(
    State(fake): State<FakeTelegram>,
    Path(path): Path<String>,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    // Telegram's own check: the token is in the path, `bot<token>/<method>`.
    let Some((token, method)) = path.strip_prefix("bot").and_then(|p| p.split_once('/')) else {
        return not_found();
    };
    if !fake.token_ok(token) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        );
    }
    let method = method.to_owned();
    fake.calls
        .lock()
        .unwrap()
        .push((path.clone(), body.clone()));
    let chat = match &body["chat_id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some((status, reply)) = fake.failing_chats.lock().unwrap().get(&chat).cloned() {
        return (StatusCode::from_u16(status).unwrap(), Json(reply));
    }
    let scripted = fake
        .method_scripts
        .lock()
        .unwrap()
        .get_mut(&method)
        .and_then(VecDeque::pop_front)
        .or_else(|| fake.script.lock().unwrap().pop_front());
    if let Some((status, reply)) = scripted {
        return (StatusCode::from_u16(status).unwrap(), Json(reply));
    }
    let result = match method.as_str() {
        "sendMessage" => {
            let mut id = fake.next_message_id.lock().unwrap();
            *id += 1;
            json!({"message_id": *id, "chat": {"id": body["chat_id"]}, "text": body["text"]})
        }
        "getFile" => {
            let file_id = body["file_id"].as_str().unwrap_or_default();
            match fake.files.lock().unwrap().get(file_id) {
                Some(bytes) => json!({"file_id": file_id, "file_size": bytes.len(),
                                      "file_path": format!("voice/{file_id}.oga")}),
                None => {
                    return (
                        StatusCode::BAD_REQUEST,
                        Json(json!({"ok": false, "error_code": 400,
                                    "description": "Bad Request: invalid file_id"})),
                    );
                }
            }
        }
        "getUpdates" => json!([]),
        "getMe" => json!({"id": 987654, "is_bot": true, "first_name": "Salesbot",
                          "username": "salesbot_platform_bot"}),
        _ => json!(true),
    };
    (StatusCode::OK, Json(json!({"ok": true, "result": result})))
}

/// `GET /file/bot<token>/<file_path>`: the file download endpoint.
async fn download(State(fake): State<FakeTelegram>, Path(path): Path<String>) -> Response {
    let Some((token, file_path)) = path
        .strip_prefix("file/bot")
        .and_then(|p| p.split_once('/'))
    else {
        return not_found().into_response();
    };
    if !fake.token_ok(token) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    fake.downloads.lock().unwrap().push(path.clone());
    let file_id = file_path
        .strip_prefix("voice/")
        .and_then(|f| f.strip_suffix(".oga"))
        .unwrap_or_default();
    match fake.files.lock().unwrap().get(file_id) {
        Some(bytes) => bytes.clone().into_response(),
        None => not_found().into_response(),
    }
}

/// One request a [`FakeReceiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub webhook_id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

/// A webhook receiver (an integration's endpoint): records every request with its Standard
/// Webhooks headers, and answers the scripted statuses in order, then `otherwise` (200 unless set).
#[derive(Clone, Default)]
pub struct FakeReceiver {
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    otherwise: Arc<Mutex<Option<u16>>>,
}

impl FakeReceiver {
    /// The receiver and its URL.
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, format!("http://{addr}/hook"))
    }

    pub fn then_answer(&self, status: u16) {
        self.script.lock().unwrap().push_back(status);
    }

    pub fn answer_otherwise(&self, status: u16) {
        *self.otherwise.lock().unwrap() = Some(status);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn receive(
    State(fake): State<FakeReceiver>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    fake.received.lock().unwrap().push(Received {
        webhook_id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
    });
    let status = fake
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or(*fake.otherwise.lock().unwrap())
        .unwrap_or(200);
    let status = StatusCode::from_u16(status).unwrap();
    (status, format!("receiver says {}", status.as_u16())).into_response()
}

/// One request a [`FakeAmo`] got: method, path, JSON body, Authorization header.
#[derive(Debug, Clone)]
pub struct AmoCall {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub auth: String,
}

/// A fake amoCRM API v4 for one account whose long-lived token is [`FakeAmo::TOKEN`]: records
/// every call; `leads/complex` creates a lead and its contact with fresh ids, PATCHes answer like
/// amoCRM; a wrong token gets 401; scripted answers (status, `Retry-After`) come first.
#[derive(Clone, Default)]
pub struct FakeAmo {
    calls: Arc<Mutex<Vec<AmoCall>>>,
    script: Arc<Mutex<VecDeque<AmoAnswer>>>,
    next_id: Arc<Mutex<i64>>,
}

/// A scripted answer: status and `Retry-After` seconds.
type AmoAnswer = (u16, Option<u64>);

impl FakeAmo {
    pub const TOKEN: &'static str = "amo-long-lived-token";

    /// The fake and its base URL (AMOCRM_API_BASE).
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::any(amo))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, format!("http://{addr}"))
    }

    pub fn then_answer(&self, status: u16, retry_after: Option<u64>) {
        self.script.lock().unwrap().push_back((status, retry_after));
    }

    pub fn calls(&self) -> Vec<AmoCall> {
        self.calls.lock().unwrap().clone()
    }
}

async fn amo(
    State(fake): State<FakeAmo>,
    method: axum::http::Method,
    Path(path): Path<String>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = format!("/{path}");
    fake.calls.lock().unwrap().push(AmoCall {
        method: method.to_string(),
        path: path.clone(),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        auth: auth.clone(),
    });
    if let Some((status, retry_after)) = fake.script.lock().unwrap().pop_front() {
        let mut response = (
            StatusCode::from_u16(status).unwrap(),
            Json(json!({"title": "scripted", "status": status})),
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", seconds.to_string().parse().unwrap());
        }
        return response;
    }
    if auth != format!("Bearer {}", FakeAmo::TOKEN) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"title": "Unauthorized", "status": 401})),
        )
            .into_response();
    }
    let mut next = fake.next_id.lock().unwrap();
    match (method.as_str(), path.as_str()) {
        ("POST", "/api/v4/leads/complex") => {
            *next += 2;
            Json(
                json!([{"id": 1000 + *next, "contact_id": 2000 + *next, "company_id": null,
                          "request_id": ["0"], "merged": false}]),
            )
            .into_response()
        }
        ("PATCH", p) if p.starts_with("/api/v4/leads/") || p.starts_with("/api/v4/contacts/") => {
            let id: i64 = p.rsplit('/').next().unwrap().parse().unwrap();
            Json(json!({"id": id, "updated_at": 1_796_000_000})).into_response()
        }
        _ => (StatusCode::NOT_FOUND, Json(json!({"title": "Not found"}))).into_response(),
    }
}
