//! Abuse limits at the edge: who the client is (its address, behind the proxies we trust), and the
//! shared throttles of login, registration and chat (`db::throttle`), answered as 429 with
//! `Retry-After`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::config::RateLimit;
use crate::db::throttle::{self, Decision, Rule};
use crate::error::AppError;
use crate::http::AppState;

/// The client's address: the connection's peer, or with `TRUSTED_PROXIES = n` the n-th
/// X-Forwarded-For entry from the right. Each proxy appends the address it was reached from, so
/// entries left of those our proxies wrote are whatever the client chose to send, and are never
/// read (a client cannot pick its own throttle bucket). Behind Render: `client, cloudflare-edge`
/// as Cloudflare and then Render's proxy append, so n = 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    pub fn resolve(peer: Option<IpAddr>, forwarded_for: &[&str], trusted_proxies: usize) -> Self {
        if trusted_proxies == 0 {
            return Self(peer);
        }
        let entries: Vec<&str> = forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        let from_proxies = entries
            .len()
            .checked_sub(trusted_proxies)
            .and_then(|i| entries.get(i))
            .and_then(|e| e.parse::<IpAddr>().ok());
        // Fewer entries than proxies: the request did not come through them.
        Self(from_proxies.or(peer))
    }

    /// The throttle subject: the address, or one shared bucket when it is unknown.
    fn subject(self) -> String {
        self.0.map_or_else(|| "unknown".into(), |ip| ip.to_string())
    }
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(Self::resolve(
            peer,
            &forwarded,
            state.limits.trusted_proxies,
        ))
    }
}

/// One more action under `limit` (none: unlimited), or 429 with how long to wait.
pub async fn check(
    state: &AppState,
    rule: Rule,
    subject: &str,
    limit: Option<RateLimit>,
    message: &str,
) -> Result<(), AppError> {
    let Some(limit) = limit else {
        return Ok(());
    };
    match throttle::take(&state.pool, rule, subject, limit).await? {
        Decision::Allowed => Ok(()),
        Decision::Wait(retry_after) => {
            tracing::warn!(rule = ?rule, "throttled");
            crate::metrics::throttled(rule.name());
            Err(AppError::TooManyRequests {
                message: message.to_owned(),
                retry_after,
            })
        }
    }
}

/// Login attempts, right or wrong, per client address and per account.
pub async fn check_login(
    state: &AppState,
    client: ClientAddress,
    account: Option<&str>,
) -> Result<(), AppError> {
    let message = "too many sign-in attempts: try again later";
    check(
        state,
        Rule::LoginAddress,
        &client.subject(),
        state.limits.login_per_ip,
        message,
    )
    .await?;
    if let Some(account) = account {
        check(
            state,
            Rule::LoginAccount,
            account,
            state.limits.login_per_account,
            message,
        )
        .await?;
    }
    Ok(())
}

pub async fn check_register(state: &AppState, client: ClientAddress) -> Result<(), AppError> {
    check(
        state,
        Rule::RegisterAddress,
        &client.subject(),
        state.limits.register_per_ip,
        "too many registrations from this address: try again later",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_entry_our_proxies_wrote() {
        let peer: Option<IpAddr> = Some("10.0.0.7".parse().unwrap());
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // No proxies trusted: the header is ignored, whatever it says.
        assert_eq!(ClientAddress::resolve(peer, &["1.2.3.4"], 0).0, peer);
        // Render: Cloudflare appends the client, Render's proxy the Cloudflare edge.
        let render = ["203.0.113.9, 104.22.17.40"];
        assert_eq!(
            ClientAddress::resolve(peer, &render, 2).0,
            ip("203.0.113.9")
        );
        // What the client wrote itself, left of that, is not read.
        let spoofed = ["6.6.6.6, 203.0.113.9, 104.22.17.40"];
        assert_eq!(
            ClientAddress::resolve(peer, &spoofed, 2).0,
            ip("203.0.113.9")
        );
        // Headers split over several lines count as one list.
        let split = ["6.6.6.6", "203.0.113.9, 104.22.17.40"];
        assert_eq!(ClientAddress::resolve(peer, &split, 2).0, ip("203.0.113.9"));
        // Fewer entries than proxies, or garbage: the peer.
        assert_eq!(ClientAddress::resolve(peer, &["104.22.17.40"], 2).0, peer);
        assert_eq!(ClientAddress::resolve(peer, &["x, y"], 2).0, peer);
    }
}
