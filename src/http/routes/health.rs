//! `GET /health` (liveness, the prototype's body) and `GET /ready` (database and migrations).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::http::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "healthy")]
    pub status: &'static str,
    pub version: &'static str,
    #[schema(example = "PostgreSQL")]
    pub database: &'static str,
    #[schema(example = "JWT")]
    pub auth: &'static str,
}

/// Liveness: the process answers. Same body as the prototype's.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "healthy",
        version: env!("CARGO_PKG_VERSION"),
        database: "PostgreSQL",
        auth: "JWT",
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// `ok`, or why the database is not usable.
    pub database: String,
    /// Newest migration applied to the database.
    pub migration_applied: Option<i64>,
    /// Newest migration this build expects.
    pub migration_expected: i64,
}

/// Readiness: the database answers and carries this build's migrations (503 otherwise).
#[utoipa::path(get, path = "/ready", tag = "ops", responses(
    (status = 200, body = Readiness),
    (status = 503, description = "Database unreachable or migrations missing", body = Readiness),
))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let expected = db::expected_migration();
    let (database, applied) = match db::applied_migration(&state.pool).await {
        Ok(applied) => ("ok".to_owned(), applied),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check: database unavailable");
            ("unreachable".to_owned(), None)
        }
    };
    let is_ready = database == "ok" && applied.is_some_and(|a| a >= expected);
    let status = if is_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if is_ready { "ready" } else { "not_ready" },
            database: if database == "ok" && !is_ready {
                "migrations pending".to_owned()
            } else {
                database
            },
            migration_applied: applied,
            migration_expected: expected,
        }),
    )
}

/// Prometheus metrics of this process (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics() -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
}
