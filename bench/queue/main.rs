//! Benchmark of the durable job queue (`src/queue/`, `workers/pool.rs`) through its public API.
//!
//! Run with `bench/queue/run.sh` (which also runs the raw-SQL pgbench ceiling, `ceiling.sh`) or
//! `SQLX_OFFLINE=true cargo bench --bench queue`. Every figure is printed on stdout as one line of
//! JSON; progress goes to stderr. The harness creates a fresh database (`salesbot_bench`, dropped
//! first if it exists), applies the migrations, and measures:
//!
//! 1. bulk enqueue (`enqueue_many`, 1,000 rows per statement, 2 producers), 10k keys and no key;
//! 2. one-by-one enqueue, 8 producers, each job in its own transaction, keys spread over 10k keys:
//!    begin → `enqueue` → commit → `Waker::wake`, and `enqueue` committing on its own → `Waker::wake`;
//! 3. draining a prefilled backlog of no-op jobs with `WorkerPool::run` (several pools in this
//!    process), no key and 10k keys; plus, as a diagnostic without a target, the same drain with a
//!    bare `claim` → `complete` loop (the queue's SQL without the pool around it);
//! 4. enqueue → handler-start latency with an idle worker, one job every 5 ms, with the default
//!    wake-up (NOTIFY after the commit) and with `wake::notify_at_commit`.
//!
//! The only SQL of its own is setup (create database, TRUNCATE, VACUUM ANALYZE, CHECKPOINT, row
//! counts to check a drain left nothing behind); every measured path is the library's.
//!
//! Environment (all optional):
//! - `QUEUE_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/salesbot_bench`);
//! - `QUEUE_BENCH_SCALE` (default 1): multiplies durations, backlog sizes and sample counts — 0.1
//!   for a smoke run;
//! - `QUEUE_BENCH_RUNS` (default 3): repetitions of each throughput figure (the median is reported);
//! - `QUEUE_BENCH_POOLS`, `QUEUE_BENCH_CONCURRENCY`, `QUEUE_BENCH_BATCH`: the worker pools of (3);
//! - `QUEUE_BENCH_ONLY`: comma-separated figure groups to run (`bulk,one,process,claimloop,latency`);
//! - `QUEUE_BENCH_LOG`: tracing filter for the library's logs (default `warn`);
//! - `QUEUE_BENCH_EXPERIMENT=no_kind_stats`: a diagnostic, never part of a recorded run — ANALYZE
//!   collects no statistics on `jobs.kind`, which keeps the claim's planner trap (BENCHMARKS.md,
//!   "Queue") from firing, to show what the pool does once the claim uses `jobs_claim`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use salesbot::config::DatabaseUrl;
use salesbot::queue::wake::{self, Waker};
use salesbot::queue::{self, Lease, NewJob};
use salesbot::workers::{Handler, JobContext, JobFuture, PoolConfig, Registry, WorkerPool};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

const KIND: &str = "bench_noop";
const KEYS: usize = 10_000;
const BULK_ROWS: usize = 1_000;
const BULK_PRODUCERS: usize = 2;
const ONE_BY_ONE_PRODUCERS: usize = 8;
const LATENCY_EVERY: Duration = Duration::from_millis(5);
const LATENCY_WARMUP: usize = 20;

struct Settings {
    url: DatabaseUrl,
    scale: f64,
    runs: usize,
    pools: usize,
    concurrency: usize,
    batch: usize,
    only: Option<Vec<String>>,
    experiment: Option<String>,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
        where
            T::Err: std::fmt::Display,
        {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => v
                    .trim()
                    .parse()
                    .map_err(|e| anyhow::anyhow!("{name}={v}: {e}")),
                _ => Ok(default),
            }
        }
        let url = std::env::var("QUEUE_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/salesbot_bench".into());
        Ok(Self {
            url: DatabaseUrl::parse(&url)?,
            scale: var("QUEUE_BENCH_SCALE", 1.0f64)?,
            runs: var("QUEUE_BENCH_RUNS", 3usize)?.max(1),
            // The best of a sweep on this machine (BENCHMARKS.md, "Queue").
            pools: var("QUEUE_BENCH_POOLS", 2usize)?.max(1),
            concurrency: var("QUEUE_BENCH_CONCURRENCY", 1024usize)?.max(1),
            batch: var("QUEUE_BENCH_BATCH", 512usize)?.max(1),
            only: std::env::var("QUEUE_BENCH_ONLY")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect()),
            experiment: std::env::var("QUEUE_BENCH_EXPERIMENT")
                .ok()
                .filter(|v| !v.trim().is_empty()),
        })
    }

    fn wants(&self, group: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|g| g == group))
    }

    fn enqueue_secs(&self) -> Duration {
        Duration::from_secs_f64((10.0 * self.scale).max(0.5))
    }

    fn backlog(&self) -> usize {
        ((50_000.0 * self.scale) as usize).max(1_000)
    }

    fn latency_samples(&self) -> usize {
        ((2_000.0 * self.scale) as usize).max(50)
    }

    fn pool_config(&self) -> PoolConfig {
        PoolConfig {
            concurrency: self.concurrency,
            batch_size: self.batch,
            ..PoolConfig::default()
        }
    }

    fn db_connections(&self) -> u32 {
        // Per pool: its LISTEN connection (held), the claim loop, the settler, heartbeat, park/unpark.
        (self.pools * 4 + 8).max(ONE_BY_ONE_PRODUCERS + 4) as u32
    }
}

fn emit(line: Value) {
    println!("{line}");
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], q: f64) -> i64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn throughput_line(figure: &str, rates: &[f64], target: Option<f64>, extra: Value) -> Value {
    let value = median(rates);
    let mut line = json!({
        "figure": figure,
        "jobs_per_s": value.round(),
        "runs": rates.iter().map(|r| r.round()).collect::<Vec<_>>(),
        "target": target,
        "met": target.map(|t| value >= t),
    });
    if let (Value::Object(line), Value::Object(extra)) = (&mut line, extra) {
        line.extend(extra);
    }
    line
}

async fn fresh_database(url: &DatabaseUrl) -> anyhow::Result<()> {
    let name = url
        .database()
        .context("the bench URL must name a database")?;
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "unexpected bench database name {name}"
    );
    let maintenance: sqlx::postgres::PgConnectOptions =
        url.with_database("postgres").expose().parse()?;
    let mut conn = sqlx::ConnectOptions::connect(&maintenance).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Empties the queue between measurements (setup, not measured).
/// Setup runs as the database's owner: the service's pool may not TRUNCATE, VACUUM or CHECKPOINT.
async fn reset(db: &PgPool) -> anyhow::Result<()> {
    let mut owner = salesbot::db::owner_connection(db).await?;
    sqlx::raw_sql("TRUNCATE jobs, job_keys, queue_pauses; UPDATE queue_wake SET parked = 0")
        .execute(&mut owner)
        .await?;
    // Separate statements: VACUUM cannot run in the implicit transaction of a multi-statement query.
    sqlx::raw_sql("VACUUM (ANALYZE) jobs, job_keys")
        .execute(&mut owner)
        .await?;
    checkpoint(db).await
}

/// Every measurement starts right after a checkpoint (as each pgbench ceiling run does), so none of
/// them gets one triggered by the previous run's WAL.
async fn checkpoint(db: &PgPool) -> anyhow::Result<()> {
    let mut owner = salesbot::db::owner_connection(db).await?;
    sqlx::raw_sql("CHECKPOINT").execute(&mut owner).await?;
    Ok(())
}

/// Opens every connection of the pool up front, so no measurement pays for connecting.
async fn warm(db: &PgPool) -> anyhow::Result<()> {
    let mut held = Vec::new();
    for _ in 0..db.options().get_max_connections() {
        held.push(db.acquire().await?);
    }
    drop(held);
    Ok(())
}

fn key_of(i: usize) -> String {
    format!("k{:05}", i % KEYS)
}

// ---------------------------------------------------------------------------------------------
// 1. Bulk enqueue

async fn bulk_enqueue(db: &PgPool, keyed: bool, secs: Duration) -> anyhow::Result<f64> {
    reset(db).await?;
    let start = Instant::now();
    let deadline = start + secs;
    let mut producers = JoinSet::new();
    for p in 0..BULK_PRODUCERS {
        let db = db.clone();
        producers.spawn(async move {
            let mut rng = StdRng::seed_from_u64(p as u64 + 1);
            let mut sent = 0usize;
            while Instant::now() < deadline {
                let jobs: Vec<NewJob> = (0..BULK_ROWS)
                    .map(|i| {
                        let job = NewJob::new(KIND, json!({ "n": sent + i }));
                        if keyed {
                            job.key(key_of(rng.random_range(0..KEYS)))
                        } else {
                            job
                        }
                    })
                    .collect();
                let ids = queue::enqueue_many(&db, &jobs).await?;
                sent += ids.len();
            }
            anyhow::Ok(sent)
        });
    }
    let mut total = 0;
    while let Some(sent) = producers.join_next().await {
        total += sent??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// 2. One-by-one enqueue

/// Each producer enqueues one job per transaction and then wakes workers. `in_transaction`: inside
/// an explicit transaction (BEGIN, enqueue, COMMIT: three round trips), as a producer writing its own
/// rows with the job does; otherwise the enqueue statement commits on its own (one round trip), as
/// the pgbench ceiling's single INSERT does.
async fn one_by_one_enqueue(
    db: &PgPool,
    secs: Duration,
    in_transaction: bool,
) -> anyhow::Result<f64> {
    reset(db).await?;
    let shutdown = CancellationToken::new();
    let waker = Waker::spawn(
        db.clone(),
        &salesbot::supervisor::TaskScope::standalone(shutdown.clone()),
    );
    let start = Instant::now();
    let deadline = start + secs;
    let mut producers = JoinSet::new();
    for p in 0..ONE_BY_ONE_PRODUCERS {
        let db = db.clone();
        let waker = waker.clone();
        producers.spawn(async move {
            let mut rng = StdRng::seed_from_u64(100 + p as u64);
            let mut sent = 0usize;
            while Instant::now() < deadline {
                let job =
                    NewJob::new(KIND, json!({ "n": sent })).key(key_of(rng.random_range(0..KEYS)));
                if in_transaction {
                    let mut tx = db.begin().await?;
                    queue::enqueue(&mut *tx, &job).await?;
                    tx.commit().await?;
                } else {
                    queue::enqueue(&db, &job).await?;
                }
                waker.wake();
                sent += 1;
            }
            anyhow::Ok(sent)
        });
    }
    let mut total = 0;
    while let Some(sent) = producers.join_next().await {
        total += sent??;
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    shutdown.cancel();
    Ok(rate)
}

// ---------------------------------------------------------------------------------------------
// 3. Processing

/// Prefills `n` jobs with the library's bulk enqueue; keyed: key `i mod 10k`, so the jobs of a key
/// are interleaved (5 per key at 50k), as in queue.md §6.
async fn prefill(db: &PgPool, n: usize, keyed: bool) -> anyhow::Result<()> {
    reset(db).await?;
    let mut i = 0;
    while i < n {
        let end = (i + BULK_ROWS).min(n);
        let jobs: Vec<NewJob> = (i..end)
            .map(|j| {
                let job = NewJob::new(KIND, json!({ "n": j }));
                if keyed { job.key(key_of(j)) } else { job }
            })
            .collect();
        queue::enqueue_many(db, &jobs).await?;
        i = end;
    }
    // What autovacuum would have done by then (analyze threshold 5000 rows); keeps plans stable.
    sqlx::raw_sql("VACUUM (ANALYZE) jobs, job_keys")
        .execute(&mut salesbot::db::owner_connection(db).await?)
        .await?;
    checkpoint(db).await
}

/// Checks that a drain left nothing behind (no job, no key with pending jobs).
async fn leftovers(db: &PgPool) -> anyhow::Result<(i64, i64)> {
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(db)
        .await?;
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM job_keys WHERE pending <> 0")
        .fetch_one(db)
        .await?;
    Ok((jobs, keys))
}

/// No-op handler that counts its runs and signals when the backlog has all started.
#[derive(Clone)]
struct Noop {
    started: Arc<AtomicUsize>,
    target: usize,
    all_started: Arc<Notify>,
}

impl Handler for Noop {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn run(&self, _job: JobContext) -> JobFuture {
        if self.started.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.all_started.notify_one();
        }
        Box::pin(async { Ok(()) })
    }
}

/// Drains a prefilled backlog with `pools` WorkerPools. The clock starts when the pools are
/// spawned (each first opens its LISTEN connection) and stops when every pool has returned: the
/// last handler has run, then shutdown is cancelled and each pool settles (acks) what it holds.
async fn process(s: &Settings, db: &PgPool, keyed: bool) -> anyhow::Result<(f64, usize)> {
    let n = s.backlog();
    prefill(db, n, keyed).await?;
    warm(db).await?;
    let handler = Noop {
        started: Arc::new(AtomicUsize::new(0)),
        target: n,
        all_started: Arc::new(Notify::new()),
    };
    let shutdown = CancellationToken::new();
    let pools: Vec<WorkerPool> = (0..s.pools)
        .map(|_| {
            WorkerPool::new(
                db.clone(),
                Registry::new().with(handler.clone()),
                s.pool_config(),
            )
        })
        .collect();
    let start = Instant::now();
    let mut running = JoinSet::new();
    for pool in pools {
        let shutdown = shutdown.clone();
        running.spawn(async move { pool.run(shutdown).await });
    }
    let timeout = Duration::from_secs(120);
    let finished = tokio::time::timeout(timeout, handler.all_started.notified())
        .await
        .is_ok();
    shutdown.cancel();
    while let Some(result) = running.join_next().await {
        result??;
    }
    let elapsed = start.elapsed();
    let started = handler.started.load(Ordering::Relaxed);
    if !finished {
        bail!("drain did not finish within {timeout:?}: {started} of {n} jobs started");
    }
    let (jobs_left, keys_left) = leftovers(db).await?;
    if jobs_left != 0 || keys_left != 0 {
        bail!("drain left {jobs_left} jobs and {keys_left} keys with pending jobs");
    }
    Ok((n as f64 / elapsed.as_secs_f64(), started))
}

/// Diagnostic: the same drain with a bare claim → complete loop (no WorkerPool, no handler).
async fn claim_loop(
    s: &Settings,
    db: &PgPool,
    keyed: bool,
    clients: usize,
    batch: i64,
) -> anyhow::Result<f64> {
    let n = s.backlog();
    prefill(db, n, keyed).await?;
    warm(db).await?;
    let completed = Arc::new(AtomicUsize::new(0));
    let kinds = vec![KIND.to_owned()];
    let start = Instant::now();
    let mut clients_set = JoinSet::new();
    for _ in 0..clients {
        let db = db.clone();
        let completed = completed.clone();
        let kinds = kinds.clone();
        clients_set.spawn(async move {
            let give_up = Instant::now() + Duration::from_secs(120);
            while completed.load(Ordering::Relaxed) < n {
                anyhow::ensure!(Instant::now() < give_up, "claim loop did not finish");
                let jobs = queue::claim(&db, &kinds, batch, 2, Duration::from_secs(30)).await?;
                if jobs.is_empty() {
                    // Keyed tail: the rest is blocked until another client's ack promotes it.
                    tokio::task::yield_now().await;
                    continue;
                }
                let leases: Vec<Lease> = jobs.iter().map(Lease::from).collect();
                let done = queue::complete(&db, &leases).await?;
                completed.fetch_add(done.len(), Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    while let Some(result) = clients_set.join_next().await {
        result??;
    }
    let elapsed = start.elapsed();
    let (jobs_left, keys_left) = leftovers(db).await?;
    if jobs_left != 0 || keys_left != 0 {
        bail!("claim loop left {jobs_left} jobs and {keys_left} keys with pending jobs");
    }
    Ok(n as f64 / elapsed.as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// 4. Pickup latency

/// Records when its handler started, by the payload's `seq`.
#[derive(Clone)]
struct Probe {
    base: Instant,
    started_ns: Arc<Vec<AtomicU64>>,
    count: Arc<AtomicUsize>,
    all: Arc<Notify>,
}

impl Handler for Probe {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let now = self.base.elapsed().as_nanos() as u64;
        if let Some(seq) = ctx.job.payload["seq"].as_u64()
            && let Some(slot) = self.started_ns.get(seq as usize)
        {
            slot.store(now, Ordering::Relaxed);
        }
        if self.count.fetch_add(1, Ordering::Relaxed) + 1 == self.started_ns.len() {
            self.all.notify_one();
        }
        Box::pin(async { Ok(()) })
    }
}

/// `notify_at_commit`: the producer NOTIFYs inside its transaction when a worker is parked
/// (`wake::notify_at_commit`), else the default protocol: a conditional NOTIFY after the commit
/// (`Waker::wake`).
async fn latency(s: &Settings, db: &PgPool, notify_at_commit: bool) -> anyhow::Result<Value> {
    reset(db).await?;
    warm(db).await?;
    let samples = s.latency_samples();
    let total = samples + LATENCY_WARMUP;
    let base = Instant::now();
    let probe = Probe {
        base,
        started_ns: Arc::new((0..total).map(|_| AtomicU64::new(u64::MAX)).collect()),
        count: Arc::new(AtomicUsize::new(0)),
        all: Arc::new(Notify::new()),
    };
    let shutdown = CancellationToken::new();
    let waker = Waker::spawn(
        db.clone(),
        &salesbot::supervisor::TaskScope::standalone(shutdown.clone()),
    );
    // One idle worker pool with the production defaults (concurrency 32, batch 32, poll 1 s).
    let worker = WorkerPool::new(
        db.clone(),
        Registry::new().with(probe.clone()),
        PoolConfig::default(),
    );
    let worker = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { worker.run(shutdown).await })
    };
    // Setup only: wait until the worker has found the queue empty and parked.
    let parked_by = Instant::now() + Duration::from_secs(10);
    loop {
        let parked: i32 = sqlx::query_scalar("SELECT parked FROM queue_wake")
            .fetch_one(db)
            .await?;
        if parked > 0 {
            break;
        }
        anyhow::ensure!(Instant::now() < parked_by, "the worker never parked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut before_insert_ns = vec![0u64; total];
    let mut after_commit_ns = vec![0u64; total];
    let mut tick = tokio::time::interval(LATENCY_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for seq in 0..total {
        tick.tick().await;
        let mut tx = db.begin().await?;
        // Taken after BEGIN, just before the enqueue statement.
        let t0 = base.elapsed().as_nanos() as u64;
        let job = NewJob::new(KIND, json!({ "seq": seq, "enqueued_ns": t0 }));
        queue::enqueue(&mut *tx, &job).await?;
        let notified = notify_at_commit && wake::notify_at_commit(&mut tx).await?;
        tx.commit().await?;
        let t1 = base.elapsed().as_nanos() as u64;
        if !notified {
            waker.wake();
        }
        before_insert_ns[seq] = t0;
        after_commit_ns[seq] = t1;
    }
    let all = tokio::time::timeout(Duration::from_secs(30), probe.all.notified())
        .await
        .is_ok();
    shutdown.cancel();
    worker.await??;
    anyhow::ensure!(all, "not every latency probe ran");
    let started: Vec<u64> = probe
        .started_ns
        .iter()
        .map(|s| s.load(Ordering::Relaxed))
        .collect();
    let mut from_commit = Vec::with_capacity(samples);
    let mut from_insert = Vec::with_capacity(samples);
    let mut commit_cost = Vec::with_capacity(samples);
    for seq in LATENCY_WARMUP..total {
        from_commit.push(started[seq] as i64 - after_commit_ns[seq] as i64);
        from_insert.push(started[seq] as i64 - before_insert_ns[seq] as i64);
        commit_cost.push(after_commit_ns[seq] as i64 - before_insert_ns[seq] as i64);
    }
    let stats = |mut v: Vec<i64>| {
        v.sort_unstable();
        let ms = |ns: i64| round(ns as f64 / 1e6, 3);
        json!({
            "p50_ms": ms(percentile(&v, 0.50)),
            "p90_ms": ms(percentile(&v, 0.90)),
            "p99_ms": ms(percentile(&v, 0.99)),
            "max_ms": ms(*v.last().unwrap_or(&0)),
            "min_ms": ms(*v.first().unwrap_or(&0)),
        })
    };
    let commit_stats = stats(from_commit);
    let p50 = commit_stats["p50_ms"].as_f64().unwrap_or(f64::MAX);
    let p99 = commit_stats["p99_ms"].as_f64().unwrap_or(f64::MAX);
    Ok(json!({
        "figure": if notify_at_commit { "pickup_latency_notify_at_commit" } else { "pickup_latency" },
        "wake": if notify_at_commit {
            "NOTIFY in the producer's transaction if a worker is parked (wake::notify_at_commit), else Waker::wake after commit"
        } else {
            "Waker::wake after commit (conditional NOTIFY in its own transaction)"
        },
        "clock_from": "commit returned to the producer (primary); also from just before the enqueue statement",
        "samples": samples,
        "warmup_discarded": LATENCY_WARMUP,
        "every_ms": LATENCY_EVERY.as_millis() as u64,
        "from_commit": commit_stats,
        "from_insert": stats(from_insert),
        "producer_enqueue_plus_commit": stats(commit_cost),
        "target": { "p50_ms": 1.0, "p99_ms": 2.5 },
        "met": p50 <= 1.0 && p99 <= 2.5,
    }))
}

// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("QUEUE_BENCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // As in the service: queue metrics are recorded into the Prometheus recorder.
    salesbot::metrics::handle();

    let s = Settings::from_env()?;
    fresh_database(&s.url).await?;
    // As the service connects: migrations as the owner, then the pool with RLS in force.
    salesbot::db::migrate_at(&s.url).await?;
    let db = salesbot::db::connect(&s.url, s.db_connections())
        .await
        .context("connecting to the bench database")?;
    match s.experiment.as_deref() {
        None => {}
        Some("no_kind_stats") => {
            eprintln!("EXPERIMENT no_kind_stats: not a measurement of the queue as shipped");
            sqlx::raw_sql("ALTER TABLE jobs ALTER COLUMN kind SET STATISTICS 0")
                .execute(&mut salesbot::db::owner_connection(&db).await?)
                .await?;
        }
        Some(other) => bail!("unknown QUEUE_BENCH_EXPERIMENT {other}"),
    }
    let workers = std::thread::available_parallelism().map_or(0, |n| n.get());
    emit(json!({
        "figure": "setup",
        "database": s.url.database(),
        "url": s.url.to_string(),
        "scale": s.scale,
        "experiment": s.experiment,
        "runs": s.runs,
        "enqueue_seconds_per_run": s.enqueue_secs().as_secs_f64(),
        "backlog": s.backlog(),
        "latency_samples": s.latency_samples(),
        "db_connections": s.db_connections(),
        "tokio_worker_threads": workers,
        "process_config": { "pools": s.pools, "concurrency": s.concurrency, "batch": s.batch,
                            "per_tenant": PoolConfig::default().per_tenant },
    }));

    if s.wants("bulk") {
        for (keyed, figure) in [
            (true, "bulk_enqueue_10k_keys"),
            (false, "bulk_enqueue_no_key"),
        ] {
            let mut rates = Vec::new();
            for run in 0..s.runs {
                let rate = bulk_enqueue(&db, keyed, s.enqueue_secs()).await?;
                eprintln!("{figure} run {run}: {rate:.0} jobs/s");
                rates.push(rate);
            }
            emit(throughput_line(
                figure,
                &rates,
                Some(100_000.0),
                json!({ "producers": BULK_PRODUCERS, "rows_per_statement": BULK_ROWS,
                        "keys": if keyed { json!(KEYS) } else { Value::Null },
                        "seconds_per_run": s.enqueue_secs().as_secs_f64() }),
            ));
        }
    }

    if s.wants("one") {
        for (in_transaction, figure, per_job) in [
            (
                true,
                "one_by_one_enqueue_10k_keys",
                "begin, enqueue, commit, waker.wake()",
            ),
            (
                false,
                "one_by_one_enqueue_autocommit_10k_keys",
                "enqueue (its own transaction), waker.wake()",
            ),
        ] {
            let mut rates = Vec::new();
            for run in 0..s.runs {
                let rate = one_by_one_enqueue(&db, s.enqueue_secs(), in_transaction).await?;
                eprintln!("{figure} run {run}: {rate:.0} jobs/s");
                rates.push(rate);
            }
            emit(throughput_line(
                figure,
                &rates,
                Some(5_000.0),
                json!({ "producers": ONE_BY_ONE_PRODUCERS, "keys": KEYS, "per_job": per_job,
                        "seconds_per_run": s.enqueue_secs().as_secs_f64() }),
            ));
        }
    }

    if s.wants("process") {
        for (keyed, figure, target) in [
            (false, "process_no_key", 60_000.0),
            (true, "process_10k_keys", 30_000.0),
        ] {
            let mut rates = Vec::new();
            for run in 0..s.runs {
                let (rate, started) = process(&s, &db, keyed).await?;
                eprintln!("{figure} run {run}: {rate:.0} jobs/s ({started} handler runs)");
                rates.push(rate);
            }
            emit(throughput_line(
                figure,
                &rates,
                Some(target),
                json!({ "backlog": s.backlog(), "keys": if keyed { json!(KEYS) } else { Value::Null },
                        "pools": s.pools, "concurrency": s.concurrency, "batch": s.batch }),
            ));
        }
    }

    if s.wants("claimloop") {
        for (keyed, figure) in [
            (false, "diag_claim_complete_loop_no_key"),
            (true, "diag_claim_complete_loop_10k_keys"),
        ] {
            let mut rates = Vec::new();
            for run in 0..s.runs {
                let rate = claim_loop(&s, &db, keyed, 8, 100).await?;
                eprintln!("{figure} run {run}: {rate:.0} jobs/s");
                rates.push(rate);
            }
            emit(throughput_line(
                figure,
                &rates,
                None,
                json!({ "backlog": s.backlog(), "clients": 8, "batch": 100,
                        "note": "queue::claim + queue::complete in a loop, no WorkerPool" }),
            ));
        }
    }

    if s.wants("latency") {
        for notify_at_commit in [false, true] {
            let line = latency(&s, &db, notify_at_commit).await?;
            emit(line);
        }
    }

    db.close().await;
    Ok(())
}
