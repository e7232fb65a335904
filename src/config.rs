//! Typed configuration, read once at start.
//!
//! Every setting is a clap argument with an environment variable (12-factor: the environment is the
//! normal way to configure a Render service), so `salesbot --help` is the complete, always-true list of
//! settings with their env names and defaults. `.env` is loaded into the environment before parsing
//! (see `main.rs`), so it never overrides a variable that is already set.
//!
//! Raw CLI/env values (`Settings`) are turned into a validated [`Config`] by [`Settings::resolve`]; that is
//! the only place that decides what a missing or malformed value means, and it fails with one clear line.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;

/// A secret value: never printed by `Debug` or `Display`, only reachable through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for the one place that needs it (signing, an Authorization header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// The address used when DATABASE_URL is not set (the README's "embedded default").
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/salesbot";

/// A PostgreSQL connection URL, normalised from the forms the prototype's operators already use.
///
/// The prototype (SQLAlchemy) wanted `postgresql+asyncpg://…`; we accept that and drop the `+driver`.
/// `Debug` and `Display` hide the password, so the URL can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let raw = raw.trim();
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(ConfigError::BadDatabaseUrl(
                "expected postgres://user:password@host:port/database".into(),
            ));
        };
        let base_scheme = scheme.split('+').next().unwrap_or_default();
        if !matches!(base_scheme, "postgres" | "postgresql") {
            return Err(ConfigError::BadDatabaseUrl(format!(
                "unsupported scheme `{scheme}`: expected postgres:// or postgresql://"
            )));
        }
        if rest.is_empty() || rest.starts_with('/') && !rest.contains("host=") {
            return Err(ConfigError::BadDatabaseUrl("the host is missing".into()));
        }
        Ok(Self(format!("postgres://{rest}")))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL chooses the TLS mode itself (`sslmode` or sqlx's `ssl-mode` parameter).
    pub fn names_ssl_mode(&self) -> bool {
        self.0.split_once('?').is_some_and(|(_, query)| {
            query.split('&').any(|pair| {
                let name = pair.split('=').next().unwrap_or_default();
                name.eq_ignore_ascii_case("sslmode") || name.eq_ignore_ascii_case("ssl-mode")
            })
        })
    }

    /// The same URL with another database name (used to create the database when it is missing).
    pub fn with_database(&self, database: &str) -> Self {
        let (before_query, query) = match self.0.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (self.0.as_str(), None),
        };
        let authority_end = before_query["postgres://".len()..]
            .find('/')
            .map(|i| i + "postgres://".len())
            .unwrap_or(before_query.len());
        let mut url = format!("{}/{database}", &before_query[..authority_end]);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        Self(url)
    }

    /// The database name, if the URL names one.
    pub fn database(&self) -> Option<&str> {
        let path = self.0["postgres://".len()..].split('?').next()?;
        let (_, db) = path.split_once('/')?;
        (!db.is_empty()).then_some(db)
    }

    fn redacted(&self) -> String {
        let rest = &self.0["postgres://".len()..];
        match rest.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                if userinfo.contains(':') {
                    format!("postgres://{user}:***@{host}")
                } else {
                    format!("postgres://{user}@{host}")
                }
            }
            None => self.0.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A duration written as seconds (`3600`) or with a unit (`500ms`, `30s`, `15m`, `12h`, `7d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{s}` is not a duration (examples: 30s, 15m, 12h, 7d)"))?;
        let duration = match unit.trim() {
            "ms" => Duration::from_millis(n),
            "" | "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86_400),
            other => {
                return Err(format!(
                    "unknown duration unit `{other}` (use ms, s, m, h or d)"
                ));
            }
        };
        Ok(Self(duration))
    }
}

/// Pauses between attempts: `5s,5m,30m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl FromStr for RetrySchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let pauses = s
            .split(',')
            .map(|p| HumanDuration::from_str(p).map(|d| d.0))
            .collect::<Result<Vec<_>, _>>()?;
        if pauses.len() > 20 {
            return Err("a retry schedule has at most 20 pauses".into());
        }
        Ok(Self(pauses))
    }
}

/// A rate: at most `burst` at once, refilled evenly over `period` (`10/15m`); `off` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub burst: u32,
    pub period: Duration,
}

/// A [`RateLimit`] setting, which may be `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSetting(pub Option<RateLimit>);

impl FromStr for RateSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(Self(None));
        }
        let bad = || format!("`{s}` is not a rate (examples: 10/15m, 600/1m, off)");
        let (burst, period) = s.split_once('/').ok_or_else(bad)?;
        let burst: u32 = burst.trim().parse().map_err(|_| bad())?;
        let period = HumanDuration::from_str(period)?.0;
        if burst == 0 || period.is_zero() {
            return Err(bad());
        }
        Ok(Self(Some(RateLimit { burst, period })))
    }
}

/// Accepts the prototype's `DEV_MODE=TRUE` as well as the usual spellings.
fn parse_flag(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        other => Err(format!("`{other}` is not a boolean (use true or false)")),
    }
}

/// Settings as given on the command line or in the environment, before validation.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// PostgreSQL URL (postgres://, postgresql:// or the prototype's postgresql+asyncpg://). Unset: the
    /// local server at 127.0.0.1:5432 (database `salesbot`, created if missing), or a private cluster
    /// under --pg-data-dir when no server answers there.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// JWT signing secret (generate with `openssl rand -hex 32`). Required unless DEV_MODE is true.
    #[arg(long, env = "SECRET_KEY", hide_env_values = true, global = true)]
    pub secret_key: Option<Secret>,

    /// The previous SECRET_KEY while rotating: stored bot tokens sealed under it still decrypt until
    /// `salesbot telegram reencrypt` has rewritten them under SECRET_KEY.
    #[arg(
        long,
        env = "SECRET_KEY_PREVIOUS",
        hide_env_values = true,
        global = true
    )]
    pub secret_key_previous: Option<Secret>,

    /// Development conveniences: a generated SECRET_KEY when none is set.
    #[arg(long, env = "DEV_MODE", default_value = "false", value_parser = parse_flag, global = true,
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub dev_mode: bool,

    /// OpenAI API key. Set: the OpenAI engine answers; unset: the built-in offline engine.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true, global = true)]
    pub openai_api_key: Option<Secret>,

    /// OpenAI-compatible API base (Ollama, vLLM and gateways work too).
    #[arg(
        long,
        env = "OPENAI_BASE_URL",
        default_value = "https://api.openai.com/v1",
        global = true
    )]
    pub openai_base_url: String,

    /// Chat model.
    #[arg(
        long,
        env = "OPENAI_CHAT_MODEL",
        default_value = "gpt-4o",
        global = true
    )]
    pub openai_chat_model: String,

    /// Speech-to-text model (whisper-1, gpt-4o-mini-transcribe, …).
    #[arg(
        long,
        env = "OPENAI_TRANSCRIBE_MODEL",
        default_value = "whisper-1",
        global = true
    )]
    pub openai_transcribe_model: String,

    /// Timeout of one OpenAI request (a chat turn makes two when the model calls a tool; the turn as
    /// a whole must end within JOB_LEASE minus 2 s).
    #[arg(long, env = "OPENAI_TIMEOUT", default_value = "12s", global = true)]
    pub openai_timeout: HumanDuration,

    /// Requests per minute per model, across all worker processes together.
    #[arg(long, env = "OPENAI_RPM", default_value_t = 500, global = true)]
    pub openai_rpm: u32,

    /// Tokens per minute per chat model, across all worker processes together (0: no limit).
    #[arg(long, env = "OPENAI_TPM", default_value_t = 30_000, global = true)]
    pub openai_tpm: u64,

    /// The window OPENAI_RPM and OPENAI_TPM count over (a minute; shorter only for tests).
    #[arg(
        long,
        env = "OPENAI_RATE_WINDOW",
        default_value = "60s",
        global = true,
        hide = true
    )]
    pub openai_rate_window: HumanDuration,

    /// Prices in USD: `model=input/output` per million tokens, `model=price/min` per audio minute,
    /// comma-separated. Models not listed cost 0 (usage is still counted).
    #[arg(
        long,
        env = "OPENAI_PRICES",
        default_value = "gpt-4o=2.5/10,gpt-4o-mini=0.15/0.6,gpt-4.1=2/8,gpt-4.1-mini=0.4/1.6,whisper-1=0.006/min,gpt-4o-mini-transcribe=0.003/min,gpt-4o-transcribe=0.006/min",
        global = true
    )]
    pub openai_prices: PriceTable,

    /// Earlier messages of a conversation given to the engine with each turn.
    #[arg(long, env = "ENGINE_HISTORY", default_value_t = 30, global = true)]
    pub engine_history: u32,

    /// Platform Telegram bot that notifies managers (default for tenants without their own).
    #[arg(
        long,
        env = "TELEGRAM_BOT_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub telegram_bot_token: Option<Secret>,

    /// Chat that receives the platform bot's notifications.
    #[arg(long, env = "TELEGRAM_CHAT_ID", global = true)]
    pub telegram_chat_id: Option<String>,

    /// Telegram Bot API base URL (tests point it at a fake server).
    #[arg(
        long,
        env = "TELEGRAM_API_BASE",
        default_value = "https://api.telegram.org",
        global = true
    )]
    pub telegram_api_base: String,

    /// Telegram file download base URL (`<base>/bot<token>/<file_path>`); unset: TELEGRAM_API_BASE
    /// followed by `/file`.
    #[arg(long, env = "TELEGRAM_FILE_BASE", global = true)]
    pub telegram_file_base: Option<String>,

    /// Receive customers' Telegram messages by getUpdates long polling instead of webhooks (local use
    /// without a public URL): one poller per bot across worker processes, offsets stored.
    #[arg(long, env = "TELEGRAM_POLLING", default_value = "false", value_parser = parse_flag, global = true,
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub telegram_polling: bool,

    /// This service's public address, for links in notifications.
    #[arg(
        long,
        env = "PUBLIC_URL",
        default_value = "http://localhost:8000",
        global = true
    )]
    pub public_url: String,

    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0", global = true)]
    pub host: IpAddr,

    /// Port to listen on (Render sets PORT).
    #[arg(long, env = "PORT", default_value_t = 8000, global = true)]
    pub port: u16,

    /// Origins allowed by CORS, comma-separated; `*` allows any; empty allows none.
    #[arg(long, env = "CORS_ORIGINS", default_value = "", global = true)]
    pub cors_origins: String,

    /// Log format.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    pub log_format: LogFormat,

    /// Lifetime of access tokens (e.g. 7d, 12h, 3600).
    #[arg(long, env = "JWT_TTL", default_value = "7d", global = true)]
    pub jwt_ttl: HumanDuration,

    /// bcrypt cost for new password hashes (4–31).
    #[arg(long, env = "BCRYPT_COST", default_value_t = 12, global = true,
          value_parser = clap::value_parser!(u32).range(4..=31))]
    pub bcrypt_cost: u32,

    /// Maximum connections in this process's database pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10, global = true)]
    pub db_max_connections: u32,

    /// Data folder of the private PostgreSQL cluster started when DATABASE_URL is unset and no server
    /// answers at 127.0.0.1:5432.
    #[arg(
        long,
        env = "SALESBOT_PG_DIR",
        default_value = ".salesbot/pg",
        global = true
    )]
    pub pg_data_dir: PathBuf,

    /// Largest request body accepted, in bytes (voice notes are up to 25 MB).
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 26 * 1024 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// How long `POST /api/chat` waits for the reply before answering 202 with a status URL.
    #[arg(long, env = "CHAT_WAIT_SECONDS", default_value_t = 25, global = true)]
    pub chat_wait_seconds: u64,

    /// Where this process serves /metrics for Prometheus, apart from the API (e.g. 0.0.0.0:9091).
    #[arg(long, env = "METRICS_ADDR", global = true)]
    pub metrics_addr: Option<SocketAddr>,

    /// Bearer token Prometheus must send for /metrics. Unset: /metrics is served only on
    /// METRICS_ADDR (and on the API port only with DEV_MODE).
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<Secret>,

    /// Jobs one worker process runs at once.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 32, global = true)]
    pub worker_concurrency: usize,

    /// Most jobs a worker claims per statement.
    #[arg(long, env = "WORKER_BATCH_SIZE", default_value_t = 32, global = true)]
    pub worker_batch_size: usize,

    /// Job lease: a crashed worker's jobs run again this long after its last heartbeat (min 2s).
    #[arg(long, env = "JOB_LEASE", default_value = "30s", global = true)]
    pub job_lease: HumanDuration,

    /// Safety-net poll of idle workers, should a wake-up notification be lost.
    #[arg(long, env = "QUEUE_POLL_INTERVAL", default_value = "1s", global = true)]
    pub queue_poll_interval: HumanDuration,

    /// First retry delay bound (exponential backoff with full jitter).
    #[arg(long, env = "RETRY_BACKOFF_BASE", default_value = "1s", global = true)]
    pub retry_backoff_base: HumanDuration,

    /// Longest retry delay.
    #[arg(long, env = "RETRY_BACKOFF_CAP", default_value = "10m", global = true)]
    pub retry_backoff_cap: HumanDuration,

    /// Customer messages older than this when their turn runs (after downtime) get one catch-up reply
    /// per conversation instead of one answer each.
    #[arg(long, env = "STALE_MESSAGE_AGE", default_value = "24h", global = true)]
    pub stale_message_age: HumanDuration,

    /// How long a customer handed to a manager waits for the manager's first answer before the bot
    /// tells them honestly when to expect one.
    #[arg(long, env = "HANDOFF_TIMEOUT", default_value = "15m", global = true)]
    pub handoff_timeout: HumanDuration,

    /// Lets webhook endpoints name loopback, private and other non-public addresses (tests and
    /// local use). Off: a tenant's URL can only reach the public internet.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", default_value = "false", value_parser = parse_flag,
          global = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true")]
    pub webhook_allow_private: bool,

    /// The pauses between a webhook delivery's attempts (Standard Webhooks' usual schedule, about
    /// 28 hours in all); when they run out the delivery has failed.
    #[arg(
        long,
        env = "WEBHOOK_RETRY_SCHEDULE",
        default_value = "5s,5m,30m,2h,5h,10h,10h",
        global = true
    )]
    pub webhook_retry_schedule: RetrySchedule,

    /// An endpoint whose deliveries have kept failing this long is disabled (and the tenant told).
    #[arg(
        long,
        env = "WEBHOOK_DISABLE_AFTER",
        default_value = "5d",
        global = true
    )]
    pub webhook_disable_after: HumanDuration,

    /// How long a receiver has to answer one delivery with a 2xx.
    #[arg(long, env = "WEBHOOK_TIMEOUT", default_value = "15s", global = true)]
    pub webhook_timeout: HumanDuration,

    /// Sends every company's amoCRM requests here instead of `https://<base domain>` (a local
    /// fake; tests).
    #[arg(long, env = "AMOCRM_API_BASE", global = true)]
    pub amocrm_api_base: Option<String>,

    /// How long dead jobs are kept for inspection and redrive.
    #[arg(long, env = "DEAD_JOB_RETENTION", default_value = "14d", global = true)]
    pub dead_job_retention: HumanDuration,

    /// Login attempts per account (right or wrong), across all web processes: `N/period` or `off`.
    #[arg(
        long,
        env = "LOGIN_RATE_LIMIT",
        default_value = DEFAULT_LOGIN_RATE,
        global = true
    )]
    pub login_rate_limit: RateSetting,

    /// Login attempts per client address, across all web processes.
    #[arg(
        long,
        env = "LOGIN_IP_RATE_LIMIT",
        default_value = DEFAULT_LOGIN_IP_RATE,
        global = true
    )]
    pub login_ip_rate_limit: RateSetting,

    /// Company registrations per client address, across all web processes.
    #[arg(
        long,
        env = "REGISTER_RATE_LIMIT",
        default_value = DEFAULT_REGISTER_RATE,
        global = true
    )]
    pub register_rate_limit: RateSetting,

    /// Customer messages per company on POST /api/chat, across all web processes (e.g. 600/1m).
    #[arg(long, env = "CHAT_RATE_LIMIT", default_value = "off", global = true)]
    pub chat_rate_limit: RateSetting,

    /// Proxies in front of the service that each append to X-Forwarded-For (Render: 2, its proxy
    /// and Cloudflare); the client address is that many entries from the right. 0: the peer
    /// address of the connection.
    #[arg(long, env = "TRUSTED_PROXIES", default_value_t = 0, global = true)]
    pub trusted_proxies: usize,

    /// How long in-flight requests and jobs get to finish after SIGTERM/SIGINT (Render gives 30 s).
    #[arg(long, env = "SHUTDOWN_GRACE", default_value = "25s", global = true)]
    pub shutdown_grace: HumanDuration,
}

/// Where the database is: named by the operator, or the embedded default this process may provision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// DATABASE_URL was set: used as is, never replaced by a private cluster.
    Explicit(DatabaseUrl),
    /// DATABASE_URL unset: the local default, falling back to a private cluster in `pg_data_dir`.
    EmbeddedDefault { pg_data_dir: PathBuf },
}

/// How the JWT signing key came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOrigin {
    Configured,
    /// DEV_MODE made one up: tokens do not survive a restart.
    Generated,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseTarget,
    pub db_max_connections: u32,
    pub secret_key: Secret,
    pub secret_origin: SecretOrigin,
    pub secret_key_previous: Option<Secret>,
    pub dev_mode: bool,
    /// Set when OPENAI_API_KEY is: the OpenAI engine answers and voice is transcribed.
    pub openai: Option<OpenAiSettings>,
    pub engine_history: u32,
    pub telegram_bot_token: Option<Secret>,
    pub telegram_chat_id: Option<String>,
    pub telegram_api_base: String,
    pub telegram_file_base: String,
    pub telegram_polling: bool,
    pub public_url: String,
    pub listen: SocketAddr,
    pub cors_origins: CorsOrigins,
    pub log_format: LogFormat,
    pub jwt_ttl: Duration,
    pub bcrypt_cost: u32,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    pub chat_wait: Duration,
    pub handoff_timeout: Duration,
    pub webhook_delivery: WebhookDelivery,
    pub amocrm_api_base: Option<String>,
    pub limits: AbuseLimits,
    pub metrics: MetricsSettings,
    pub worker: WorkerSettings,
}

/// Where Prometheus finds this process's metrics, and what it must show to read them.
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// A listener of its own for /metrics.
    pub addr: Option<SocketAddr>,
    pub token: Option<Secret>,
}

/// Who may read /metrics on one listener.
#[derive(Debug, Clone)]
pub enum MetricsAccess {
    Open,
    /// `Authorization: Bearer <token>`.
    Token(Secret),
    /// As if there were no such route (404).
    Hidden,
}

impl Config {
    /// On the API port: with a token, whoever shows it; without one, nobody but a developer
    /// (the API port is public, and metrics tell an attacker the traffic and the tenants' load).
    pub fn metrics_on_api(&self) -> MetricsAccess {
        match (&self.metrics.token, self.dev_mode) {
            (Some(token), _) => MetricsAccess::Token(token.clone()),
            (None, true) => MetricsAccess::Open,
            (None, false) => MetricsAccess::Hidden,
        }
    }

    /// On METRICS_ADDR, which the operator chose to expose to Prometheus: the token if one is set.
    pub fn metrics_on_own_port(&self) -> MetricsAccess {
        self.metrics
            .token
            .clone()
            .map_or(MetricsAccess::Open, MetricsAccess::Token)
    }
}

/// Where and how webhooks are delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// The pause after each failed attempt; one attempt more than pauses.
    pub retry_schedule: Vec<Duration>,
    pub disable_after: Duration,
    pub timeout: Duration,
    /// WEBHOOK_ALLOW_PRIVATE: endpoints may name non-public addresses.
    pub allow_private: bool,
}

impl Default for WebhookDelivery {
    fn default() -> Self {
        Self {
            retry_schedule: RetrySchedule::from_str("5s,5m,30m,2h,5h,10h,10h")
                .expect("valid")
                .0,
            disable_after: Duration::from_secs(5 * 86_400),
            timeout: Duration::from_secs(15),
            allow_private: false,
        }
    }
}

/// Limits on what one client, account or company may ask for (shared by all web processes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbuseLimits {
    pub login_per_account: Option<RateLimit>,
    pub login_per_ip: Option<RateLimit>,
    pub register_per_ip: Option<RateLimit>,
    pub chat_per_tenant: Option<RateLimit>,
    /// How many X-Forwarded-For entries, counted from the right, proxies we trust wrote.
    pub trusted_proxies: usize,
}

const DEFAULT_LOGIN_RATE: &str = "10/15m";
const DEFAULT_LOGIN_IP_RATE: &str = "30/1m";
const DEFAULT_REGISTER_RATE: &str = "10/1h";

impl Default for AbuseLimits {
    /// The settings' defaults.
    fn default() -> Self {
        let rate = |setting: &str| setting.parse::<RateSetting>().expect("a valid default").0;
        Self {
            login_per_account: rate(DEFAULT_LOGIN_RATE),
            login_per_ip: rate(DEFAULT_LOGIN_IP_RATE),
            register_per_ip: rate(DEFAULT_REGISTER_RATE),
            chat_per_tenant: None,
            trusted_proxies: 0,
        }
    }
}

/// The OpenAI engine and transcription.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    pub api_key: Secret,
    pub base_url: String,
    pub chat_model: String,
    pub transcribe_model: String,
    pub timeout: Duration,
    pub rpm: u32,
    pub tpm: u64,
    pub rate_window: Duration,
    pub prices: PriceTable,
}

/// What one model costs, in USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Price {
    /// Per million prompt and completion tokens.
    Tokens { input: f64, output: f64 },
    /// Per minute of audio.
    AudioMinute(f64),
}

/// Model prices (`OPENAI_PRICES`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable(Vec<(String, Price)>);

impl PriceTable {
    /// The cost of one call; 0 for a model with no price.
    pub fn cost(
        &self,
        model: &str,
        prompt_tokens: u64,
        completion_tokens: u64,
        audio_seconds: f64,
    ) -> f64 {
        match self.0.iter().find(|(m, _)| m == model).map(|(_, p)| *p) {
            Some(Price::Tokens { input, output }) => {
                (prompt_tokens as f64 * input + completion_tokens as f64 * output) / 1e6
            }
            Some(Price::AudioMinute(per_minute)) => audio_seconds / 60.0 * per_minute,
            None => 0.0,
        }
    }
}

impl FromStr for PriceTable {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |v: &str| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| format!("`{v}` is not a price"))
        };
        let mut table = Vec::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (model, price) = entry.split_once('=').ok_or_else(|| {
                format!("`{entry}`: expected model=input/output or model=price/min")
            })?;
            let (a, b) = price.split_once('/').ok_or_else(|| {
                format!("`{entry}`: expected model=input/output or model=price/min")
            })?;
            let price = if b.trim() == "min" {
                Price::AudioMinute(number(a)?)
            } else {
                Price::Tokens {
                    input: number(a)?,
                    output: number(b)?,
                }
            };
            table.push((model.trim().to_owned(), price));
        }
        Ok(Self(table))
    }
}

/// How a worker process claims and retries jobs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub batch_size: usize,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub backoff: crate::queue::Backoff,
    pub dead_retention: Duration,
    pub stale_after: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 32,
            batch_size: 32,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            backoff: crate::queue::Backoff::default(),
            dead_retention: Duration::from_secs(14 * 86_400),
            stale_after: Duration::from_secs(86_400),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    None,
    Any,
    List(Vec<String>),
}

impl CorsOrigins {
    fn parse(raw: &str) -> Self {
        let origins: Vec<String> = raw
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if origins.iter().any(|o| o == "*") {
            Self::Any
        } else if origins.is_empty() {
            Self::None
        } else {
            Self::List(origins)
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "SECRET_KEY is not set: set it to a long random value (e.g. `openssl rand -hex 32`), or set DEV_MODE=true to use a temporary one"
    )]
    MissingSecretKey,
    #[error("SECRET_KEY is too short: use at least 32 characters (e.g. `openssl rand -hex 32`)")]
    WeakSecretKey,
    #[error("JOB_LEASE must be at least 2s")]
    LeaseTooShort,
    #[error("DATABASE_URL is invalid: {0}")]
    BadDatabaseUrl(String),
}

const MIN_SECRET_LEN: usize = 32;

impl Settings {
    /// Validates the settings; the error is one line meant for the operator. Commands that sign or
    /// decrypt nothing (migrate, queue ops) pass `needs_secret = false` and get a throwaway key.
    pub fn resolve(&self, needs_secret: bool) -> Result<Config, ConfigError> {
        let database = match self.database_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => DatabaseTarget::Explicit(DatabaseUrl::parse(url)?),
            _ => DatabaseTarget::EmbeddedDefault {
                pg_data_dir: self.pg_data_dir.clone(),
            },
        };
        let (secret_key, secret_origin) = match &self.secret_key {
            Some(key) if !key.expose().trim().is_empty() => {
                if key.expose().len() < MIN_SECRET_LEN && !self.dev_mode {
                    return Err(ConfigError::WeakSecretKey);
                }
                (key.clone(), SecretOrigin::Configured)
            }
            _ if self.dev_mode || !needs_secret => (generate_secret(), SecretOrigin::Generated),
            _ => return Err(ConfigError::MissingSecretKey),
        };
        if self.job_lease.0 < Duration::from_secs(2) {
            return Err(ConfigError::LeaseTooShort);
        }
        Ok(Config {
            database,
            db_max_connections: self.db_max_connections.max(1),
            secret_key,
            secret_origin,
            secret_key_previous: self
                .secret_key_previous
                .clone()
                .filter(|k| !k.expose().trim().is_empty()),
            dev_mode: self.dev_mode,
            openai: self
                .openai_api_key
                .clone()
                .filter(|k| !k.expose().is_empty())
                .map(|api_key| OpenAiSettings {
                    api_key,
                    base_url: self.openai_base_url.trim_end_matches('/').to_owned(),
                    chat_model: self.openai_chat_model.clone(),
                    transcribe_model: self.openai_transcribe_model.clone(),
                    timeout: self.openai_timeout.0,
                    rpm: self.openai_rpm.max(1),
                    tpm: self.openai_tpm,
                    rate_window: self.openai_rate_window.0.max(Duration::from_millis(60)),
                    prices: self.openai_prices.clone(),
                }),
            engine_history: self.engine_history,
            telegram_bot_token: self
                .telegram_bot_token
                .clone()
                .filter(|k| !k.expose().is_empty()),
            telegram_chat_id: self.telegram_chat_id.clone().filter(|c| !c.is_empty()),
            telegram_api_base: self.telegram_api_base.trim_end_matches('/').to_owned(),
            telegram_file_base: match self.telegram_file_base.as_deref().map(str::trim) {
                Some(base) if !base.is_empty() => base.trim_end_matches('/').to_owned(),
                _ => format!("{}/file", self.telegram_api_base.trim_end_matches('/')),
            },
            telegram_polling: self.telegram_polling,
            public_url: self.public_url.trim_end_matches('/').to_owned(),
            listen: SocketAddr::new(self.host, self.port),
            cors_origins: CorsOrigins::parse(&self.cors_origins),
            log_format: self.log_format,
            jwt_ttl: self.jwt_ttl.0,
            bcrypt_cost: self.bcrypt_cost,
            max_body_bytes: self.max_body_bytes,
            shutdown_grace: self.shutdown_grace.0,
            chat_wait: Duration::from_secs(self.chat_wait_seconds.min(120)),
            handoff_timeout: self.handoff_timeout.0,
            webhook_delivery: WebhookDelivery {
                retry_schedule: self.webhook_retry_schedule.0.clone(),
                disable_after: self.webhook_disable_after.0,
                timeout: self.webhook_timeout.0,
                allow_private: self.webhook_allow_private,
            },
            amocrm_api_base: self
                .amocrm_api_base
                .clone()
                .filter(|b| !b.trim().is_empty()),
            limits: AbuseLimits {
                login_per_account: self.login_rate_limit.0,
                login_per_ip: self.login_ip_rate_limit.0,
                register_per_ip: self.register_rate_limit.0,
                chat_per_tenant: self.chat_rate_limit.0,
                trusted_proxies: self.trusted_proxies,
            },
            metrics: MetricsSettings {
                addr: self.metrics_addr,
                token: self
                    .metrics_token
                    .clone()
                    .filter(|t| !t.expose().trim().is_empty()),
            },
            worker: WorkerSettings {
                concurrency: self.worker_concurrency.max(1),
                batch_size: self.worker_batch_size.max(1),
                lease: self.job_lease.0,
                poll_interval: self.queue_poll_interval.0,
                backoff: crate::queue::Backoff {
                    base: self.retry_backoff_base.0,
                    cap: self.retry_backoff_cap.0,
                },
                dead_retention: self.dead_job_retention.0,
                stale_after: self.stale_message_age.0,
            },
        })
    }
}

fn generate_secret() -> Secret {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    Secret(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    fn settings(args: &[&str]) -> Settings {
        let mut argv = vec!["salesbot"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().settings
    }

    #[test]
    fn asyncpg_url_is_normalised() {
        let url = DatabaseUrl::parse("postgresql+asyncpg://u:p@db:5432/app").unwrap();
        assert_eq!(url.expose(), "postgres://u:p@db:5432/app");
        assert_eq!(url.database(), Some("app"));
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(matches!(
            DatabaseUrl::parse("mysql://u@h/db"),
            Err(ConfigError::BadDatabaseUrl(_))
        ));
        assert!(matches!(
            DatabaseUrl::parse("not a url"),
            Err(ConfigError::BadDatabaseUrl(_))
        ));
    }

    #[test]
    fn database_url_hides_password() {
        let url = DatabaseUrl::parse("postgres://app:hunter2@db/app?sslmode=require").unwrap();
        assert!(!format!("{url:?} {url}").contains("hunter2"));
        assert_eq!(
            url.with_database("postgres").expose(),
            "postgres://app:hunter2@db/postgres?sslmode=require"
        );
    }

    #[test]
    fn secret_is_required_outside_dev_mode() {
        // Settings may pick up the developer's environment; pass explicit values that win over it.
        let s = settings(&["--secret-key", "", "--dev-mode", "false"]);
        assert_eq!(s.resolve(true).unwrap_err(), ConfigError::MissingSecretKey);
        assert!(
            s.resolve(false).is_ok(),
            "migrate and queue ops sign nothing"
        );
        let s = settings(&["--secret-key", "", "--dev-mode", "TRUE"]);
        let config = s.resolve(true).unwrap();
        assert_eq!(config.secret_origin, SecretOrigin::Generated);
        assert_eq!(config.secret_key.expose().len(), 64);
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let key = "0123456789abcdef0123456789abcdef-very-secret";
        let s = settings(&["--secret-key", key, "--openai-api-key", "sk-live-secret"]);
        let config = s.resolve(true).unwrap();
        let printed = format!("{config:?} {s:?}");
        assert!(!printed.contains(key));
        assert!(!printed.contains("sk-live-secret"));
    }

    #[test]
    fn the_openai_engine_is_chosen_by_the_key() {
        let key = "0123456789abcdef0123456789abcdef";
        assert!(
            settings(&["--secret-key", key])
                .resolve(true)
                .unwrap()
                .openai
                .is_none()
        );
        let config = settings(&["--secret-key", key, "--openai-api-key", "sk-x"])
            .resolve(true)
            .unwrap();
        let openai = config.openai.unwrap();
        assert_eq!(openai.chat_model, "gpt-4o");
        assert_eq!(openai.base_url, "https://api.openai.com/v1");
    }

    #[test]
    fn prices_parse_and_cost() {
        let table: PriceTable = "gpt-4o=2.5/10, whisper-1=0.006/min".parse().unwrap();
        assert!((table.cost("gpt-4o", 1_000_000, 100_000, 0.0) - 3.5).abs() < 1e-12);
        assert!((table.cost("whisper-1", 0, 0, 90.0) - 0.009).abs() < 1e-12);
        assert_eq!(table.cost("unknown-model", 1_000, 1_000, 0.0), 0.0);
        assert!("gpt-4o=2.5".parse::<PriceTable>().is_err());
        assert!("gpt-4o=x/10".parse::<PriceTable>().is_err());
        // The shipped default parses.
        let cli = settings(&[]);
        assert!(cli.openai_prices.cost("gpt-4o-mini", 1_000_000, 0, 0.0) > 0.0);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(
            "7d".parse::<HumanDuration>().unwrap().0,
            Duration::from_secs(604_800)
        );
        assert_eq!(
            "3600".parse::<HumanDuration>().unwrap().0,
            Duration::from_secs(3600)
        );
        assert_eq!(
            "250ms".parse::<HumanDuration>().unwrap().0,
            Duration::from_millis(250)
        );
        assert!("7 weeks".parse::<HumanDuration>().is_err());
    }

    #[test]
    fn rates_parse_and_defaults_match_the_settings() {
        assert_eq!(
            "10/15m".parse::<RateSetting>().unwrap().0,
            Some(RateLimit {
                burst: 10,
                period: Duration::from_secs(900)
            })
        );
        assert_eq!("off".parse::<RateSetting>().unwrap().0, None);
        for bad in ["10", "0/1m", "10/0s", "x/1m", "10/1w"] {
            assert!(bad.parse::<RateSetting>().is_err(), "{bad}");
        }
        let settings = <Settings as clap::FromArgMatches>::from_arg_matches(
            &<Settings as clap::Args>::augment_args(clap::Command::new("t"))
                .get_matches_from(["t"]),
        )
        .unwrap();
        assert_eq!(
            settings.resolve(false).unwrap().limits,
            AbuseLimits::default()
        );
    }

    #[test]
    fn cors_origins_parse() {
        assert_eq!(CorsOrigins::parse(""), CorsOrigins::None);
        assert_eq!(CorsOrigins::parse("*"), CorsOrigins::Any);
        assert_eq!(
            CorsOrigins::parse("https://a.kz/, https://b.kz"),
            CorsOrigins::List(vec!["https://a.kz".into(), "https://b.kz".into()])
        );
    }
}
