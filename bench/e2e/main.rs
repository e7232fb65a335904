//! End-to-end benchmark of the chat pipeline with the offline engine ([C1]): `salesbot serve` and
//! `salesbot work` run as separate processes against a fresh database; this program is the client.
//!
//! 1. Throughput: 10,000 conversations × 5 messages sent in async mode (`Prefer: respond-async`,
//!    each conversation's messages one after another, 64 conversations at a time) → messages/s from
//!    the first request to the last reply stored.
//! 2. Latency at a steady 500 messages/s (open loop: one request every 2 ms, 1,000 conversations ×
//!    5 messages, interleaved) → request sent to reply stored, p50/p99; measured after a 2 s
//!    warm-up at the same rate (its own figures reported apart).
//!
//! Run: `cargo bench --bench e2e` (E2E_SCALE=0.1 for a quick smoke run; E2E_SKIP_THROUGHPUT /
//! E2E_SKIP_LATENCY for one part; E2E_SALESBOT_BIN to measure another build, E2E_SERVE_BIN to run
//! `serve` from yet another build; E2E_SETUP_SQL to apply a file of SQL after the migrations;
//! E2E_RUST_LOG and E2E_LOG_DIR for the processes' logs; E2E_WARMUP_SECONDS for the latency part's
//! warm-up). Results go to stdout as JSON lines; BENCHMARKS.md records them with the machine and
//! commit.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use tokio::sync::Semaphore;

const PORT: u16 = 18_321;
const TEXTS: &[&str] = &[
    "Здравствуйте! Хочу построить дом в Алматы",
    "Площадь примерно 150 квадратов, два этажа",
    "Меня зовут Ерлан",
    "Мой номер 8 701 234 56 78",
    "Спасибо, жду звонка",
];

struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn scale() -> f64 {
    std::env::var("E2E_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

/// CPU time the whole machine spent busy since boot (user, nice, system, irq, softirq, steal), from
/// /proc/stat.
fn cpu_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: f64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| ticks.get(i))
        .sum();
    busy / 100.0 // USER_HZ is 100 on Linux
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let conversations = ((10_000.0 * scale()) as usize).max(10);
    let steady_conversations = ((1_000.0 * scale()) as usize).max(10);
    // E2E_SALESBOT_BIN: another build of salesbot to measure (A/B runs of two builds).
    let bin = std::env::var("E2E_SALESBOT_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_salesbot").to_owned());
    let bin = bin.as_str();
    let serve_bin = std::env::var("E2E_SERVE_BIN").unwrap_or_else(|_| bin.to_owned());
    let admin_url = "postgres://postgres@127.0.0.1:5432/postgres";
    let db_name = "salesbot_e2e";
    let url = format!("postgres://postgres@127.0.0.1:5432/{db_name}");
    {
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(admin_url)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db_name}")))
            .execute(&admin)
            .await?;
    }
    let setting = |name: &str, default: &str| std::env::var(name).unwrap_or(default.into());
    // E2E_RUST_LOG: the processes' log filter (warn); E2E_LOG_DIR: where their logs go
    // (inherited).
    let rust_log = setting("E2E_RUST_LOG", "warn");
    let log_dir = std::env::var("E2E_LOG_DIR").ok();
    let output = |name: &str| -> anyhow::Result<Stdio> {
        Ok(match &log_dir {
            Some(dir) => std::fs::File::create(format!("{dir}/{name}.log"))?.into(),
            None => Stdio::inherit(),
        })
    };
    let env = [
        ("DATABASE_URL", url.as_str()),
        (
            "SECRET_KEY",
            "bench-secret-0123456789abcdef0123456789abcdef",
        ),
        ("BCRYPT_COST", "4"),
        ("RUST_LOG", rust_log.as_str()),
        ("HOST", "127.0.0.1"),
    ];
    let status = Command::new(bin).arg("migrate").envs(env).status()?;
    anyhow::ensure!(status.success(), "migrate failed");
    // E2E_SETUP_SQL: a file of SQL run after the migrations, to measure a schema or function change
    // against the same build (A/B without rebuilding).
    if let Ok(setup) = std::env::var("E2E_SETUP_SQL") {
        let status = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &url,
                "-f",
                &setup,
            ])
            .status()?;
        anyhow::ensure!(status.success(), "E2E_SETUP_SQL {setup} failed");
    }
    let port = PORT.to_string();
    // The processes' sizes (E2E_SERVE_CONNECTIONS, E2E_WORK_CONNECTIONS, E2E_WORK_CONCURRENCY).
    let concurrency = setting("E2E_WORK_CONCURRENCY", "48");
    let _processes = Processes(vec![
        Command::new(&serve_bin)
            .args(["serve", "--no-migrate"])
            .envs(env)
            .env("PORT", &port)
            .env("DB_MAX_CONNECTIONS", setting("E2E_SERVE_CONNECTIONS", "24"))
            .stdout(Stdio::null())
            .stderr(output("serve")?)
            .spawn()?,
        Command::new(bin)
            .args(["work", "--no-migrate"])
            .envs(env)
            .env("DB_MAX_CONNECTIONS", setting("E2E_WORK_CONNECTIONS", "24"))
            .env("WORKER_CONCURRENCY", &concurrency)
            .env("WORKER_BATCH_SIZE", &concurrency)
            .stdout(Stdio::null())
            .stderr(output("work")?)
            .spawn()?,
    ]);
    let base = format!("http://127.0.0.1:{PORT}");
    salesbot::crypto::install_tls_provider();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/ready")).send().await
            && r.status() == 200
        {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "serve never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let registered: Value = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": "bench@stroy.kz", "password": "bench password", "company_name": "Bench"}))
        .send()
        .await?
        .json()
        .await?;
    let token: Arc<str> = registered["access_token"].as_str().unwrap().into();
    let db = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await?;

    // 1. Throughput (E2E_SKIP_THROUGHPUT=1 measures only the latency).
    let skip_throughput = std::env::var_os("E2E_SKIP_THROUGHPUT").is_some();
    let conversations = if skip_throughput { 0 } else { conversations };
    let messages = conversations * TEXTS.len();
    let concurrency = Arc::new(Semaphore::new(64));
    let first_request = SystemTime::now();
    let cpu_before = cpu_busy_seconds();
    let mut tasks = Vec::with_capacity(conversations);
    for c in 0..conversations {
        let (client, base, token, concurrency) = (
            client.clone(),
            base.clone(),
            token.clone(),
            concurrency.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = concurrency.acquire().await.unwrap();
            for text in TEXTS {
                let resp = client
                    .post(format!("{base}/api/chat"))
                    .bearer_auth(&*token)
                    .header("prefer", "respond-async")
                    .json(&json!({"user_id": format!("throughput-{c}"), "text": text}))
                    .send()
                    .await
                    .expect("request");
                let status = resp.status();
                assert_eq!(status, 202, "{}", resp.text().await.unwrap_or_default());
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let sent_in = first_request.elapsed()?;
    let done_at: DateTime<Utc> = if skip_throughput {
        Utc::now()
    } else {
        loop {
            let (answered, last): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT count(*), max(answered_at) FROM messages WHERE role = 'user' AND reply_id IS NOT NULL",
        )
        .fetch_one(&db)
        .await?;
            if answered as usize >= messages {
                break last.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let cpu_busy = cpu_busy_seconds() - cpu_before;
    let first: DateTime<Utc> = first_request.into();
    let seconds = (done_at - first).num_microseconds().unwrap() as f64 / 1e6;
    let replies: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE role = 'assistant'")
        .fetch_one(&db)
        .await?;
    println!(
        "{}",
        json!({
            "figure": "e2e_throughput",
            "conversations": conversations,
            "messages": messages,
            "replies": replies,
            "ingest_seconds": sent_in.as_secs_f64(),
            "seconds_to_last_reply": seconds,
            "messages_per_s": messages as f64 / seconds,
            // Both cores' busy time (all processes) per message: steadier than the rate on a
            // shared machine, and what an optimisation has to reduce.
            "cpu_busy_seconds": cpu_busy,
            "cpu_ms_per_message": cpu_busy * 1000.0 / messages.max(1) as f64,
        })
    );
    if std::env::var_os("E2E_SKIP_LATENCY").is_some() {
        return Ok(());
    }

    // 2. Latency at a steady 500 messages/s, measured after a warm-up at the same rate
    //    (E2E_WARMUP_SECONDS, default 2): the first seconds after the throughput part pay for its
    //    aftermath (queue vacuum, ANALYZE of the grown tables, dirty pages), and on a fresh database
    //    for cold caches and first plans. The warm-up's own figures are reported too.
    let interval = Duration::from_millis(2);
    let warmup_seconds: u32 = setting("E2E_WARMUP_SECONDS", "2").parse()?;
    let warmup = (warmup_seconds * 1000 / interval.as_millis() as u32) as usize;
    let warmup_conversations = warmup.div_ceil(TEXTS.len());
    let steady = steady_conversations * TEXTS.len();
    // (user id, text) in sending order: each part's conversations interleaved
    let plan: Vec<(String, &str)> = (0..warmup)
        .map(|i| {
            let conversation = i % warmup_conversations;
            let text = TEXTS[i / warmup_conversations % TEXTS.len()];
            (format!("warmup-{conversation}"), text)
        })
        .chain((0..steady).map(|i| {
            let conversation = i % steady_conversations;
            let text = TEXTS[i / steady_conversations % TEXTS.len()];
            (format!("steady-{conversation}"), text)
        }))
        .collect();
    let mut sends = Vec::with_capacity(plan.len());
    let start = tokio::time::Instant::now();
    let mut first_steady = SystemTime::now();
    for (i, (user, text)) in plan.into_iter().enumerate() {
        tokio::time::sleep_until(start + interval * i as u32).await;
        if i == warmup {
            first_steady = SystemTime::now();
        }
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        sends.push(tokio::spawn(async move {
            let sent = SystemTime::now();
            let resp = client
                .post(format!("{base}/api/chat"))
                .bearer_auth(&*token)
                .header("prefer", "respond-async")
                .json(&json!({"user_id": user, "text": text}))
                .send()
                .await
                .expect("request");
            // Under overload the API answers 503 (no connection free in time): counted, not fatal.
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (body["message_id"].as_str().map(str::to_owned), sent)
        }));
    }
    let mut sent_at: HashMap<String, SystemTime> = HashMap::new();
    let mut refused = 0usize;
    for s in sends {
        match s.await? {
            (Some(id), at) => {
                sent_at.insert(id, at);
            }
            (None, _) => refused += 1,
        }
    }
    let offered = (warmup + steady) as f64 / start.elapsed().as_secs_f64();
    let answered: Vec<(String, bool, DateTime<Utc>)> = loop {
        let rows: Vec<(String, bool, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT m.id::text, b.external_id LIKE 'warmup-%', m.answered_at
               FROM messages m JOIN bot_users b
                 ON b.tenant_id = m.tenant_id AND b.id = m.bot_user_id
              WHERE m.role = 'user'
                AND (b.external_id LIKE 'steady-%' OR b.external_id LIKE 'warmup-%')",
        )
        .fetch_all(&db)
        .await?;
        if rows.len() >= warmup + steady - refused && rows.iter().all(|(_, _, a)| a.is_some()) {
            break rows
                .into_iter()
                .map(|(id, w, a)| (id, w, a.unwrap()))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let latency = |id: &str, at: &DateTime<Utc>| {
        let sent: DateTime<Utc> = (*sent_at.get(id)?).into();
        Some((*at - sent).num_microseconds()? as f64 / 1000.0)
    };
    let mut warmup_latencies: Vec<f64> = answered
        .iter()
        .filter(|(_, warm, _)| *warm)
        .filter_map(|(id, _, at)| latency(id, at))
        .collect();
    warmup_latencies.sort_by(|a, b| a.total_cmp(b));
    // (second of the measured run the request was sent in, latency in ms)
    let timed: Vec<(usize, f64)> = answered
        .iter()
        .filter(|(_, warm, _)| !*warm)
        .filter_map(|(id, _, at)| {
            let sent = *sent_at.get(id)?;
            let second = sent.duration_since(first_steady).ok()?.as_secs() as usize;
            Some((second, latency(id, at)?))
        })
        .collect();
    let sorted = |pick: &dyn Fn(usize) -> bool| {
        let mut l: Vec<f64> = timed
            .iter()
            .filter(|(s, _)| pick(*s))
            .map(|(_, l)| *l)
            .collect();
        l.sort_by(|a, b| a.total_cmp(b));
        l
    };
    let latencies = sorted(&|_| true);
    let seconds = timed.iter().map(|(s, _)| s + 1).max().unwrap_or(0);
    let p99_by_second: Vec<f64> = (0..seconds)
        .map(|second| (percentile(&sorted(&|s| s == second), 99.0) * 10.0).round() / 10.0)
        .collect();
    println!(
        "{}",
        json!({
            "figure": "e2e_latency",
            "messages": latencies.len(),
            "refused_503": refused,
            "offered_rate_per_s": offered,
            "p50_ms": percentile(&latencies, 50.0),
            "p90_ms": percentile(&latencies, 90.0),
            "p99_ms": percentile(&latencies, 99.0),
            "max_ms": latencies.last().copied().unwrap_or(f64::NAN),
            "warmup_messages": warmup_latencies.len(),
            "warmup_p50_ms": percentile(&warmup_latencies, 50.0),
            "warmup_p99_ms": percentile(&warmup_latencies, 99.0),
            "warmup_max_ms": warmup_latencies.last().copied().unwrap_or(f64::NAN),
            "p99_ms_by_second": p99_by_second,
        })
    );
    Ok(())
}
