//! Authentication: JWT access tokens (HS256, prototype-compatible claims), bcrypt passwords, and the
//! [`AuthUser`] extractor every tenant route takes.
//!
//! The token names the user; each request checks the account as it is now (from the process's
//! account cache, which the database's change notifications evict, else by one primary-key read),
//! so a deactivated account is refused at once rather than when its token expires.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::config::Secret;
use crate::db;
use crate::domain::api_key::{self, Scope};
use crate::domain::{Password, Role, TenantId, UserId};
use crate::error::AppError;

use super::AppState;

/// The token's payload: the prototype's `sub` (email) and `exp`, plus ids so a token names exactly
/// one account and tenant.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub uid: UserId,
    pub tid: TenantId,
}

/// Keys and settings for issuing and checking tokens and passwords.
pub struct AuthKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    bcrypt_cost: u32,
    /// A hash to verify against when the email is unknown, so both failures take the same time.
    dummy_hash: OnceCell<String>,
    hashing: CpuSlots,
}

impl AuthKeys {
    pub fn new(secret: &Secret, ttl: Duration, bcrypt_cost: u32) -> Arc<Self> {
        hs256::install();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 0;
        let key = secret.expose().as_bytes();
        Arc::new(Self {
            // Config has already refused a SECRET_KEY shorter than 32 characters.
            encoding: EncodingKey::from_secret(key).expect("SECRET_KEY is not empty"),
            decoding: DecodingKey::from_secret(key).expect("SECRET_KEY is not empty"),
            validation,
            ttl,
            bcrypt_cost,
            dummy_hash: OnceCell::new(),
            hashing: CpuSlots::for_this_machine(),
        })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, user: &db::users::User) -> Result<String, AppError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.email.clone(),
            exp: now + self.ttl.as_secs() as i64,
            iat: now,
            uid: user.id,
            tid: user.tenant_id,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|d| d.claims)
    }

    /// bcrypt is deliberately slow: run it off the async threads, a core's worth at a time.
    pub async fn hash_password(&self, password: &Password) -> Result<String, AppError> {
        let password = password.expose().to_owned();
        let cost = self.bcrypt_cost;
        self.hashing
            .run(move || bcrypt::hash(password, cost))
            .await?
            .map_err(AppError::internal)
    }

    /// Checks a password against a stored hash; `None` (unknown account) checks against a dummy hash so
    /// the answer takes as long as for a wrong password.
    pub async fn verify_password(
        &self,
        password: &str,
        hash: Option<&str>,
    ) -> Result<bool, AppError> {
        let (hash, real) = match hash {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash().await?, false),
        };
        let password = password.to_owned();
        let matches = self
            .hashing
            .run(move || bcrypt::verify(password, &hash))
            .await?
            .unwrap_or(false);
        Ok(real && matches)
    }

    async fn dummy_hash(&self) -> Result<String, AppError> {
        let cost = self.bcrypt_cost;
        self.dummy_hash
            .get_or_try_init(|| async move {
                self.hashing
                    .run(move || bcrypt::hash("not a real password", cost))
                    .await?
                    .map_err(AppError::internal)
            })
            .await
            .cloned()
    }
}

/// Runs CPU-bound work (bcrypt) on at most one blocking thread per core. Without it every login
/// took a blocking thread of its own (tokio allows 512), so a flood of logins took every core
/// from the requests that matter. Callers wait their turn; past `max_waiting` waiters a request
/// is turned away with 503 at once rather than queue for seconds.
pub struct CpuSlots {
    slots: Arc<tokio::sync::Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
    max_waiting: usize,
}

impl CpuSlots {
    pub fn new(slots: usize, max_waiting: usize) -> Self {
        Self {
            slots: Arc::new(tokio::sync::Semaphore::new(slots.max(1))),
            waiting: Default::default(),
            max_waiting,
        }
    }

    /// One slot per core; a cost-12 hash takes ~0.25 s, so 32 waiters per core is ~8 s of work.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores, 32 * cores)
    }

    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        use std::sync::atomic::Ordering;
        let busy = || AppError::Unavailable("too many sign-ins at once: try again shortly".into());
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                /// Counts a waiter out however its wait ends (a client that hangs up drops it).
                struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
                impl Drop for Waiting<'_> {
                    fn drop(&mut self) {
                        self.0.fetch_sub(1, Ordering::AcqRel);
                    }
                }
                let waiting = Waiting(&self.waiting);
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    return Err(busy());
                }
                let permit = self.slots.clone().acquire_owned().await;
                drop(waiting);
                permit.map_err(AppError::internal)?
            }
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(AppError::internal)
    }
}

/// The authenticated account behind a request. Taking it as a handler argument is what makes a route
/// tenant-scoped: `tenant_id` is the only tenant the handler may touch.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub email: String,
    pub role: Role,
    pub is_platform_admin: bool,
}

/// The credential a request presents: a sign-in token (`Authorization: Bearer <JWT>`) or an API
/// key (`Authorization: Bearer sk_…`, or `X-API-Key: sk_…`).
enum Credential<'a> {
    SignIn(&'a str),
    ApiKey(&'a str),
}

const API_KEY_HEADER: &str = "x-api-key";

fn credential(parts: &Parts) -> Result<Credential<'_>, AppError> {
    if let Some(value) = parts.headers.get(API_KEY_HEADER) {
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(invalid_api_key)?;
        return Ok(Credential::ApiKey(key));
    }
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| invalid_token("missing Authorization header"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            let (scheme, token) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid_token("expected `Authorization: Bearer <token>`"))?;
    Ok(if api_key::is_api_key(token) {
        Credential::ApiKey(token)
    } else {
        Credential::SignIn(token)
    })
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match credential(parts)? {
            Credential::SignIn(token) => AuthUser::signed_in(token, state).await,
            Credential::ApiKey(_) => Err(AppError::Forbidden(
                "this route takes a manager's sign-in; API keys cannot use it".into(),
            )),
        }
    }
}

impl AuthUser {
    /// Refuses (403) an account that is not the company's owner; `what` completes "only the
    /// company's owner …".
    pub fn require_owner(&self, what: &str) -> Result<(), AppError> {
        if self.role != Role::Owner {
            return Err(AppError::Forbidden(format!(
                "only the company's owner {what}"
            )));
        }
        Ok(())
    }

    /// The account a sign-in token names, as it is now (the API's bearer token, and the
    /// dashboard's session cookie, which holds one).
    pub(crate) async fn signed_in(token: &str, state: &AppState) -> Result<Self, AppError> {
        let claims = state.auth.verify(token).map_err(|err| {
            tracing::debug!(error = %err, "token refused");
            invalid_token("the access token is invalid or expired")
        })?;
        let user = match state.accounts.get(claims.uid) {
            Some(user) => Some(user),
            None => {
                let ticket = state.accounts.ticket();
                let user = db::users::by_id(&state.pool, claims.uid).await?;
                if let Some(user) = &user {
                    state.accounts.store(ticket, user.clone());
                }
                user
            }
        };
        let user = user
            .filter(|u| u.is_active && u.tenant_id == claims.tid && u.email == claims.sub)
            .ok_or_else(|| invalid_token("the account is disabled or no longer exists"))?;
        Ok(Self {
            user_id: user.id,
            tenant_id: user.tenant_id,
            tenant_name: user.tenant_name,
            email: user.email,
            role: user.role,
            is_platform_admin: user.is_platform_admin,
        })
    }
}

/// Who acts in a request a manager or an integration may make.
#[derive(Debug, Clone)]
pub enum Actor {
    User(AuthUser),
    ApiKey(db::api_keys::KeyHolder),
}

/// A scope a route requires of an API key ([`Authorized`]).
pub trait RequiredScope {
    const SCOPE: Scope;
}

macro_rules! required_scope {
    ($($name:ident => $scope:ident),+ $(,)?) => {
        $(
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = Scope::$scope;
            }
        )+
    };
}

required_scope! {
    ChatWrite => ChatWrite,
    LeadsRead => LeadsRead,
    LeadsWrite => LeadsWrite,
    WebhooksManage => WebhooksManage,
}

/// The extractor of routes an integration may call: a manager's sign-in (any scope), or an API
/// key that holds `S::SCOPE` (another scope: 403). `tenant_id` is the only tenant the handler may
/// touch, as with [`AuthUser`].
#[derive(Debug, Clone)]
pub struct Authorized<S> {
    pub tenant_id: TenantId,
    pub actor: Actor,
    scope: std::marker::PhantomData<S>,
}

impl<S> Authorized<S> {
    /// A signed-in account acting in its own company (the dashboard's forms, which call the API's
    /// handlers).
    pub(crate) fn user(user: AuthUser) -> Self {
        Self {
            tenant_id: user.tenant_id,
            actor: Actor::User(user),
            scope: std::marker::PhantomData,
        }
    }

    /// The acting account's or key's id, for logs.
    pub fn actor_id(&self) -> uuid::Uuid {
        match &self.actor {
            Actor::User(user) => user.user_id.0,
            Actor::ApiKey(key) => key.key_id,
        }
    }
}

impl<S: RequiredScope + Send + Sync> FromRequestParts<AppState> for Authorized<S> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let key = match credential(parts)? {
            Credential::SignIn(token) => {
                let user = AuthUser::signed_in(token, state).await?;
                return Ok(Self {
                    tenant_id: user.tenant_id,
                    actor: Actor::User(user),
                    scope: std::marker::PhantomData,
                });
            }
            Credential::ApiKey(key) => key,
        };
        let holder = db::api_keys::authenticate(&state.pool, key)
            .await?
            .ok_or_else(invalid_api_key)?;
        if !holder.scopes.contains(&S::SCOPE) {
            return Err(AppError::Forbidden(format!(
                "this API key lacks the `{}` scope",
                S::SCOPE
            )));
        }
        Ok(Self {
            tenant_id: holder.tenant_id,
            actor: Actor::ApiKey(holder),
            scope: std::marker::PhantomData,
        })
    }
}

fn invalid_api_key() -> AppError {
    AppError::Unauthorized {
        code: "invalid_api_key",
        message: "the API key is invalid or revoked".into(),
    }
}

fn invalid_token(message: &str) -> AppError {
    AppError::Unauthorized {
        code: "invalid_token",
        message: message.to_owned(),
    }
}

/// jsonwebtoken's crypto provider, HS256 and nothing else: tokens are only ever signed with
/// `SECRET_KEY`, so RSA/EC/EdDSA code (and the `rsa` crate's advisory) has no business in the binary.
/// Any other `alg` in a token's header is refused before a key is even looked at.
mod hs256 {
    use hmac::{Hmac, KeyInit, Mac};
    use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
    use jsonwebtoken::errors::{ErrorKind, Result};
    use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
    use sha2::Sha256;

    struct Hs256(Hmac<Sha256>);

    impl Hs256 {
        fn new(algorithm: &Algorithm, key: &[u8]) -> Result<Self> {
            if *algorithm != Algorithm::HS256 {
                return Err(ErrorKind::InvalidAlgorithm.into());
            }
            let mac = Hmac::new_from_slice(key).map_err(|_| ErrorKind::InvalidKeyFormat)?;
            Ok(Self(mac))
        }
    }

    impl Signer<Vec<u8>> for Hs256 {
        fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
            let mut mac = self.0.clone();
            mac.update(message);
            Ok(mac.finalize().into_bytes().to_vec())
        }
    }

    impl Verifier<Vec<u8>> for Hs256 {
        fn verify(
            &self,
            message: &[u8],
            signature: &Vec<u8>,
        ) -> std::result::Result<(), SignatureError> {
            let mut mac = self.0.clone();
            mac.update(message);
            // Constant time: `verify_slice` compares with `subtle`.
            mac.verify_slice(signature)
                .map_err(|_| SignatureError::new())
        }
    }

    impl JwtSigner for Hs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::HS256
        }
    }

    impl JwtVerifier for Hs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::HS256
        }
    }

    static PROVIDER: CryptoProvider = CryptoProvider {
        signer_factory: |algorithm: &Algorithm, key: &EncodingKey| {
            Ok(Box::new(Hs256::new(algorithm, key.as_bytes())?) as Box<dyn JwtSigner>)
        },
        verifier_factory: |algorithm: &Algorithm, key: &DecodingKey| {
            Ok(Box::new(Hs256::new(algorithm, key.try_get_as_bytes()?)?) as Box<dyn JwtVerifier>)
        },
        // JWKs are never read: every key is our own secret.
        key_utils: KeyUtils::new_unimplemented(),
    };

    /// Makes [`PROVIDER`] the process's; a second call (tests build many apps) finds it installed.
    pub fn install() {
        let _ = PROVIDER.install_default();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn cpu_work_runs_a_slot_at_a_time_and_turns_away_past_the_queue() {
        let slots = Arc::new(CpuSlots::new(2, 100));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        // Work that only finishes in pairs: with two slots, pairs meet; with more, more would run.
        let pair = Arc::new(std::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (slots, running, most, pair) =
                (slots.clone(), running.clone(), most.clone(), pair.clone());
            tasks.push(tokio::spawn(async move {
                slots
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        pair.wait();
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2, "never more than the slots");

        // No room to wait: the second caller is turned away while the first holds the slot.
        let full = Arc::new(CpuSlots::new(1, 0));
        let (hold, held) = tokio::sync::oneshot::channel::<()>();
        let (started, has_started) = std::sync::mpsc::channel::<()>();
        let first = {
            let full = full.clone();
            tokio::spawn(async move {
                full.run(move || {
                    started.send(()).unwrap();
                    held.blocking_recv().unwrap();
                })
                .await
            })
        };
        has_started.recv().unwrap();
        let refused = full.run(|| ()).await;
        assert!(matches!(refused, Err(AppError::Unavailable(_))));
        hold.send(()).unwrap();
        first.await.unwrap().unwrap();
        assert!(full.run(|| ()).await.is_ok(), "a free slot serves again");
    }
}
