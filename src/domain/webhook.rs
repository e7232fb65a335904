//! Outbound webhooks as the Standard Webhooks specification signs them
//! (<https://www.standardwebhooks.com>, the scheme Svix and others use): an endpoint's secret is
//! `whsec_` + base64 of random bytes; each delivery carries `webhook-id` (stable across retries of
//! one event), `webhook-timestamp` (Unix seconds) and `webhook-signature`: `v1,` + base64 of
//! HMAC-SHA256 over `id.timestamp.body`, several of them space-separated while a rotated secret
//! is still honoured. Receivers verify with any Standard Webhooks library.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a secret we generate (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// An endpoint's signing secret. Never printed (Debug hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a signing secret is `whsec_` followed by base64 of 24 to 64 bytes")]
pub struct BadSecret;

impl SigningSecret {
    pub fn generate() -> Self {
        use rand::Rng;
        let bytes: [u8; SECRET_BYTES] = rand::rng().random();
        Self(bytes.to_vec())
    }

    /// A secret as [`SigningSecret::expose`] writes it.
    pub fn parse(text: &str) -> Result<Self, BadSecret> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(BadSecret)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| BadSecret)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(BadSecret);
        }
        Ok(Self(bytes))
    }

    /// `whsec_` + base64: shown to the endpoint's owner once, stored encrypted.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// One signature: `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`.
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(webhook_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

/// The `webhook-signature` header: one signature per secret in force (the current one first, then
/// a rotated one during its grace period), space-separated, so a receiver holding either verifies.
pub fn signature_header(
    secrets: &[&SigningSecret],
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(webhook_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example (the Standard Webhooks and Svix libraries test with it).
    #[test]
    fn signs_the_specifications_example() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_read_back_and_stay_hidden() {
        let secret = SigningSecret::generate();
        let shown = secret.expose();
        assert!(shown.starts_with(SECRET_PREFIX));
        assert_eq!(SigningSecret::parse(&shown).unwrap(), secret);
        assert_ne!(SigningSecret::generate(), secret);
        assert!(!format!("{secret:?}").contains(&shown[SECRET_PREFIX.len()..]));
        for bad in [
            "",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not base64!",
            "whsec_c2hvcnQ=",
            &format!("whsec_{}", STANDARD.encode([7u8; 65])),
        ] {
            assert_eq!(SigningSecret::parse(bad), Err(BadSecret), "{bad}");
        }
    }

    #[test]
    fn the_header_carries_one_signature_per_secret_in_force() {
        let (current, previous) = (SigningSecret::generate(), SigningSecret::generate());
        let header = signature_header(&[&current, &previous], "msg_1", 1_700_000_000, b"{}");
        let signatures: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            signatures,
            [
                current.sign("msg_1", 1_700_000_000, b"{}"),
                previous.sign("msg_1", 1_700_000_000, b"{}")
            ]
        );
        // Every part of the signed text counts.
        let one = current.sign("msg_1", 1_700_000_000, b"{}");
        assert_ne!(one, current.sign("msg_2", 1_700_000_000, b"{}"));
        assert_ne!(one, current.sign("msg_1", 1_700_000_001, b"{}"));
        assert_ne!(one, current.sign("msg_1", 1_700_000_000, b"{ }"));
    }
}
