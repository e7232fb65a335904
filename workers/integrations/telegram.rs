//! Telegram Bot API client: only what salesbot sends. The base URL is configurable so tests point it
//! at a fake server.

use std::time::Duration;

use serde::Deserialize;

use crate::config::Secret;

#[derive(Clone)]
pub struct TelegramClient {
    http: reqwest::Client,
    base_url: String,
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
}

#[derive(Deserialize)]
struct ResponseParameters {
    retry_after: Option<u64>,
}

impl TelegramClient {
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("TLS backend available"),
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// `sendMessage` with HTML formatting and no link previews.
    pub async fn send_message(
        &self,
        token: &Secret,
        chat_id: &str,
        html: &str,
    ) -> Result<(), TelegramError> {
        // The token is part of the URL: never log the URL.
        let url = format!("{}/bot{}/sendMessage", self.base_url, token.expose());
        let body = serde_json::json!({
            "chat_id": chat_id,
            "text": html,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
        });
        let response = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| TelegramError::Retryable(e.without_url().to_string()))?;
        let status = response.status();
        let api: Option<ApiResponse> = response.json().await.ok();
        if status.is_success() && api.as_ref().is_some_and(|a| a.ok) {
            return Ok(());
        }
        let description = api
            .as_ref()
            .and_then(|a| a.description.clone())
            .unwrap_or_else(|| status.to_string());
        Err(match status.as_u16() {
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
        })
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
