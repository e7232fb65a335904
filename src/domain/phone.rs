//! Kazakhstan mobile phone numbers: the [`Phone`] newtype (always E.164 `+77XXXXXXXXX`).
//!
//! The finder that pulls phones out of free chat text lives with the engines,
//! in `workers/engine/text/phone.rs`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Kazakhstan mobile number in E.164 form, `+77XXXXXXXXX`. Only [`Phone::parse`] (and the
/// finders, which go through the same check) construct it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

/// Why a string is not a Kazakhstan mobile number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("unexpected character {0:?} in phone number")]
    InvalidChar(char),
    #[error("phone number has {0} digits; expected 10 or 11")]
    WrongLength(usize),
    #[error("not a Kazakhstan mobile number (+7 7XX …)")]
    NotKazakhMobile,
}

impl Phone {
    /// Parses «+7 701 234 56 78», «8(701)2345678», «87012345678», «7012345678», with spaces,
    /// dashes, dots and brackets. A `+` is allowed only in front.
    pub fn parse(s: &str) -> Result<Self, PhoneError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(PhoneError::Empty);
        }
        let (plus, rest) = match s.strip_prefix('+') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let mut digits = String::with_capacity(12);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '\u{a0}' | '-' | '(' | ')' | '.' | '\t' => {}
                other => return Err(PhoneError::InvalidChar(other)),
            }
        }
        Self::from_digits(&digits, plus)
    }

    /// Builds a phone from bare digits; `plus` says a `+` country code prefix was written.
    pub(crate) fn from_digits(digits: &str, plus: bool) -> Result<Self, PhoneError> {
        let b = digits.as_bytes();
        let national = match (plus, b.len()) {
            (_, 0) => return Err(PhoneError::Empty),
            (true, 11) if b[0] == b'7' => &digits[1..],
            (true, _) if b[0] != b'7' => return Err(PhoneError::NotKazakhMobile),
            (true, n) => return Err(PhoneError::WrongLength(n)),
            (false, 11) if b[0] == b'8' || b[0] == b'7' => &digits[1..],
            (false, 11) => return Err(PhoneError::NotKazakhMobile),
            (false, 10) => digits,
            (false, n) => return Err(PhoneError::WrongLength(n)),
        };
        // +7 is shared with Russia (9XX, 4XX, 8XX); Kazakhstan's mobile codes are all 7XX,
        // and 71X/72X are its city landlines (7172 Astana, 727 Almaty, 7182 Pavlodar, …).
        if !national.starts_with('7') || national.starts_with("71") || national.starts_with("72") {
            return Err(PhoneError::NotKazakhMobile);
        }
        Ok(Phone(format!("+7{national}")))
    }

    /// `+77XXXXXXXXX`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Phone {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phone::parse(s)
    }
}

impl AsRef<str> for Phone {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Phone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        // PhoneError's messages quote the input; this one goes back to an API client.
        Phone::parse(&s).map_err(|_| {
            serde::de::Error::custom("must be a Kazakhstan mobile number, e.g. +7 701 234 56 78")
        })
    }
}

/// What [`Phone::parse`] accepts, as a regular expression valid in ECMA-262 (OpenAPI) and in the
/// `regex` crate alike: an optional `+7`, `8` or `7`, then the national `7XX` (not `71X`/`72X`,
/// the landlines) and eight more digits, with spaces, no-break spaces (a literal U+00A0 below),
/// TABs, dashes, dots and brackets anywhere between the digits. A test holds it to `parse`.
pub const PHONE_PATTERN: &str = concat!(
    r"^\s*(?:\+[  \t().-]*7|[78])?[  \t().-]*7[  \t().-]*[03-9]",
    r"(?:[  \t().-]*[0-9]){8}[  \t().-]*\s*$"
);

impl utoipa::PartialSchema for Phone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .pattern(Some(PHONE_PATTERN))
            .description(Some(
                "A Kazakhstan mobile number in any common format; stored as +77XXXXXXXXX.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Phone {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_pattern_accepts_exactly_what_parse_accepts() {
        let pattern = regex::Regex::new(PHONE_PATTERN).unwrap();
        let mut samples: Vec<String> = [
            "+7 701 234 56 78",
            "8(701)2345678",
            "87012345678",
            "7012345678",
            "77012345678",
            "+77012345678",
            "+7(701)234-56-78",
            " 8 701 234 56 78 ",
            "8.701.234.56.78",
            "+ 7 701 2345678",
            "7172345678",
            "7272345678",
            "+79012345678",
            "+1 701 234 5678",
            "701234567",
            "870123456789",
            "+8 701 234 56 78",
            "8\u{a0}701\u{a0}2345678",
            "8\t701 2345678",
            "8/701/2345678",
            "",
            " ",
            "+",
            "7 0 1 2 3 4 5 6 7 8",
            "(7012345678)",
            "++77012345678",
            "8 701 234 56 78\n",
            "97012345678",
            "7712345678",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every way to write the same ten digits with the separators and prefixes parse knows.
        for prefix in ["", "+7", "8", "7", "+", "9", "+8"] {
            for national in [
                "7012345678",
                "7212345678",
                "7512345678",
                "701234567",
                "70123456789",
            ] {
                for sep in ["", " ", "-", "(", ")", ".", "\u{a0}", "\t", "_"] {
                    let spaced: Vec<String> = national.chars().map(String::from).collect();
                    samples.push(format!("{prefix}{sep}{}", spaced.join(sep)));
                }
            }
        }
        for sample in &samples {
            assert_eq!(
                pattern.is_match(sample),
                Phone::parse(sample).is_ok(),
                "{sample:?}"
            );
        }
    }

    fn p(s: &str) -> String {
        Phone::parse(s).unwrap().as_str().to_string()
    }

    #[test]
    fn parses_the_usual_spellings() {
        assert_eq!(p("+7 701 234 56 78"), "+77012345678");
        assert_eq!(p("8(701)2345678"), "+77012345678");
        assert_eq!(p("87012345678"), "+77012345678");
        assert_eq!(p("7012345678"), "+77012345678");
        assert_eq!(p("77012345678"), "+77012345678");
        assert_eq!(p("8-701-234-56-78"), "+77012345678");
        assert_eq!(p("+7 (701) 234-56-78"), "+77012345678");
    }

    #[test]
    fn rejects_foreign_and_malformed() {
        assert_eq!(
            Phone::parse("+1 702 555 0199"),
            Err(PhoneError::NotKazakhMobile)
        );
        assert_eq!(
            Phone::parse("+49 30 12345678"),
            Err(PhoneError::NotKazakhMobile)
        );
        assert_eq!(
            Phone::parse("+996 700 123 456"),
            Err(PhoneError::NotKazakhMobile)
        );
        assert!(Phone::parse("8 777 123 45 6").is_err());
        assert_eq!(
            Phone::parse("8 701 234 56 789"),
            Err(PhoneError::WrongLength(12))
        );
        assert_eq!(Phone::parse(""), Err(PhoneError::Empty));
        assert_eq!(Phone::parse("8701abc"), Err(PhoneError::InvalidChar('a')));
        // City landlines are not mobiles.
        assert_eq!(
            Phone::parse("+7 727 123 45 67"),
            Err(PhoneError::NotKazakhMobile)
        );
        assert_eq!(
            Phone::parse("8 7182 55 66 77"),
            Err(PhoneError::NotKazakhMobile)
        );
        assert!(Phone::parse("+7 747 123 45 67").is_ok());
        assert_eq!(
            Phone::parse("+7 612 345 67 89"),
            Err(PhoneError::NotKazakhMobile)
        );
    }

    #[test]
    fn serde_round_trip_goes_through_parse() {
        let ph: Phone = serde_json::from_str("\"8 701 234 56 78\"").unwrap();
        assert_eq!(serde_json::to_string(&ph).unwrap(), "\"+77012345678\"");
        assert!(serde_json::from_str::<Phone>("\"12345\"").is_err());
    }
}
