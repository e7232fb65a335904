//! The HTTP side of a webhook delivery: one signed POST to a tenant's endpoint, as the Standard
//! Webhooks specification describes it. Only addresses the SSRF rule allows are connected to: the
//! client's resolver is [`crate::reachable::resolve_host`], so what DNS answers at send time is
//! checked, not what it answered when the URL was saved (no rebinding). No redirects are followed
//! (a 3xx is a failed attempt), and only the start of the receiver's answer is read.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::WebhookDelivery;
use crate::domain::webhook::EndpointUrl;

/// How much of a receiver's answer is kept (the tenant reads it in the deliveries list).
const RESPONSE_BODY_CAP: usize = 1024;

pub struct WebhookSender {
    client: reqwest::Client,
    allow_private: bool,
}

/// The headers of one attempt.
pub struct Signed<'a> {
    pub webhook_id: &'a str,
    pub timestamp: i64,
    pub signature: &'a str,
}

/// How the receiver answered.
#[derive(Debug)]
pub struct Answer {
    pub status: Option<u16>,
    pub body: Option<String>,
    /// Why there was no 2xx (no answer, or a status outside 2xx).
    pub error: Option<String>,
    pub elapsed: Duration,
}

impl Answer {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

struct CheckedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addresses = crate::reachable::resolve_host(&host, 0, allow_private).await?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl WebhookSender {
    pub fn new(settings: &WebhookDelivery) -> Self {
        crate::crypto::install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(CheckedResolver {
                allow_private: settings.allow_private,
            })
            .user_agent("salesbot-webhooks/1")
            .build()
            .expect("TLS backend available");
        Self {
            client,
            allow_private: settings.allow_private,
        }
    }

    /// One attempt. Never an error: every way it can go is an [`Answer`] for the attempt log.
    pub async fn send(&self, url: &str, signed: &Signed<'_>, body: String) -> Answer {
        let started = Instant::now();
        let answer = |status, body, error: String| Answer {
            status,
            body,
            error: Some(error),
            elapsed: started.elapsed(),
        };
        let url = match EndpointUrl::parse(url) {
            Ok(url) => url,
            Err(e) => return answer(None, None, e.to_string()),
        };
        // An IP literal never reaches the resolver: check it here.
        let (host, _) = url.host_and_port();
        if host.parse::<IpAddr>().is_ok()
            && let Err(e) = crate::reachable::resolve(&url, self.allow_private).await
        {
            return answer(None, None, e.to_string());
        }
        let sent = self
            .client
            .post(url.as_str())
            .header("content-type", "application/json")
            .header("webhook-id", signed.webhook_id)
            .header("webhook-timestamp", signed.timestamp.to_string())
            .header("webhook-signature", signed.signature)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => return answer(None, None, describe(e)),
        };
        let status = response.status();
        let mut kept = Vec::new();
        while kept.len() < RESPONSE_BODY_CAP {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                _ => break,
            }
        }
        kept.truncate(RESPONSE_BODY_CAP);
        let body = (!kept.is_empty()).then(|| String::from_utf8_lossy(&kept).into_owned());
        if status.is_success() {
            Answer {
                status: Some(status.as_u16()),
                body,
                error: None,
                elapsed: started.elapsed(),
            }
        } else {
            answer(
                Some(status.as_u16()),
                body,
                format!("the receiver answered {status}"),
            )
        }
    }
}

/// The error with its causes (reqwest's own message alone says only "error sending request"),
/// without the URL (it is in the endpoint already).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer within WEBHOOK_TIMEOUT".into();
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
