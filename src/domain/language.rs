//! The customer's language: [`Language`] (`ru`, `kk`, `en`, `mixed`).
//!
//! Replies are never written in "mixed"; they use the dominant language of the latest customer
//! message instead. The word-count detector that reads the language out of chat text lives with
//! the engines, in `workers/engine/text/language.rs`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A conversation or message language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Ru,
    Kk,
    En,
    Mixed,
}

/// The string is not one of `ru`, `kk`, `en`, `mixed`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown language code {0:?} (expected ru, kk, en or mixed)")]
pub struct UnknownLanguage(pub String);

impl Language {
    pub const ALL: [Language; 4] = [Language::Ru, Language::Kk, Language::En, Language::Mixed];

    /// `"ru"`, `"kk"`, `"en"` or `"mixed"`.
    pub fn code(self) -> &'static str {
        match self {
            Language::Ru => "ru",
            Language::Kk => "kk",
            Language::En => "en",
            Language::Mixed => "mixed",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Language {
    type Err = UnknownLanguage;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ru" | "rus" | "russian" => Ok(Language::Ru),
            // "kz" is the country code people often use for the language.
            "kk" | "kz" | "kaz" | "kazakh" => Ok(Language::Kk),
            "en" | "eng" | "english" => Ok(Language::En),
            "mixed" => Ok(Language::Mixed),
            _ => Err(UnknownLanguage(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_parsing() {
        for l in Language::ALL {
            assert_eq!(l.code().parse::<Language>().unwrap(), l);
        }
        assert_eq!("KZ".parse::<Language>().unwrap(), Language::Kk);
        assert!("de".parse::<Language>().is_err());
        assert_eq!(
            serde_json::to_string(&Language::Mixed).unwrap(),
            "\"mixed\""
        );
        assert_eq!(
            serde_json::from_str::<Language>("\"kk\"").unwrap(),
            Language::Kk
        );
    }
}
