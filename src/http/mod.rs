//! The HTTP API: router, middleware, OpenAPI document, and the server loop.
//!
//! The web process accepts, validates, records and enqueues; it never calls an LLM or Telegram.
//! Routes are registered through `utoipa_axum::OpenApiRouter`, so a route cannot exist without its
//! OpenAPI description (the document at `/openapi.json` lists every route by construction).

pub mod accounts;
pub mod auth;
pub mod contract;
pub mod extract;
pub mod limits;
pub mod replies;
pub mod routes;
pub mod security;
pub mod web;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::{AbuseLimits, Config, CorsOrigins, MetricsAccess};
use crate::crypto::SecretBox;
use crate::db::ingestor::Ingestor;
use crate::queue::wake::Waker;
use crate::supervisor::{TaskScope, WorkerPulse};
use accounts::AccountCache;
use auth::AuthKeys;
use replies::ReplyHub;

/// What every handler can reach. Cheap to clone (an `Arc` and a pool handle).
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Records chat messages, batching concurrent ones.
    pub ingestor: Ingestor,
    pub auth: Arc<AuthKeys>,
    /// Wakes parked workers after jobs are committed.
    pub waker: Waker,
    /// Wakes requests waiting for a conversation's reply.
    pub replies: ReplyHub,
    /// The accounts requests authenticate as, evicted when they change.
    pub accounts: AccountCache,
    pub chat_wait: Duration,
    /// Seals tenants' bot tokens before they are stored.
    pub secrets: SecretBox,
    /// This service's public address (webhook URLs).
    pub public_url: String,
    pub handoff_timeout: Duration,
    /// Webhook endpoints may name non-public addresses (WEBHOOK_ALLOW_PRIVATE).
    pub webhook_allow_private: bool,
    pub limits: AbuseLimits,
    /// Who may read /metrics on the API port.
    pub metrics: MetricsAccess,
    /// The worker pool's pulse when it runs in this process (`salesbot all`), for /ready.
    pub worker: Option<WorkerPulse>,
    /// A pool silent this long is not running (its loop turns at least once per job deadline).
    pub worker_stale_after: Duration,
}

impl AppState {
    /// Whether browsers reach this service over HTTPS (PUBLIC_URL says so): HSTS, Secure cookies.
    pub fn served_over_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Starts the state's background tasks (wake-ups, reply listener, ingest batcher) in `tasks`.
    pub fn new(config: &Config, pool: PgPool, tasks: &TaskScope) -> Self {
        let accounts = AccountCache::default();
        Self {
            auth: AuthKeys::new(&config.secret_key, config.jwt_ttl, config.bcrypt_cost),
            waker: Waker::spawn(pool.clone(), tasks),
            replies: ReplyHub::spawn(pool.clone(), accounts.clone(), tasks),
            accounts,
            chat_wait: config.chat_wait,
            secrets: SecretBox::new(&config.secret_key, config.secret_key_previous.as_ref()),
            public_url: config.public_url.clone(),
            handoff_timeout: config.handoff_timeout,
            webhook_allow_private: config.webhook_delivery.allow_private,
            limits: config.limits,
            metrics: config.metrics_on_api(),
            ingestor: Ingestor::spawn(pool.clone(), tasks),
            worker: None,
            worker_stale_after: config.worker.lease,
            pool,
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "salesbot", description = "AI sales manager for construction companies (RU/KZ/EN)."),
    modifiers(&BearerAuth),
    // Schemas only a header parameter refers to (utoipa registers those of bodies by itself).
    // And the webhook payloads, which no route returns: receivers get them.
    components(schemas(
        routes::chat::IdempotencyKey,
        crate::domain::webhook_payload::WebhookEvent,
        crate::domain::webhook_payload::MessageReceived,
        crate::domain::webhook_payload::ReplyCreated,
        crate::domain::webhook_payload::LeadChanged,
        crate::domain::webhook_payload::MessageFailed,
        crate::domain::webhook_payload::EndpointStatus,
    )),
    tags(
        (name = "auth", description = "Registration, login, the current account"),
        (name = "leads", description = "Leads qualified from conversations"),
        (name = "chat", description = "Customers' messages and the bot's replies"),
        (name = "conversations", description = "Customers' conversations"),
        (name = "ops", description = "Health and readiness"),
        (name = "admin", description = "Platform administration"),
        (name = "settings", description = "The company's settings"),
        (name = "telegram", description = "Updates from the companies' Telegram bots"),
        (name = "webhooks", description = "The company's webhook endpoints (signed per Standard Webhooks)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A manager's sign-in (`POST /api/auth/login`). Where a route also lists \
                         `api_key`, an API key may be sent here too, as `Bearer sk_…`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key (`sk_…`, `POST /api/keys`) holding the scope the route names.",
            ))),
        );
    }
}

/// The API routes and their OpenAPI document.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::health::health))
        .routes(routes!(routes::health::ready))
        .routes(routes!(routes::health::metrics))
        .routes(routes!(routes::auth::register))
        .routes(routes!(routes::auth::login))
        .routes(routes!(routes::me::me))
        .routes(routes!(routes::leads::list_leads))
        .routes(routes!(routes::leads::leads_csv))
        .routes(routes!(routes::leads::get_lead, routes::leads::patch_lead))
        .routes(routes!(routes::leads::list_conversations))
        .routes(routes!(routes::chat::chat))
        .routes(routes!(routes::chat::message_status))
        .routes(routes!(routes::chat::conversation_messages))
        .routes(routes!(routes::admin::db_schema))
        .routes(routes!(routes::usage::usage_report))
        .routes(routes!(
            routes::usage::get_assistant_settings,
            routes::usage::put_assistant_settings
        ))
        .routes(routes!(
            routes::settings::get_telegram,
            routes::settings::put_telegram
        ))
        .routes(routes!(
            routes::settings::get_amocrm,
            routes::settings::put_amocrm,
            routes::settings::delete_amocrm
        ))
        .routes(routes!(
            routes::settings::get_prices,
            routes::settings::put_prices
        ))
        .routes(routes!(routes::telegram::webhook))
        .routes(routes!(routes::handoff::handoff))
        .routes(routes!(routes::handoff::reply))
        .routes(routes!(routes::handoff::release))
        .routes(routes!(routes::lifecycle::erase))
        .routes(routes!(routes::lifecycle::export))
        .routes(routes!(
            routes::follow_ups::get_follow_ups,
            routes::follow_ups::put_follow_ups
        ))
        .routes(routes!(
            routes::lifecycle::get_retention,
            routes::lifecycle::put_retention
        ))
        .routes(routes!(
            routes::api_keys::create_key,
            routes::api_keys::list_keys
        ))
        .routes(routes!(routes::api_keys::revoke_key))
        .routes(routes!(
            routes::webhooks::create_endpoint,
            routes::webhooks::list_endpoints
        ))
        .routes(routes!(
            routes::webhooks::get_endpoint,
            routes::webhooks::patch_endpoint,
            routes::webhooks::delete_endpoint
        ))
        .routes(routes!(routes::webhooks::rotate_secret))
        .routes(routes!(routes::webhooks::list_deliveries))
        .routes(routes!(routes::webhooks::redeliver))
        .routes(routes!(routes::webhooks::recover))
        .split_for_parts();
    contract::add_shared_errors(&mut doc);
    (router, doc)
}

/// The complete application: API, docs, pages and middleware.
pub fn router(config: &Config, state: AppState) -> Router {
    let (api, openapi) = api();
    let request_id = HeaderName::from_static("x-request-id");
    let policy = security::Policy {
        https: state.served_over_https(),
    };
    api.merge(web::router())
        .with_state(state)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback(security::not_found)
        .layer(axum::middleware::from_fn(access_log))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(policy, security::layer))
        .layer(cors(&config.cors_origins))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// One line per request at info (method, route template, status, latency, request id) and the
/// HTTP metrics. The route is the template (`/api/leads/{id}`), never the path, so neither the log
/// nor the metrics grow with ids; a request no route matched counts as `unmatched`.
async fn access_log(
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    crate::metrics::http_request(method.as_str(), &route, status, elapsed);
    tracing::info!(method = %method, route = %route, status, latency_ms = elapsed.as_secs_f64() * 1e3,
        request_id = %request_id, "request");
    response
}

fn cors(origins: &CorsOrigins) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("prefer"),
            HeaderName::from_static("x-api-key"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(3600));
    match origins {
        CorsOrigins::None => base,
        CorsOrigins::Any => base.allow_origin(AllowOrigin::any()),
        CorsOrigins::List(list) => base.allow_origin(
            list.iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        ),
    }
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address is the client's (or, behind proxies, the last proxy's): see limits.rs.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
