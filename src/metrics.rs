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
                Matcher::Full(WEBHOOK_ATTEMPT_DURATION.to_owned()),
                &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0],
            )
            .expect("valid buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed (then our metrics go there instead).
        let _ = metrics::set_global_recorder(recorder);
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
