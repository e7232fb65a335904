//! The HTTP layer's one error type.
//!
//! Every handler returns `Result<_, AppError>`. The client always gets
//! `{"error":{"code","message"}}` with the right status; a 500 says nothing about its cause (the cause
//! chain goes to the log, with the place that raised it, so it can be found without leaking internals).

use std::panic::Location;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is well-formed but its content is not acceptable (422).
    #[error("{0}")]
    Validation(String),
    /// The request cannot be parsed at all (400).
    #[error("{0}")]
    BadRequest(String),
    /// No credentials, or credentials that are not valid (401).
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Authenticated, but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// Not found — also what another tenant's resources look like (404, never 403).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The body is larger than allowed (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body's media type is not one we accept (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many requests of this kind from this client or account: try again after `retry_after` (429).
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after: std::time::Duration,
    },
    /// An answer the framework would have given without a body (404, 405, 414, …), in our format.
    #[error("{message}")]
    Status { status: StatusCode, message: String },
    /// A dependency (the database) is not available (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: opaque to the client, logged with its cause chain (500).
    #[error("internal error")]
    Internal {
        source: anyhow::Error,
        location: &'static Location<'static>,
    },
}

impl AppError {
    #[track_caller]
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self::Internal {
            source: source.into(),
            location: Location::caller(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code: "unauthorized",
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Status { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_error",
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized { code, .. } | Self::Conflict { code, .. } => code,
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Status { status, .. } => match *status {
                StatusCode::BAD_REQUEST => "bad_request",
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                StatusCode::URI_TOO_LONG => "uri_too_long",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                StatusCode::UNPROCESSABLE_ENTITY => "validation_error",
                StatusCode::TOO_MANY_REQUESTS => "rate_limited",
                StatusCode::SERVICE_UNAVAILABLE => "unavailable",
                s if s.is_server_error() => "internal_error",
                _ => "error",
            },
            Self::Unavailable(_) => "unavailable",
            Self::Internal { .. } => "internal_error",
        }
    }
}

impl From<sqlx::Error> for AppError {
    #[track_caller]
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::error!(error = %err, "database unavailable");
                Self::Unavailable("the database is not available, try again shortly".into())
            }
            _ => Self::internal(err),
        }
    }
}

impl From<anyhow::Error> for AppError {
    #[track_caller]
    fn from(err: anyhow::Error) -> Self {
        Self::internal(err)
    }
}

/// The error body every endpoint returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code (e.g. `validation_error`, `email_taken`).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal { source, location } = &self {
            tracing::error!(error = ?source, at = %location, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::TooManyRequests { retry_after, .. } = &self {
            // Whole seconds, rounded up: a client that waits exactly this long is let in.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.max(1).into());
        }
        response
    }
}

/// Returns true if `err` is a violation of the named unique/check constraint (so callers can map it to
/// a clear 4xx by name, not by parsing messages).
pub fn is_constraint(err: &sqlx::Error, constraint: &str) -> bool {
    err.as_database_error()
        .and_then(|e| e.constraint())
        .is_some_and(|c| c == constraint)
}
