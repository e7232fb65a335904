//! `Password`: a candidate password that meets the policy. It never prints.

use std::fmt;

pub const MIN_PASSWORD_CHARS: usize = 8;
/// Counted in characters, as JSON Schema counts them. bcrypt reads the first 72 bytes: all of an
/// ASCII password, the first 36 or more letters of a Cyrillic one, which is still far beyond what
/// guessing reaches.
pub const MAX_PASSWORD_CHARS: usize = 72;

#[derive(Clone)]
pub struct Password(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    #[error("the password must be at most {MAX_PASSWORD_CHARS} characters long")]
    TooLong,
    #[error("the password must not contain control characters")]
    Forbidden,
}

impl Password {
    pub fn parse(raw: String) -> Result<Self, PasswordError> {
        if raw.chars().any(super::text::is_forbidden) {
            return Err(PasswordError::Forbidden);
        }
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        // "the password must …" reads as "field `password` must …" after the field name.
        Self::parse(raw).map_err(|e| {
            serde::de::Error::custom(e.to_string().trim_start_matches("the password ").to_owned())
        })
    }
}

impl utoipa::PartialSchema for Password {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .min_length(Some(MIN_PASSWORD_CHARS))
            .max_length(Some(MAX_PASSWORD_CHARS))
            .pattern(Some(super::text::storable_pattern()))
            .into()
    }
}

impl utoipa::ToSchema for Password {}

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
        assert!(Password::parse("я".repeat(72)).is_ok());
        assert_eq!(
            Password::parse("pass\0word".into()).unwrap_err(),
            PasswordError::Forbidden
        );
        let ok = Password::parse("длинный пароль".into()).unwrap();
        assert!(!format!("{ok:?}").contains("пароль"));
    }
}
