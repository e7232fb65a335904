//! OpenAI over HTTP: the async-openai client on our own transport, the provider's errors classified
//! for the queue, and Whisper-compatible transcription.
//!
//! Why our own transport: async-openai's default executor retries on its own (and sleeps in the
//! worker while doing so), and its error type drops the response headers that say when to come
//! back. Retries are the queue's decision — durable, bounded, visible — so [`Transport`] sends each
//! request exactly once and turns a failed response into a [`ProviderError`] that keeps
//! `retry-after`. Transcription does not go through async-openai at all: its multipart file part
//! carries a file name but no content type, which OpenAI-compatible servers use to pick a decoder.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::config::Secret;
use crate::domain::language::Language;
use crate::domain::text;
use crate::workers::integrations::http_client;
use crate::workers::pipeline::transcribe::{
    TranscribeError, TranscribeFuture, Transcriber, Transcript,
};

pub type OpenAiClient = async_openai::Client<OpenAIConfig>;

/// Why a provider call failed, in the terms the queue acts on.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// 429: come back after `retry_after` (a deferral, not a failed attempt).
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// 429 `insufficient_quota`: a billing state. Waiting does not help; someone must pay.
    #[error("quota exhausted: {0}")]
    QuotaExhausted(String),
    /// 5xx, 408, timeouts, connection errors: the same request may succeed later.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// 400/401/403/404/422 and answers we cannot read: retrying will not help.
    #[error("request refused ({status}): {message}")]
    Refused { status: u16, message: String },
}

/// Used when a 429 names no time at all.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Classifies a failed response (status, headers, body).
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
    #[derive(Deserialize)]
    struct Wrapped {
        error: ApiError,
    }
    #[derive(Deserialize)]
    struct ApiError {
        #[serde(default)]
        message: String,
        code: Option<serde_json::Value>,
        r#type: Option<String>,
    }
    let error = serde_json::from_slice::<Wrapped>(body)
        .ok()
        .map(|w| w.error);
    let message = error
        .as_ref()
        .map(|e| e.message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    let is_quota = error.as_ref().is_some_and(|e| {
        e.code.as_ref().and_then(|c| c.as_str()) == Some("insufficient_quota")
            || e.r#type.as_deref() == Some("insufficient_quota")
    });
    match status {
        429 if is_quota => ProviderError::QuotaExhausted(message),
        429 => ProviderError::RateLimited {
            retry_after: retry_after(headers).unwrap_or(DEFAULT_RETRY_AFTER),
        },
        408 | 409 | 500..=599 => ProviderError::Unavailable(format!("{status}: {message}")),
        _ => ProviderError::Refused { status, message },
    }
}

/// When to come back: `retry-after-ms`, `retry-after` (seconds or an HTTP date), else the later of
/// `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens` ("1s", "6m0s", "250ms").
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    if let Some(v) = header("retry-after") {
        if let Ok(secs) = v.parse::<f64>() {
            return Some(Duration::from_secs_f64(secs.max(0.0)));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(v) {
            let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
            return Some(wait.to_std().unwrap_or_default());
        }
    }
    ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
        .iter()
        .filter_map(|name| header(name).and_then(parse_reset))
        .max()
}

/// OpenAI's reset durations: a sequence of number+unit pairs, e.g. "1m30.5s", "20ms", "2h".
fn parse_reset(v: &str) -> Option<Duration> {
    let mut total = 0.0_f64;
    let mut rest = v.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(split);
        let number: f64 = number.parse().ok()?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        total += number
            * match unit {
                "ms" => 0.001,
                "s" | "" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                _ => return None,
            };
        rest = after;
    }
    Some(Duration::from_secs_f64(total))
}

/// Makes a client error out of what async-openai returns.
pub fn provider_error(error: OpenAIError) -> ProviderError {
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<ProviderError>() {
            Ok(provider) => *provider,
            Err(other) => ProviderError::Unavailable(other.to_string()),
        },
        OpenAIError::Reqwest(e) => ProviderError::Unavailable(transport_message(e)),
        OpenAIError::ApiError(api) => ProviderError::Refused {
            status: api.status_code.as_u16(),
            message: api.api_error.message,
        },
        // A 2xx body that is not a chat completion: the server is not speaking OpenAI.
        OpenAIError::JSONDeserialize(e, _) => ProviderError::Refused {
            status: 200,
            message: format!("unreadable answer: {e}"),
        },
        other => ProviderError::Refused {
            status: 0,
            message: other.to_string(),
        },
    }
}

fn transport_message(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        // Without the URL: it is ours and adds nothing.
        e.without_url().to_string()
    }
}

/// Sends each request exactly once; a non-2xx answer becomes a [`ProviderError`].
#[derive(Clone)]
struct Transport {
    http: reqwest::Client,
}

type TransportFuture = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = TransportFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let http = self.http.clone();
        Box::pin(async move {
            let request = request.build().await?;
            send(&http, request)
                .await
                .map_err(|e| OpenAIError::Boxed(Box::new(e)))
        })
    }
}

/// Sends one request, once: a 2xx response as it is; a failure to connect, a timeout or any other
/// status as the [`ProviderError`] the queue acts on.
async fn send(
    http: &reqwest::Client,
    request: reqwest::Request,
) -> Result<reqwest::Response, ProviderError> {
    let response = http
        .execute(request)
        .await
        .map_err(|e| ProviderError::Unavailable(transport_message(e)))?;
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap_or_default();
    Err(classify(status, &headers, &body))
}

/// An async-openai client that sends each request once, with `timeout`.
pub fn client(base_url: &str, api_key: &Secret, timeout: Duration) -> OpenAiClient {
    let http = http_client(timeout);
    let config = OpenAIConfig::new()
        .with_api_base(base_url)
        .with_api_key(api_key.expose());
    OpenAiClient::build(http.clone(), config).with_http_service(Transport { http })
}

/// Speech-to-text over an OpenAI-compatible `/audio/transcriptions`.
pub struct WhisperTranscriber {
    http: reqwest::Client,
    url: String,
    api_key: Secret,
    model: String,
}

impl WhisperTranscriber {
    pub fn new(base_url: &str, api_key: Secret, model: String, timeout: Duration) -> Self {
        Self {
            http: http_client(timeout),
            url: format!("{}/audio/transcriptions", base_url.trim_end_matches('/')),
            api_key,
            model,
        }
    }

    /// whisper-1 reports the language and duration only in `verbose_json`; the gpt-4o transcribe
    /// models accept only `json` and report usage instead.
    fn response_format(&self) -> &'static str {
        if self.model.starts_with("whisper") {
            "verbose_json"
        } else {
            "json"
        }
    }

    async fn call(
        &self,
        audio: &[u8],
        mime: &str,
        file_name: &str,
        hint: Option<Language>,
    ) -> Result<Transcript, ProviderError> {
        let part = reqwest::multipart::Part::bytes(audio.to_vec())
            .file_name(file_name.to_owned())
            .mime_str(mime)
            .map_err(|e| ProviderError::Refused {
                status: 0,
                message: format!("bad audio type {mime:?}: {e}"),
            })?;
        let mut form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("model", self.model.clone())
            .text("response_format", self.response_format());
        if let Some(code) = hint.filter(|l| *l != Language::Mixed).map(Language::code) {
            form = form.text("language", code);
        }
        let request = self
            .http
            .post(&self.url)
            .bearer_auth(self.api_key.expose())
            .multipart(form)
            .build()
            .map_err(|e| ProviderError::Refused {
                status: 0,
                message: e.to_string(),
            })?;
        let response = send(&self.http, request).await?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| ProviderError::Unavailable(transport_message(e)))?;
        parse_transcription(&body, audio.len()).ok_or_else(|| ProviderError::Refused {
            status,
            message: "unreadable transcription".into(),
        })
    }
}

/// The answer of `/audio/transcriptions`: `text` always; `duration` from verbose_json; `usage`
/// (`{"type":"duration","seconds":…}`) from newer servers. The language it reports is not used:
/// the turn detects the conversation's language from the words.
fn parse_transcription(body: &[u8], audio_bytes: usize) -> Option<Transcript> {
    #[derive(Deserialize)]
    struct Answer {
        text: String,
        duration: Option<f64>,
        usage: Option<AnswerUsage>,
    }
    #[derive(Deserialize)]
    struct AnswerUsage {
        seconds: Option<f64>,
    }
    let answer: Answer = serde_json::from_slice(body).ok()?;
    let seconds = answer
        .duration
        .or(answer.usage.and_then(|u| u.seconds))
        // No duration reported: bill by size at Opus voice-note bitrates (~16 kbit/s).
        .unwrap_or(audio_bytes as f64 / 2000.0);
    let text = text::scrub(&answer.text, text::MAX_TRANSCRIPT_CHARS);
    Some(Transcript { text, seconds })
}

impl Transcriber for WhisperTranscriber {
    fn model(&self) -> &str {
        &self.model
    }

    fn transcribe<'a>(
        &'a self,
        audio: &'a [u8],
        mime: &'a str,
        file_name: &'a str,
        language_hint: Option<Language>,
    ) -> TranscribeFuture<'a> {
        Box::pin(async move {
            self.call(audio, mime, file_name, language_hint)
                .await
                .map_err(|e| match e {
                    ProviderError::RateLimited { retry_after } => {
                        TranscribeError::RateLimited { retry_after }
                    }
                    ProviderError::Unavailable(m) => TranscribeError::Retryable(m),
                    other => TranscribeError::Fatal(other.to_string()),
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn rate_limit_waits_come_from_the_headers() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250"), ("retry-after", "7")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[
                ("x-ratelimit-reset-requests", "1m30.5s"),
                ("x-ratelimit-reset-tokens", "20ms")
            ])),
            Some(Duration::from_secs_f64(90.5))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
    }

    #[test]
    fn errors_are_classified_for_the_queue() {
        let quota = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert!(matches!(
            classify(429, &HeaderMap::new(), quota),
            ProviderError::QuotaExhausted(_)
        ));
        let limited = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        assert_eq!(
            classify(429, &headers(&[("retry-after", "3")]), limited),
            ProviderError::RateLimited {
                retry_after: Duration::from_secs(3)
            }
        );
        assert!(matches!(
            classify(503, &HeaderMap::new(), b"upstream down"),
            ProviderError::Unavailable(_)
        ));
        let bad_key = br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(
            classify(401, &HeaderMap::new(), bad_key),
            ProviderError::Refused {
                status: 401,
                message: "Incorrect API key provided".into()
            }
        );
    }

    #[test]
    fn transcriptions_report_text_and_seconds() {
        let verbose =
            r#"{"task":"transcribe","language":"kazakh","duration":4.2,"text":" Сәлеметсіз бе "}"#;
        let t = parse_transcription(verbose.as_bytes(), 10_000).unwrap();
        assert_eq!(t.text, "Сәлеметсіз бе");
        assert_eq!(t.seconds, 4.2);
        let plain = br#"{"text":"Hello, I want a house","usage":{"type":"duration","seconds":3}}"#;
        let t = parse_transcription(plain, 10_000).unwrap();
        assert_eq!(t.text, "Hello, I want a house");
        assert_eq!(t.seconds, 3.0);
    }
}
