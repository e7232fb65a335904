//! Telegram Bot API client: only what salesbot sends. The base URL is configurable so tests point it
//! at a fake server.

use std::time::Duration;

use serde::Deserialize;

use crate::config::Secret;

/// The update kinds salesbot handles; Telegram sends no others.
const ALLOWED_UPDATES: [&str; 2] = ["message", "edited_message"];

#[derive(Clone)]
pub struct TelegramClient {
    http: reqwest::Client,
    base_url: String,
    /// Where `getFile`'s `file_path` is downloaded from: `<file_base>/bot<token>/<file_path>`.
    file_base: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    /// 429: Telegram says when to try again (`parameters.retry_after`).
    #[error("Telegram rate limit: retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// 403: the bot was blocked by the user or removed from the chat.
    #[error("Telegram refused: {0}")]
    Forbidden(String),
    /// 5xx, timeouts, connection errors.
    #[error("Telegram unavailable: {0}")]
    Retryable(String),
    /// Anything else (bad request, bad token): retrying will not help.
    #[error("Telegram error: {0}")]
    Fatal(String),
}

#[derive(Deserialize)]
struct ApiResponse {
    ok: bool,
    description: Option<String>,
    parameters: Option<ResponseParameters>,
    result: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ResponseParameters {
    retry_after: Option<u64>,
}

#[derive(Deserialize)]
struct SentMessage {
    message_id: i64,
}

#[derive(Deserialize)]
struct FileInfo {
    file_path: Option<String>,
    file_size: Option<i64>,
}

impl TelegramClient {
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        Self {
            http: super::http_client(timeout),
            file_base: format!("{base_url}/file"),
            base_url,
        }
    }

    /// Downloads files from another base (a local Bot API server serves them elsewhere).
    pub fn with_file_base(mut self, file_base: &str) -> Self {
        self.file_base = file_base.trim_end_matches('/').to_owned();
        self
    }

    /// `sendMessage` with HTML formatting and no link previews.
    pub async fn send_message(
        &self,
        token: &Secret,
        chat_id: &str,
        html: &str,
    ) -> Result<(), TelegramError> {
        let body = serde_json::json!({
            "chat_id": chat_id,
            "text": html,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
        });
        self.call(token, "sendMessage", &body).await.map(drop)
    }

    /// `sendMessage` of plain text (a reply written by the engine or a manager: no markup is
    /// interpreted). Returns Telegram's message id.
    pub async fn send_text(
        &self,
        token: &Secret,
        chat_id: &str,
        text: &str,
    ) -> Result<i64, TelegramError> {
        let body = serde_json::json!({"chat_id": chat_id, "text": text});
        let result = self.call(token, "sendMessage", &body).await?;
        serde_json::from_value::<SentMessage>(result)
            .map(|m| m.message_id)
            .map_err(|e| TelegramError::Fatal(format!("unexpected sendMessage result: {e}")))
    }

    /// `getUpdates` long poll: the updates from `offset` on, waiting up to `wait` for the first.
    pub async fn get_updates(
        &self,
        token: &Secret,
        offset: i64,
        wait: Duration,
    ) -> Result<Vec<serde_json::Value>, TelegramError> {
        let body = serde_json::json!({
            "offset": offset,
            "timeout": wait.as_secs(),
            "allowed_updates": ALLOWED_UPDATES,
        });
        let result = self.call(token, "getUpdates", &body).await?;
        serde_json::from_value(result)
            .map_err(|e| TelegramError::Fatal(format!("unexpected getUpdates result: {e}")))
    }

    /// `deleteWebhook`: getUpdates works only while no webhook is set.
    pub async fn delete_webhook(&self, token: &Secret) -> Result<(), TelegramError> {
        self.call(token, "deleteWebhook", &serde_json::json!({}))
            .await
            .map(drop)
    }

    /// `sendChatAction` ("typing…" and the like).
    pub async fn send_chat_action(
        &self,
        token: &Secret,
        chat_id: &str,
        action: &str,
    ) -> Result<(), TelegramError> {
        let body = serde_json::json!({"chat_id": chat_id, "action": action});
        self.call(token, "sendChatAction", &body).await.map(drop)
    }

    /// `setWebhook` with the secret Telegram will send back, and only the update kinds we handle.
    pub async fn set_webhook(
        &self,
        token: &Secret,
        url: &str,
        secret_token: &str,
    ) -> Result<(), TelegramError> {
        let body = serde_json::json!({
            "url": url,
            "secret_token": secret_token,
            "allowed_updates": ALLOWED_UPDATES,
        });
        self.call(token, "setWebhook", &body).await.map(drop)
    }

    /// `getFile` then the download, refusing files over `max_bytes` (the Bot API serves at most
    /// 20 MB) both by the size Telegram reports and by what actually arrives.
    pub async fn download_file(
        &self,
        token: &Secret,
        file_id: &str,
        max_bytes: i64,
    ) -> Result<Vec<u8>, TelegramError> {
        let info = self
            .call(token, "getFile", &serde_json::json!({"file_id": file_id}))
            .await?;
        let info: FileInfo = serde_json::from_value(info)
            .map_err(|e| TelegramError::Fatal(format!("unexpected getFile result: {e}")))?;
        if info.file_size.is_some_and(|s| s > max_bytes) {
            return Err(TelegramError::Fatal(format!(
                "file of {} bytes is over the {max_bytes}-byte limit",
                info.file_size.unwrap_or_default()
            )));
        }
        let path = info
            .file_path
            .ok_or_else(|| TelegramError::Fatal("getFile gave no file_path".into()))?;
        // The token is part of the URL: never log the URL.
        let url = format!("{}/bot{}/{}", self.file_base, token.expose(), path);
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| TelegramError::Retryable(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(classify(status, None));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TelegramError::Retryable(e.without_url().to_string()))?;
        if bytes.len() as i64 > max_bytes {
            return Err(TelegramError::Fatal(
                "downloaded file is over the limit".into(),
            ));
        }
        Ok(bytes.to_vec())
    }

    /// One Bot API method call; its `result` on success, the classified error otherwise.
    async fn call(
        &self,
        token: &Secret,
        method: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, TelegramError> {
        // The token is part of the URL: never log the URL.
        let url = format!("{}/bot{}/{method}", self.base_url, token.expose());
        let answer = async {
            let response = self
                .http
                .post(url)
                .json(body)
                .send()
                .await
                .map_err(|e| TelegramError::Retryable(e.without_url().to_string()))?;
            let status = response.status();
            let api: Option<ApiResponse> = response.json().await.ok();
            if status.is_success() && api.as_ref().is_some_and(|a| a.ok) {
                return Ok(api
                    .and_then(|a| a.result)
                    .unwrap_or(serde_json::Value::Bool(true)));
            }
            Err(classify(status, api))
        }
        .await;
        let outcome = match &answer {
            Ok(_) => "ok",
            Err(TelegramError::RateLimited { .. }) => "rate_limited",
            Err(TelegramError::Forbidden(_)) => "forbidden",
            Err(TelegramError::Retryable(_)) => "unavailable",
            Err(TelegramError::Fatal(_)) => "error",
        };
        crate::metrics::telegram_request(method, outcome);
        answer
    }
}

fn classify(status: reqwest::StatusCode, api: Option<ApiResponse>) -> TelegramError {
    let description = api
        .as_ref()
        .and_then(|a| a.description.clone())
        .unwrap_or_else(|| status.to_string());
    match status.as_u16() {
        429 => TelegramError::RateLimited {
            retry_after: Duration::from_secs(
                api.and_then(|a| a.parameters)
                    .and_then(|p| p.retry_after)
                    .unwrap_or(1),
            ),
        },
        403 => TelegramError::Forbidden(description),
        500..=599 => TelegramError::Retryable(description),
        _ => TelegramError::Fatal(description),
    }
}

/// Escapes text for Telegram's HTML parse mode.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_is_escaped() {
        assert_eq!(
            super::html_escape("<b>A & B</b>"),
            "&lt;b&gt;A &amp; B&lt;/b&gt;"
        );
    }
}
