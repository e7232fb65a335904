//! `Password`: a candidate password that meets the policy. It never prints.

use std::fmt;

pub const MIN_PASSWORD_CHARS: usize = 8;
/// bcrypt only looks at the first 72 bytes; a longer password would silently be truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

#[derive(Clone)]
pub struct Password(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    #[error("the password must be at most {MAX_PASSWORD_BYTES} bytes long")]
    TooLong,
}

impl Password {
    pub fn parse(raw: String) -> Result<Self, PasswordError> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert_eq!(
            Password::parse("short".into()).unwrap_err(),
            PasswordError::TooShort
        );
        assert_eq!(
            Password::parse("x".repeat(73)).unwrap_err(),
            PasswordError::TooLong
        );
        let ok = Password::parse("длинный пароль".into()).unwrap();
        assert!(!format!("{ok:?}").contains("пароль"));
    }
}
