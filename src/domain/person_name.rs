//! The customer's first name: the [`PersonName`] newtype.
//!
//! The finder that reads a name out of chat text lives with the engines,
//! in `workers/engine/text/person_name.rs`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A first name, first letter capitalised, the rest lower-case, spelled as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PersonName(String);

impl PersonName {
    /// Normalises capitalisation; `None` unless it is 2–30 letters (hyphen and apostrophe
    /// allowed inside).
    pub fn new(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let n = raw.chars().count();
        if !(2..=30).contains(&n)
            || !raw
                .chars()
                .all(|c| c.is_alphabetic() || c == '-' || c == '\'' || c == '’')
            || !raw.chars().next().is_some_and(char::is_alphabetic)
        {
            return None;
        }
        let mut chars = raw.chars();
        let first = chars.next()?;
        let mut out = String::with_capacity(raw.len());
        // «ß», «ŉ» and the ligatures capitalise to two letters, which would change the name when
        // read back («ßa» → «SSa» → «Ssa»): such a letter stays as typed.
        let mut upper = first.to_uppercase();
        out.push(if upper.len() == 1 {
            upper.next().unwrap_or(first)
        } else {
            first
        });
        // Only «İ» lower-cases to two chars: «i» and a combining dot, which is not a letter, so
        // the name would fail this check when read back. Its first char is the lower-case «i».
        out.extend(chars.map(|c| c.to_lowercase().next().unwrap_or(c)));
        Some(PersonName(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for PersonName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PersonName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PersonName::new(&s).ok_or_else(|| serde::de::Error::custom("not a first name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capitalisation_is_normalised() {
        assert_eq!(PersonName::new("ерлан").unwrap().as_str(), "Ерлан");
        assert_eq!(PersonName::new("МАРАТ").unwrap().as_str(), "Марат");
        assert!(PersonName::new("8701").is_none());
        assert!(PersonName::new("Я").is_none());
    }

    #[test]
    fn a_name_reads_back_as_itself_when_case_mapping_changes_length() {
        // Found by proptest: «аİ» became «Аi̇», whose combining dot is not a letter, so the
        // stored name was rejected when read back; «ßa» became «SSa», read back as «Ssa».
        for raw in ["аİ", "ALİ", "ßa", "ŉa", "ﬁona"] {
            let name = PersonName::new(raw).unwrap();
            assert_eq!(PersonName::new(name.as_str()), Some(name.clone()), "{raw}");
        }
        assert_eq!(PersonName::new("ALİ").unwrap().as_str(), "Ali");
        assert_eq!(PersonName::new("ßa").unwrap().as_str(), "ßa");
    }
}
