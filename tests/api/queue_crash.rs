//! Crash test with a real child process: a worker is killed with SIGKILL mid-run; another finishes
//! the work. Nothing is lost, no effect is applied twice, per-key order holds, and the dead worker's
//! jobs come back through lease expiry.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use salesbot::queue::{self, NewJob};
use serde_json::json;
use sqlx::PgPool;

fn worker_bin() -> PathBuf {
    // target/debug/deps/api-… → target/debug/examples/queue_worker (cargo test builds examples).
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("queue_worker")
}

#[sqlx::test]
async fn killed_worker_loses_nothing_and_repeats_no_effect(pool: PgPool) {
    sqlx::raw_sql(
        "CREATE TABLE crash_starts (job_id bigint, key text, seq bigint, attempt int);
         CREATE TABLE crash_effects (applied bigserial, key text, seq bigint, PRIMARY KEY (key, seq));",
    )
    .execute(&pool)
    .await
    .unwrap();
    const KEYS: i64 = 40;
    const JOBS: i64 = 2_000;
    let jobs: Vec<NewJob> = (0..JOBS)
        .map(|i| NewJob::new("crash_probe", json!({"seq": i / KEYS})).key(format!("k{}", i % KEYS)))
        .collect();
    queue::enqueue_many(&pool, &jobs).await.unwrap();

    let url = crate::helpers::database_url(&pool);
    let bin = worker_bin();
    if !bin.exists() {
        // `cargo test` builds examples; a filtered run (`cargo test --test api`) may not have.
        let built = Command::new(env!("CARGO"))
            .args(["build", "--example", "queue_worker"])
            .status()
            .unwrap();
        assert!(
            built.success() && bin.exists(),
            "cannot build {}",
            bin.display()
        );
    }
    let lease_ms = "2000";
    let mut first = Command::new(&bin)
        .args([&url, lease_ms])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    // Pull the plug once a quarter of the work is done.
    loop {
        let line = lines.next().expect("worker exited early").unwrap();
        if line == format!("done {}", JOBS / 4) {
            break;
        }
    }
    first.kill().unwrap(); // SIGKILL: no drain, leases left behind
    first.wait().unwrap();
    let effects_at_kill: i64 = sqlx::query_scalar("SELECT count(*) FROM crash_effects")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(effects_at_kill < JOBS, "the kill must land mid-run");

    let second = tokio::task::spawn_blocking(move || {
        Command::new(&bin)
            .args([&url, lease_ms])
            .stdout(Stdio::null())
            .status()
            .unwrap()
    });
    // A liveness bound, not a timing assertion: recovery needs one lease, the run a few seconds.
    let status = tokio::time::timeout(Duration::from_secs(120), second)
        .await
        .expect("the second worker never finished: jobs stuck behind dead leases?")
        .unwrap();
    assert!(status.success());

    let effects: i64 = sqlx::query_scalar("SELECT count(*) FROM crash_effects")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(effects, JOBS, "every job's effect applied");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    // Per key, effects were applied in enqueue order.
    let out_of_order: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
             SELECT seq, lag(seq) OVER (PARTITION BY key ORDER BY applied) AS prev FROM crash_effects
         ) s WHERE prev IS NOT NULL AND seq <> prev + 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(out_of_order, 0);
    // Per key, no job started before the previous one's effect was applied (no overlap).
    let early_starts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM crash_starts s
         WHERE s.seq > 0 AND NOT EXISTS (
             SELECT 1 FROM crash_effects e WHERE e.key = s.key AND e.seq = s.seq - 1)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(early_starts, 0);
    // The killed worker's in-flight jobs were taken over through lease expiry (a second attempt).
    let reclaimed: i64 = sqlx::query_scalar("SELECT count(*) FROM crash_starts WHERE attempt > 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(reclaimed >= 1, "no job was reclaimed after the kill");
}
