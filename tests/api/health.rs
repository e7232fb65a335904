//! `/health`, `/ready`, request ids and CORS.

use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use salesbot::config::Secret;

use crate::helpers::{error_code, spawn_app, spawn_app_with, test_config};

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
    // The dashboard: a visitor without a session is sent to sign in.
    let index = app.get("/", None).await;
    assert_eq!(index.status(), 303);
    assert_eq!(index.headers()["location"], "/login");
    let login = app.get("/login", None).await;
    assert_eq!(login.status(), 200);
    assert!(login.text().await.unwrap().contains("Salesbot"));
}

#[sqlx::test]
async fn metrics_expose_queue_counters_only_to_prometheus(pool: PgPool) {
    salesbot::metrics::handle();
    salesbot::queue::enqueue(
        &pool,
        &salesbot::queue::NewJob::new("metrics_probe", json!({})),
    )
    .await
    .unwrap();
    let has_counters =
        |body: &str| body.contains("salesbot_jobs_enqueued_total{kind=\"metrics_probe\"}");

    // The API port is public: no token, no metrics (as if there were no such route).
    let app = spawn_app(pool.clone()).await;
    assert_eq!(
        error_code(app.get("/metrics", None).await, 404).await,
        "not_found"
    );

    // With METRICS_TOKEN, the token opens it; nothing else does.
    let mut config = test_config();
    config.metrics.token = Some(Secret::new("scrape-me-0123456789"));
    let guarded = spawn_app_with(config.clone(), pool.clone()).await;
    assert_eq!(
        error_code(guarded.get("/metrics", None).await, 401).await,
        "invalid_token"
    );
    let wrong = guarded.get("/metrics", Some("scrape-me-0123456789x")).await;
    assert_eq!(error_code(wrong, 401).await, "invalid_token");
    let scraped = guarded.get("/metrics", Some("scrape-me-0123456789")).await;
    assert_eq!(scraped.status(), 200);
    assert!(has_counters(&scraped.text().await.unwrap()));

    // A developer's machine: open.
    let mut dev = test_config();
    dev.dev_mode = true;
    let dev = spawn_app_with(dev, pool.clone()).await;
    assert!(has_counters(
        &dev.get("/metrics", None).await.text().await.unwrap()
    ));

    // METRICS_ADDR, the port the operator opened to Prometheus: open without a token…
    let client = crate::helpers::client_builder().build().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let own_port = |access| async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        salesbot::http::routes::health::serve_metrics(
            listener,
            access,
            pool.clone(),
            shutdown.clone(),
        );
        url
    };
    let open = own_port(test_config().metrics_on_own_port()).await;
    let body = client
        .get(&open)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(has_counters(&body));
    // …and the token's when there is one.
    let closed = own_port(config.metrics_on_own_port()).await;
    assert_eq!(client.get(&closed).send().await.unwrap().status(), 401);
    let resp = client
        .get(&closed)
        .bearer_auth("scrape-me-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
