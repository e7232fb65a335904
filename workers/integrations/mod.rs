//! Thin clients of the outside services the pipeline talks to. They translate HTTP into typed
//! results and classify errors (retryable, rate-limited, fatal); retry decisions belong to the queue.

pub mod amocrm;
pub mod openai;
pub mod telegram;
pub mod webhook;

use std::time::Duration;

/// The one HTTP client builder of the integrations: one timeout per request, no retries (those are
/// the queue's), rustls with ring as its crypto provider.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    crate::crypto::install_tls_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
        .expect("TLS backend available")
}
