//! LLM-bound throughput of one worker process ([C2]): `salesbot work` with the OpenAI engine against
//! a fake OpenAI server (in this process) that answers every chat request after 300 ms.
//!
//! The bench records N customer messages (one per conversation, through the library's ingest, so
//! N `turn` jobs wait), starts one worker process, and measures:
//! - turns/s from the first request reaching the fake to the last reply stored;
//! - the worker's peak resident memory (VmHWM) and its RSS sampled during the run;
//! - the most requests the fake saw in any window of the configured length, against the limit.
//!
//! Two runs: `unbound` (a limit far above what the process can do: raw throughput) and `bound`
//! (OPENAI_RPM 12,000 counted over 5 s windows, i.e. 200 requests/s: the limiter must hold it).
//!
//! Run: `cargo bench --bench llm` (LLM_SCALE=0.1 for a quick smoke run, LLM_RUNS=bound for one
//! run). JSON lines on stdout; BENCHMARKS.md records them with the machine and commit.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use salesbot::db::messages::{Body, Channel, Incoming, ingest};
use salesbot::domain::{Email, TenantName};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

const LATENCY: Duration = Duration::from_millis(300);

#[derive(Clone, Default)]
struct Fake {
    arrivals: Arc<Mutex<Vec<Instant>>>,
    /// Requests being answered now, and the most at once: how much concurrency the worker reached.
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

async fn chat(State(fake): State<Fake>, Json(_body): Json<Value>) -> Json<Value> {
    fake.arrivals.lock().unwrap().push(Instant::now());
    let now = fake.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    fake.max_in_flight.fetch_max(now, Ordering::Relaxed);
    tokio::time::sleep(LATENCY).await;
    fake.in_flight.fetch_sub(1, Ordering::Relaxed);
    Json(json!({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1_764_000_000,
        "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "Здравствуйте! Где планируете строить?"}}],
        "usage": {"prompt_tokens": 400, "completion_tokens": 20, "total_tokens": 420}
    }))
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scale() -> f64 {
    std::env::var("LLM_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

/// A `/proc/<pid>/status` field in KiB.
fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The most arrivals in any window of length `window` (two pointers over sorted times).
fn max_in_window(arrivals: &[Instant], window: Duration) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..arrivals.len() {
        while arrivals[end].duration_since(arrivals[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

async fn fresh_database(name: &str) -> anyhow::Result<String> {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await?;
    Ok(format!("postgres://postgres@127.0.0.1:5432/{name}"))
}

/// Records `n` first messages of `n` conversations: `n` turn jobs wait for the worker.
async fn seed(db: &PgPool, n: usize) -> anyhow::Result<()> {
    let tenant = salesbot::db::tenants::register(
        db,
        &TenantName::parse("Bench").unwrap(),
        &Email::parse("bench@stroy.kz").unwrap(),
        "$2b$04$abcdefghijklmnopqrstuuJ1z2x3c4v5b6n7m8l9k0j1h2g3f4d5s",
    )
    .await?
    .tenant_id;
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = n.div_ceil(16);
    for t in 0..16 {
        let db = db.clone();
        tasks.spawn(async move {
            for i in (t * per_task)..((t + 1) * per_task).min(n) {
                let incoming = Incoming {
                    channel: Channel::Api,
                    external_id: format!("llm-{i}"),
                    body: Body::Text("Здравствуйте! Хочу построить дом".into()),
                    idempotency_key: None,
                    shared_phone: None,
                };
                ingest(&db, tenant, incoming).await.expect("ingest");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r?;
    }
    Ok(())
}

async fn run(
    label: &str,
    turns: usize,
    rpm: u32,
    window: &str,
    window_len: Duration,
) -> anyhow::Result<()> {
    let url = fresh_database("salesbot_llm").await?;
    let bin = env!("CARGO_BIN_EXE_salesbot");
    let status = Command::new(bin)
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .status()?;
    anyhow::ensure!(status.success(), "migrate failed");
    let db = PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await?;
    seed(&db, turns).await?;

    let fake = Fake::default();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(chat))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/v1", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let worker = Worker(
        Command::new(bin)
            .args(["work", "--no-migrate"])
            .env("DATABASE_URL", &url)
            .env(
                "SECRET_KEY",
                "bench-secret-0123456789abcdef0123456789abcdef",
            )
            .env(
                "RUST_LOG",
                std::env::var("LLM_WORKER_LOG").unwrap_or("warn".into()),
            )
            .env("LOG_FORMAT", "json")
            .env("OPENAI_API_KEY", "sk-bench")
            .env("OPENAI_BASE_URL", &base)
            .env("OPENAI_RPM", rpm.to_string())
            .env("OPENAI_TPM", "0")
            .env("OPENAI_RATE_WINDOW", window)
            .env("WORKER_CONCURRENCY", "1000")
            .env("WORKER_BATCH_SIZE", "100")
            .env(
                "DB_MAX_CONNECTIONS",
                std::env::var("LLM_DB_CONNECTIONS").unwrap_or("40".into()),
            )
            .env("METRICS_ADDR", "127.0.0.1:19091")
            .stdout(Stdio::null())
            .stderr(match std::env::var_os("LLM_WORKER_LOG_FILE") {
                Some(path) => Stdio::from(std::fs::File::create(path)?),
                None => Stdio::inherit(),
            })
            .spawn()?,
    );
    let pid = worker.0.id();
    let mut rss_peak_sampled = 0;
    let done_at: DateTime<Utc> = loop {
        rss_peak_sampled = rss_peak_sampled.max(proc_status_kib(pid, "VmRSS:").unwrap_or(0));
        let (answered, last): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT count(*), max(answered_at) FROM messages WHERE role = 'user' AND reply_id IS NOT NULL",
        )
        .fetch_one(&db)
        .await?;
        if answered as usize >= turns {
            break last.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let hwm = proc_status_kib(pid, "VmHWM:").unwrap_or(0);
    // The worker's own view of a turn: how long attempts took (sum/count of the histogram).
    salesbot::crypto::install_tls_provider();
    let metrics = reqwest::get("http://127.0.0.1:19091/metrics")
        .await?
        .text()
        .await?;
    let turn_seconds: Vec<&str> = metrics
        .lines()
        .filter(|l| l.contains("kind=\"turn\"") && (l.contains("_sum") || l.contains("_count")))
        .collect();
    eprintln!("{label}: {turn_seconds:?}");
    drop(worker);
    server.abort();

    let arrivals = fake.arrivals.lock().unwrap().clone();
    let first = *arrivals.first().expect("the fake saw requests");
    // Wall-clock of the first request, to compare with the database's answered_at.
    let first_wall: DateTime<Utc> = Utc::now() - chrono::Duration::from_std(first.elapsed())?;
    let seconds = (done_at - first_wall).num_microseconds().unwrap() as f64 / 1e6;
    let openai_replies: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE role = 'assistant' AND engine = 'openai'",
    )
    .fetch_one(&db)
    .await?;
    let window_limit = rpm as f64 * window_len.as_secs_f64() / 60.0;
    println!(
        "{}",
        json!({
            "figure": "llm_turns",
            "run": label,
            "turns": turns,
            "openai_replies": openai_replies,
            "requests": arrivals.len(),
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "turns_per_s": (turns as f64 / seconds).round(),
            "fake_latency_ms": LATENCY.as_millis(),
            "limit": {"requests": window_limit, "window_s": window_len.as_secs_f64()},
            "max_requests_in_any_window": max_in_window(&arrivals, window_len),
            "max_requests_in_flight": fake.max_in_flight.load(Ordering::Relaxed),
            "worker_rss_peak_mib": hwm / 1024,
            "worker_rss_sampled_peak_mib": rss_peak_sampled / 1024,
        })
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let turns = ((20_000.0 * scale()) as usize).max(100);
    // LLM_RUNS=bound (or unbound) runs one of the two.
    let runs = std::env::var("LLM_RUNS").unwrap_or_else(|_| "unbound,bound".into());
    if runs.contains("unbound") {
        // 6M requests a minute is far above what one process does here.
        run("unbound", turns, 6_000_000, "60s", Duration::from_secs(60)).await?;
    }
    if runs.split(',').any(|r| r == "bound") {
        // 1,000 requests per 5 s window (an RPM of 12,000, i.e. 200/s), below what the process
        // does unbound, so the limiter must hold it back.
        run("bound", turns, 12_000, "5s", Duration::from_secs(5)).await?;
    }
    Ok(())
}
