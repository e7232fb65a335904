//! Our extractors for what a request carries — JSON and form bodies, query strings, path
//! parameters — with rejections in our error format.
//!
//! axum's own rejections are `text/plain` and quote the client's input back ("invalid digit found in
//! string", "unknown variant `x`", a UUID's offending character). Ours name the parameter and what
//! it expects, never the value sent: [`describe`] keeps only what comes from our own types.
//! Unknown JSON fields are refused by the request types themselves (`#[serde(deny_unknown_fields)]`).

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON body (`Content-Type: application/json`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if !is_json(req.headers()) {
            return Err(AppError::UnsupportedMediaType(
                "expected `Content-Type: application/json`".into(),
            ));
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(Self)
    }
}

/// Deserializes a JSON request body, with our error messages. A body is a JSON object: serde
/// would also read a struct from an array of its fields in order (`["c1", "hi"]` as a chat
/// message, `[null]` as a settings change), which no schema of ours allows.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    // Only for a body that is not an object: valid JSON of another kind is refused here; invalid
    // JSON gets its syntax error below.
    if !object && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return Err(AppError::Validation(
            "the body must be a JSON object".into(),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_data() {
            AppError::Validation(describe("field", &path, &inner.to_string()))
        } else {
            // Syntax, or the body ended early: the position is the useful part, and is not input.
            AppError::BadRequest(format!(
                "the body is not valid JSON: {}",
                json_position(&inner)
            ))
        }
    })?;
    deserializer.end().map_err(|e| {
        AppError::BadRequest(format!("the body is not valid JSON: {}", json_position(&e)))
    })?;
    Ok(value)
}

fn json_position(err: &serde_json::Error) -> String {
    let what = match err.classify() {
        serde_json::error::Category::Eof => "it ends too early",
        serde_json::error::Category::Syntax => "syntax error",
        _ => "unreadable",
    };
    format!("{what} at line {} column {}", err.line(), err.column())
}

/// An `application/x-www-form-urlencoded` body.
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if !has_media_type(req.headers(), "application/x-www-form-urlencoded") {
            return Err(AppError::UnsupportedMediaType(
                "expected `Content-Type: application/x-www-form-urlencoded`".into(),
            ));
        }
        let bytes = body_bytes(req, state).await?;
        parse_urlencoded(&bytes, "field").map(Self)
    }
}

/// The query string, decoded into `T` (absent: as if empty).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or_default();
        parse_urlencoded(query.as_bytes(), "query parameter").map(Self)
    }
}

fn parse_urlencoded<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, AppError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        AppError::Validation(describe(
            what,
            &err.path().to_string(),
            &err.inner().to_string(),
        ))
    })
}

/// Path parameters, decoded into `T`.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> AppError {
    use axum::extract::path::ErrorKind;
    let PathRejection::FailedToDeserializePathParams(err) = rejection else {
        // Routing guarantees the parameters exist; anything else is our bug.
        return AppError::internal(anyhow::anyhow!(
            "path extraction: {}",
            rejection.body_text()
        ));
    };
    let message = match err.into_kind() {
        ErrorKind::ParseErrorAtKey {
            key, expected_type, ..
        } => format!(
            "path parameter `{key}` must be {}",
            type_description(expected_type)
        ),
        ErrorKind::ParseError { expected_type, .. } => {
            format!(
                "the path parameter must be {}",
                type_description(expected_type)
            )
        }
        ErrorKind::InvalidUtf8InPathParam { key } => {
            format!("path parameter `{key}` is not valid UTF-8")
        }
        ErrorKind::Message(message) => describe("path parameter", "", &message),
        _ => "a path parameter is not valid: see /docs for this route".into(),
    };
    AppError::Validation(message)
}

fn type_description(rust_type: &str) -> String {
    match rust_type.rsplit("::").next().unwrap_or(rust_type) {
        "Uuid" => "a UUID".into(),
        "i64" | "i32" | "u64" | "u32" | "usize" => "an integer".into(),
        other => format!("a valid {other}"),
    }
}

/// A list field that is a set: sorted, each value once, and not empty (422 naming `field`).
pub fn distinct_non_empty<T: Ord>(mut items: Vec<T>, field: &str) -> Result<Vec<T>, AppError> {
    items.sort();
    items.dedup();
    if items.is_empty() {
        return Err(AppError::Validation(format!("{field}: give at least one")));
    }
    Ok(items)
}

/// Says what is wrong with a value without repeating it. serde's messages quote the input
/// ("invalid type: string \"x\", expected u32", "unknown variant `x`, expected one of …"); what
/// follows "expected" comes from our types, and so do messages of our own `Deserialize` impls
/// (the text policy's "must …"), which are kept whole.
pub fn describe(what: &str, path: &str, message: &str) -> String {
    let subject = if path.is_empty() || path == "." {
        format!("a {what}")
    } else {
        format!("{what} `{path}`")
    };
    let message = message.split(" at line ").next().unwrap_or(message);
    if message.starts_with("must ") {
        return format!("{subject} {message}");
    }
    if let Some(field) = message.strip_prefix("missing field ") {
        return format!("{what} {field} is required");
    }
    if message.starts_with("unknown field ") {
        let expected = message
            .split_once(", expected ")
            .map(|(_, e)| format!(": expected {e}"))
            .unwrap_or_default();
        return format!("unknown {what}{expected}");
    }
    if message.starts_with("duplicate field ") {
        return format!("{subject} is given more than once");
    }
    match message.rsplit_once("expected ") {
        Some((_, expected)) if is_ours(message) => {
            format!("{subject} is not valid: expected {expected}")
        }
        _ => format!("{subject} is not valid: see /docs"),
    }
}

/// serde's own messages, whose "expected …" names one of our types or values.
fn is_ours(message: &str) -> bool {
    [
        "invalid type: ",
        "invalid value: ",
        "invalid length ",
        "unknown variant ",
    ]
    .iter()
    .any(|p| message.starts_with(p))
}

/// `application/json`, or a JSON-based type such as `application/merge-patch+json`.
pub fn is_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|m| m == "application/json" || m.ends_with("+json"))
}

/// The request's media type, lowercase, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

fn has_media_type(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

pub(crate) async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge("the request body is larger than allowed".into())
        } else {
            AppError::BadRequest("the request body could not be read".into())
        }
    })
}

/// An integer query parameter within `MIN..=MAX`; outside it is refused (422), never clamped, so
/// the OpenAPI document's `minimum`/`maximum` are exactly what is accepted. As in JSON Schema,
/// `258.0` is the integer 258.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntIn<const MIN: i64, const MAX: i64>(pub i64);

/// [`IntIn`] for a JSON body, where a string is not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyIntIn<const MIN: i64, const MAX: i64>(pub i64);

impl<'de, const MIN: i64, const MAX: i64> serde::Deserialize<'de> for IntIn<MIN, MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(Integer::<MIN, MAX, true>)
            .map(Self)
    }
}

impl<'de, const MIN: i64, const MAX: i64> serde::Deserialize<'de> for BodyIntIn<MIN, MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(Integer::<MIN, MAX, false>)
            .map(Self)
    }
}

/// Reads an integer in `MIN..=MAX`; from text (a query string) only when `TEXT`.
struct Integer<const MIN: i64, const MAX: i64, const TEXT: bool>;

impl<const MIN: i64, const MAX: i64, const TEXT: bool> serde::de::Visitor<'_>
    for Integer<MIN, MAX, TEXT>
{
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an integer from {MIN} to {MAX}")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
        if (MIN..=MAX).contains(&v) {
            Ok(v)
        } else {
            Err(E::custom(format_args!(
                "must be an integer from {MIN} to {MAX}"
            )))
        }
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
        self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
        // Exactly an i64 only below 2^63; the range check does the rest.
        if v.fract() == 0.0 && v.abs() < 9.2e18 {
            self.visit_i64(v as i64)
        } else {
            Err(E::custom(format_args!(
                "must be an integer from {MIN} to {MAX}"
            )))
        }
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<i64, E> {
        match (TEXT, v.parse::<i64>(), v.parse::<f64>()) {
            (true, Ok(i), _) => self.visit_i64(i),
            (true, _, Ok(f)) if f.is_finite() => self.visit_f64(f),
            _ => Err(E::custom(format_args!(
                "must be an integer from {MIN} to {MAX}"
            ))),
        }
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::PartialSchema for IntIn<MIN, MAX> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        int_schema(MIN, MAX)
    }
}

impl<const MIN: i64, const MAX: i64> serde::Serialize for BodyIntIn<MIN, MAX> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::PartialSchema for BodyIntIn<MIN, MAX> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        int_schema(MIN, MAX)
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::ToSchema for BodyIntIn<MIN, MAX> {
    fn name() -> std::borrow::Cow<'static, str> {
        <IntIn<MIN, MAX> as utoipa::ToSchema>::name()
    }
}

fn int_schema(min: i64, max: i64) -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Integer))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(min))
            .maximum(Some(max))
            .into()
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::ToSchema for IntIn<MIN, MAX> {
    fn name() -> std::borrow::Cow<'static, str> {
        format!("Integer{MIN}To{MAX}").replace('-', "Minus").into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_never_repeat_the_input() {
        let cases = [
            (
                "invalid type: string \"SECRET\", expected u32",
                "field `limit` is not valid: expected u32",
            ),
            (
                "unknown variant `SECRET`, expected one of `new`, `won`",
                "field `limit` is not valid: expected one of `new`, `won`",
            ),
            (
                "invalid digit found in string",
                "field `limit` is not valid: see /docs",
            ),
            (
                "UUID parsing failed: found `S` at 1",
                "field `limit` is not valid: see /docs",
            ),
            (
                "must be at most 4096 characters long",
                "field `limit` must be at most 4096 characters long",
            ),
        ];
        for (serde, ours) in cases {
            assert_eq!(describe("field", "limit", serde), ours);
        }
        assert_eq!(
            describe(
                "field",
                ".",
                "unknown field `SECRET`, expected `user_id` or `text`"
            ),
            "unknown field: expected `user_id` or `text`"
        );
        assert_eq!(
            describe("field", ".", "missing field `text` at line 1 column 2"),
            "field `text` is required"
        );
    }
}
