//! Test harness: `spawn_app` starts the real application on 127.0.0.1:0 against the test's own fresh
//! database (given by `#[sqlx::test]`), so tests talk HTTP exactly like clients do.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesbot::domain::language::Language;
use salesbot::queue;
use salesbot::workers::engine::{Engine, OfflineEngine};
use salesbot::workers::pipeline::transcribe::TranscribeFuture;
use salesbot::workers::pipeline::{Deps, TranscribeError, Transcriber, Transcript};
use salesbot::workers::{
    Handler, JobContext, JobFuture, PoolConfig, RunReport, WorkerPool, registry,
};
use uuid::Uuid;

use salesbot::config::{
    Config, CorsOrigins, DatabaseTarget, DatabaseUrl, LogFormat, Secret, SecretOrigin,
};
use salesbot::http::accounts::AccountCache;
use salesbot::startup::Application;
use salesbot::supervisor::Supervisor;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const TEST_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

#[allow(dead_code)] // later test modules read the pool
pub struct TestApp {
    pub addr: SocketAddr,
    pub pool: PgPool,
    pub client: reqwest::Client,
    /// The app's account cache, whose evictions tests wait on.
    pub accounts: AccountCache,
    /// The app's tasks run under it, as a process's do.
    pub supervisor: Supervisor,
    /// The server: it ends when the app has shut down (to be taken once).
    pub server: Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn test_config() -> Config {
    Config {
        database: DatabaseTarget::Explicit(
            DatabaseUrl::parse("postgres://postgres@127.0.0.1:5432/unused").unwrap(),
        ),
        db_max_connections: 5,
        secret_key: Secret::new(TEST_SECRET),
        secret_origin: SecretOrigin::Configured,
        secret_key_previous: None,
        dev_mode: false,
        openai: None,
        engine_history: 30,
        telegram_bot_token: None,
        telegram_chat_id: None,
        telegram_api_base: "http://127.0.0.1:9".into(),
        telegram_file_base: "http://127.0.0.1:9/file".into(),
        telegram_polling: false,
        public_url: "http://localhost:8000".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        cors_origins: CorsOrigins::List(vec!["https://crm.example.kz".into()]),
        log_format: LogFormat::Pretty,
        jwt_ttl: Duration::from_secs(3600),
        // The lowest cost: tests exercise the logic, not bcrypt's slowness.
        bcrypt_cost: 4,
        max_body_bytes: 26 * 1024 * 1024,
        shutdown_grace: Duration::from_secs(5),
        chat_wait: Duration::from_secs(10),
        handoff_timeout: Duration::from_secs(900),
        // The fake receivers listen on loopback; retries come quickly.
        webhook_delivery: salesbot::config::WebhookDelivery {
            retry_schedule: vec![Duration::from_millis(200), Duration::from_millis(400)],
            disable_after: Duration::from_secs(5 * 86_400),
            timeout: Duration::from_secs(10),
            allow_private: true,
        },
        amocrm_api_base: None,
        // The production defaults: the suite must live within them.
        limits: Default::default(),
        metrics: Default::default(),
        worker: Default::default(),
    }
}

pub async fn spawn_app(pool: PgPool) -> TestApp {
    let app = spawn_app_with(test_config(), pool).await;
    // The account cache goes live (generation 1) once the app's listener is LISTENing; waiting
    // for it makes the tests' requests take the cached path, as production requests do.
    tokio::time::timeout(Duration::from_secs(10), app.accounts.evicted_since(0))
        .await
        .expect("the app's listener never connected");
    app
}

pub async fn spawn_app_with(config: Config, pool: PgPool) -> TestApp {
    // Logs only on request (TEST_LOG=1 cargo test …): a passing suite stays quiet.
    if std::env::var_os("TEST_LOG").is_some() {
        salesbot::telemetry::init(LogFormat::Pretty);
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    // As production connects: the test pool's superuser gives up its bypass of row-level security.
    // (A test of an unreachable database gets its pool as it is: there is nothing to protect.)
    let service = salesbot::db::service_pool(&pool, config.db_max_connections)
        .await
        .unwrap_or_else(|_| pool.clone());
    let shutdown = CancellationToken::new();
    let supervisor = Supervisor::new(shutdown.clone());
    let app = Application::with_listener(&config, service, listener, &supervisor, None);
    let addr = app.local_addr().unwrap();
    let accounts = app.accounts();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        addr,
        pool,
        accounts,
        supervisor,
        server: Mutex::new(Some(server)),
        client: client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        shutdown,
    }
}

impl TestApp {
    /// Runs SQL that changes accounts, and returns once the app's account cache has heard of it
    /// (the database's notification evicted it), as a later request would see it in production.
    pub async fn change_accounts(&self, sql: &str) {
        let seen = self.accounts.generation();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&self.pool)
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.accounts.evicted_since(seen))
            .await
            .expect("the account change never reached the app's account cache");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    /// GET and parse the JSON body (the status is the caller's to check when it matters).
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> T {
        self.get(path, token).await.json().await.unwrap()
    }

    pub async fn register(&self, email: &str, password: &str, company: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/auth/register"))
            .json(&json!({"email": email, "password": password, "company_name": company}))
            .send()
            .await
            .unwrap()
    }

    /// Registers a company and returns (access token, the registration body).
    pub async fn register_ok(&self, email: &str, company: &str) -> (String, Value) {
        let resp = self.register(email, "correct horse battery", company).await;
        assert_eq!(resp.status(), 201, "registration failed");
        let body: Value = resp.json().await.unwrap();
        (body["access_token"].as_str().unwrap().to_owned(), body)
    }

    /// Adds a manager (not an owner) to the company of the owner `owner_email`, signs them in and
    /// returns their access token.
    pub async fn add_manager(&self, owner_email: &str, manager_email: &str) -> String {
        sqlx::query(
            "INSERT INTO users (id, tenant_id, email, password_hash, role)
             SELECT $1, tenant_id, $3, $4, 'manager' FROM users WHERE email = $2",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(owner_email)
        .bind(manager_email)
        .bind(bcrypt::hash("correct horse battery", 4).unwrap())
        .execute(&self.pool)
        .await
        .unwrap();
        let login: Value = self
            .login_form(manager_email, "correct horse battery")
            .await
            .json()
            .await
            .unwrap();
        login["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn login_form(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/auth/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "username={}&password={}",
                urlencode(username),
                urlencode(password)
            ))
            .send()
            .await
            .unwrap()
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asserts the standard error body and returns its code.
pub async fn error_code(resp: reqwest::Response, status: u16) -> String {
    assert_eq!(resp.status(), status, "unexpected status");
    let body: Value = resp.json().await.unwrap();
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code in {body}"));
    assert!(
        body["error"]["message"].is_string(),
        "no error.message in {body}"
    );
    code.to_owned()
}

/// A pool on the test's database as the service's processes connect to it: the test connection's
/// superuser gives up its bypass of row-level security (`db::connect`). Workers in tests get it
/// as production workers do; assertions keep the test's own pool, which sees every tenant.
pub fn service(pool: &PgPool) -> PgPool {
    salesbot::db::pool_options(5, salesbot::db::QueryRole::Restricted)
        .connect_lazy_with((*pool.connect_options()).clone())
}

/// A loopback port nothing listens on now, for a process the test starts (chromedriver,
/// Prometheus, the salesbot binary).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The URL of a test's own database, for a process the test starts.
pub fn database_url(pool: &PgPool) -> String {
    format!(
        "postgres://postgres@127.0.0.1:5432/{}",
        pool.connect_options().get_database().unwrap()
    )
}

/// The built `salesbot` binary, for tests of the command line.
pub fn salesbot_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_salesbot"))
}

/// A reqwest builder with the process's TLS provider installed (reqwest has none of its own).
pub fn client_builder() -> reqwest::ClientBuilder {
    salesbot::crypto::install_tls_provider();
    reqwest::Client::builder()
}

// ---------------------------------------------------------------------------------------------
// Shared fixtures: fake speech-to-text, pipeline workers, queue handlers, seeded conversations
// ---------------------------------------------------------------------------------------------

/// What the fake transcriber was given: mime type, language hint, audio.
pub type TranscribeCall = (String, Option<Language>, Vec<u8>);

/// Speech-to-text that hears `text` in any audio; it records the mime type, the language hint and
/// the audio it was given.
pub struct FakeTranscriber {
    pub calls: Mutex<Vec<TranscribeCall>>,
    pub text: String,
}

impl Transcriber for FakeTranscriber {
    fn model(&self) -> &str {
        "fake-transcriber"
    }

    fn transcribe<'a>(
        &'a self,
        audio: &'a [u8],
        mime: &'a str,
        _file_name: &'a str,
        language_hint: Option<Language>,
    ) -> TranscribeFuture<'a> {
        self.calls
            .lock()
            .unwrap()
            .push((mime.to_owned(), language_hint, audio.to_vec()));
        let text = self.text.clone();
        Box::pin(async move { Ok::<_, TranscribeError>(Transcript { text, seconds: 3.0 }) })
    }
}

pub fn deps(transcriber: Option<Arc<dyn Transcriber>>, engine: Arc<dyn Engine>) -> Deps {
    Deps {
        engine,
        fallback: Arc::new(OfflineEngine::new()),
        transcriber,
        waker: None,
        stale_after: Duration::from_secs(86_400),
        history: 40,
        notifier: None,
        turn_deadline: Duration::from_secs(20),
        transcribe_limit: None,
        prices: Default::default(),
        telegram: None,
        handoff_timeout: Duration::from_secs(900),
        webhooks: Some(salesbot::workers::webhooks(&test_config())),
        crm: None,
    }
}

/// Workers of the pipeline with `deps`, connected as the worker process connects.
pub fn pipeline_workers(pool: &PgPool, deps: Deps) -> WorkerPool {
    WorkerPool::new(service(pool), registry(deps), fast_config())
}

/// Workers with the offline engine and no speech-to-text: the default build's pipeline.
pub fn offline_workers(pool: &PgPool) -> WorkerPool {
    pipeline_workers(pool, deps(None, Arc::new(OfflineEngine::new())))
}

pub const OGG: &[u8] = b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00fake opus payload";

impl TestApp {
    pub async fn send_text(&self, token: &str, user_id: &str, text: &str) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .text("user_id", user_id.to_owned())
            .text("text", text.to_owned());
        self.client
            .post(self.url("/api/chat"))
            .bearer_auth(token)
            .header("prefer", "respond-async")
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn send_voice(
        &self,
        token: &str,
        user_id: &str,
        bytes: &[u8],
        name: &str,
    ) -> reqwest::Response {
        let part = reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(name.to_owned())
            .mime_str("audio/ogg")
            .unwrap();
        let form = reqwest::multipart::Form::new()
            .text("user_id", user_id.to_owned())
            .part("voice", part);
        self.client
            .post(self.url("/api/chat"))
            .bearer_auth(token)
            .header("prefer", "respond-async")
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

pub async fn accepted_id(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), 202);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["status_url"],
        format!("/api/messages/{}", body["message_id"].as_str().unwrap())
    );
    body["message_id"].as_str().unwrap().to_owned()
}

type Run = Arc<dyn Fn(JobContext) -> JobFuture + Send + Sync>;

/// A handler from a closure.
#[derive(Clone)]
pub struct TestHandler {
    kind: &'static str,
    deadline: Duration,
    run: Run,
}

impl TestHandler {
    pub fn new(
        kind: &'static str,
        run: impl Fn(JobContext) -> JobFuture + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            deadline: Duration::from_secs(10),
            run: Arc::new(run),
        }
    }

    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }
}

impl Handler for TestHandler {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn deadline(&self) -> Duration {
        self.deadline
    }
    fn run(&self, job: JobContext) -> JobFuture {
        (self.run)(job)
    }
}

pub fn fast_config() -> PoolConfig {
    PoolConfig {
        concurrency: 8,
        batch_size: 8,
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_millis(100),
        backoff: queue::Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
        },
        grace: Duration::from_secs(5),
        ..PoolConfig::default()
    }
}

/// Inserts a bot user with a lead for `tenant` directly (as the test superuser) and returns its id.
pub async fn seed_conversation(pool: &PgPool, tenant: Uuid, external_id: &str, name: &str) -> Uuid {
    let bot_user = Uuid::now_v7();
    sqlx::query("INSERT INTO bot_users (id, tenant_id, external_id, name) VALUES ($1, $2, $3, $4)")
        .bind(bot_user)
        .bind(tenant)
        .bind(external_id)
        .bind(name)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO leads (id, tenant_id, bot_user_id, name, city) VALUES ($1, $2, $3, $4, 'almaty')",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(bot_user)
    .bind(name)
    .execute(pool)
    .await
    .unwrap();
    bot_user
}

/// Runs `workers` until nothing is left to do now: what is due runs, and turns waiting out their
/// burst-coalescing window are made due (the test does not wait for them). Jobs deferred further
/// (rate limits, backoff of an hour) are left pending. Returns every attempt's report, summed.
pub async fn run_workers_until_idle(workers: &WorkerPool, pool: &PgPool) -> RunReport {
    let mut total = RunReport::default();
    for _ in 0..100 {
        sqlx::query("UPDATE jobs SET run_at = now() WHERE kind = 'turn' AND state = 'available' AND run_at > now()")
            .execute(pool)
            .await
            .unwrap();
        // run_once returns when nothing it handles is due; nothing run since is idle.
        let report = workers.run_once().await.unwrap();
        if report.attempts() == 0 {
            return total;
        }
        total.completed += report.completed;
        total.retried += report.retried;
        total.deferred += report.deferred;
        total.dead += report.dead;
        total.lease_lost += report.lease_lost;
    }
    panic!("the workers never became idle");
}

/// A program of the suite's Python venv (tests/schemathesis/requirements.txt), which scripts/test
/// installs and names through SCHEMATHESIS (its `schemathesis`); else the venv's default place.
pub fn venv_tool(name: &str) -> PathBuf {
    let bin = std::env::var_os("SCHEMATHESIS")
        .map(PathBuf::from)
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/schemathesis-venv/bin")
        });
    let path = bin.join(name);
    assert!(
        path.exists(),
        "{} is not installed: run the suite with scripts/test, which installs the venv",
        path.display()
    );
    path
}
