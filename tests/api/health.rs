//! `/health`, `/ready`, request ids and CORS.

use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::helpers::{spawn_app, test_config};

#[sqlx::test]
async fn health_has_the_prototype_body(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app.get("/health", None).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "healthy", "version": env!("CARGO_PKG_VERSION"), "database": "PostgreSQL", "auth": "JWT"})
    );
}

#[sqlx::test]
async fn ready_when_database_is_migrated(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app.get("/ready", None).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["migration_applied"], body["migration_expected"]);
}

#[sqlx::test(migrations = false)]
async fn not_ready_when_migrations_are_missing(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app.get("/ready", None).await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["database"], "migrations pending");
}

#[tokio::test]
async fn not_ready_when_database_is_unreachable() {
    // Nothing listens on port 1; the pool is lazy so the app still starts, like after a DB outage.
    let pool = PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap();
    let app = crate::helpers::spawn_app_with(test_config(), pool).await;
    let resp = app.get("/ready", None).await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["database"], "unreachable");
    // Liveness is unaffected: the process is up.
    assert_eq!(app.get("/health", None).await.status(), 200);
}

#[sqlx::test]
async fn request_id_from_the_client_is_kept(pool: PgPool) {
    let app = spawn_app(pool).await;
    let resp = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
}

#[sqlx::test]
async fn cors_allows_configured_origins_only(pool: PgPool) {
    let app = spawn_app(pool).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/leads"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("https://crm.example.kz").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://crm.example.kz"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[sqlx::test]
async fn unknown_routes_and_index_page(pool: PgPool) {
    let app = spawn_app(pool).await;
    assert_eq!(app.get("/api/nope", None).await.status(), 404);
    let index = app.get("/", None).await;
    assert_eq!(index.status(), 200);
    assert!(index.text().await.unwrap().contains("salesbot"));
}

#[sqlx::test]
async fn metrics_expose_queue_counters(pool: PgPool) {
    salesbot::metrics::handle();
    salesbot::queue::enqueue(
        &pool,
        &salesbot::queue::NewJob::new("metrics_probe", json!({})),
    )
    .await
    .unwrap();
    let app = spawn_app(pool).await;
    let resp = app.get("/metrics", None).await;
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("salesbot_jobs_enqueued_total{kind=\"metrics_probe\"}"),
        "{body}"
    );
}
