//! Metric names in one place, and the process's Prometheus recorder.
//!
//! Counters and histograms are recorded where things happen (queue, workers, HTTP); gauges of queue
//! depth and lag are sampled by the worker's maintenance task. `/metrics` renders them.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const JOBS_ENQUEUED: &str = "salesbot_jobs_enqueued_total";
pub const JOBS_CLAIMED: &str = "salesbot_jobs_claimed_total";
pub const JOBS_COMPLETED: &str = "salesbot_jobs_completed_total";
pub const JOBS_RETRIED: &str = "salesbot_jobs_retried_total";
pub const JOBS_DEFERRED: &str = "salesbot_jobs_deferred_total";
pub const JOBS_DEAD: &str = "salesbot_jobs_dead_total";
pub const JOBS_LEASE_LOST: &str = "salesbot_jobs_lease_lost_total";
pub const JOB_DURATION: &str = "salesbot_job_duration_seconds";
pub const QUEUE_DEPTH: &str = "salesbot_queue_depth";
pub const QUEUE_LAG: &str = "salesbot_queue_lag_seconds";
pub const ACTIVE_LEASES: &str = "salesbot_active_leases";
/// Chat text messages are recorded in batches (src/db/ingestor.rs): messages ÷ batches is the
/// batch size, 1 on a quiet service.
pub const INGEST_BATCHES: &str = "salesbot_ingest_batches_total";
pub const INGEST_BATCHED_MESSAGES: &str = "salesbot_ingest_batched_messages_total";
/// Webhook delivery attempts by event type and outcome (succeeded, retried, failed: the last).
pub const WEBHOOK_ATTEMPTS: &str = "salesbot_webhook_attempts_total";
pub const WEBHOOK_ATTEMPT_DURATION: &str = "salesbot_webhook_attempt_duration_seconds";
pub const WEBHOOK_ENDPOINTS_DISABLED: &str = "salesbot_webhook_endpoints_disabled_total";
/// HTTP requests by method, route template and status, and their latency by method and route.
pub const HTTP_REQUESTS: &str = "salesbot_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "salesbot_http_request_duration_seconds";
/// Customer messages recorded (duplicates not counted), by channel and kind.
pub const MESSAGES_INGESTED: &str = "salesbot_messages_ingested_total";
/// LLM requests by model and outcome, their latency, tokens and cost by model.
pub const LLM_REQUESTS: &str = "salesbot_llm_requests_total";
pub const LLM_REQUEST_DURATION: &str = "salesbot_llm_request_duration_seconds";
pub const LLM_TOKENS: &str = "salesbot_llm_tokens_total";
/// In millionths of a US dollar: Prometheus counters here are integers.
pub const LLM_COST: &str = "salesbot_llm_cost_microusd_total";
/// Bot API calls by method and outcome.
pub const TELEGRAM_REQUESTS: &str = "salesbot_telegram_requests_total";
/// Unix time of the worker's last sign of life (its housekeeping tick).
pub const WORKER_HEARTBEAT: &str = "salesbot_worker_heartbeat_timestamp_seconds";
/// The process's database pool: connections by state, and its bound.
pub const DB_POOL_CONNECTIONS: &str = "salesbot_db_pool_connections";
pub const DB_POOL_MAX_CONNECTIONS: &str = "salesbot_db_pool_max_connections";
/// 1, labelled with the running build's version.
pub const BUILD_INFO: &str = "salesbot_build_info";
/// Bot replies replaced because they named a price, discount or deadline the company's price list
/// does not hold (workers/engine/guard.rs), by what they named and the engine that wrote them.
pub const REPLIES_GUARDED: &str = "salesbot_replies_guarded_total";
/// Follow-ups to customers who went quiet before their lead was qualified, by outcome: `sent`,
/// `cancelled` (the customer answered, a manager took over, the lead moved on, the customer
/// blocked the bot, follow-ups were turned off), `deferred` (outside the managers' working hours).
pub const FOLLOW_UPS: &str = "salesbot_follow_ups_total";
/// Customers erased on request (`DELETE /api/conversations/{user_id}`, the dashboard's form).
pub const CONVERSATIONS_ERASED: &str = "salesbot_conversations_erased_total";
/// Rows the companies' retention periods deleted, by table (messages, webhook_events,
/// webhook_deliveries, webhook_attempts).
pub const RETENTION_DELETED: &str = "salesbot_retention_deleted_rows_total";
/// Requests refused by an abuse limit (`rule`: login-ip, login-account, register-ip, chat-tenant).
pub const HTTP_THROTTLED: &str = "salesbot_http_throttled_total";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder (installed on first use; later calls return the same handle).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(JOB_DURATION.to_owned()),
                &[
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0,
                ],
            )
            .expect("valid buckets")
            .set_buckets_for_metric(
                Matcher::Full(HTTP_REQUEST_DURATION.to_owned()),
                &[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                ],
            )
            .expect("valid buckets")
            .set_buckets_for_metric(
                Matcher::Full(LLM_REQUEST_DURATION.to_owned()),
                &[0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0],
            )
            .expect("valid buckets")
            .set_buckets_for_metric(
                Matcher::Full(WEBHOOK_ATTEMPT_DURATION.to_owned()),
                &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0],
            )
            .expect("valid buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed (then our metrics go there instead).
        let _ = metrics::set_global_recorder(recorder);
        describe();
        metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

/// Prometheus text exposition of every metric recorded so far.
pub fn render() -> String {
    handle().render()
}

pub fn job_enqueued(kind: &str, n: u64) {
    metrics::counter!(JOBS_ENQUEUED, "kind" => kind.to_owned()).increment(n);
}

pub fn ingest_batch(messages: usize) {
    metrics::counter!(INGEST_BATCHES).increment(1);
    metrics::counter!(INGEST_BATCHED_MESSAGES).increment(messages as u64);
}

/// A long-running task of the process ended before it was told to (the process then stops).
pub const TASKS_FAILED: &str = "salesbot_tasks_failed_total";
/// Job handlers that panicked (each such attempt counts as a failed attempt).
pub const JOB_PANICS: &str = "salesbot_job_panics_total";

pub fn task_failed(task: &'static str) {
    metrics::counter!(TASKS_FAILED, "task" => task).increment(1);
}

pub fn job_panicked(kind: &str) {
    metrics::counter!(JOB_PANICS, "kind" => kind.to_owned()).increment(1);
}

pub fn throttled(rule: &'static str) {
    metrics::counter!(HTTP_THROTTLED, "rule" => rule).increment(1);
}

pub fn job_claimed(kind: &str) {
    metrics::counter!(JOBS_CLAIMED, "kind" => kind.to_owned()).increment(1);
}

/// How an attempt ended, for the duration histogram and the outcome counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Retried,
    Deferred,
    Dead,
    LeaseLost,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Retried => "retried",
            Self::Deferred => "deferred",
            Self::Dead => "dead",
            Self::LeaseLost => "lease_lost",
        }
    }
}

pub fn job_finished(kind: &str, outcome: Outcome, duration: Duration) {
    let counter = match outcome {
        Outcome::Completed => JOBS_COMPLETED,
        Outcome::Retried => JOBS_RETRIED,
        Outcome::Deferred => JOBS_DEFERRED,
        Outcome::Dead => JOBS_DEAD,
        Outcome::LeaseLost => JOBS_LEASE_LOST,
    };
    metrics::counter!(counter, "kind" => kind.to_owned()).increment(1);
    metrics::histogram!(JOB_DURATION, "kind" => kind.to_owned(), "outcome" => outcome.as_str())
        .record(duration.as_secs_f64());
}

pub fn active_leases(n: usize) {
    metrics::gauge!(ACTIVE_LEASES).set(n as f64);
}

pub fn queue_depth(kind: &str, state: &'static str, n: i64) {
    metrics::gauge!(QUEUE_DEPTH, "kind" => kind.to_owned(), "state" => state).set(n as f64);
}

pub fn queue_lag(kind: &str, seconds: f64) {
    metrics::gauge!(QUEUE_LAG, "kind" => kind.to_owned()).set(seconds);
}

pub fn webhook_attempt(
    event: &str,
    outcome: crate::db::webhooks::AttemptOutcome,
    elapsed: Duration,
) {
    use crate::db::webhooks::AttemptOutcome;
    let outcome = match outcome {
        AttemptOutcome::Succeeded => "succeeded",
        AttemptOutcome::RetryAt(_) => "retried",
        AttemptOutcome::Failed => "failed",
    };
    metrics::counter!(WEBHOOK_ATTEMPTS, "event" => event.to_owned(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!(WEBHOOK_ATTEMPT_DURATION).record(elapsed.as_secs_f64());
}

pub fn webhook_endpoint_disabled() {
    metrics::counter!(WEBHOOK_ENDPOINTS_DISABLED).increment(1);
}

/// Help text for every series, as `# HELP` lines say it.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(JOBS_ENQUEUED, "Jobs enqueued, by kind");
    describe_counter!(JOBS_CLAIMED, "Jobs claimed by a worker, by kind");
    describe_counter!(JOBS_COMPLETED, "Job attempts that completed, by kind");
    describe_counter!(
        JOBS_RETRIED,
        "Job attempts that failed and will run again, by kind"
    );
    describe_counter!(
        JOBS_DEFERRED,
        "Job attempts deferred without spending an attempt, by kind"
    );
    describe_counter!(
        JOBS_DEAD,
        "Jobs that went dead (no attempt left, or fatal), by kind"
    );
    describe_counter!(
        JOBS_LEASE_LOST,
        "Job attempts whose lease another worker took, by kind"
    );
    describe_histogram!(
        JOB_DURATION,
        Unit::Seconds,
        "Job attempt duration, by kind and outcome"
    );
    describe_gauge!(QUEUE_DEPTH, "Jobs in the queue, by kind and state");
    describe_gauge!(
        QUEUE_LAG,
        Unit::Seconds,
        "Age of the oldest runnable job, by kind"
    );
    describe_gauge!(ACTIVE_LEASES, "Jobs this worker process is running");
    describe_counter!(INGEST_BATCHES, "Group commits of chat messages");
    describe_counter!(
        INGEST_BATCHED_MESSAGES,
        "Chat messages recorded by group commits"
    );
    describe_counter!(
        HTTP_THROTTLED,
        "Requests refused by an abuse limit, by rule"
    );
    describe_counter!(
        TASKS_FAILED,
        "Long-running tasks that ended unasked, by task"
    );
    describe_counter!(JOB_PANICS, "Job handlers that panicked, by kind");
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests, by method, route template and status"
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "HTTP request latency, by method and route template"
    );
    describe_counter!(
        MESSAGES_INGESTED,
        "Customer messages recorded, by channel and kind"
    );
    describe_counter!(LLM_REQUESTS, "LLM requests, by model and outcome");
    describe_histogram!(
        LLM_REQUEST_DURATION,
        Unit::Seconds,
        "LLM request latency, by model"
    );
    describe_counter!(
        LLM_TOKENS,
        "LLM tokens used, by model and type (prompt, completion)"
    );
    describe_counter!(LLM_COST, "LLM cost in millionths of a US dollar, by model");
    describe_counter!(
        TELEGRAM_REQUESTS,
        "Telegram Bot API calls, by method and outcome"
    );
    describe_counter!(
        WEBHOOK_ATTEMPTS,
        "Webhook delivery attempts, by event type and outcome"
    );
    describe_histogram!(
        WEBHOOK_ATTEMPT_DURATION,
        Unit::Seconds,
        "Webhook delivery attempt latency"
    );
    describe_counter!(
        WEBHOOK_ENDPOINTS_DISABLED,
        "Webhook endpoints disabled for failing"
    );
    describe_gauge!(
        WORKER_HEARTBEAT,
        Unit::Seconds,
        "Unix time of the worker's last housekeeping tick"
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database pool connections, by state (idle, in_use)"
    );
    describe_gauge!(DB_POOL_MAX_CONNECTIONS, "Database pool bound");
    describe_gauge!(BUILD_INFO, "1, labelled with the build's version");
    describe_counter!(
        REPLIES_GUARDED,
        "Bot replies replaced for naming a price, discount or deadline the company's price list \
         does not hold, by violation and engine"
    );
    describe_counter!(
        FOLLOW_UPS,
        "Follow-ups to customers who went quiet before their lead was qualified, by outcome (sent, cancelled, deferred)"
    );
    describe_counter!(
        CONVERSATIONS_ERASED,
        "Customers erased with everything linked to them, on request"
    );
    describe_counter!(
        RETENTION_DELETED,
        "Rows deleted for being older than their company's retention period, by table"
    );
}

pub fn reply_guarded(violation: &'static str, engine: &'static str) {
    metrics::counter!(REPLIES_GUARDED, "violation" => violation, "engine" => engine).increment(1);
}

/// `outcome`: sent, cancelled or deferred.
pub fn follow_up(outcome: &'static str) {
    metrics::counter!(FOLLOW_UPS, "outcome" => outcome).increment(1);
}

pub fn conversation_erased() {
    metrics::counter!(CONVERSATIONS_ERASED).increment(1);
}

/// One company's retention pass. Every table is counted, even by 0, so each series exists from
/// the first pass.
pub fn retention_deleted(pass: &crate::db::lifecycle::RetentionPass) {
    for (table, n) in [
        ("messages", pass.messages),
        ("webhook_events", pass.webhook_events),
        ("webhook_deliveries", pass.webhook_deliveries),
        ("webhook_attempts", pass.webhook_attempts),
    ] {
        metrics::counter!(RETENTION_DELETED, "table" => table).increment(n);
    }
}

pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    metrics::counter!(HTTP_REQUESTS, "method" => method.to_owned(), "route" => route.to_owned(),
        "status" => status.to_string())
    .increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION, "method" => method.to_owned(), "route" => route.to_owned())
        .record(elapsed.as_secs_f64());
}

pub fn message_ingested(channel: &'static str, kind: &'static str) {
    metrics::counter!(MESSAGES_INGESTED, "channel" => channel, "kind" => kind).increment(1);
}

/// One LLM request: `outcome` is `ok`, `rate_limited`, `unavailable`, `quota_exhausted` or
/// `refused`; tokens and cost only for an answered one.
pub fn llm_request(model: &str, outcome: &'static str, elapsed: Duration) {
    metrics::counter!(LLM_REQUESTS, "model" => model.to_owned(), "outcome" => outcome).increment(1);
    metrics::histogram!(LLM_REQUEST_DURATION, "model" => model.to_owned())
        .record(elapsed.as_secs_f64());
}

pub fn llm_usage(model: &str, prompt_tokens: u64, completion_tokens: u64, cost_usd: f64) {
    metrics::counter!(LLM_TOKENS, "model" => model.to_owned(), "type" => "prompt")
        .increment(prompt_tokens);
    metrics::counter!(LLM_TOKENS, "model" => model.to_owned(), "type" => "completion")
        .increment(completion_tokens);
    metrics::counter!(LLM_COST, "model" => model.to_owned())
        .increment((cost_usd.max(0.0) * 1e6).round() as u64);
}

pub fn telegram_request(method: &str, outcome: &'static str) {
    metrics::counter!(TELEGRAM_REQUESTS, "method" => method.to_owned(), "outcome" => outcome)
        .increment(1);
}

pub fn worker_heartbeat() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    metrics::gauge!(WORKER_HEARTBEAT).set(now.as_secs_f64());
}

/// The pool's connections now (sampled when /metrics is read).
pub fn db_pool(pool: &sqlx::PgPool) {
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(idle);
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set((size - idle).max(0.0));
    metrics::gauge!(DB_POOL_MAX_CONNECTIONS).set(f64::from(pool.options().get_max_connections()));
}
