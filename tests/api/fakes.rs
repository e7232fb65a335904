//! Small fake servers of the outside APIs, on 127.0.0.1, that behave like the real ones (including
//! their errors), so tests exercise the real clients over real HTTP.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// A fake Telegram Bot API: records every call (method path and JSON body) and answers with the
/// scripted replies in order, then `{"ok": true}`.
#[derive(Clone, Default)]
pub struct FakeTelegram {
    pub calls: Arc<Mutex<Vec<(String, Value)>>>,
    script: Arc<Mutex<VecDeque<(u16, Value)>>>,
}

impl FakeTelegram {
    pub async fn start() -> (Self, SocketAddr) {
        let fake = Self::default();
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::post(handle))
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

    pub fn calls_to(&self, method: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path.ends_with(&format!("/{method}")))
            .map(|(_, body)| body.clone())
            .collect()
    }
}

async fn handle(
    State(fake): State<FakeTelegram>,
    Path(path): Path<String>,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    // Telegram's own check: the token is in the path, `bot<token>/<method>`.
    if !path.starts_with("bot") || !path.contains('/') {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "error_code": 404, "description": "Not Found"})),
        );
    }
    fake.calls.lock().unwrap().push((path, body));
    let (status, reply) = fake
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, json!({"ok": true, "result": {"message_id": 1}})));
    (StatusCode::from_u16(status).unwrap(), Json(reply))
}
