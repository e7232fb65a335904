//! The durable queue and the worker pool, against a real Postgres. Workers are driven with
//! `run_once()` (or run until a handler reports the last job), never synchronised by sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesbot::domain::TenantId;
use salesbot::queue::{self, JobId, Lease, NewJob, ops};
use salesbot::workers::{JobError, PoolConfig, Registry, WorkerPool};
use serde_json::json;

use crate::helpers::{TestHandler, fast_config};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// A handler that records the payload `n` of every run, in order.
fn recorder(kind: &'static str) -> (TestHandler, Arc<Mutex<Vec<i64>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let handler = TestHandler::new(kind, move |ctx| {
        let seen = seen.clone();
        Box::pin(async move {
            seen.lock()
                .unwrap()
                .push(ctx.job.payload["n"].as_i64().unwrap());
            Ok(())
        })
    });
    (handler, log)
}

async fn count_jobs(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn make_due(pool: &PgPool) {
    sqlx::query("UPDATE jobs SET run_at = now() - interval '1 second' WHERE state = 'available'")
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test]
async fn rolled_back_transaction_drops_the_job(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    queue::enqueue(&mut *tx, &NewJob::new("echo", json!({"n": 1})))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count_jobs(&pool).await, 0);

    let mut tx = pool.begin().await.unwrap();
    queue::enqueue(&mut *tx, &NewJob::new("echo", json!({"n": 2})).key("k"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count_jobs(&pool).await, 1);
}

#[sqlx::test]
async fn jobs_of_one_key_run_in_order_and_others_in_parallel(pool: PgPool) {
    let (handler, log) = recorder("echo");
    // Interleave two keys and unkeyed jobs, one by one and in bulk.
    for n in 1..=3 {
        queue::enqueue(&pool, &NewJob::new("echo", json!({"n": n})).key("a"))
            .await
            .unwrap();
    }
    let bulk: Vec<NewJob> = (4..=9)
        .map(|n| NewJob::new("echo", json!({"n": n})).key(if n % 2 == 0 { "a" } else { "b" }))
        .chain((100..103).map(|n| NewJob::new("echo", json!({"n": n}))))
        .collect();
    let ids = queue::enqueue_many(&pool, &bulk).await.unwrap();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in input order");

    let workers = WorkerPool::new(pool.clone(), Registry::new().with(handler), fast_config());
    let report = workers.run_once().await.unwrap();
    assert_eq!(report.completed, 12);
    let log = log.lock().unwrap().clone();
    let of = |key: &[i64]| {
        log.iter()
            .copied()
            .filter(|n| key.contains(n))
            .collect::<Vec<_>>()
    };
    assert_eq!(of(&[1, 2, 3, 4, 6, 8]), vec![1, 2, 3, 4, 6, 8]);
    assert_eq!(of(&[5, 7, 9]), vec![5, 7, 9]);
    assert_eq!(count_jobs(&pool).await, 0);
    let keys: i64 = sqlx::query_scalar("SELECT coalesce(sum(pending), 0)::int8 FROM job_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(keys, 0);
}

#[sqlx::test]
async fn a_batch_never_holds_two_jobs_of_one_key(pool: PgPool) {
    for n in 0..10 {
        queue::enqueue(&pool, &NewJob::new("echo", json!({"n": n})).key("same"))
            .await
            .unwrap();
    }
    let claimed = queue::claim(&pool, &["echo".into()], 10, 2, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].payload["n"], 0);
}

#[sqlx::test]
async fn the_key_waits_while_its_head_waits_for_a_retry(pool: PgPool) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let handler = TestHandler::new("flaky", move |ctx| {
        let seen = seen.clone();
        Box::pin(async move {
            let n = ctx.job.payload["n"].as_i64().unwrap();
            seen.lock().unwrap().push((n, ctx.job.attempts));
            if n == 1 && ctx.job.attempts == 1 {
                return Err(JobError::retry_after(
                    anyhow::anyhow!("503 from upstream"),
                    Duration::from_secs(3600),
                ));
            }
            Ok(())
        })
    });
    for n in 1..=3 {
        queue::enqueue(
            &pool,
            &NewJob::new("flaky", json!({"n": n})).key("conversation-1"),
        )
        .await
        .unwrap();
    }
    let workers = WorkerPool::new(pool.clone(), Registry::new().with(handler), fast_config());
    let report = workers.run_once().await.unwrap();
    assert_eq!(report.retried, 1);
    assert_eq!(report.completed, 0, "jobs 2 and 3 must wait for job 1");
    assert_eq!(*log.lock().unwrap(), vec![(1, 1)]);

    // The retry-after was honoured durably: the job is scheduled an hour out, not slept on.
    let wait: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM run_at - now())::float8 FROM jobs WHERE payload->>'n' = '1'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!((3500.0..=3600.0).contains(&wait), "run_at in {wait} s");

    make_due(&pool).await;
    let report = workers.run_once().await.unwrap();
    assert_eq!(report.completed, 3);
    assert_eq!(*log.lock().unwrap(), vec![(1, 1), (1, 2), (2, 1), (3, 1)]);
}

#[sqlx::test]
async fn dead_jobs_release_their_key_and_can_be_redriven(pool: PgPool) {
    let fail_first = Arc::new(Mutex::new(true));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (flag, seen) = (fail_first.clone(), log.clone());
    let handler = TestHandler::new("brittle", move |ctx| {
        let (flag, seen) = (flag.clone(), seen.clone());
        Box::pin(async move {
            let n = ctx.job.payload["n"].as_i64().unwrap();
            seen.lock().unwrap().push(n);
            if n == 1 && *flag.lock().unwrap() {
                return Err(JobError::retry(anyhow::anyhow!("boom {n}")));
            }
            Ok(())
        })
    });
    queue::enqueue(
        &pool,
        &NewJob::new("brittle", json!({"n": 1}))
            .key("k")
            .max_attempts(3),
    )
    .await
    .unwrap();
    queue::enqueue(&pool, &NewJob::new("brittle", json!({"n": 2})).key("k"))
        .await
        .unwrap();
    let workers = WorkerPool::new(pool.clone(), Registry::new().with(handler), fast_config());
    // Three attempts, each rescheduled with a (tiny) backoff; drive until the head is dead.
    let mut dead = 0;
    for _ in 0..3 {
        make_due(&pool).await;
        dead += workers.run_once().await.unwrap().dead;
    }
    assert_eq!(dead, 1);
    // The dead head no longer blocks its key: job 2 ran.
    assert_eq!(*log.lock().unwrap(), vec![1, 1, 1, 2]);
    let listed = ops::dead(&pool, ops::JobScope::All, Some("brittle"), 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].attempts, 3);
    assert_eq!(listed[0].last_error.as_deref(), Some("boom 1"));

    *fail_first.lock().unwrap() = false;
    let new_id = ops::redrive(&pool, ops::JobScope::All, listed[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(new_id, listed[0].id);
    assert_eq!(workers.run_once().await.unwrap().completed, 1);
    assert_eq!(*log.lock().unwrap(), vec![1, 1, 1, 2, 1]);
    assert_eq!(count_jobs(&pool).await, 0);
    assert!(
        ops::redrive(&pool, ops::JobScope::All, listed[0].id)
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test]
async fn fatal_errors_go_dead_at_once_and_defers_keep_their_attempts(pool: PgPool) {
    let handler = TestHandler::new("picky", |ctx| {
        Box::pin(async move {
            match ctx.job.payload["do"].as_str().unwrap() {
                "fatal" => Err(JobError::fatal(anyhow::anyhow!("401 unauthorized"))),
                _ => Err(JobError::defer(Duration::from_secs(600), "quiet hours")),
            }
        })
    });
    queue::enqueue(&pool, &NewJob::new("picky", json!({"do": "fatal"})))
        .await
        .unwrap();
    let deferred = queue::enqueue(&pool, &NewJob::new("picky", json!({"do": "defer"})))
        .await
        .unwrap();
    let workers = WorkerPool::new(pool.clone(), Registry::new().with(handler), fast_config());
    let report = workers.run_once().await.unwrap();
    assert_eq!((report.dead, report.deferred), (1, 1));
    let (attempts, wait): (i32, f64) = sqlx::query_as(
        "SELECT attempts, extract(epoch FROM run_at - now())::float8 FROM jobs WHERE id = $1",
    )
    .bind(deferred.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(attempts, 0, "a deferral does not use up an attempt");
    assert!(wait > 500.0);
}

#[sqlx::test]
async fn a_handler_past_its_deadline_is_cancelled_and_counts_as_failed(pool: PgPool) {
    let handler = TestHandler::new("hangs", |_ctx| {
        Box::pin(async move {
            std::future::pending::<()>().await;
            Ok(())
        })
    })
    .deadline(Duration::from_millis(50));
    let id = queue::enqueue(&pool, &NewJob::new("hangs", json!({})).max_attempts(2))
        .await
        .unwrap()
        .id;
    let config = PoolConfig {
        backoff: queue::Backoff {
            base: Duration::from_secs(3600),
            cap: Duration::from_secs(3600),
        },
        ..fast_config()
    };
    let workers = WorkerPool::new(pool.clone(), Registry::new().with(handler), config);
    let first = workers.run_once().await.unwrap();
    assert_eq!((first.retried, first.dead), (1, 0));
    make_due(&pool).await;
    assert_eq!(workers.run_once().await.unwrap().dead, 1);
    let error: String = sqlx::query_scalar("SELECT last_error FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(error.contains("deadline"), "{error}");
}

#[sqlx::test]
async fn a_stale_lease_cannot_complete_fail_or_heartbeat(pool: PgPool) {
    let kinds = vec!["echo".to_string()];
    queue::enqueue(&pool, &NewJob::new("echo", json!({})).key("k"))
        .await
        .unwrap();
    queue::enqueue(&pool, &NewJob::new("echo", json!({})).key("k"))
        .await
        .unwrap();
    let lease = Duration::from_secs(2);
    let first = queue::claim(&pool, &kinds, 10, 2, lease).await.unwrap();
    assert_eq!(first.len(), 1);
    let old = Lease::from(&first[0]);
    // The worker stalls; its lease runs out (moved back in time instead of waiting).
    sqlx::query("UPDATE jobs SET lease_until = now() - interval '1 s', run_at = now() - interval '1 s' WHERE id = $1")
        .bind(old.id)
        .execute(&pool)
        .await
        .unwrap();
    let second = queue::claim(&pool, &kinds, 10, 2, lease).await.unwrap();
    assert_eq!(
        second.len(),
        1,
        "the expired job is claimable again, and only it"
    );
    assert_eq!(second[0].id, old.id);
    assert_eq!(second[0].attempts, 2);
    let new = Lease::from(&second[0]);
    assert_ne!(new.token, old.token);

    assert!(
        queue::heartbeat(&pool, &[old], lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(queue::complete(&pool, &[old]).await.unwrap().is_empty());
    assert!(
        !queue::reschedule(
            &pool,
            old,
            queue::Reschedule::Retry {
                delay: Duration::ZERO
            },
            None
        )
        .await
        .unwrap()
    );
    assert!(
        queue::bury(&pool, &[(old, "x".into())])
            .await
            .unwrap()
            .is_empty()
    );
    let mut conn = pool.acquire().await.unwrap();
    assert!(!queue::holds_lease(&mut conn, old).await.unwrap());
    assert!(queue::holds_lease(&mut conn, new).await.unwrap());
    drop(conn);

    assert_eq!(
        queue::heartbeat(&pool, &[new], lease).await.unwrap(),
        vec![new.id]
    );
    assert_eq!(queue::complete(&pool, &[new]).await.unwrap(), vec![new.id]);
    // Completing the head promoted the next job of the key.
    let next = queue::claim(&pool, &kinds, 10, 2, lease).await.unwrap();
    assert_eq!(next.len(), 1);
}

#[sqlx::test]
async fn dedup_returns_the_pending_job(pool: PgPool) {
    let job = NewJob::new("turn", json!({}))
        .key("bot-user-1")
        .dedup("bot-user-1");
    let first = queue::enqueue(&pool, &job).await.unwrap();
    let second = queue::enqueue(&pool, &job).await.unwrap();
    assert!(first.inserted);
    assert!(!second.inserted);
    assert_eq!(first.id, second.id);
    // Unkeyed dedup too.
    let plain = NewJob::new("sync", json!({})).dedup("tenant-1");
    let a = queue::enqueue(&pool, &plain).await.unwrap();
    let b = queue::enqueue(&pool, &plain).await.unwrap();
    assert_eq!((a.id, b.inserted), (b.id, false));

    // Once the pending one has started, a new enqueue is a new job (it may have read stale input).
    let claimed = queue::claim(&pool, &["turn".into()], 10, 2, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed[0].id, first.id);
    let third = queue::enqueue(&pool, &job).await.unwrap();
    assert!(third.inserted);
    assert_ne!(third.id, first.id);
    // …and it waits behind the running one, with the key's count right.
    let pending: i32 = sqlx::query_scalar("SELECT pending FROM job_keys WHERE key = 'bot-user-1'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pending, 2);
}

#[sqlx::test]
async fn concurrent_dedup_enqueues_insert_one_job(pool: PgPool) {
    let job = NewJob::new("turn", json!({})).key("u").dedup("u");
    let attempts = (0..16).map(|_| {
        let (pool, job) = (pool.clone(), job.clone());
        tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            let e = queue::enqueue(&mut *tx, &job).await.unwrap();
            tx.commit().await.unwrap();
            e
        })
    });
    let results = futures_join_all(attempts).await;
    assert_eq!(results.iter().filter(|e| e.inserted).count(), 1);
    assert!(results.iter().all(|e| e.id == results[0].id));
    let pending: i32 = sqlx::query_scalar("SELECT pending FROM job_keys WHERE key = 'u'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pending, 1);
}

async fn futures_join_all<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[sqlx::test]
async fn delayed_jobs_wait_for_their_time(pool: PgPool) {
    let (handler, log) = recorder("later");
    queue::enqueue(
        &pool,
        &NewJob::new("later", json!({"n": 1})).delay(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    let workers = WorkerPool::new(pool.clone(), Registry::new().with(handler), fast_config());
    assert_eq!(workers.run_once().await.unwrap().attempts(), 0);
    let stats = ops::stats(&pool, ops::JobScope::All).await.unwrap();
    assert_eq!(stats.kinds[0].scheduled, 1);
    make_due(&pool).await;
    assert_eq!(workers.run_once().await.unwrap().completed, 1);
    assert_eq!(*log.lock().unwrap(), vec![1]);
}

#[sqlx::test]
async fn priority_goes_ahead_of_older_due_jobs(pool: PgPool) {
    for n in 1..=3 {
        queue::enqueue(&pool, &NewJob::new("p", json!({"n": n})))
            .await
            .unwrap();
    }
    queue::enqueue(&pool, &NewJob::new("p", json!({"n": 99})).priority(10))
        .await
        .unwrap();
    let claimed = queue::claim(&pool, &["p".into()], 1, 0, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed[0].payload["n"], 99);
}

#[sqlx::test]
async fn cancel_pending_blocked_and_dead_but_not_running(pool: PgPool) {
    let kinds = vec!["c".to_string()];
    let head = queue::enqueue(&pool, &NewJob::new("c", json!({"n": 1})).key("k"))
        .await
        .unwrap()
        .id;
    let blocked = queue::enqueue(&pool, &NewJob::new("c", json!({"n": 2})).key("k"))
        .await
        .unwrap()
        .id;
    let last = queue::enqueue(&pool, &NewJob::new("c", json!({"n": 3})).key("k"))
        .await
        .unwrap()
        .id;
    assert_eq!(
        ops::cancel(&pool, blocked).await.unwrap(),
        ops::CancelOutcome::Cancelled
    );
    let running = queue::claim(&pool, &kinds, 10, 2, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(running[0].id, head);
    assert_eq!(
        ops::cancel(&pool, head).await.unwrap(),
        ops::CancelOutcome::Running
    );
    queue::complete(&pool, &[Lease::from(&running[0])])
        .await
        .unwrap();
    // Job 3 follows job 1 (job 2 was cancelled), and cancelling the available head frees the key.
    let next = queue::claim(&pool, &kinds, 10, 2, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(next[0].id, last);
    queue::reschedule(
        &pool,
        Lease::from(&next[0]),
        queue::Reschedule::Release,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        ops::cancel(&pool, last).await.unwrap(),
        ops::CancelOutcome::Cancelled
    );
    assert_eq!(
        ops::cancel(&pool, JobId(999_999)).await.unwrap(),
        ops::CancelOutcome::NotFound
    );
    assert_eq!(count_jobs(&pool).await, 0);
    let pending: i32 = sqlx::query_scalar("SELECT pending FROM job_keys WHERE key = 'k'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    // A new job of the key is immediately available.
    queue::enqueue(&pool, &NewJob::new("c", json!({"n": 4})).key("k"))
        .await
        .unwrap();
    assert_eq!(
        queue::claim(&pool, &kinds, 10, 2, Duration::from_secs(30))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[sqlx::test]
async fn cleanup_deletes_old_dead_jobs_and_idle_keys(pool: PgPool) {
    let kinds = vec!["d".to_string()];
    queue::enqueue(&pool, &NewJob::new("d", json!({})).key("k"))
        .await
        .unwrap();
    queue::enqueue(&pool, &NewJob::new("d", json!({})))
        .await
        .unwrap();
    let claimed = queue::claim(&pool, &kinds, 10, 2, Duration::from_secs(30))
        .await
        .unwrap();
    let leases: Vec<(Lease, String)> = claimed
        .iter()
        .map(|j| (Lease::from(j), "fatal".into()))
        .collect();
    assert_eq!(queue::bury(&pool, &leases).await.unwrap().len(), 2);
    // One died long ago, one just now.
    sqlx::query("UPDATE jobs SET run_at = now() - interval '30 days' WHERE id = $1")
        .bind(claimed[0].id)
        .execute(&pool)
        .await
        .unwrap();
    let done = ops::cleanup(&pool, Duration::from_secs(14 * 86_400))
        .await
        .unwrap();
    assert_eq!(done.dead_deleted, 1);
    assert_eq!(done.idle_keys_deleted, 1);
    assert_eq!(count_jobs(&pool).await, 1);
}

#[sqlx::test]
async fn a_quiet_tenant_is_not_starved_by_a_noisy_one(pool: PgPool) {
    let noisy = TenantId::new();
    let quiet = TenantId::new();
    for chunk in 0..50 {
        let jobs: Vec<NewJob> = (0..1000)
            .map(|i| NewJob::new("work", json!({"i": chunk * 1000 + i})).tenant(noisy))
            .collect();
        queue::enqueue_many(&pool, &jobs).await.unwrap();
    }
    let quiet_job = queue::enqueue(&pool, &NewJob::new("work", json!({})).tenant(quiet))
        .await
        .unwrap()
        .id;
    let claimed = queue::claim(&pool, &["work".into()], 10, 2, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 10);
    assert!(
        claimed.iter().any(|j| j.id == quiet_job),
        "the quiet tenant's job waits behind 50,000 jobs"
    );
    assert_eq!(
        claimed
            .iter()
            .filter(|j| j.tenant_id == Some(noisy))
            .count(),
        9
    );
}

#[sqlx::test]
async fn paused_kinds_and_tenants_are_accepted_but_not_claimed(pool: PgPool) {
    let tenant = TenantId::new();
    let (handler, log) = recorder("mail");
    let workers = WorkerPool::new(pool.clone(), Registry::new().with(handler), fast_config());
    ops::pause(&pool, &ops::PauseTarget::Kind("mail".into()))
        .await
        .unwrap();
    ops::pause(&pool, &ops::PauseTarget::Kind("mail".into()))
        .await
        .unwrap();
    queue::enqueue(&pool, &NewJob::new("mail", json!({"n": 1})))
        .await
        .unwrap();
    assert_eq!(workers.run_once().await.unwrap().attempts(), 0);
    assert!(
        ops::resume(&pool, &ops::PauseTarget::Kind("mail".into()))
            .await
            .unwrap()
    );
    assert_eq!(workers.run_once().await.unwrap().completed, 1);

    ops::pause(&pool, &ops::PauseTarget::Tenant(tenant))
        .await
        .unwrap();
    queue::enqueue(&pool, &NewJob::new("mail", json!({"n": 2})).tenant(tenant))
        .await
        .unwrap();
    queue::enqueue(&pool, &NewJob::new("mail", json!({"n": 3})))
        .await
        .unwrap();
    assert_eq!(workers.run_once().await.unwrap().completed, 1);
    let stats = ops::stats(&pool, ops::JobScope::All).await.unwrap();
    assert_eq!(stats.paused_tenants, vec![tenant]);
    ops::resume(&pool, &ops::PauseTarget::Tenant(tenant))
        .await
        .unwrap();
    assert_eq!(workers.run_once().await.unwrap().completed, 1);
    assert_eq!(*log.lock().unwrap(), vec![1, 3, 2]);
}

#[sqlx::test]
async fn shutdown_releases_unfinished_jobs_at_once(pool: PgPool) {
    let started = Arc::new(tokio::sync::Notify::new());
    let signal = started.clone();
    let handler = TestHandler::new("slow", move |_ctx| {
        let signal = signal.clone();
        Box::pin(async move {
            signal.notify_one();
            std::future::pending::<()>().await;
            Ok(())
        })
    });
    let id = queue::enqueue(&pool, &NewJob::new("slow", json!({})))
        .await
        .unwrap()
        .id;
    let config = PoolConfig {
        grace: Duration::ZERO,
        ..fast_config()
    };
    let workers = WorkerPool::new(pool.clone(), Registry::new().with(handler), config);
    let shutdown = CancellationToken::new();
    let running = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { workers.run(shutdown).await })
    };
    started.notified().await;
    shutdown.cancel();
    running.await.unwrap().unwrap();
    let (state, attempts, due): (String, i32, bool) =
        sqlx::query_as("SELECT state::text, attempts, run_at <= now() FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts, due), ("available", 0, true));
}

/// The property test of the issue: 8 concurrent workers, 200 keys, 5,000 jobs, 20 % retryable
/// failures and random delays. Every job completes exactly once; per key, handler starts follow
/// enqueue order and never overlap.
#[sqlx::test]
async fn concurrent_workers_keep_per_key_order_and_lose_nothing(pool: PgPool) {
    use rand::{Rng, SeedableRng};
    const KEYS: usize = 200;
    const JOBS: usize = 5_000;
    // Eight pools need more than the per-test pool's five connections.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(24)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let seed: u64 = rand::random();
    eprintln!("property test seed: {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    #[derive(Default)]
    struct KeyState {
        running: bool,
        completed: i64,
    }
    let state: Arc<Mutex<HashMap<String, KeyState>>> = Arc::default();
    let violations: Arc<Mutex<Vec<String>>> = Arc::default();
    let all_done = Arc::new(tokio::sync::Notify::new());
    let completions = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let handler = {
        let (state, violations, all_done, completions) = (
            state.clone(),
            violations.clone(),
            all_done.clone(),
            completions.clone(),
        );
        TestHandler::new("prop", move |ctx| {
            let (state, violations, all_done, completions) = (
                state.clone(),
                violations.clone(),
                all_done.clone(),
                completions.clone(),
            );
            Box::pin(async move {
                let key = ctx.job.key.clone().unwrap();
                let seq = ctx.job.payload["seq"].as_i64().unwrap();
                let fail =
                    ctx.job.payload["fail_first"].as_i64().unwrap() >= ctx.job.attempts as i64;
                let work_ms = ctx.job.payload["work_ms"].as_u64().unwrap();
                {
                    let mut s = state.lock().unwrap();
                    let k = s.entry(key.clone()).or_default();
                    if k.running {
                        violations
                            .lock()
                            .unwrap()
                            .push(format!("{key}: overlap at seq {seq}"));
                    }
                    if seq != k.completed + 1 {
                        violations.lock().unwrap().push(format!(
                            "{key}: started seq {seq} after {} completed",
                            k.completed
                        ));
                    }
                    k.running = true;
                }
                tokio::time::sleep(Duration::from_millis(work_ms)).await;
                let mut s = state.lock().unwrap();
                let k = s.get_mut(&key).unwrap();
                k.running = false;
                if fail {
                    return Err(JobError::retry(anyhow::anyhow!("random failure")));
                }
                k.completed += 1;
                if completions.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == JOBS {
                    all_done.notify_one();
                }
                Ok(())
            })
        })
    };

    // Enqueue: per key, seq 1, 2, … in order; keys interleaved; ~20 % of attempts fail (some jobs fail
    // more than once); some jobs are delayed a little.
    let mut next_seq = vec![0i64; KEYS];
    let mut jobs = Vec::with_capacity(JOBS);
    for _ in 0..JOBS {
        let k = rng.random_range(0..KEYS);
        next_seq[k] += 1;
        let mut fail_first = 0;
        while rng.random_bool(0.2) {
            fail_first += 1;
        }
        let mut job = NewJob::new(
            "prop",
            json!({"seq": next_seq[k], "fail_first": fail_first, "work_ms": rng.random_range(0..3)}),
        )
        .key(format!("key-{k}"))
        .max_attempts(50);
        if rng.random_bool(0.1) {
            job = job.delay(Duration::from_millis(rng.random_range(1..200)));
        }
        jobs.push(job);
    }
    // Half in bulk, the rest one by one while the workers already run.
    let (bulk, single) = jobs.split_at(JOBS / 2);
    for chunk in bulk.chunks(500) {
        queue::enqueue_many(&pool, chunk).await.unwrap();
    }

    let shutdown = CancellationToken::new();
    let mut workers = Vec::new();
    for _ in 0..8 {
        let pool_ = WorkerPool::new(
            pool.clone(),
            Registry::new().with(handler.clone()),
            fast_config(),
        );
        let shutdown = shutdown.clone();
        workers.push(tokio::spawn(async move { pool_.run(shutdown).await }));
    }
    let waker = queue::wake::Waker::spawn(
        pool.clone(),
        &salesbot::supervisor::TaskScope::standalone(shutdown.clone()),
    );
    for job in single {
        queue::enqueue(&pool, job).await.unwrap();
        waker.wake();
    }
    all_done.notified().await;
    shutdown.cancel();
    for w in workers {
        w.await.unwrap().unwrap();
    }

    assert_eq!(*violations.lock().unwrap(), Vec::<String>::new());
    assert_eq!(completions.load(std::sync::atomic::Ordering::SeqCst), JOBS);
    let per_key: i64 = state.lock().unwrap().values().map(|k| k.completed).sum();
    assert_eq!(per_key, JOBS as i64);
    assert_eq!(count_jobs(&pool).await, 0, "nothing left behind");
}

/// A pool's heartbeat and its batch ack touch the same rows at the same moment; both lock in id
/// order, so they never deadlock (they did, under load, when each locked in its own order).
#[sqlx::test]
async fn concurrent_heartbeats_and_acks_do_not_deadlock(pool: PgPool) {
    let jobs: Vec<NewJob> = (0..200)
        .map(|i| NewJob::new("hb", json!({"i": i})))
        .collect();
    queue::enqueue_many(&pool, &jobs).await.unwrap();
    let claimed = queue::claim(&pool, &["hb".into()], 200, 0, Duration::from_secs(30))
        .await
        .unwrap();
    let leases: Vec<Lease> = claimed.iter().map(Lease::from).collect();
    for round in 0..10 {
        let chunk: Vec<Lease> = leases[round * 20..(round + 1) * 20].to_vec();
        let reversed: Vec<Lease> = leases.iter().rev().copied().collect();
        let (beat, done) = tokio::join!(
            queue::heartbeat(&pool, &reversed, Duration::from_secs(30)),
            queue::complete(&pool, &chunk),
        );
        beat.expect("heartbeat");
        assert_eq!(done.expect("complete").len(), 20);
    }
    assert_eq!(count_jobs(&pool).await, 0);
}

/// A heartbeat never waits for a job row another transaction has locked (the ack deleting it, a
/// handler's lease fence): it extends the others and still reports the locked one as held.
#[sqlx::test]
async fn a_heartbeat_skips_a_locked_job_and_keeps_it_held(pool: PgPool) {
    let jobs: Vec<NewJob> = (0..2).map(|i| NewJob::new("hb", json!({"i": i}))).collect();
    queue::enqueue_many(&pool, &jobs).await.unwrap();
    let claimed = queue::claim(&pool, &["hb".into()], 2, 0, Duration::from_secs(5))
        .await
        .unwrap();
    let leases: Vec<Lease> = claimed.iter().map(Lease::from).collect();
    let (locked, free) = (leases[0].id, leases[1].id);
    let lease_until = |id: JobId| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
                "SELECT lease_until FROM jobs WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (locked_before, free_before) = (lease_until(locked).await, lease_until(free).await);

    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE")
        .bind(locked)
        .execute(&mut *holder)
        .await
        .unwrap();
    // Had it waited for the lock, it would wait for `holder`, which this task only ends below.
    let held = tokio::time::timeout(
        Duration::from_secs(60),
        queue::heartbeat(&pool, &leases, Duration::from_secs(600)),
    )
    .await
    .expect("the heartbeat waited for a locked row")
    .unwrap();
    holder.rollback().await.unwrap();

    let mut held: Vec<JobId> = held;
    held.sort_by_key(|id| id.0);
    assert_eq!(held, vec![locked, free]);
    assert_eq!(
        lease_until(locked).await,
        locked_before,
        "locked: extended next tick"
    );
    assert!(
        lease_until(free).await > free_before + chrono::Duration::seconds(300),
        "the free job's lease was extended"
    );
}

/// With autovacuum off (this server), the worker's maintenance gives tables their statistics once
/// they hold rows and again when they have doubled: without them the generic plans of the hot
/// functions picked the wrong index; with the churn-driven rule they would be re-planned every tick.
#[sqlx::test]
async fn maintenance_analyzes_grown_tables_when_autovacuum_is_off(pool: PgPool) {
    let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
        .fetch_one(&pool)
        .await
        .unwrap();
    let add_jobs = |from: i32, to: i32| {
        let pool = pool.clone();
        async move {
            let jobs: Vec<NewJob> = (from..to)
                .map(|i| NewJob::new("stats", json!({"i": i})))
                .collect();
            let mut conn = pool.acquire().await.unwrap();
            queue::enqueue_many(&mut *conn, &jobs).await.unwrap();
            // Make this session report its row counts now rather than up to a second later.
            sqlx::query("SELECT pg_stat_force_next_flush()")
                .execute(&mut *conn)
                .await
                .unwrap();
            sqlx::query("SELECT 1").execute(&mut *conn).await.unwrap();
        }
    };
    let analyze_count = || {
        let pool = pool.clone();
        async move {
            let count: i64 = sqlx::query_scalar(
                "SELECT analyze_count FROM pg_stat_user_tables
                  WHERE schemaname = current_schema() AND relname = 'jobs'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            count
        }
    };
    // The service's own pool, whose role may not ANALYZE: maintenance must use the owner's.
    let service = salesbot::db::service_pool(&pool, 2).await.unwrap();
    let analyze = || salesbot::workers::maintenance::analyze_grown_tables(&service);

    add_jobs(0, 200).await;
    analyze().await;
    // With autovacuum on, analyzing is Postgres' own job and the maintenance leaves it alone.
    let expected = if autovacuum == "off" { 1 } else { 0 };
    assert_eq!(analyze_count().await, expected, "autovacuum = {autovacuum}");
    if autovacuum != "off" {
        return;
    }

    add_jobs(200, 300).await;
    analyze().await;
    assert_eq!(
        analyze_count().await,
        1,
        "150% of the analyzed rows: no new ANALYZE"
    );

    add_jobs(300, 500).await;
    analyze().await;
    assert_eq!(analyze_count().await, 2, "doubled: analyzed again");
}

/// A producer whose enqueue was deduplicated into a pending job holds that job until it commits, so
/// no worker can start it before the producer's rows (e.g. the new message) are visible.
#[sqlx::test]
async fn a_deduplicated_job_is_not_claimed_before_the_producer_commits(pool: PgPool) {
    let job = NewJob::new("turn", json!({})).key("conv").dedup("conv");
    let first = queue::enqueue(&pool, &job).await.unwrap();
    let mut producer = pool.begin().await.unwrap();
    let twin = queue::enqueue(&mut *producer, &job).await.unwrap();
    assert_eq!((twin.id, twin.inserted), (first.id, false));
    let kinds = vec!["turn".to_string()];
    let during = queue::claim(&pool, &kinds, 10, 2, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        during.is_empty(),
        "claimed while the producer's transaction was open"
    );
    producer.commit().await.unwrap();
    let after = queue::claim(&pool, &kinds, 10, 2, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, first.id);
}

/// Acks and burials of a few hundred jobs keep to index probes. Planned with the actual arrays, the ack once
/// joined its (id, token) pairs to `jobs` by hashing a sequential scan of the whole queue (24 ms per
/// ack at a 50k backlog), and the key release scanned `job_keys` the same way. The acks run in one
/// transaction so that its own scan counts can be read; ten calls cover the plans made with the
/// actual arrays and the generic plan that plpgsql switches to after five.
#[sqlx::test]
async fn large_batch_acks_never_scan_the_queue(pool: PgPool) {
    const KEYS: usize = 3000;
    const BATCH: usize = 300;
    let jobs: Vec<NewJob> = (0..2 * KEYS)
        .map(|i| NewJob::new("wide", json!({"i": i})).key(format!("k{}", i % KEYS)))
        .collect();
    queue::enqueue_many(&pool, &jobs).await.unwrap();
    sqlx::query("ANALYZE jobs, job_keys")
        .execute(&pool)
        .await
        .unwrap();
    let kinds = ["wide".to_owned()];
    let claim = || queue::claim(&pool, &kinds, BATCH as i64, 0, Duration::from_secs(30));
    let mut batches = Vec::new();
    for _ in 0..KEYS / BATCH {
        let claimed = claim().await.unwrap();
        assert_eq!(claimed.len(), BATCH);
        batches.push(claimed);
    }

    let mut tx = pool.begin().await.unwrap();
    for batch in &batches {
        let (ids, tokens) = ids_and_tokens(batch);
        let done: Vec<i64> = sqlx::query_scalar("SELECT queue_complete($1, $2)")
            .bind(&ids)
            .bind(&tokens)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(done.len(), BATCH);
    }
    assert_no_table_scanned(tx, "an ack").await;
    // Every key's second job was promoted by the acks of the first; burying those scans nothing
    // either.
    let mut tx = pool.begin().await.unwrap();
    for _ in 0..KEYS / BATCH {
        let batch = claim().await.unwrap();
        assert_eq!(batch.len(), BATCH, "the second jobs were promoted");
        let (ids, tokens) = ids_and_tokens(&batch);
        let errors = vec!["poisoned".to_owned(); BATCH];
        let dead: Vec<i64> = sqlx::query_scalar("SELECT queue_bury($1, $2, $3)")
            .bind(&ids)
            .bind(&tokens)
            .bind(&errors)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(dead.len(), BATCH);
    }
    assert_no_table_scanned(tx, "a burial").await;
}

fn ids_and_tokens(batch: &[queue::ClaimedJob]) -> (Vec<i64>, Vec<uuid::Uuid>) {
    batch.iter().map(|j| (j.id.0, j.lease_token)).unzip()
}

/// Reads the transaction's own sequential scans of the queue tables, then commits it.
async fn assert_no_table_scanned(mut tx: sqlx::Transaction<'_, sqlx::Postgres>, what: &str) {
    let scans: Vec<(String, i64)> = sqlx::query_as(
        "SELECT relname::text, seq_scan FROM pg_stat_xact_user_tables
         WHERE relname IN ('jobs', 'job_keys') ORDER BY relname",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        scans,
        vec![("job_keys".to_owned(), 0), ("jobs".to_owned(), 0)],
        "{what} scanned a whole table"
    );
}

/// A latency-sensitive producer's NOTIFY rides its own commit, and only while a worker is parked
/// (otherwise it reports that it did not notify, and the producer wakes workers after the commit).
#[sqlx::test]
async fn notify_at_commit_wakes_a_parked_worker_when_the_job_commits(pool: PgPool) {
    use queue::wake;
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .unwrap();
    listener.listen(queue::WAKE_CHANNEL).await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    queue::enqueue(&mut *tx, &NewJob::new("quick", json!({})))
        .await
        .unwrap();
    assert!(
        !wake::notify_at_commit(&mut tx).await.unwrap(),
        "nobody is parked"
    );
    tx.commit().await.unwrap();
    // Notifications arrive in commit order: the sentinel comes first only if that commit sent none.
    sqlx::query("SELECT pg_notify($1, 'sentinel')")
        .bind(queue::WAKE_CHANNEL)
        .execute(&pool)
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("the sentinel arrives")
        .unwrap();
    assert_eq!(first.payload(), "sentinel");

    wake::park(&pool).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    queue::enqueue(&mut *tx, &NewJob::new("quick", json!({})))
        .await
        .unwrap();
    assert!(wake::notify_at_commit(&mut tx).await.unwrap());
    tx.commit().await.unwrap();
    let note = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("the parked worker's channel is notified at commit")
        .unwrap();
    assert_eq!(note.payload(), "", "the wake-up, not the sentinel again");
}
