//! Whether salesbot may send to a URL a tenant gave it (a webhook endpoint): its host must resolve,
//! and every address it resolves to must be public ([`crate::domain::public_address`]) unless
//! WEBHOOK_ALLOW_PRIVATE lifts the rule. Checked when the URL is saved, so a mistake is refused at
//! once; the delivery checks again when it sends and connects to exactly the addresses it checked,
//! since DNS may answer differently later (rebinding).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::domain::public_address::is_public;
use crate::domain::webhook::EndpointUrl;

/// A slow resolver must not hold a request (or a delivery) for long.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unreachable {
    #[error("the URL's host does not resolve")]
    DoesNotResolve,
    #[error("the URL's host resolves to {0}, which is not a public address")]
    NotPublic(IpAddr),
}

/// The addresses to connect to for `url`, all of them allowed.
pub async fn resolve(
    url: &EndpointUrl,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, Unreachable> {
    let (host, port) = url.host_and_port();
    resolve_host(&host, port, allow_private).await
}

/// [`resolve`] for a bare host (an IP literal is not looked up): the webhook client's resolver,
/// so a delivery connects only to addresses this allowed.
pub async fn resolve_host(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, Unreachable> {
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .ok()
            .and_then(Result::ok)
            .map(Iterator::collect)
            .unwrap_or_default(),
    };
    if addresses.is_empty() {
        return Err(Unreachable::DoesNotResolve);
    }
    if !allow_private && let Some(bad) = addresses.iter().find(|a| !is_public(a.ip())) {
        return Err(Unreachable::NotPublic(bad.ip()));
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn check(url: &str, allow_private: bool) -> Result<Vec<SocketAddr>, Unreachable> {
        resolve(&EndpointUrl::parse(url).unwrap(), allow_private).await
    }

    #[tokio::test]
    async fn private_hosts_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]/hook",
            "http://10.1.2.3/hook",
            "http://169.254.169.254/latest/meta-data",
            "https://[::ffff:192.168.0.1]/hook",
        ] {
            assert!(
                matches!(check(url, false).await, Err(Unreachable::NotPublic(_))),
                "{url}"
            );
        }
        assert_eq!(
            check("http://127.0.0.1:9000/hook", true).await.unwrap(),
            ["127.0.0.1:9000".parse().unwrap()]
        );
        assert_eq!(
            check("https://8.8.8.8/hook", false).await.unwrap(),
            ["8.8.8.8:443".parse().unwrap()]
        );
        assert_eq!(
            check("https://no-such-host.invalid/hook", true).await,
            Err(Unreachable::DoesNotResolve)
        );
    }
}
