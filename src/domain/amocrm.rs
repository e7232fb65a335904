//! An amoCRM account's address: the base domain of the prototype's `amocrm_base_domain`
//! (`stroy.amocrm.ru`). Only amoCRM's and Kommo's own domains are accepted, so a tenant cannot
//! point salesbot's requests, which carry its token, at another host.

use std::fmt;

/// The domains amoCRM accounts live under (Kommo is amoCRM's international brand).
const SUFFIXES: [&str; 3] = [".amocrm.ru", ".amocrm.com", ".kommo.com"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmoDomain(String);

pub const PATTERN: &str =
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.(?:amocrm\.ru|amocrm\.com|kommo\.com)$";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "an amoCRM base domain is the account's subdomain of amocrm.ru, amocrm.com or kommo.com, e.g. stroy.amocrm.ru"
)]
pub struct BadDomain;

impl AmoDomain {
    /// Exactly `<account>.amocrm.ru` (or `.amocrm.com`, `.kommo.com`), lowercase, as amoCRM
    /// shows it; the OpenAPI pattern says the same ([`PATTERN`]).
    pub fn parse(raw: &str) -> Result<Self, BadDomain> {
        let account = SUFFIXES
            .iter()
            .find_map(|suffix| raw.strip_suffix(suffix))
            .ok_or(BadDomain)?;
        let label_ok = !account.is_empty()
            && account.len() <= 63
            && !account.starts_with('-')
            && !account.ends_with('-')
            && account
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !label_ok {
            return Err(BadDomain);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AmoDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for AmoDomain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for AmoDomain {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .pattern(Some(PATTERN))
            .description(Some("The amoCRM account's domain, e.g. stroy.amocrm.ru"))
            .examples(["stroy.amocrm.ru"])
            .into()
    }
}

impl utoipa::ToSchema for AmoDomain {}

/// An amoCRM long-lived token (from the account's private integration): visible ASCII, at most
/// 4,096 characters. Never printed (Debug hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct AmoToken(String);

pub const TOKEN_PATTERN: &str = r"^[!-~]{1,4096}$";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("an amoCRM token is 1 to 4096 visible ASCII characters, as amoCRM shows it")]
pub struct BadToken;

impl AmoToken {
    pub fn parse(raw: &str) -> Result<Self, BadToken> {
        let ok = (1..=4096).contains(&raw.len()) && raw.bytes().all(|b| (b'!'..=b'~').contains(&b));
        ok.then(|| Self(raw.to_owned())).ok_or(BadToken)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AmoToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AmoToken(…)")
    }
}

impl<'de> serde::Deserialize<'de> for AmoToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for AmoToken {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .pattern(Some(TOKEN_PATTERN))
            .max_length(Some(4096))
            .description(Some(
                "The account's long-lived token; stored encrypted, never shown",
            ))
            .into()
    }
}

impl utoipa::ToSchema for AmoToken {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_amocrm_and_kommo_accounts() {
        let pattern = regex::Regex::new(PATTERN).unwrap();
        for ok in [
            "stroy.amocrm.ru",
            "stroy-kz.amocrm.com",
            "build1.kommo.com",
            "a.amocrm.ru",
        ] {
            assert!(AmoDomain::parse(ok).is_ok(), "{ok}");
            assert!(pattern.is_match(ok), "{ok}");
        }
        for bad in [
            "Stroy.amocrm.ru",
            "https://stroy.amocrm.ru",
            "stroy.amocrm.ru/",
            " stroy.amocrm.ru",
            "x-.amocrm.ru",
            "amocrm.ru",
            ".amocrm.ru",
            "evil.com",
            "stroy.amocrm.ru.evil.com",
            "a.b.amocrm.ru",
            "-x.amocrm.ru",
            "stroy.amocrm.ru/api",
            "http://stroy.amocrm.ru",
            "127.0.0.1",
        ] {
            assert_eq!(AmoDomain::parse(bad), Err(BadDomain), "{bad}");
            assert!(!pattern.is_match(bad), "{bad}");
        }
    }
}
