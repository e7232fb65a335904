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
}

impl TenantName {
    pub fn parse(raw: &str) -> Result<Self, TenantNameError> {
        let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(TenantNameError::Empty);
        }
        if name.chars().count() > MAX_TENANT_NAME_CHARS {
            return Err(TenantNameError::TooLong);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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
