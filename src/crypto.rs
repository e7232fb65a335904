//! Encryption at rest for tenants' secrets (their Telegram bot tokens).
//!
//! ChaCha20-Poly1305 (AEAD) with a random 96-bit nonce per encryption; the key is derived from
//! SECRET_KEY with HKDF-SHA256 under a purpose label, so the JWT signing key and this key are
//! independent even though one secret feeds both. The tenant id is the associated data: a ciphertext
//! copied into another tenant's row fails to decrypt instead of handing that tenant the token.
//!
//! Stored form: `version (1 byte) || nonce (12) || ciphertext+tag`. Rotation (docs/architecture.md,
//! "Telegram"): set the new SECRET_KEY and keep the old one in SECRET_KEY_PREVIOUS; decryption tries
//! the current key first, then the previous; `salesbot telegram reencrypt` rewrites every token
//! under the current key, after which SECRET_KEY_PREVIOUS can be dropped.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::config::Secret;
use crate::domain::TenantId;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const PURPOSE: &[u8] = b"salesbot/telegram-bot-token/v1";

#[derive(Debug, thiserror::Error)]
#[error("the stored secret cannot be decrypted with SECRET_KEY (or SECRET_KEY_PREVIOUS)")]
pub struct DecryptError;

/// Encrypts with the current key; decrypts with the current or the previous one.
#[derive(Clone)]
pub struct SecretBox {
    current: ChaCha20Poly1305,
    previous: Option<ChaCha20Poly1305>,
}

impl SecretBox {
    pub fn new(secret_key: &Secret, previous: Option<&Secret>) -> Self {
        Self {
            current: cipher(secret_key),
            previous: previous.map(cipher),
        }
    }

    pub fn encrypt(&self, tenant: TenantId, plaintext: &str) -> Vec<u8> {
        use rand::Rng;
        let nonce: [u8; NONCE_LEN] = rand::rng().random();
        let sealed = self
            .current
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: tenant.0.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 encrypts any message under 256 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The plaintext, and whether it was sealed under the current key (false: re-encrypt it).
    pub fn decrypt(&self, tenant: TenantId, stored: &[u8]) -> Result<(String, bool), DecryptError> {
        if stored.len() < 1 + NONCE_LEN || stored[0] != VERSION {
            return Err(DecryptError);
        }
        let (nonce, sealed) = stored[1..].split_at(NONCE_LEN);
        let nonce = Nonce::from(<[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| DecryptError)?);
        let open = |cipher: &ChaCha20Poly1305| {
            cipher
                .decrypt(
                    &nonce,
                    Payload {
                        msg: sealed,
                        aad: tenant.0.as_bytes(),
                    },
                )
                .ok()
        };
        let (plain, current) = match open(&self.current) {
            Some(plain) => (plain, true),
            None => (
                self.previous.as_ref().and_then(open).ok_or(DecryptError)?,
                false,
            ),
        };
        String::from_utf8(plain)
            .map(|s| (s, current))
            .map_err(|_| DecryptError)
    }
}

fn cipher(secret: &Secret) -> ChaCha20Poly1305 {
    let hkdf = Hkdf::<Sha256>::new(None, secret.expose().as_bytes());
    let mut key = [0u8; 32];
    hkdf.expand(PURPOSE, &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    ChaCha20Poly1305::new(&Key::from(key))
}

/// Makes ring rustls' process-wide crypto provider (the one sqlx uses) before any HTTP client is
/// built: reqwest is compiled without a provider of its own, so one TLS stack serves everything.
/// Installing fails only when a provider is already installed, which is just as good.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(n: u128) -> TenantId {
        TenantId(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn round_trip_binds_the_tenant_and_the_key() {
        let old = Secret::new("old-secret-0123456789abcdef0123456789");
        let new = Secret::new("new-secret-0123456789abcdef0123456789");
        let sealed = SecretBox::new(&old, None).encrypt(tenant(1), "123:token");
        assert_ne!(
            SecretBox::new(&old, None).encrypt(tenant(1), "123:token"),
            sealed,
            "random nonce"
        );
        assert!(!sealed.windows(9).any(|w| w == b"123:token"));
        assert_eq!(
            SecretBox::new(&old, None)
                .decrypt(tenant(1), &sealed)
                .unwrap(),
            ("123:token".into(), true)
        );
        assert!(
            SecretBox::new(&old, None)
                .decrypt(tenant(2), &sealed)
                .is_err()
        );
        assert!(
            SecretBox::new(&new, None)
                .decrypt(tenant(1), &sealed)
                .is_err()
        );
        // After rotation the previous key still opens it, and says it is stale.
        assert_eq!(
            SecretBox::new(&new, Some(&old))
                .decrypt(tenant(1), &sealed)
                .unwrap(),
            ("123:token".into(), false)
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(
            SecretBox::new(&old, None)
                .decrypt(tenant(1), &tampered)
                .is_err()
        );
    }
}
