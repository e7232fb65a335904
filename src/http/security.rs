//! What every response gets on its way out, whichever route (or none) produced it: the JSON error
//! format for every non-2xx answer, and the security headers.
//!
//! Handlers already answer errors as `{"error":{"code","message"}}`; this layer is the safety net for
//! the answers no handler wrote — axum's extractor rejections (query, path, form: `text/plain`, and
//! echoing the client's input), 405 and 413 from the router and body limit, a too-long URI. Such a
//! body is replaced by a message chosen from the status alone, so no raw input is ever echoed.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Longer request targets are refused (414) before routing: nothing of ours needs more, and the
/// limit keeps logs and spans small. (hyper answers 414 itself, with an empty body, past 64 KiB.)
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Pages may not be framed (clickjacking) and load nothing from elsewhere. Swagger UI needs inline
/// styles and `data:` images.
const HTML_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
     script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

#[derive(Clone, Copy)]
pub struct Policy {
    /// `PUBLIC_URL` is https: browsers are told to stay on https (HSTS).
    pub https: bool,
}

pub async fn layer(State(policy): State<Policy>, request: Request, next: Next) -> Response {
    // API answers are a tenant's data or a token: no cache, shared or private, may keep them.
    let private = request.headers().contains_key(header::AUTHORIZATION)
        || request.uri().path().starts_with("/api/");
    let target_len = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    let mut response = if target_len > MAX_URI_BYTES {
        AppError::Status {
            status: StatusCode::URI_TOO_LONG,
            message: format!("the URI is longer than {MAX_URI_BYTES} bytes"),
        }
        .into_response()
    } else {
        next.run(request).await
    };
    // The dashboard's own error pages (HTML) stay; bare answers get our JSON error.
    if !response.status().is_success() && !is_json(&response) && !is_html(&response) {
        response = replacement(response);
    }
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if private && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(HTML_CSP),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    if policy.https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The JSON error for a non-2xx answer written without our format, keeping its status and the
/// headers a client acts on (`Allow`, `Retry-After`, CORS).
fn replacement(original: Response) -> Response {
    let status = original.status();
    if status.is_redirection() || status == StatusCode::NOT_MODIFIED {
        return original;
    }
    let message = match status {
        StatusCode::BAD_REQUEST => {
            "the request could not be read: check its query string, path and body against /docs"
        }
        StatusCode::NOT_FOUND => "no such route: see /docs for the API",
        StatusCode::METHOD_NOT_ALLOWED => {
            "this route does not take that method (see the Allow header)"
        }
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than allowed",
        StatusCode::URI_TOO_LONG => "the URI is too long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported Content-Type",
        StatusCode::UNPROCESSABLE_ENTITY => {
            "a parameter is not valid: check its type and range against /docs"
        }
        _ => status.canonical_reason().unwrap_or("the request failed"),
    };
    let mut response = AppError::Status {
        status,
        message: message.to_owned(),
    }
    .into_response();
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// The router's fallback: an unknown route is a JSON 404.
pub async fn not_found() -> Response {
    AppError::NotFound("route").into_response()
}
