//! A worker process for the queue's crash test (tests/api/queue_crash.rs): runs the real worker pool
//! over `crash_probe` jobs until the queue is empty. Each job records its start, then — fenced by its
//! lease, in one transaction — applies its effect once (idempotency key: key + seq), and prints
//! `done <n>` so the test can kill it mid-run.
//!
//! Usage: queue_worker <database-url> <lease-ms>

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use salesbot::queue;
use salesbot::workers::{
    Handler, JobContext, JobError, JobFuture, PoolConfig, Registry, WorkerPool,
};
use sqlx::postgres::PgPoolOptions;
use tokio_util::sync::CancellationToken;

struct CrashProbe {
    done: Arc<AtomicUsize>,
}

impl Handler for CrashProbe {
    fn kind(&self) -> &'static str {
        "crash_probe"
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        let done = self.done.clone();
        Box::pin(async move {
            let key = ctx.job.key.clone().unwrap_or_default();
            let seq = ctx.job.payload["seq"].as_i64().unwrap_or_default();
            sqlx::query(
                "INSERT INTO crash_starts (job_id, key, seq, attempt) VALUES ($1, $2, $3, $4)",
            )
            .bind(ctx.job.id.0)
            .bind(&key)
            .bind(seq)
            .bind(ctx.job.attempts)
            .execute(&ctx.db)
            .await?;
            // Some work, so that jobs are in flight whenever the test pulls the plug.
            tokio::time::sleep(Duration::from_millis(3)).await;
            let mut tx = ctx.db.begin().await?;
            if !queue::holds_lease(&mut tx, ctx.lease()).await? {
                return Err(JobError::retry(anyhow::anyhow!("lease lost before commit")));
            }
            sqlx::query(
                "INSERT INTO crash_effects (key, seq) VALUES ($1, $2) ON CONFLICT (key, seq) DO NOTHING",
            )
            .bind(&key)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            let n = done.fetch_add(1, Ordering::SeqCst) + 1;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "done {n}");
            let _ = out.flush();
            Ok(())
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("database url");
    let lease_ms: u64 = args.next().expect("lease ms").parse()?;
    let db = PgPoolOptions::new()
        .max_connections(10)
        .connect(&url)
        .await?;
    let done = Arc::new(AtomicUsize::new(0));
    let config = PoolConfig {
        concurrency: 8,
        batch_size: 8,
        lease: Duration::from_millis(lease_ms),
        poll_interval: Duration::from_millis(100),
        ..PoolConfig::default()
    };
    let workers = WorkerPool::new(
        db.clone(),
        Registry::new().with(CrashProbe { done }),
        config,
    );
    let shutdown = CancellationToken::new();
    // The process under test decides when it is finished: when the queue is empty.
    let stop = shutdown.clone();
    let watcher = db.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let left: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
                .fetch_one(&watcher)
                .await
                .unwrap_or(1);
            if left == 0 {
                stop.cancel();
                return;
            }
        }
    });
    workers.run(shutdown).await
}
