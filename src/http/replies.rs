//! Waiting for replies without polling: one LISTEN connection per web process, fanned out to the
//! requests that wait for a conversation (`POST /api/chat` in sync mode, long-poll).
//!
//! Workers NOTIFY `salesbot_replies` with the bot user's id after a turn commits. A waiter subscribes
//! *before* it checks the database, so a reply that lands between the check and the wait still wakes
//! it. When the listener reconnects every waiter is woken to re-check (notifications may have been
//! missed); a lost notification costs the waiter at most its timeout, never a wrong answer.
//!
//! The same connection carries the account changes that evict the process's account cache
//! (`accounts.rs`); the cache is used only while this listener is connected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::db::messages::REPLIES_CHANNEL;
use crate::http::accounts::{ACCOUNTS_CHANNEL, AccountCache};
use crate::supervisor::TaskScope;

#[derive(Clone, Default)]
pub struct ReplyHub {
    waiters: Arc<Mutex<HashMap<Uuid, Weak<Notify>>>>,
}

/// A subscription to one conversation's replies.
pub struct Subscription {
    notify: Arc<Notify>,
}

impl Subscription {
    pub fn notify(&self) -> &Notify {
        &self.notify
    }
}

/// Waits before the listener tries again (a server refusing LISTEN would otherwise be asked in a
/// tight loop); false if the process is shutting down.
async fn pause(shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(Duration::from_secs(1)) => true,
    }
}

impl ReplyHub {
    /// Starts the listener task (until `shutdown`); it also keeps `accounts` evicted and live.
    pub fn spawn(pool: PgPool, accounts: AccountCache, tasks: &TaskScope) -> Self {
        let hub = Self::default();
        let this = hub.clone();
        let shutdown = tasks.stop().clone();
        tasks.spawn("replies-listener", async move {
            loop {
                let mut listener = match PgListener::connect_with(&pool).await {
                    Ok(l) => l,
                    Err(err) => {
                        tracing::warn!(error = %err, "replies listener: cannot connect; retrying");
                        if pause(&shutdown).await {
                            continue;
                        }
                        return Ok(());
                    }
                };
                if let Err(err) = listener
                    .listen_all([REPLIES_CHANNEL, ACCOUNTS_CHANNEL])
                    .await
                {
                    tracing::warn!(error = %err, "replies listener: LISTEN failed; retrying");
                    if pause(&shutdown).await {
                        continue;
                    }
                    return Ok(());
                }
                accounts.set_live(true);
                this.wake_all();
                loop {
                    let next = tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        next = listener.try_recv() => next,
                    };
                    match next {
                        Ok(Some(n)) if n.channel() == ACCOUNTS_CHANNEL => {
                            accounts.changed(n.payload());
                        }
                        Ok(Some(n)) => {
                            if let Ok(id) = n.payload().parse::<Uuid>() {
                                this.wake(id);
                            }
                        }
                        // Reconnected after a lost connection: anything may have been missed.
                        Ok(None) => {
                            accounts.set_live(true);
                            this.wake_all();
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "replies listener failed; reconnecting");
                            accounts.set_live(false);
                            this.wake_all();
                            break;
                        }
                    }
                }
            }
        });
        hub
    }

    pub fn subscribe(&self, bot_user: Uuid) -> Subscription {
        let mut waiters = self.waiters.lock().expect("waiters");
        if let Some(notify) = waiters.get(&bot_user).and_then(Weak::upgrade) {
            return Subscription { notify };
        }
        let notify = Arc::new(Notify::new());
        waiters.insert(bot_user, Arc::downgrade(&notify));
        // Forget conversations nobody waits for any more.
        if waiters.len() > 1024 {
            waiters.retain(|_, w| w.strong_count() > 0);
        }
        Subscription { notify }
    }

    /// Wakes the requests of this process waiting on a conversation.
    pub fn wake(&self, bot_user: Uuid) {
        let notify = self
            .waiters
            .lock()
            .expect("waiters")
            .get(&bot_user)
            .and_then(Weak::upgrade);
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }

    fn wake_all(&self) {
        let all: Vec<Arc<Notify>> = self
            .waiters
            .lock()
            .expect("waiters")
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for notify in all {
            notify.notify_waiters();
        }
    }
}
