//! No half-alive process: a panicking job handler is a failed attempt, never the end of the pool,
//! and a long-running task that ends early stops the whole process (src/supervisor.rs).

use std::time::Duration;

use salesbot::queue::{self, NewJob};
use salesbot::supervisor::Supervisor;
use salesbot::workers::{Registry, WorkerPool};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestHandler, fast_config};
use crate::helpers::{spawn_app, test_config};

async fn metric(name_and_labels: &str) -> f64 {
    salesbot::metrics::render()
        .lines()
        .find_map(|l| l.strip_prefix(name_and_labels))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// Panics on a job's first attempt (of `n` > 0), succeeds after; always panics for `n` < 0.
fn panicky(kind: &'static str, done: mpsc::UnboundedSender<i64>) -> TestHandler {
    TestHandler::new(kind, move |ctx| {
        let done = done.clone();
        Box::pin(async move {
            let n = ctx.job.payload["n"].as_i64().unwrap();
            if n < 0 || ctx.job.attempts == 1 {
                panic!("handler bug on job {n}");
            }
            done.send(n).unwrap();
            Ok(())
        })
    })
}

fn steady(kind: &'static str, done: mpsc::UnboundedSender<i64>) -> TestHandler {
    TestHandler::new(kind, move |ctx| {
        let done = done.clone();
        Box::pin(async move {
            done.send(ctx.job.payload["n"].as_i64().unwrap()).unwrap();
            Ok(())
        })
    })
}

#[sqlx::test]
async fn a_panicking_handler_is_a_failed_attempt_and_the_pool_serves_on(pool: PgPool) {
    salesbot::metrics::handle();
    let panics_before = metric("salesbot_job_panics_total{kind=\"panicky\"}").await;
    let (done, mut finished) = mpsc::unbounded_channel();
    let registry = || {
        Registry::new()
            .with(panicky("panicky", done.clone()))
            .with(steady("steady", done.clone()))
    };
    // Retries an hour away first, so the failed attempt can be looked at.
    let patient = salesbot::workers::PoolConfig {
        backoff: queue::Backoff {
            base: Duration::from_secs(3600),
            cap: Duration::from_secs(3600),
        },
        ..fast_config()
    };
    let first_pass = WorkerPool::new(pool.clone(), registry(), patient);

    // run_once: the panic is a retry with its attempt counted, and the other job completes.
    queue::enqueue(&pool, &NewJob::new("panicky", json!({"n": 1})))
        .await
        .unwrap();
    queue::enqueue(&pool, &NewJob::new("steady", json!({"n": 2})))
        .await
        .unwrap();
    let report = first_pass.run_once().await.unwrap();
    assert_eq!((report.retried, report.completed), (1, 1), "{report:?}");
    let (attempts, error): (i32, String) =
        sqlx::query_as("SELECT attempts, last_error FROM jobs WHERE kind = 'panicky'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(attempts, 1);
    assert!(
        error.contains("handler panicked: handler bug on job 1"),
        "{error}"
    );
    assert_eq!(finished.recv().await, Some(2));
    sqlx::query("UPDATE jobs SET run_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    let workers = WorkerPool::new(pool.clone(), registry(), fast_config());

    // The long-running pool: the retry succeeds, a job that always panics goes dead after its
    // attempts, and jobs enqueued after the panics are still served.
    let shutdown = CancellationToken::new();
    let running = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move { workers.run(shutdown).await })
    };
    queue::enqueue(
        &pool,
        &NewJob::new("panicky", json!({"n": -1})).max_attempts(3),
    )
    .await
    .unwrap();
    let mut seen = vec![
        tokio::time::timeout(Duration::from_secs(20), finished.recv())
            .await
            .unwrap()
            .unwrap(),
    ];
    for n in 10..15 {
        queue::enqueue(&pool, &NewJob::new("steady", json!({"n": n})))
            .await
            .unwrap();
    }
    while seen.len() < 6 {
        let n = tokio::time::timeout(Duration::from_secs(20), finished.recv())
            .await
            .unwrap()
            .unwrap();
        seen.push(n);
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![1, 10, 11, 12, 13, 14],
        "job 1 on its second attempt, and the rest"
    );
    // The always-panicking job: dead after its three attempts (the pool buries it on its own).
    let dead = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let dead: Option<(i32, String)> = sqlx::query_as(
            "SELECT attempts, last_error FROM jobs WHERE state = 'dead' AND payload->>'n' = '-1'",
        )
        .fetch_optional(&pool)
        .await
        .unwrap();
            match dead {
                Some(dead) => break dead,
                // Each attempt's retry is a few ms away; yield to the pool until it has buried it.
                None => tokio::task::yield_now().await,
            }
        }
    })
    .await
    .expect("the job went dead");
    assert_eq!(dead.0, 3);
    assert!(dead.1.contains("handler panicked"), "{}", dead.1);
    assert!(!running.is_finished(), "the pool is still running");
    shutdown.cancel();
    running.await.unwrap().unwrap();
    let panics = metric("salesbot_job_panics_total{kind=\"panicky\"}").await - panics_before;
    assert!(
        panics >= 4.0,
        "one for job 1 and three for job -1: {panics}"
    );
}

/// The web process's background tasks (here its reply listener) under the process's supervisor:
/// killing one stops the whole server instead of leaving it answering without it.
#[sqlx::test]
async fn a_killed_listener_stops_the_web_process(pool: PgPool) {
    let app = spawn_app(pool).await;
    assert_eq!(app.get("/health", None).await.status(), 200);
    assert!(app.supervisor.kill("replies-listener"));
    tokio::time::timeout(Duration::from_secs(10), app.supervisor.failed())
        .await
        .expect("the supervisor saw the task end");
    assert_eq!(
        app.supervisor.failure().as_deref(),
        Some("task `replies-listener` was killed")
    );
    let server = app.server.lock().unwrap().take().unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
    assert!(
        app.client.get(app.url("/health")).send().await.is_err(),
        "nothing answers any more"
    );
}

/// `salesbot all`, composed as main.rs composes it: /ready follows the worker pool, and a worker
/// that stops takes the process down with it.
#[sqlx::test]
async fn all_in_one_is_ready_only_with_its_worker_and_stops_with_it(pool: PgPool) {
    let shutdown = CancellationToken::new();
    let supervisor = Supervisor::new(shutdown.clone());
    let config = test_config();
    let service = crate::helpers::service(&pool);
    let workers = WorkerPool::new(service.clone(), Registry::new(), fast_config());
    let pulse = workers.pulse();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = salesbot::startup::Application::with_listener(
        &config,
        service,
        listener,
        &supervisor,
        Some(pulse.clone()),
    );
    let url = format!("http://{}/ready", app.local_addr().unwrap());
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let client = crate::helpers::client_builder().build().unwrap();
    let ready = || async {
        let resp = client.get(&url).send().await.unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    };

    // Not started yet: the web half alone is not ready.
    let (status, body) = ready().await;
    assert_eq!(
        (status, body["worker"].as_str()),
        (503, Some("stopped")),
        "{body}"
    );

    supervisor
        .scope(shutdown.clone())
        .spawn("worker", async move { workers.run(shutdown).await });
    // The pool beats as soon as its claim loop turns.
    tokio::time::timeout(Duration::from_secs(10), async {
        while !pulse.is_alive(Duration::from_secs(30)) {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the pool beats");
    let (status, body) = ready().await;
    assert_eq!(
        (status, body["worker"].as_str()),
        (200, Some("running")),
        "{body}"
    );

    assert!(supervisor.kill("worker"));
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the web half stopped too")
        .unwrap()
        .unwrap();
    assert_eq!(
        supervisor.failure().as_deref(),
        Some("task `worker` was killed")
    );
}
