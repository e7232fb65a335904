//! `TenantName`: the company name shown to managers and used in the bot's replies.

use std::fmt;

pub const MAX_TENANT_NAME_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TenantNameError {
    #[error("the company name must not be empty")]
    Empty,
    #[error("the company name must be at most {MAX_TENANT_NAME_CHARS} characters long")]
    TooLong,
    #[error("the company name must not contain control characters")]
    Forbidden,
}

impl TenantName {
    /// Whitespace runs fold to one space; the length limit applies to the name as sent, as the
    /// OpenAPI document's `maxLength` does.
    pub fn parse(raw: &str) -> Result<Self, TenantNameError> {
        use super::text::{TextError, check};
        check(raw, MAX_TENANT_NAME_CHARS, true).map_err(|e| match e {
            TextError::Forbidden => TenantNameError::Forbidden,
            TextError::TooLong(_) => TenantNameError::TooLong,
            TextError::Blank => TenantNameError::Empty,
        })?;
        Ok(Self(raw.split_whitespace().collect::<Vec<_>>().join(" ")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for TenantName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&raw).map_err(|e| {
            serde::de::Error::custom(
                e.to_string()
                    .trim_start_matches("the company name ")
                    .to_owned(),
            )
        })
    }
}

impl utoipa::PartialSchema for TenantName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        super::text::schema(
            MAX_TENANT_NAME_CHARS,
            true,
            "The company's name: 1–200 characters, no control characters.",
        )
    }
}

impl utoipa::ToSchema for TenantName {}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_folded_and_empty_refused() {
        assert_eq!(
            TenantName::parse("  ТОО   «Құрылыс»  ").unwrap().as_str(),
            "ТОО «Құрылыс»"
        );
        assert_eq!(
            TenantName::parse("   ").unwrap_err(),
            TenantNameError::Empty
        );
        assert_eq!(
            TenantName::parse(&"я".repeat(201)).unwrap_err(),
            TenantNameError::TooLong
        );
    }
}
