//! Building and running the web application, the same way in `main` and in tests:
//! `Application::build` binds the listener (tests bind port 0), `run_until_stopped` serves until the
//! process's shutdown token is cancelled and then gives in-flight requests the grace period to
//! finish. The application's background tasks run under the process's [`Supervisor`]: one ending
//! early stops the process.

use std::net::SocketAddr;
use std::time::Duration;

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::accounts::AccountCache;
use crate::http::{self, AppState};
use crate::supervisor::{Supervisor, WorkerPulse};

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    grace: Duration,
    /// Stops the state's background tasks once the server has stopped.
    tasks: CancellationToken,
    accounts: AccountCache,
}

impl Application {
    pub async fn build(
        config: &Config,
        pool: PgPool,
        supervisor: &Supervisor,
        worker: Option<WorkerPulse>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self::with_listener(
            config, pool, listener, supervisor, worker,
        ))
    }

    /// `worker`: the pulse of a worker pool running in the same process, which /ready then checks.
    pub fn with_listener(
        config: &Config,
        pool: PgPool,
        listener: TcpListener,
        supervisor: &Supervisor,
        worker: Option<WorkerPulse>,
    ) -> Self {
        let tasks = CancellationToken::new();
        let mut state = AppState::new(config, pool, &supervisor.scope(tasks.clone()));
        state.worker = worker;
        Self {
            accounts: state.accounts.clone(),
            listener,
            router: http::router(config, state),
            grace: config.shutdown_grace,
            tasks,
        }
    }

    /// The process's account cache (tests wait on its evictions).
    pub fn accounts(&self) -> AccountCache {
        self.accounts.clone()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let addr = self.listener.local_addr()?;
        tracing::info!(%addr, "listening on http://{addr}");
        let stopping = shutdown.clone();
        // The router's state holds the ingest batcher's sender, and the batcher ends when the last
        // one is dropped: this clone outlives the drop guard below (declared after it, dropped
        // before it), so the tasks are told to stop first and the batcher's end is never taken
        // for a failure (it was, now and then, when the server's own copy went first).
        let _router_until_tasks_stop = self.router.clone();
        let server = http::serve(self.listener, self.router, async move {
            stopping.cancelled().await
        });
        tokio::pin!(server);
        let _stop_tasks = self.tasks.drop_guard();
        tokio::select! {
            result = &mut server => result,
            () = async { shutdown.cancelled().await; tokio::time::sleep(self.grace).await } => {
                tracing::warn!(grace = ?self.grace, "requests still running after the grace period; stopping anyway");
                Ok(())
            }
        }
    }
}
