//! `Email`: an address that passed a deliberately small check, stored lower-cased.
//!
//! Addresses are compared case-insensitively everywhere (login, the unique index), so the canonical
//! form is lower case. The check catches typing mistakes, not every RFC 5322 oddity: the real proof
//! that an address works is a mail reaching it.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Its message never repeats the address: it goes back to API clients.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("is not a valid email address")]
pub struct EmailError;

/// RFC 5321's limit on a whole address.
pub const MAX_EMAIL_CHARS: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let email = raw.trim().to_lowercase();
        let invalid = || EmailError;
        let too_long = raw.trim().chars().count() > MAX_EMAIL_CHARS;
        if too_long || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&raw).map_err(|_| serde::de::Error::custom("must be a valid email address"))
    }
}

impl utoipa::PartialSchema for Email {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            .max_length(Some(MAX_EMAIL_CHARS))
            .examples([serde_json::json!("owner@stroy.kz")])
            .into()
    }
}

impl utoipa::ToSchema for Email {}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_is_lower_case() {
        assert_eq!(
            Email::parse("  Aset@Stroy.KZ ").unwrap().as_str(),
            "aset@stroy.kz"
        );
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "plain",
            "@stroy.kz",
            "a@",
            "a@kz",
            "a b@stroy.kz",
            "a@stroy..kz",
            "a@.kz",
            "a@b@c.kz",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
