//! Every long-running task of a process runs under a [`Supervisor`], so the process is never
//! half-alive: a task that ends before it is told to — returns, fails, panics or is killed — stops
//! the whole process, which exits non-zero and is restarted by the platform (Render, systemd).
//!
//! Restarting the task in place was the alternative. It would hide the failure from the platform
//! and keep a process running whose state the dead task may have left inconsistent (the ingest
//! batcher's queue, the reply listener's waiters); a restart of the process is the state every
//! part of it is tested from. svix-webhooks #1511 is the failure this prevents: a worker that
//! died inside a combined container while HTTP kept answering 200.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use tokio::task::{AbortHandle, JoinHandle};
use tokio_util::sync::CancellationToken;

/// Watches a process's tasks; the first unexpected end is the process's failure.
#[derive(Clone)]
pub struct Supervisor {
    /// Cancelled on the first failure: the process shuts down as on SIGTERM.
    process: CancellationToken,
    failure: Arc<Mutex<Option<String>>>,
    failed: CancellationToken,
    running: Arc<Mutex<Vec<(&'static str, AbortHandle)>>>,
}

impl Supervisor {
    /// A supervisor that stops `process` (the process's shutdown token) when a task fails.
    pub fn new(process: CancellationToken) -> Self {
        Self {
            process,
            failure: Arc::default(),
            failed: CancellationToken::new(),
            running: Arc::default(),
        }
    }

    /// The process's shutdown token.
    pub fn process(&self) -> &CancellationToken {
        &self.process
    }

    /// Tasks that are to run until `stop` is cancelled.
    pub fn scope(&self, stop: CancellationToken) -> TaskScope {
        TaskScope {
            supervisor: self.clone(),
            stop,
        }
    }

    /// Why the process failed, once a task has.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().expect("failure").clone()
    }

    /// Resolves when a task fails.
    pub async fn failed(&self) {
        self.failed.cancelled().await
    }

    /// Ends a task as a crash would: for tests of exactly that, and for an operator's drill.
    pub fn kill(&self, name: &str) -> bool {
        let running = self.running.lock().expect("running");
        let mut found = false;
        for (task, handle) in running.iter().filter(|(task, _)| *task == name) {
            tracing::warn!(task, "killing task");
            handle.abort();
            found = true;
        }
        found
    }

    fn fail(&self, name: &'static str, why: String) {
        tracing::error!(task = name, reason = %why, "a task of this process stopped; shutting down");
        crate::metrics::task_failed(name);
        self.failure
            .lock()
            .expect("failure")
            .get_or_insert_with(|| format!("task `{name}` {why}"));
        self.failed.cancel();
        self.process.cancel();
    }
}

/// Spawns tasks that should run until `stop`: ending earlier is the process's failure.
#[derive(Clone)]
pub struct TaskScope {
    supervisor: Supervisor,
    stop: CancellationToken,
}

impl TaskScope {
    /// A scope of its own, for tests and tools that start one component alone.
    pub fn standalone(stop: CancellationToken) -> Self {
        Supervisor::new(CancellationToken::new()).scope(stop)
    }

    /// The token that ends this scope's tasks normally.
    pub fn stop(&self) -> &CancellationToken {
        &self.stop
    }

    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// Runs `task`; if it ends before `stop` is cancelled — an `Err`, an `Ok`, a panic, or an
    /// abort — the process fails with that reason.
    pub fn spawn<F>(&self, name: &'static str, task: F) -> JoinHandle<()>
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let inner = tokio::spawn(AssertUnwindSafe(task).catch_unwind());
        self.supervisor
            .running
            .lock()
            .expect("running")
            .push((name, inner.abort_handle()));
        let (supervisor, stop) = (self.supervisor.clone(), self.stop.clone());
        tokio::spawn(async move {
            let ended = inner.await;
            if stop.is_cancelled() {
                return;
            }
            let why = match ended {
                Ok(Ok(Ok(()))) => "ended unexpectedly".to_owned(),
                Ok(Ok(Err(err))) => format!("failed: {err:#}"),
                Ok(Err(panic)) => format!("panicked: {}", panic_message(panic.as_ref())),
                Err(join) if join.is_cancelled() => "was killed".to_owned(),
                Err(join) => format!("ended: {join}"),
            };
            supervisor.fail(name, why);
        })
    }
}

/// The worker pool's sign of life, stamped on every turn of its claim loop (which turns at least
/// once per job deadline, each shorter than the lease). `/ready` of a process that runs the pool
/// beside the API (`salesbot all`) reads it: a pool that stopped or hangs makes the process unready.
#[derive(Clone)]
pub struct WorkerPulse {
    since: std::time::Instant,
    /// Milliseconds after `since` of the last beat; 0 before the first and after the pool stopped.
    last: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for WorkerPulse {
    fn default() -> Self {
        Self {
            since: std::time::Instant::now(),
            last: Arc::default(),
        }
    }
}

impl WorkerPulse {
    pub fn beat(&self) {
        let now = self.since.elapsed().as_millis() as u64;
        self.last
            .store(now.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// The pool has stopped: no pulse until it runs again.
    pub fn stop(&self) {
        self.last.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// A beat within `within`.
    pub fn is_alive(&self, within: std::time::Duration) -> bool {
        let last = self.last.load(std::sync::atomic::Ordering::Relaxed);
        last > 0 && self.since.elapsed().as_millis() as u64 <= last + within.as_millis() as u64
    }
}

/// The message a panic was raised with (`panic!("…")` payloads are `&str` or `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_ends_early_fails_the_process_and_one_stopped_does_not() {
        let process = CancellationToken::new();
        let supervisor = Supervisor::new(process.clone());
        let stop = CancellationToken::new();
        let scope = supervisor.scope(stop.clone());

        // Told to stop: a normal end.
        let quiet = scope.spawn("quiet", {
            let stop = stop.clone();
            async move {
                stop.cancelled().await;
                Ok(())
            }
        });
        stop.cancel();
        quiet.await.unwrap();
        assert_eq!(supervisor.failure(), None);
        assert!(!process.is_cancelled());

        // Ending on its own, panicking, failing, killed: each stops the process, the first counts.
        for (name, task) in [
            (
                "panics",
                Box::pin(async {
                    panic!("boom");
                    #[allow(unreachable_code)]
                    Ok(())
                }) as futures_util::future::BoxFuture<'static, anyhow::Result<()>>,
            ),
            (
                "fails",
                Box::pin(async { anyhow::bail!("lost the database") }),
            ),
            ("returns", Box::pin(async { Ok(()) })),
        ] {
            let supervisor = Supervisor::new(CancellationToken::new());
            let scope = supervisor.scope(CancellationToken::new());
            scope.spawn(name, task).await.unwrap();
            assert!(supervisor.process().is_cancelled(), "{name}");
            let failure = supervisor.failure().unwrap();
            assert!(failure.starts_with(&format!("task `{name}`")), "{failure}");
        }
        let supervisor = Supervisor::new(CancellationToken::new());
        let watcher = supervisor
            .scope(CancellationToken::new())
            .spawn("listener", std::future::pending());
        assert!(supervisor.kill("listener"));
        watcher.await.unwrap();
        assert_eq!(
            supervisor.failure().as_deref(),
            Some("task `listener` was killed")
        );
    }
}
