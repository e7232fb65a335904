//! getUpdates long-poll mode (TELEGRAM_POLLING), for running without a public URL: one poller per
//! company bot feeds the same recording path as the webhook (`db::telegram::updates::record_update`).
//!
//! One poller per bot across worker processes: a poller holds a session advisory lock on a
//! connection of its own while it polls (so this mode costs one connection per bot — it is meant
//! for local use; production uses webhooks). The offset is stored after the updates it covers were
//! recorded: a crash in between asks for them again, and recording deduplicates by update_id.

use futures_util::FutureExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::db;
use crate::domain::TenantId;
use crate::queue::wake::Waker;
use crate::telegram_api::Update;
use crate::workers::integrations::telegram::TelegramError;
use crate::workers::telegram::Telegram;

/// How long one getUpdates call waits for an update (inside the client's 15 s timeout).
const LONG_POLL: Duration = Duration::from_secs(10);
/// How often new bots are looked for.
const REFRESH: Duration = Duration::from_secs(30);
/// Pause after a failed call that gave no retry_after.
const PAUSE_AFTER_ERROR: Duration = Duration::from_secs(5);

/// One getUpdates call and the recording of what it brought. None: the tenant has no bot any more.
pub async fn poll_once(
    db: &PgPool,
    telegram: &Telegram,
    tenant: TenantId,
    wait: Duration,
) -> anyhow::Result<Option<usize>> {
    let Some(bot) = telegram
        .bot(db, tenant)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    else {
        return Ok(None);
    };
    let offset = db::telegram::updates::poll_offset(db, tenant).await?;
    let updates = telegram
        .client
        .get_updates(&bot.token, offset, wait)
        .await?;
    let mut next = offset;
    for raw in &updates {
        let Some(update_id) = raw["update_id"].as_i64() else {
            continue;
        };
        match serde_json::from_value::<Update>(raw.clone()) {
            Ok(update) => {
                let bot_id = db::telegram::bots::bot_id(bot.token.expose());
                db::telegram::updates::record_update(db, tenant, bot_id, &update).await?;
            }
            Err(err) => {
                tracing::warn!(tenant_id = %tenant, update_id, error = %err, "unreadable Telegram update skipped");
            }
        }
        next = next.max(update_id + 1);
    }
    if next > offset {
        db::telegram::updates::store_poll_offset(db, tenant, next).await?;
    }
    Ok(Some(updates.len()))
}

/// Polls every company bot until `shutdown`. A bot's poller that stops (its bot removed, another
/// process polling it, or a failure) is started again at the next refresh: one company's bot
/// never stops the others'.
pub async fn run(
    db: PgPool,
    telegram: Arc<Telegram>,
    waker: Waker,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!("Telegram getUpdates mode: polling the companies' bots");
    let mut pollers: HashMap<TenantId, JoinHandle<()>> = HashMap::new();
    loop {
        pollers.retain(|tenant, task| {
            if !task.is_finished() {
                return true;
            }
            if let Some(Err(err)) = task.now_or_never() {
                tracing::error!(tenant_id = %tenant, error = %err, "a bot's poller failed; it starts again");
            }
            false
        });
        match db::telegram::bots::tenants_with_bots(&db).await {
            Ok(tenants) => {
                for tenant in tenants {
                    pollers.entry(tenant).or_insert_with(|| {
                        tokio::spawn(poll_bot(
                            db.clone(),
                            telegram.clone(),
                            waker.clone(),
                            tenant,
                            shutdown.clone(),
                        ))
                    });
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot list the companies' bots"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(REFRESH) => {}
        }
    }
    for task in pollers.values() {
        task.abort();
    }
    Ok(())
}

async fn poll_bot(
    db: PgPool,
    telegram: Arc<Telegram>,
    waker: Waker,
    tenant: TenantId,
    shutdown: CancellationToken,
) {
    // A connection of our own (detached from the pool) holds the bot's lock while we poll.
    let mut lock_conn = match db.acquire().await {
        Ok(conn) => conn.detach(),
        Err(err) => {
            tracing::warn!(tenant_id = %tenant, error = %err, "no connection for the poller");
            return;
        }
    };
    let locked = db::telegram::bots::try_lock_poller(&mut lock_conn, tenant).await;
    if !matches!(locked, Ok(true)) {
        return; // another worker process polls this bot
    }
    if let Err(err) = telegram.set_webhook(&db, tenant).await {
        tracing::warn!(tenant_id = %tenant, error = %err, "could not remove the webhook");
    }
    loop {
        let outcome = tokio::select! {
            _ = shutdown.cancelled() => break,
            outcome = poll_once(&db, &telegram, tenant, LONG_POLL) => outcome,
        };
        let pause = match outcome {
            Ok(None) => break, // the bot was removed
            Ok(Some(0)) => continue,
            Ok(Some(_)) => {
                waker.wake();
                continue;
            }
            Err(err) => match err.downcast_ref::<TelegramError>() {
                Some(TelegramError::RateLimited { retry_after }) => *retry_after,
                _ => {
                    tracing::warn!(tenant_id = %tenant, error = %err, "getUpdates failed");
                    PAUSE_AFTER_ERROR
                }
            },
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }
    drop(lock_conn); // closing the connection releases the lock
}
