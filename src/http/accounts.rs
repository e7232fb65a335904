//! The web process's copy of the accounts its requests authenticate as, so a request does not read
//! its user from the database every time (on `POST /api/chat` that read was one of two statements;
//! dropping it cut the end-to-end benchmark's CPU per message by about a quarter, BENCHMARKS.md).
//!
//! A change to an account must still refuse its tokens at once, not when they expire: a trigger
//! NOTIFYs `salesbot_accounts` on every change to `users` and on a tenant's rename or deletion
//! (migrations/0015_account_changes.sql), and the process's listener (`replies.rs`) evicts what
//! changed. The cache is used only while that listener is connected: until it is, after it fails,
//! and while it reconnects, every request reads the database, because notifications may be lost
//! then. An entry also lives at most [`TTL`], which bounds staleness if the listener's connection
//! died without the listener noticing.
//!
//! A generation counter closes the race between a request's read and an eviction: a read that
//! started before an eviction is not stored (it may have seen the account before the change).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::db::users::User;
use crate::domain::UserId;

/// The channel the trigger notifies: a user's id, or `*` for "anything may have changed".
pub const ACCOUNTS_CHANNEL: &str = "salesbot_accounts";

/// Longest an entry is used without being read again.
pub const TTL: Duration = Duration::from_secs(30);

/// Entries kept at most; past it the cache starts over (a web process serves far fewer accounts).
const CAPACITY: usize = 10_000;

#[derive(Clone)]
pub struct AccountCache {
    inner: Arc<Mutex<Inner>>,
    /// The eviction count, bumped while `inner` is locked (so a store compares it with its ticket
    /// consistently); tests wait on it instead of sleeping.
    generation: Arc<watch::Sender<u64>>,
}

struct Inner {
    /// The listener is connected and LISTENing, so evictions arrive.
    live: bool,
    entries: HashMap<UserId, (User, Instant)>,
}

/// Taken before a database read; the read is stored only if nothing was evicted since.
#[derive(Clone, Copy)]
pub struct Ticket(u64);

impl Default for AccountCache {
    fn default() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                live: false,
                entries: HashMap::new(),
            })),
            generation: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl AccountCache {
    /// The cached account, if the cache is live and the entry fresh.
    pub fn get(&self, id: UserId) -> Option<User> {
        let inner = self.lock();
        if !inner.live {
            return None;
        }
        inner
            .entries
            .get(&id)
            .filter(|(_, stored)| stored.elapsed() < TTL)
            .map(|(user, _)| user.clone())
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation())
    }

    /// Stores what a read taken with `ticket` found, unless something was evicted since.
    pub fn store(&self, ticket: Ticket, user: User) {
        let mut inner = self.lock();
        if !inner.live || self.generation() != ticket.0 {
            return;
        }
        if inner.entries.len() >= CAPACITY {
            inner.entries.clear();
        }
        inner.entries.insert(user.id, (user, Instant::now()));
    }

    /// What the listener heard on [`ACCOUNTS_CHANNEL`].
    pub fn changed(&self, payload: &str) {
        match payload.parse::<uuid::Uuid>() {
            Ok(id) => self.evict(|inner| {
                inner.entries.remove(&UserId(id));
            }),
            Err(_) => self.evict(|inner| inner.entries.clear()),
        }
    }

    /// The listener is connected and LISTENing (true), or has lost its connection (false). Either
    /// way what is cached may have missed changes, so it is dropped.
    pub fn set_live(&self, live: bool) {
        self.evict(|inner| {
            inner.entries.clear();
            inner.live = live;
        });
    }

    /// The eviction count; with [`Self::evicted_since`], a test waits for an eviction to arrive.
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// Returns once anything was evicted after `generation` was read.
    pub async fn evicted_since(&self, generation: u64) {
        let mut seen = self.generation.subscribe();
        let _ = seen.wait_for(|now| *now > generation).await;
    }

    fn evict(&self, how: impl FnOnce(&mut Inner)) {
        let mut inner = self.lock();
        how(&mut inner);
        self.generation.send_modify(|generation| *generation += 1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The critical sections cannot panic midway, so a poisoned lock still holds sound data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, TenantId};

    fn user() -> User {
        User {
            id: UserId(uuid::Uuid::new_v4()),
            tenant_id: TenantId(uuid::Uuid::new_v4()),
            tenant_name: "Stroy".into(),
            email: "a@stroy.kz".into(),
            role: Role::Owner,
            is_active: true,
            is_platform_admin: false,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn nothing_is_cached_until_the_listener_is_live() {
        let cache = AccountCache::default();
        let u = user();
        cache.store(cache.ticket(), u.clone());
        assert!(cache.get(u.id).is_none());
        cache.set_live(true);
        cache.store(cache.ticket(), u.clone());
        assert_eq!(cache.get(u.id).map(|c| c.id), Some(u.id));
        cache.set_live(false);
        assert!(cache.get(u.id).is_none(), "a lost listener drops the cache");
    }

    #[test]
    fn a_read_that_raced_an_eviction_is_not_stored() {
        let cache = AccountCache::default();
        cache.set_live(true);
        let u = user();
        let ticket = cache.ticket();
        // The account changes while the request's read is in flight.
        cache.changed(&u.id.0.to_string());
        cache.store(ticket, u.clone());
        assert!(cache.get(u.id).is_none());
        cache.store(cache.ticket(), u.clone());
        assert!(cache.get(u.id).is_some());
    }

    #[test]
    fn a_change_evicts_its_user_and_a_star_evicts_everyone() {
        let cache = AccountCache::default();
        cache.set_live(true);
        let (a, b) = (user(), user());
        cache.store(cache.ticket(), a.clone());
        cache.store(cache.ticket(), b.clone());
        let before = cache.generation();
        cache.changed(&a.id.0.to_string());
        assert!(cache.generation() > before);
        assert!(cache.get(a.id).is_none());
        assert!(cache.get(b.id).is_some());
        cache.changed("*");
        assert!(cache.get(b.id).is_none());
    }
}
