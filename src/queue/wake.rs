//! Waking workers: LISTEN/NOTIFY for speed, a poll as the safety net.
//!
//! A NOTIFY inside every enqueue transaction serialises commits in Postgres (the notify queue lock is
//! held across the commit's WAL flush: −45 % one-by-one enqueue throughput, queue.md §4). So workers
//! *park*: a worker whose claim came back empty counts itself in `queue_wake.parked`, claims once more
//! (closing the race with a producer that committed in between), and only then waits. Producers, after
//! their commit, send a NOTIFY only while some worker is parked — a busy queue pays nothing.
//!
//! The listener's connection can die silently (a NAT or proxy drops it without a reset), so an idle
//! listener is pinged; on failure it reconnects and reports a wake-up, because notifications may have
//! been missed meanwhile. A lost notification costs at most the poll interval.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;

use super::WAKE_CHANNEL;
use crate::supervisor::TaskScope;

/// At most one parked-worker check per this interval: under a burst of enqueues the checks
/// themselves would otherwise be a round trip per few jobs; one idle producer still wakes at once.
const WAKE_DEBOUNCE: Duration = Duration::from_millis(1);

/// Producer side: `wake()` after committing enqueued jobs. It is cheap (in-process); a background
/// task turns bursts of wakes into one conditional NOTIFY.
#[derive(Clone)]
pub struct Waker {
    notify: Arc<Notify>,
}

impl Waker {
    pub fn spawn(pool: PgPool, tasks: &TaskScope) -> Self {
        let notify = Arc::new(Notify::new());
        let wakes = notify.clone();
        let shutdown = tasks.stop().clone();
        tasks.spawn("waker", async move {
            let mut last_check = tokio::time::Instant::now() - WAKE_DEBOUNCE;
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = wakes.notified() => {}
                }
                let next_check = last_check + WAKE_DEBOUNCE;
                if next_check > tokio::time::Instant::now() {
                    tokio::time::sleep_until(next_check).await;
                }
                last_check = tokio::time::Instant::now();
                if let Err(err) = notify_parked(&pool).await {
                    tracing::warn!(error = %err, "could not wake parked workers (they poll anyway)");
                }
            }
            Ok(())
        });
        Self { notify }
    }

    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// NOTIFY if (and only if) a worker is parked. synchronous_commit is off for this one transaction: a
/// lost wake-up is covered by the poll, so there is no reason to wait for a WAL flush.
pub async fn notify_parked(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')
         FROM queue_wake WHERE parked > 0",
        WAKE_CHANNEL
    )
    .fetch_all(pool)
    .await?;
    Ok(())
}

/// For a latency-sensitive producer: NOTIFY parked workers as part of the caller's transaction, so
/// they wake as its commit lands instead of one round trip after it (bench/queue, recorded runs:
/// pickup p50 0.74–0.87 ms against 1.05–1.37 ms, p99 2.4–3.2 against 3.4–4.1 ms). Only while a
/// worker is parked, because a NOTIFY serialises commits; even so it suits low-rate producers, not
/// bulk ones (queue.md §4: −45 % one-by-one throughput when every transaction notifies). Returns whether it notified; if not, call [`Waker::wake`] after the
/// commit as usual, because a worker may park between this check and the commit.
pub async fn notify_at_commit(conn: &mut sqlx::PgConnection) -> Result<bool, sqlx::Error> {
    let notified = sqlx::query_scalar!(
        r#"SELECT true AS "notified!" FROM (SELECT pg_notify($1, '') FROM queue_wake WHERE parked > 0) n"#,
        WAKE_CHANNEL
    )
    .fetch_optional(conn)
    .await?;
    Ok(notified.is_some())
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    Notified,
    /// The poll interval passed (the safety net).
    Timeout,
    /// The listener reconnected; notifications may have been missed.
    Reconnected,
}

/// Worker side: one LISTEN connection per worker pool.
pub struct Listener {
    pool: PgPool,
    listener: Option<PgListener>,
    /// How long a listener may sit idle before it is pinged.
    ping_after: Duration,
    idle_since: tokio::time::Instant,
}

const PING_TIMEOUT: Duration = Duration::from_secs(5);

impl Listener {
    pub async fn connect(pool: &PgPool) -> Self {
        let mut this = Self {
            pool: pool.clone(),
            listener: None,
            ping_after: Duration::from_secs(15),
            idle_since: tokio::time::Instant::now(),
        };
        this.reconnect().await;
        this
    }

    async fn reconnect(&mut self) -> bool {
        self.listener = None;
        match PgListener::connect_with(&self.pool).await {
            Ok(mut listener) => match listener.listen(WAKE_CHANNEL).await {
                Ok(()) => {
                    self.listener = Some(listener);
                    self.idle_since = tokio::time::Instant::now();
                    true
                }
                Err(err) => {
                    tracing::warn!(error = %err, "LISTEN failed; polling until it works");
                    false
                }
            },
            Err(err) => {
                tracing::warn!(error = %err, "cannot open the LISTEN connection; polling until it works");
                false
            }
        }
    }

    /// Waits for a notification, at most `poll` long.
    pub async fn wait(&mut self, poll: Duration) -> Wake {
        if self.listener.is_none() {
            tokio::time::sleep(poll).await;
            return if self.reconnect().await {
                Wake::Reconnected
            } else {
                Wake::Timeout
            };
        }
        if self.idle_since.elapsed() >= self.ping_after && !self.ping().await {
            tracing::warn!("LISTEN connection is dead; reconnecting");
            self.reconnect().await;
            return Wake::Reconnected;
        }
        let listener = self.listener.as_mut().expect("checked above");
        match tokio::time::timeout(poll, listener.try_recv()).await {
            Ok(Ok(Some(_))) => {
                // Drain whatever else arrived: one claim serves them all.
                while listener.next_buffered().is_some() {}
                self.idle_since = tokio::time::Instant::now();
                Wake::Notified
            }
            // sqlx reconnected after losing the connection.
            Ok(Ok(None)) => {
                self.idle_since = tokio::time::Instant::now();
                Wake::Reconnected
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "LISTEN connection failed; reconnecting");
                self.reconnect().await;
                Wake::Reconnected
            }
            Err(_) => Wake::Timeout,
        }
    }

    async fn ping(&mut self) -> bool {
        let Some(listener) = self.listener.as_mut() else {
            return false;
        };
        let alive = matches!(
            tokio::time::timeout(
                PING_TIMEOUT,
                sqlx::query("SELECT 1").execute(&mut *listener)
            )
            .await,
            Ok(Ok(_))
        );
        if alive {
            self.idle_since = tokio::time::Instant::now();
        }
        alive
    }
}

/// Counts this worker as parked; `unpark` must follow (the worker claims first, then unparks, so a
/// producer that saw the count still finds someone to wake).
pub async fn park(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE queue_wake SET parked = parked + 1")
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn unpark(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE queue_wake SET parked = greatest(parked - 1, 0)")
        .execute(pool)
        .await?;
    Ok(())
}

/// Checks at start that notifications reach this process. A transaction-mode connection pooler (e.g.
/// PgBouncer with pool_mode=transaction) silently breaks LISTEN; workers then rely on polling alone,
/// and the operator is told.
pub async fn listen_works(pool: &PgPool) -> bool {
    let channel = format!("salesbot_probe_{}", uuid::Uuid::new_v4().simple());
    let probe = async {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(&channel).await?;
        sqlx::query("SELECT pg_notify($1, 'probe')")
            .bind(&channel)
            .execute(pool)
            .await?;
        let received = tokio::time::timeout(Duration::from_secs(3), listener.try_recv()).await;
        Ok::<bool, sqlx::Error>(matches!(received, Ok(Ok(Some(_)))))
    };
    match probe.await {
        Ok(true) => true,
        Ok(false) => {
            tracing::error!(
                "LISTEN/NOTIFY does not work on this database connection (a transaction-mode pooler?): \
                 workers will poll every second instead of waking at once; connect workers directly or \
                 through a session-mode pooler"
            );
            false
        }
        Err(err) => {
            tracing::error!(error = %err, "LISTEN/NOTIFY check failed; workers will poll");
            false
        }
    }
}
