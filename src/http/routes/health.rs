//! `GET /health` (liveness, the prototype's body), `GET /ready` (database and migrations) and
//! `GET /metrics` (Prometheus; not public: see [`metrics`]).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::config::{MetricsAccess, Secret};
use crate::db;
use crate::error::{AppError, ErrorBody};
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
    /// Where the worker pool runs in this process (`salesbot all`): `running` or `stopped`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<&'static str>,
}

/// Readiness: the database answers and carries this build's migrations, and a worker pool running
/// in this process (`salesbot all`) is alive (503 otherwise).
#[utoipa::path(get, path = "/ready", tag = "ops", responses(
    (status = 200, body = Readiness),
    (status = 503, description = "Database unreachable, migrations missing, or the worker stopped", body = Readiness),
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
    let worker = state.worker.as_ref().map(|pulse| {
        if pulse.is_alive(state.worker_stale_after) {
            "running"
        } else {
            "stopped"
        }
    });
    let is_ready =
        database == "ok" && applied.is_some_and(|a| a >= expected) && worker != Some("stopped");
    let status = if is_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if is_ready { "ready" } else { "not_ready" },
            database: if database == "ok" && applied.is_none_or(|a| a < expected) {
                "migrations pending".to_owned()
            } else {
                database
            },
            migration_applied: applied,
            migration_expected: expected,
            worker,
        }),
    )
}

/// Prometheus metrics of this process (text exposition format). With METRICS_TOKEN set it needs
/// `Authorization: Bearer <METRICS_TOKEN>`; without, it is served only on METRICS_ADDR (404 here
/// unless DEV_MODE).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "METRICS_TOKEN is set and was not given", body = ErrorBody),
        (status = 404, description = "Not served on this port", body = ErrorBody)))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    metrics_answer(&state.metrics, &headers, &state.pool)
}

/// /metrics under `access`, on the API port or on METRICS_ADDR alike.
pub fn metrics_answer(access: &MetricsAccess, headers: &HeaderMap, pool: &PgPool) -> Response {
    match access {
        MetricsAccess::Hidden => AppError::NotFound("route").into_response(),
        MetricsAccess::Token(token) if !bearer_matches(headers, token) => AppError::Unauthorized {
            code: "invalid_token",
            message: "/metrics needs Authorization: Bearer <METRICS_TOKEN>".into(),
        }
        .into_response(),
        MetricsAccess::Open | MetricsAccess::Token(_) => {
            crate::metrics::db_pool(pool);
            metrics_text()
        }
    }
}

fn metrics_text() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
        .into_response()
}

/// Compares in constant time, so the token cannot be guessed a byte at a time.
fn bearer_matches(headers: &HeaderMap, token: &Secret) -> bool {
    use subtle::ConstantTimeEq;
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())))
}

/// Serves /metrics (and nothing else) on its own address until `shutdown`: for a worker process,
/// which has no API port, and for any process whose metrics Prometheus reaches privately.
pub fn serve_metrics(
    listener: tokio::net::TcpListener,
    access: MetricsAccess,
    pool: PgPool,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: HeaderMap| async move {
            metrics_answer(&access, &headers, &pool)
        }),
    );
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving metrics");
    }
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    })
}
