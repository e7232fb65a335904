//! The Telegram Bot API as salesbot reads it: the updates its webhook and `getUpdates` deliver,
//! what each means to salesbot, the fixed answers to those the pipeline does not take, and the API's
//! limits (with the splitting of long replies into messages Telegram accepts). In `src/` rather than
//! beside the client (`workers/integrations/telegram.rs`) because the web process parses updates,
//! and `src/` never imports `workers`.

use serde::Deserialize;

use crate::domain::language::Language;
use crate::domain::text::{self, MessageText};

/// Telegram's limit on one message's text, in characters (Unicode scalars: a live test had 4,096
/// emoji, 8,192 UTF-16 code units, accepted and one more refused; only entity offsets count UTF-16).
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// The Bot API's limit on files a bot may download.
pub const MAX_DOWNLOAD_BYTES: i64 = 20 * 1024 * 1024;

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
mod tests {
    use super::*;

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
