//! A tenant's Telegram bot as its settings name it: the bot token, the managers' chat, the webhook
//! secret. What the Bot API sends, and its limits, are `crate::telegram_api`.

use std::fmt;

/// A bot token as BotFather issues it: `<bot id>:<secret part>`. Never printed (Debug hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct BotToken(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Telegram bot token (expected `<digits>:<secret>` as BotFather gives it)")]
pub struct BadBotToken;

impl BotToken {
    pub fn parse(raw: &str) -> Result<Self, BadBotToken> {
        let raw = raw.trim();
        let (id, secret) = raw.split_once(':').ok_or(BadBotToken)?;
        let id_ok = (3..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit());
        let secret_ok = (20..=100).contains(&secret.len())
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if id_ok && secret_ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(BadBotToken)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the API shows: the bot id and the last four characters, e.g. `123456:…abcd`.
    pub fn hint(&self) -> String {
        let (id, secret) = self.0.split_once(':').unwrap_or(("", &self.0));
        let tail: String = secret
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{id}:…{tail}")
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BotToken({})", self.hint())
    }
}

/// What [`BotToken::parse`] accepts, in ECMA-262 and `regex` syntax alike.
pub const BOT_TOKEN_PATTERN: &str = r"^\s*[0-9]{3,20}:[A-Za-z0-9_-]{20,100}\s*$";

impl<'de> serde::Deserialize<'de> for BotToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&raw).map_err(|_| {
            serde::de::Error::custom(
                "must be a bot token as BotFather gives it, `<digits>:<secret>`",
            )
        })
    }
}

impl utoipa::PartialSchema for BotToken {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        pattern_schema(BOT_TOKEN_PATTERN, "The bot's token from @BotFather.")
    }
}

impl utoipa::ToSchema for BotToken {}

fn pattern_schema(
    pattern: &str,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

/// A managers' chat id: a user, group (`-123…`) or supergroup/channel (`-100…`) id, or `@channel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Telegram chat id (a number such as -1001234567890, or @channelname)")]
pub struct BadChatId;

impl ChatId {
    pub fn parse(raw: &str) -> Result<Self, BadChatId> {
        let raw = raw.trim();
        let numeric = raw
            .strip_prefix('-')
            .unwrap_or(raw)
            .bytes()
            .all(|b| b.is_ascii_digit())
            && (2..=21).contains(&raw.len());
        let username = raw.strip_prefix('@').is_some_and(|u| {
            (5..=32).contains(&u.len()) && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if numeric || username {
            Ok(Self(raw.to_owned()))
        } else {
            Err(BadChatId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What [`ChatId::parse`] accepts, in ECMA-262 and `regex` syntax alike.
pub const CHAT_ID_PATTERN: &str = r"^\s*(?:-[0-9]{1,20}|[0-9]{2,21}|@[A-Za-z0-9_]{5,32})\s*$";

impl<'de> serde::Deserialize<'de> for ChatId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&raw).map_err(|_| {
            serde::de::Error::custom(
                "must be a Telegram chat id (a number such as -1001234567890, or @channelname)",
            )
        })
    }
}

impl utoipa::PartialSchema for ChatId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        pattern_schema(
            CHAT_ID_PATTERN,
            "A Telegram chat: a number such as -1001234567890, or @channelname.",
        )
    }
}

impl utoipa::ToSchema for ChatId {}

/// A random secret for `setWebhook`'s `secret_token` (1–256 of `A-Z a-z 0-9 _ -`): 256 bits, hex.
pub fn new_webhook_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod pattern_tests {
    use super::*;

    #[test]
    fn documented_patterns_accept_exactly_what_parse_accepts() {
        let token = regex::Regex::new(BOT_TOKEN_PATTERN).unwrap();
        let secret = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
        let long = "a".repeat(101);
        for sample in [
            format!("123456:{secret}"),
            format!(" 123456:{secret} "),
            format!("12:{secret}"),
            format!("123456:{}", &secret[..19]),
            format!("123456:{}", &secret[..20]),
            format!("123456:{long}"),
            format!("123456:{secret}!"),
            format!("x123456:{secret}"),
            "123456".into(),
            format!("{}:{secret}", "1".repeat(21)),
        ] {
            assert_eq!(
                token.is_match(&sample),
                BotToken::parse(&sample).is_ok(),
                "{sample:?}"
            );
        }
        let chat = regex::Regex::new(CHAT_ID_PATTERN).unwrap();
        for sample in [
            "-1001234567890",
            "12",
            "1",
            "-1",
            "-",
            "",
            " -100 ",
            "@channel",
            "@chan",
            "@chn",
            "@with_underscore_and_32_chars_xx",
            "@with_underscore_and_33_chars_xxx",
            "@bad-dash",
            "123456789012345678901",
            "1234567890123456789012",
            "-12345678901234567890",
            "-123456789012345678901",
            "+123",
            "12 34",
        ] {
            assert_eq!(
                chat.is_match(sample),
                ChatId::parse(sample).is_ok(),
                "{sample:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_and_hide() {
        let token = BotToken::parse(" 123456:AAHk_secret-part-0123456789abcd ").unwrap();
        assert_eq!(token.hint(), "123456:…abcd");
        assert!(!format!("{token:?}").contains("secret"));
        for bad in [
            "",
            "123456",
            "abc:AAHk_secret-part-0123456789",
            "123:short",
            "123456:has space in the secret part 0123",
        ] {
            assert!(BotToken::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn chat_ids() {
        for good in ["-1001234567890", "123456789", "@stroy_managers"] {
            assert!(ChatId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "-", "chat", "@ab", "12 34"] {
            assert!(ChatId::parse(bad).is_err(), "{bad}");
        }
    }
}
