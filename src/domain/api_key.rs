//! API keys: how integrations (a messenger bridge, a site widget, a CRM) authenticate instead of a
//! manager's 7-day sign-in. A key is `sk_` and 256 random bits; only its SHA-256 is stored (a key
//! is random, so a fast hash is as safe as a slow one and costs nothing per request). A key names
//! one tenant and the scopes it was given.

use std::fmt;

use sha2::{Digest, Sha256};

/// What a key may do. A manager's sign-in may do all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Send customers' messages (`POST /api/chat`) and read their answers.
    ChatWrite,
    /// Read leads and conversations.
    LeadsRead,
    /// Edit leads.
    LeadsWrite,
    /// Manage webhook endpoints.
    WebhooksManage,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::ChatWrite,
        Scope::LeadsRead,
        Scope::LeadsWrite,
        Scope::WebhooksManage,
    ];

    /// As the API and the `api_keys.scopes` column write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ChatWrite => "chat:write",
            Scope::LeadsRead => "leads:read",
            Scope::LeadsWrite => "leads:write",
            Scope::WebhooksManage => "webhooks:manage",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

super::key_enum_serde!(Scope, "What an API key may do.");

/// The prefix every key starts with, so a bearer credential says what it is without a lookup.
pub const PREFIX: &str = "sk_";

/// How many characters of a key lists show: the prefix and 8 of the random part, enough to tell
/// keys apart and nothing to guess the rest with.
const SHOWN_CHARS: usize = PREFIX.len() + 8;

/// A key's secret, as given once to its creator. Never printed (Debug hides it).
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    pub fn generate() -> Self {
        use base64::Engine;
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        Self(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What lists show of the key.
    pub fn shown(&self) -> String {
        self.0[..SHOWN_CHARS].to_owned()
    }

    pub fn hash(&self) -> Vec<u8> {
        hash(&self.0)
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.shown())
    }
}

/// Whether a presented credential is an API key (rather than a sign-in token).
pub fn is_api_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

/// The stored form of a presented key.
pub fn hash(credential: &str) -> Vec<u8> {
    Sha256::digest(credential.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hide_their_secret() {
        let (a, b) = (ApiKeySecret::generate(), ApiKeySecret::generate());
        assert_ne!(a.expose(), b.expose());
        assert!(is_api_key(a.expose()));
        assert_eq!(a.expose().len(), PREFIX.len() + 43, "256 bits in base64url");
        assert!(a.expose().starts_with(&a.shown()));
        assert!(!format!("{a:?}").contains(&a.expose()[SHOWN_CHARS..]));
        assert_eq!(a.hash(), hash(a.expose()));
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn scopes_read_back_as_themselves_and_nothing_else() {
        for scope in Scope::ALL {
            assert_eq!(Scope::from_key(scope.as_str()), Some(scope));
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
        }
        assert!(serde_json::from_str::<Scope>("\"chat\"").is_err());
        assert!(serde_json::from_str::<Scope>("\"Chat:Write\"").is_err());
    }
}
