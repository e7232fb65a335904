//! The worker side: everything that performs side effects after a message is recorded.
//!
//! Today this holds only the process shell of `salesbot work`; the durable queue, the worker pool
//! and the pipeline stages arrive with issue [B] and the pipeline issues ([C1], …).

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Runs the worker process until `shutdown` is cancelled.
pub async fn run(pool: PgPool, shutdown: CancellationToken) -> anyhow::Result<()> {
    // Keep the pool alive (and its connections checked) for the lifetime of the worker process.
    sqlx::query("SELECT 1").execute(&pool).await?;
    tracing::info!("worker started (no job kinds are registered yet)");
    shutdown.cancelled().await;
    tracing::info!("worker stopped");
    Ok(())
}
