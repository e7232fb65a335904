//! Telegram's shapes: a bot token, the webhook secret, what an incoming update means to salesbot,
//! and the splitting of long replies into messages Telegram accepts.

use std::fmt;

use serde::Deserialize;

use super::language::Language;
use super::text::{self, MessageText};

/// Telegram's limit on one message's text, in characters (UTF-16 code units in fact; counting chars
/// stays under it for Cyrillic and Latin text, and a split only needs to err short).
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// The Bot API's limit on files a bot may download.
pub const MAX_DOWNLOAD_BYTES: i64 = 20 * 1024 * 1024;

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

/// The subset of Telegram's `Update` salesbot reads; unknown fields are ignored (Telegram adds
/// fields over time, and a webhook that refused an update would get it redelivered forever).
/// Every string is scrubbed by the text policy as it is read ([`text::scrub`]): Telegram cannot
/// correct what a customer typed, and a NUL must neither fail the update nor reach the database.
#[derive(Debug, Deserialize)]
pub struct Update {
    pub update_id: i64,
    pub message: Option<Message>,
    pub edited_message: Option<Message>,
}

#[derive(Debug, Deserialize)]
pub struct Message {
    pub chat: Chat,
    pub from: Option<User>,
    #[serde(default, deserialize_with = "scrubbed_message")]
    pub text: Option<String>,
    /// The text under a photo or document.
    #[serde(default, deserialize_with = "scrubbed_message")]
    pub caption: Option<String>,
    /// Set on every item of an album (photos sent together).
    #[serde(default, deserialize_with = "scrubbed_id")]
    pub media_group_id: Option<String>,
    pub voice: Option<File>,
    pub audio: Option<File>,
    pub contact: Option<Contact>,
}

#[derive(Debug, Deserialize)]
pub struct Chat {
    pub id: i64,
    #[serde(rename = "type", deserialize_with = "scrubbed_id_req")]
    pub kind: String,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default, deserialize_with = "scrubbed_id")]
    pub language_code: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct File {
    #[serde(deserialize_with = "scrubbed_id_req")]
    pub file_id: String,
    pub file_size: Option<i64>,
    #[serde(default, deserialize_with = "scrubbed_id")]
    pub mime_type: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Contact {
    #[serde(deserialize_with = "scrubbed_message_req")]
    pub phone_number: String,
    pub user_id: Option<i64>,
}

/// Telegram's own limit for an identifier-like string we keep (file ids are under 100).
const MAX_ID_CHARS: usize = 256;

fn scrubbed_message<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
    Ok(raw.map(|r| text::scrub(&r, MessageText::MAX_CHARS)))
}

fn scrubbed_message_req<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    Ok(text::scrub(&raw, MessageText::MAX_CHARS))
}

fn scrubbed_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
    Ok(raw.map(|r| text::scrub(&r, MAX_ID_CHARS)))
}

fn scrubbed_id_req<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    Ok(text::scrub(&raw, MAX_ID_CHARS))
}

/// What an update asks of salesbot.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A customer's words: recorded and answered by the pipeline.
    Text { chat_id: i64, text: String },
    /// A voice note or audio file, fetched later by the transcribe job.
    Voice {
        chat_id: i64,
        file_id: String,
        mime: String,
        file_size: Option<i64>,
    },
    /// A voice note over the Bot API's 20 MB download limit.
    TooLarge { chat_id: i64 },
    /// The customer shared their own phone number (the contact button): the best phone there is.
    Contact { chat_id: i64, phone: String },
    /// `/start`: greeted, no lead.
    Start { chat_id: i64 },
    /// A photo, sticker, document… without words: a polite "please write or send a voice note".
    Unsupported { chat_id: i64 },
    /// An item of an album: the album is one message — its caption (on the first item, as
    /// Telegram's apps send it) or one polite reply — whatever the number of photos.
    Album {
        chat_id: i64,
        group: String,
        caption: Option<String>,
    },
    /// Nothing to do: an edit, a group chat, an update kind we did not ask for.
    Ignore,
}

impl Update {
    /// What to do with this update. Edited messages are ignored: the original was already answered
    /// (or is queued), and answering the edit too would answer one question twice.
    pub fn inbound(&self) -> Inbound {
        let Some(message) = &self.message else {
            return Inbound::Ignore;
        };
        if message.chat.kind != "private" {
            // Customers talk to the bot one to one; a bot added to a group stays silent there.
            return Inbound::Ignore;
        }
        let chat_id = message.chat.id;
        // A text that was nothing but control characters is no text at all.
        if let Some(text) = message.text.as_ref().filter(|t| !t.is_empty()) {
            let command = text.split_whitespace().next().unwrap_or_default();
            if command == "/start" || command.starts_with("/start@") {
                return Inbound::Start { chat_id };
            }
            return Inbound::Text {
                chat_id,
                text: text.clone(),
            };
        }
        if let Some(file) = message.voice.as_ref().or(message.audio.as_ref()) {
            if file.file_size.is_some_and(|s| s > MAX_DOWNLOAD_BYTES) {
                return Inbound::TooLarge { chat_id };
            }
            return Inbound::Voice {
                chat_id,
                file_id: file.file_id.clone(),
                mime: file.mime_type.clone().unwrap_or_else(|| "audio/ogg".into()),
                file_size: file.file_size,
            };
        }
        if let Some(contact) = &message.contact {
            let sender = message.from.as_ref().map(|u| u.id).unwrap_or(chat_id);
            if contact.user_id == Some(sender) {
                return Inbound::Contact {
                    chat_id,
                    phone: contact.phone_number.clone(),
                };
            }
            // Someone else's card (a colleague, a foreman): its number is words of the message,
            // not the customer's own phone.
            return Inbound::Text {
                chat_id,
                text: contact.phone_number.clone(),
            };
        }
        let caption = message
            .caption
            .as_ref()
            .filter(|c| !c.trim().is_empty())
            .cloned();
        if let Some(group) = &message.media_group_id {
            return Inbound::Album {
                chat_id,
                group: group.clone(),
                caption,
            };
        }
        match caption {
            Some(text) => Inbound::Text { chat_id, text },
            None => Inbound::Unsupported { chat_id },
        }
    }

    /// The customer's Telegram interface language, a hint for the first reply.
    pub fn language_code(&self) -> Option<&str> {
        self.message
            .as_ref()?
            .from
            .as_ref()?
            .language_code
            .as_deref()
    }
}

/// The default answer to `/start` (a tenant's own greeting replaces it).
pub fn greeting_text(language: Language) -> &'static str {
    match language {
        Language::Kk => {
            "Сәлеметсіз бе! Мен компанияның сату көмекшісімін. Қандай нысан салғыңыз келеді — үй, монша, гараж? Қалаңыз бен шамамен ауданын жазыңыз."
        }
        Language::En => {
            "Hello! I'm the company's sales assistant. What would you like to build — a house, a bath house, a garage? Tell me your city and the approximate area."
        }
        Language::Ru | Language::Mixed => {
            "Здравствуйте! Я помощник отдела продаж. Что вы хотите построить — дом, баню, гараж? Напишите город и примерную площадь."
        }
    }
}

/// The answer to a photo, sticker… without words.
pub fn unsupported_text(language: Language) -> &'static str {
    match language {
        Language::Kk => {
            "Кешіріңіз, мен мәтін мен дауыстық хабарламаларды ғана түсінемін. Сұрағыңызды жазыңыз немесе дауыспен жіберіңіз."
        }
        Language::En => {
            "Sorry, I can only read text and voice messages. Please write your question or send a voice note."
        }
        Language::Ru | Language::Mixed => {
            "Извините, я понимаю только текст и голосовые сообщения. Напишите, пожалуйста, вопрос или отправьте голосовое."
        }
    }
}

/// The answer to a voice note over the Bot API's download limit.
pub fn too_large_text(language: Language) -> &'static str {
    match language {
        Language::Kk => {
            "Кешіріңіз, бұл файл тым үлкен (20 МБ-тан асады). Қысқа дауыстық хабарлама жіберіңіз немесе жазыңыз."
        }
        Language::En => {
            "Sorry, this file is too large (over 20 MB). Please send a shorter voice note or write."
        }
        Language::Ru | Language::Mixed => {
            "Извините, файл слишком большой (больше 20 МБ). Отправьте, пожалуйста, голосовое покороче или напишите."
        }
    }
}

/// Splits a reply into parts of at most `max` characters, preferring paragraph breaks, then line
/// breaks, then sentence ends, then spaces; a word longer than `max` is cut. Parts are trimmed and
/// never empty, and in order. Panics when `max` is 0, which leaves no room for any text.
pub fn split_message(text: &str, max: usize) -> Vec<String> {
    // Refused loudly: with no room for a character no cut makes progress and the loop below
    // would spin forever.
    assert!(max > 0, "split_message needs max ≥ 1");
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if rest.chars().count() <= max {
            parts.push(rest.to_owned());
            break;
        }
        // Byte offset just past the first `max` characters.
        let limit = rest
            .char_indices()
            .nth(max)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let window = &rest[..limit];
        let cut = ["\n\n", "\n", ". ", "! ", "? ", "… ", " "]
            .iter()
            .find_map(|sep| {
                window
                    .rfind(sep)
                    .filter(|&i| i > 0)
                    .map(|i| i + sep.trim_end().len())
            })
            .filter(|&i| i > 0)
            .unwrap_or(limit);
        let (head, tail) = rest.split_at(cut);
        let head = head.trim();
        if !head.is_empty() {
            parts.push(head.to_owned());
        }
        rest = tail.trim_start();
    }
    parts
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

    #[test]
    fn long_text_splits_on_boundaries_in_order() {
        let paragraph = "Первое предложение. Второе предложение! ".repeat(60);
        let text = format!(
            "{}\n\n{}\n\n{}",
            paragraph.trim(),
            paragraph.trim(),
            "Конец."
        );
        let parts = split_message(&text, 1000);
        assert!(parts.iter().all(|p| p.chars().count() <= 1000));
        assert!(parts.iter().all(|p| !p.is_empty()));
        assert!(
            parts[..parts.len() - 1]
                .iter()
                .all(|p| p.ends_with(['.', '!']))
        );
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(words(&parts.join(" ")), words(&text));
        assert!(parts.last().unwrap().ends_with("!\n\nКонец."));
    }

    #[test]
    fn a_word_longer_than_the_limit_is_cut() {
        let parts = split_message(&"я".repeat(25), 10);
        assert_eq!(parts, vec!["я".repeat(10), "я".repeat(10), "я".repeat(5)]);
        assert_eq!(split_message("  short  ", 10), vec!["short"]);
        assert!(split_message("   ", 10).is_empty());
    }

    #[test]
    #[should_panic(expected = "max ≥ 1")]
    fn a_zero_limit_is_refused_rather_than_looping_forever() {
        split_message("a", 0);
    }

    #[test]
    fn updates_map_to_what_salesbot_does() {
        let update = |message: serde_json::Value| -> Update {
            serde_json::from_value(serde_json::json!({"update_id": 1, "message": message})).unwrap()
        };
        let chat = serde_json::json!({"id": 42, "type": "private"});
        assert_eq!(
            update(serde_json::json!({"chat": chat, "text": "/start"})).inbound(),
            Inbound::Start { chat_id: 42 }
        );
        assert_eq!(
            update(serde_json::json!({"chat": chat, "text": "Дом"})).inbound(),
            Inbound::Text {
                chat_id: 42,
                text: "Дом".into()
            }
        );
        assert_eq!(
            update(serde_json::json!({"chat": chat, "voice": {"file_id": "f", "file_size": 30_000_000}}))
                .inbound(),
            Inbound::TooLarge { chat_id: 42 }
        );
        assert_eq!(
            update(serde_json::json!({"chat": chat, "sticker": {"file_id": "s"}})).inbound(),
            Inbound::Unsupported { chat_id: 42 }
        );
        assert_eq!(
            update(serde_json::json!({"chat": chat, "photo": [], "caption": "Такой дом"}))
                .inbound(),
            Inbound::Text {
                chat_id: 42,
                text: "Такой дом".into()
            }
        );
        assert_eq!(
            update(serde_json::json!({"chat": chat, "photo": [], "media_group_id": "g1"}))
                .inbound(),
            Inbound::Album {
                chat_id: 42,
                group: "g1".into(),
                caption: None
            }
        );
        assert_eq!(
            update(serde_json::json!({"chat": {"id": -5, "type": "group"}, "text": "hi"}))
                .inbound(),
            Inbound::Ignore
        );
        let own = serde_json::json!({"chat": chat, "from": {"id": 42},
            "contact": {"phone_number": "+77012345678", "user_id": 42}});
        assert_eq!(
            update(own).inbound(),
            Inbound::Contact {
                chat_id: 42,
                phone: "+77012345678".into()
            }
        );
        let other = serde_json::json!({"chat": chat, "from": {"id": 42},
            "contact": {"phone_number": "+77770001122", "user_id": 7}});
        assert_eq!(
            update(other).inbound(),
            Inbound::Text {
                chat_id: 42,
                text: "+77770001122".into()
            }
        );
        let edited: Update = serde_json::from_value(serde_json::json!({
            "update_id": 2, "edited_message": {"chat": chat, "text": "Дом!"}
        }))
        .unwrap();
        assert_eq!(edited.inbound(), Inbound::Ignore);
    }
}
