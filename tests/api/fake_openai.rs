//! A fake OpenAI API on 127.0.0.1: checks each request the way the real API would (path, bearer
//! key, JSON body, model, strict tool schemas, multipart file part with its content type), records
//! it, and answers with real response shapes — or with the scripted failure.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const API_KEY: &str = "sk-test-0123456789";

/// What the fake does with the next request of a kind.
#[derive(Clone, Debug)]
pub enum Answer {
    /// A plain assistant message.
    Reply(String),
    /// One function tool call (`arguments` as the model would send them).
    Tool { name: String, arguments: Value },
    /// An error status with headers and an OpenAI error body.
    Fail {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Value,
    },
    /// Answers `then` only after `delay` (a slow server: the client's timeout should fire).
    Slow { delay: Duration, then: Box<Answer> },
}

impl Answer {
    pub fn reply(text: &str) -> Self {
        Answer::Reply(text.to_owned())
    }

    pub fn tool(name: &str, arguments: Value) -> Self {
        Answer::Tool {
            name: name.to_owned(),
            arguments,
        }
    }

    pub fn status(status: u16, code: &str, message: &str) -> Self {
        Answer::Fail {
            status,
            headers: Vec::new(),
            body: json!({"error": {"message": message, "type": code, "param": null, "code": code}}),
        }
    }
}

/// A recorded transcription request.
#[derive(Clone, Debug, Default)]
pub struct AudioCall {
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: usize,
    pub model: Option<String>,
    pub language: Option<String>,
    pub response_format: Option<String>,
}

#[derive(Clone, Default)]
pub struct FakeOpenAi {
    pub chat_calls: Arc<Mutex<Vec<Value>>>,
    pub audio_calls: Arc<Mutex<Vec<AudioCall>>>,
    chat_script: Arc<Mutex<VecDeque<Answer>>>,
    /// Answers when nothing is scripted.
    default_reply: Arc<Mutex<String>>,
    transcript: Arc<Mutex<(String, String)>>,
}

impl FakeOpenAi {
    /// Starts the fake; the returned base URL is what OPENAI_BASE_URL would be.
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        *fake.default_reply.lock().unwrap() = "Здравствуйте! Чем могу помочь?".into();
        let app = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(chat))
            .route("/v1/audio/transcriptions", axum::routing::post(transcribe))
            .route("/v1/models", axum::routing::get(models))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, format!("http://{addr}/v1"))
    }

    pub fn then(&self, answer: Answer) {
        self.chat_script.lock().unwrap().push_back(answer);
    }

    pub fn always_reply(&self, text: &str) {
        *self.default_reply.lock().unwrap() = text.to_owned();
    }

    /// What the transcription endpoint answers: the text and Whisper's language name.
    pub fn transcribes_as(&self, text: &str, language: &str) {
        *self.transcript.lock().unwrap() = (text.to_owned(), language.to_owned());
    }

    pub fn chat_count(&self) -> usize {
        self.chat_calls.lock().unwrap().len()
    }

    pub fn chat_call(&self, i: usize) -> Value {
        self.chat_calls.lock().unwrap()[i].clone()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}})),
    )
        .into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {API_KEY}"))
}

/// What the real API would refuse with 400: a missing model or messages, non-strict tools, and
/// schemas strict mode does not accept.
fn check_chat_request(body: &Value) -> Result<(), String> {
    if body["model"].as_str().is_none_or(str::is_empty) {
        return Err("you must provide a model parameter".into());
    }
    let messages = body["messages"].as_array().ok_or("messages is required")?;
    if messages.is_empty() || messages[0]["role"] != "system" {
        return Err("expected the system prompt first".into());
    }
    for m in messages {
        if m["role"] == "tool" && m["tool_call_id"].as_str().is_none() {
            return Err("tool messages need tool_call_id".into());
        }
    }
    if body["parallel_tool_calls"] != false {
        return Err("salesbot must send parallel_tool_calls: false".into());
    }
    for tool in body["tools"].as_array().ok_or("tools are required")? {
        let function = &tool["function"];
        if tool["type"] != "function" || function["strict"] != true {
            return Err(format!("tool is not a strict function: {tool}"));
        }
        let params = &function["parameters"];
        let props = params["properties"].as_object().ok_or("no properties")?;
        let required = params["required"].as_array().ok_or("no required")?;
        if params["additionalProperties"] != false || required.len() != props.len() {
            return Err(format!(
                "strict schemas need additionalProperties false and all properties required: {}",
                function["name"]
            ));
        }
    }
    Ok(())
}

fn completion(message: Value, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    })
}

/// `GET /v1/models`, as OpenAI lists them (what `salesbot doctor` asks to try the key).
async fn models(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Incorrect API key provided");
    }
    axum::Json(json!({"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}))
        .into_response()
}

async fn chat(State(fake): State<FakeOpenAi>, headers: HeaderMap, body: String) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Incorrect API key provided");
    }
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "We could not parse the JSON body");
    };
    if let Err(message) = check_chat_request(&body) {
        return error(StatusCode::BAD_REQUEST, &message);
    }
    let n = {
        let mut calls = fake.chat_calls.lock().unwrap();
        calls.push(body);
        calls.len()
    };
    let mut answer = fake
        .chat_script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| Answer::Reply(fake.default_reply.lock().unwrap().clone()));
    loop {
        return match answer {
            Answer::Slow { delay, then } => {
                tokio::time::sleep(delay).await;
                answer = *then;
                continue;
            }
            Answer::Reply(text) => Json(completion(
                json!({"role": "assistant", "content": text, "refusal": null}),
                "stop",
            ))
            .into_response(),
            Answer::Tool { name, arguments } => Json(completion(
                json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [{
                    "id": format!("call_{n}"), "type": "function",
                    "function": {"name": name, "arguments": arguments.to_string()}
                }]}),
                "tool_calls",
            ))
            .into_response(),
            Answer::Fail {
                status,
                headers,
                body,
            } => {
                let mut response =
                    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response();
                for (name, value) in headers {
                    response.headers_mut().insert(name, value.parse().unwrap());
                }
                response
            }
        };
    }
}

async fn transcribe(
    State(fake): State<FakeOpenAi>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "Incorrect API key provided");
    }
    let mut call = AudioCall::default();
    while let Ok(Some(field)) = form.next_field().await {
        match field.name().unwrap_or_default() {
            "file" => {
                call.file_name = field.file_name().map(str::to_owned);
                call.content_type = field.content_type().map(str::to_owned);
                call.bytes = field.bytes().await.map_or(0, |b| b.len());
            }
            "model" => call.model = field.text().await.ok(),
            "language" => call.language = field.text().await.ok(),
            "response_format" => call.response_format = field.text().await.ok(),
            _ => {}
        }
    }
    if call.file_name.is_none() || call.bytes == 0 {
        return error(StatusCode::BAD_REQUEST, "file is required");
    }
    if call.model.as_deref().is_none_or(str::is_empty) {
        return error(StatusCode::BAD_REQUEST, "model is required");
    }
    let verbose = call.response_format.as_deref() == Some("verbose_json");
    fake.audio_calls.lock().unwrap().push(call);
    let (text, language) = fake.transcript.lock().unwrap().clone();
    if verbose {
        Json(json!({"task": "transcribe", "language": language, "duration": 3.5, "text": text, "segments": []}))
            .into_response()
    } else {
        Json(json!({"text": text})).into_response()
    }
}
