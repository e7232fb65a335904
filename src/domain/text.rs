//! The one policy for text that comes from outside — the API's JSON, forms, query strings and paths,
//! and Telegram's updates — before any of it is stored or searched for.
//!
//! - No control characters but TAB, LF and CR: PostgreSQL's `text` cannot hold NUL at all (a NUL
//!   was a 500), and the others are invisible in every client and break some (terminals, CSV, XML).
//! - A maximum length per kind of text, counted in Unicode scalar values before trimming, as JSON
//!   Schema's `maxLength` counts them: the OpenAPI document states exactly what is accepted.
//!
//! Each kind of text is a newtype made by [`text_type!`]: its `parse` is the only constructor, and
//! its OpenAPI schema (`maxLength`, `minLength`, `pattern`) is generated from the same numbers, so
//! the documented limit and the enforced one cannot differ. The API refuses text that breaks the
//! policy with 422, since the client can correct it; Telegram's webhook must not be made to
//! resend an update, so its text is [`scrub`]bed instead.

use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};

/// The characters no stored text may hold: the `Cc` category (C0, DEL, C1) but TAB, LF and CR.
const FORBIDDEN: [(char, char); 4] = [
    ('\u{0}', '\u{8}'),
    ('\u{b}', '\u{c}'),
    ('\u{e}', '\u{1f}'),
    ('\u{7f}', '\u{9f}'),
];

/// A character no stored text may hold.
pub fn is_forbidden(c: char) -> bool {
    FORBIDDEN
        .iter()
        .any(|(first, last)| (*first..=*last).contains(&c))
}

/// The ECMA-262 character class (without brackets) of [`FORBIDDEN`], for JSON Schema patterns.
fn forbidden_class() -> String {
    FORBIDDEN
        .iter()
        .map(|(first, last)| format!("\\u{:04X}-\\u{:04X}", *first as u32, *last as u32))
        .collect()
}

/// JSON Schema pattern: no forbidden character.
pub fn storable_pattern() -> String {
    let class = forbidden_class();
    format!("^[^{class}]*$")
}

/// JSON Schema pattern: no forbidden character, and something besides whitespace.
pub fn non_blank_pattern() -> String {
    let class = forbidden_class();
    format!("^[^{class}]*[^\\s{class}][^{class}]*$")
}

/// The longest transcript kept: a 25 MB voice file can hold an hour of speech, and the engine and
/// the dashboard need the words, not all of them.
pub const MAX_TRANSCRIPT_CHARS: usize = 16_384;

/// Why a text was refused. The messages never repeat the text: they go back to the client, and
/// into logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not contain NUL or other control characters (TAB, LF and CR are fine)")]
    Forbidden,
    #[error("must be at most {0} characters long")]
    TooLong(usize),
    #[error("must not be empty")]
    Blank,
}

/// Checks `raw` against the policy and returns it trimmed.
pub fn check(raw: &str, max_chars: usize, non_blank: bool) -> Result<&str, TextError> {
    if raw.chars().any(is_forbidden) {
        return Err(TextError::Forbidden);
    }
    if raw.chars().count() > max_chars {
        return Err(TextError::TooLong(max_chars));
    }
    let trimmed = raw.trim();
    if non_blank && trimmed.is_empty() {
        return Err(TextError::Blank);
    }
    Ok(trimmed)
}

/// Makes text acceptable instead of refusing it, for a sender that cannot correct it: forbidden
/// characters removed, trimmed, then cut to `max_chars` (at a character boundary).
pub fn scrub(raw: &str, max_chars: usize) -> String {
    let kept: String = raw.chars().filter(|c| !is_forbidden(*c)).collect();
    let cut: String = kept.trim().chars().take(max_chars).collect();
    cut.trim_end().to_owned()
}

/// The OpenAPI schema of a text newtype.
pub fn schema(max_chars: usize, non_blank: bool, description: &str) -> RefOr<Schema> {
    let pattern = if non_blank {
        non_blank_pattern()
    } else {
        storable_pattern()
    };
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .min_length(non_blank.then_some(1))
        .max_length(Some(max_chars))
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

/// Defines a text newtype: `text_type!(Name, max = N, non_blank = bool, "description")`.
macro_rules! text_type {
    ($(#[$meta:meta])* $name:ident, max = $max:expr, non_blank = $non_blank:expr, $description:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            /// Checks the policy; the value kept is trimmed.
            pub fn parse(raw: &str) -> Result<Self, $crate::domain::text::TextError> {
                $crate::domain::text::check(raw, $max, $non_blank).map(|t| Self(t.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                $crate::domain::text::schema($max, $non_blank, $description)
            }
        }

        impl utoipa::ToSchema for $name {}

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(
    /// A customer's message, or a manager's reply to one. Telegram's own limit for a message.
    MessageText, max = 4096, non_blank = true,
    "Message text: 1–4096 characters, not only whitespace, no control characters but TAB, LF and CR."
);
text_type!(
    /// A manager's answer to a customer: a Telegram delivery splits it into messages of 4096.
    ReplyText, max = 16384, non_blank = true,
    "A manager's answer: 1–16384 characters, not only whitespace, no control characters but TAB, LF and CR."
);
text_type!(
    /// The customer's id in the client's own system (the prototype's `user_id`).
    ExternalUserId, max = 200, non_blank = true,
    "The customer's id in your system: 1–200 characters, no control characters."
);
text_type!(
    /// Free text to search leads for.
    SearchText, max = 200, non_blank = false,
    "Text to search for: at most 200 characters, no control characters."
);
text_type!(
    /// A manager's note on a lead: why it was lost.
    LossReason, max = 500, non_blank = false,
    "At most 500 characters, no control characters."
);
text_type!(
    /// A lead's summary, written by the engine or corrected by a manager.
    LeadSummary, max = 2000, non_blank = false,
    "At most 2000 characters, no control characters."
);
text_type!(
    /// A person's or company's name as a manager or an owner types it.
    NameText, max = 200, non_blank = false,
    "At most 200 characters, no control characters."
);
text_type!(
    /// What a webhook endpoint is for, as its owner describes it.
    EndpointDescription, max = 200, non_blank = false,
    "At most 200 characters, no control characters."
);
text_type!(
    /// What an API key is for, as its creator names it.
    KeyName, max = 100, non_blank = true,
    "What the key is for: 1–100 characters, not only whitespace, no control characters."
);
text_type!(
    /// What the company does, for the LLM's system prompt.
    AboutText, max = 2000, non_blank = false,
    "At most 2000 characters, no control characters."
);
text_type!(
    /// What a line of the price list assumes or includes (the only terms the bot may state).
    PriceConditions, max = 500, non_blank = false,
    "At most 500 characters, no control characters."
);
text_type!(
    /// A custom first greeting of the bot.
    GreetingText, max = 1000, non_blank = false,
    "At most 1000 characters, no control characters."
);
text_type!(
    /// A company's own words for a follow-up (domain::follow_up); blank means the built-in ones.
    FollowUpText, max = 1000, non_blank = false,
    "At most 1000 characters, no control characters; blank or null: the built-in text."
);
text_type!(
    /// The company's phone as its owner writes it (any format: it is shown, not dialled).
    CompanyPhoneText, max = 40, non_blank = false,
    "At most 40 characters, no control characters."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_other_controls_are_refused_tab_lf_cr_kept() {
        assert_eq!(MessageText::parse("a\0b"), Err(TextError::Forbidden));
        assert_eq!(MessageText::parse("a\u{1b}[31m"), Err(TextError::Forbidden));
        assert_eq!(MessageText::parse("a\u{85}"), Err(TextError::Forbidden));
        assert_eq!(MessageText::parse("a\u{7f}"), Err(TextError::Forbidden));
        let kept = MessageText::parse(" строка\tодна\r\nи две ").unwrap();
        assert_eq!(kept.as_str(), "строка\tодна\r\nи две");
    }

    #[test]
    fn length_is_counted_in_characters_before_trimming() {
        assert!(MessageText::parse(&"я".repeat(4096)).is_ok());
        assert_eq!(
            MessageText::parse(&"я".repeat(4097)),
            Err(TextError::TooLong(4096))
        );
        // JSON Schema's maxLength sees the spaces too, so the server must refuse what it refuses.
        assert_eq!(
            MessageText::parse(&format!(" {}", "я".repeat(4096))),
            Err(TextError::TooLong(4096))
        );
    }

    #[test]
    fn blank_is_refused_only_where_text_is_required() {
        assert_eq!(MessageText::parse(" \n\t "), Err(TextError::Blank));
        assert_eq!(LeadSummary::parse("  ").unwrap().as_str(), "");
    }

    #[test]
    fn scrub_removes_what_check_refuses_and_cuts_at_a_character() {
        assert_eq!(scrub("a\0b\u{1}c", 10), "abc");
        assert_eq!(scrub("  Қазақ\0стан  ", 4), "Қаза");
        assert_eq!(scrub("\0 x \0", 10), "x");
        for raw in ["a\0b", "\u{9f}x", "ok", &"я".repeat(5000)] {
            let clean = scrub(raw, MessageText::MAX_CHARS);
            assert!(
                check(&clean, MessageText::MAX_CHARS, false).is_ok(),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn forbidden_is_every_control_character_but_tab_lf_cr() {
        for c in (0u32..0x11_0000).filter_map(char::from_u32) {
            let expected = c.is_control() && !matches!(c, '\t' | '\n' | '\r');
            assert_eq!(is_forbidden(c), expected, "U+{:04X}", c as u32);
        }
        assert_eq!(
            storable_pattern(),
            r"^[^\u0000-\u0008\u000B-\u000C\u000E-\u001F\u007F-\u009F]*$"
        );
    }
}
