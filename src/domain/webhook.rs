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

/// What an endpoint can subscribe to. The payloads are documented in the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    MessageReceived,
    ReplyCreated,
    LeadCreated,
    LeadUpdated,
    LeadQualified,
    MessageFailed,
    /// Operational: one of the tenant's endpoints kept failing and was disabled.
    EndpointDisabled,
    /// Operational: an endpoint whose deliveries had run out of attempts succeeded again.
    EndpointRecovered,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::MessageReceived,
        EventType::ReplyCreated,
        EventType::LeadCreated,
        EventType::LeadUpdated,
        EventType::LeadQualified,
        EventType::MessageFailed,
        EventType::EndpointDisabled,
        EventType::EndpointRecovered,
    ];

    /// As the API, the payload's `type` and the `webhook_endpoints.events` column write it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MessageReceived => "message.received",
            EventType::ReplyCreated => "reply.created",
            EventType::LeadCreated => "lead.created",
            EventType::LeadUpdated => "lead.updated",
            EventType::LeadQualified => "lead.qualified",
            EventType::MessageFailed => "message.failed",
            EventType::EndpointDisabled => "endpoint.disabled",
            EventType::EndpointRecovered => "endpoint.recovered",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

super::key_enum_serde!(EventType, "An event a webhook endpoint can subscribe to.");

/// Where an endpoint's deliveries go: an absolute `http`/`https` URL with a host, no credentials
/// in it and no fragment, at most 2,000 characters. Whether its host may be reached is a
/// separate question ([`super::public_address`]), answered when it is saved and again at each send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(url::Url);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "an endpoint URL is an absolute http or https URL with a host, without credentials or a \
     fragment, at most {MAX_URL_CHARS} characters"
)]
pub struct BadUrl;

pub const MAX_URL_CHARS: usize = 2000;

impl EndpointUrl {
    pub fn parse(raw: &str) -> Result<Self, BadUrl> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(BadUrl);
        }
        let url = url::Url::parse(raw).map_err(|_| BadUrl)?;
        let acceptable = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|h| !h.is_empty())
            && url.username().is_empty()
            && url.password().is_none()
            && url.fragment().is_none();
        if !acceptable {
            return Err(BadUrl);
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host to resolve (an IP literal without its brackets) and the port to connect to.
    pub fn host_and_port(&self) -> (String, u16) {
        let host = self.0.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = self.0.port_or_known_default().unwrap_or(443);
        (host.to_owned(), port)
    }
}

impl serde::Serialize for EndpointUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EndpointUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        EndpointUrl::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for EndpointUrl {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            // A URL the API accepts must also resolve to allowed addresses, which no schema can
            // say: the contract test generates this format (tests/schemathesis/hooks.py).
            .format(Some(utoipa::openapi::SchemaFormat::Custom(
                "webhook-url".into(),
            )))
            .min_length(Some(1))
            .max_length(Some(MAX_URL_CHARS))
            .description(Some(
                "An absolute http or https URL that resolves to public addresses only; no \
                 credentials or fragment.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for EndpointUrl {}

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

    #[test]
    fn endpoint_urls_are_absolute_http_without_credentials() {
        let url = EndpointUrl::parse(" https://hooks.example.kz/salesbot?x=1 ").unwrap();
        assert_eq!(url.as_str(), "https://hooks.example.kz/salesbot?x=1");
        assert_eq!(url.host_and_port(), ("hooks.example.kz".to_owned(), 443));
        let v6 = EndpointUrl::parse("http://[2606:4700::1111]:8080/h").unwrap();
        assert_eq!(v6.host_and_port(), ("2606:4700::1111".to_owned(), 8080));
        for bad in [
            "",
            "hooks.example.kz/salesbot",
            "ftp://example.kz/x",
            "https://user:pass@example.kz/x",
            "https://example.kz/x#frag",
            "file:///etc/passwd",
            "https://",
            &format!("https://example.kz/{}", "a".repeat(2000)),
        ] {
            assert_eq!(EndpointUrl::parse(bad), Err(BadUrl), "{bad}");
        }
    }

    #[test]
    fn event_types_read_back_as_themselves() {
        for event in EventType::ALL {
            assert_eq!(EventType::from_key(event.as_str()), Some(event));
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(serde_json::from_str::<EventType>(&json).unwrap(), event);
        }
        assert!(serde_json::from_str::<EventType>("\"reply\"").is_err());
    }
}
