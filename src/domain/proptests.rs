//! Property tests for the value types' parsers and the Telegram shapes (`crate::telegram_api`).
//!
//! Values are stored and parsed again (JSON columns, the lead form, the next turn), so every
//! value a parser produces must read back as itself; Telegram updates come from the internet,
//! so any JSON must either fail to parse or mean what its fields say. The free-text finders'
//! properties are the engine's (`workers/engine/text/proptests.rs`); both use the text
//! strategies of [`super::proptest_strategies`].

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use super::language::Language;
use super::object_type::ObjectType;
use super::person_name::PersonName;
use super::phone::{self, Phone};
use super::proptest_strategies::{
    CASES, any_text, language, mixed_case, name_like, piece, separator, vocabulary,
};
use super::telegram::{BotToken, ChatId};
use crate::telegram_api::{self as telegram, Inbound, MAX_DOWNLOAD_BYTES, Update};

// ---------------------------------------------------------------------------------------------
// Value types: every parsed value reads back as itself
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn phone_parse_never_panics_and_is_canonical(text in any_text()) {
        if let Ok(p) = Phone::parse(&text) {
            prop_assert_eq!(Phone::parse(p.as_str()), Ok(p.clone()));
            prop_assert_eq!(p.as_str().len(), 12);
            prop_assert!(p.as_str().starts_with("+77"));
        }
    }

    /// A name is stored (leads, JSON) and read back through `PersonName::new`.
    #[test]
    fn person_name_is_idempotent(raw in name_like()) {
        if let Some(name) = PersonName::new(&raw) {
            prop_assert!((2..=30).contains(&name.as_str().chars().count()), "{:?}", name);
            prop_assert_eq!(PersonName::new(name.as_str()), Some(name.clone()));
            let json = serde_json::to_string(&name).unwrap();
            prop_assert_eq!(serde_json::from_str::<PersonName>(&json).ok(), Some(name));
        }
    }

    #[test]
    fn an_object_type_key_reads_back(
        kind in select(ObjectType::ALL.to_vec()),
        mask in any::<u64>(),
    ) {
        let key = format!(" {}  ", mixed_case(kind.as_str(), mask));
        prop_assert_eq!(key.parse::<ObjectType>(), Ok(kind));
        let json = serde_json::to_string(&kind).unwrap();
        prop_assert_eq!(serde_json::from_str::<ObjectType>(&json).ok(), Some(kind));
    }

    #[test]
    fn a_language_code_reads_back(lang in language(), mask in any::<u64>()) {
        let code = format!(" {}", mixed_case(lang.code(), mask));
        prop_assert_eq!(code.parse::<Language>(), Ok(lang));
    }
}

// ---------------------------------------------------------------------------------------------
// Telegram
// ---------------------------------------------------------------------------------------------

/// A JSON value of any shape, for fields with the wrong type and for unknown fields.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A string field as Telegram sends it, or as a hostile client could.
fn json_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any_text(),
        1 => Just("/start".to_string()),
        1 => "/start(@[a-z_]{0,12})?( .{0,20})?",
        1 => "[ \t\n\u{a0}]{0,4}",
        1 => Just("private".to_string()),
    ]
}

fn json_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        // One id shared by chat, sender and contact, so a customer's own contact comes up.
        4 => Just(42),
        4 => any::<i64>(),
        1 => select(vec![0, i64::MIN, i64::MAX]),
        1 => (MAX_DOWNLOAD_BYTES - 2)..(MAX_DOWNLOAD_BYTES + 2),
        1 => -5i64..50,
    ]
}

#[derive(Clone, Copy)]
enum Presence {
    Required,
    Optional,
}
use Presence::{Optional, Required};

/// A JSON object with `fields` and a few unknown ones. Well-typed objects follow Telegram's
/// schema (required fields present, values of the right type, any contents); wild ones drop
/// any field and give some the wrong type, as a broken or hostile client would.
fn object_with(
    wild: bool,
    fields: Vec<(&'static str, Presence, BoxedStrategy<Value>)>,
) -> BoxedStrategy<Value> {
    let field_strategies: Vec<BoxedStrategy<Option<(&'static str, Value)>>> = fields
        .into_iter()
        .map(|(key, presence, value)| {
            let maybe = match (wild, presence) {
                (true, _) => prop_oneof![
                    6 => value.prop_map(Some),
                    3 => Just(None),
                    1 => any_json().prop_map(Some),
                ]
                .boxed(),
                (false, Required) => value.prop_map(Some).boxed(),
                (false, Optional) => {
                    prop_oneof![1 => value.prop_map(Some), 2 => Just(None)].boxed()
                }
            };
            maybe.prop_map(move |v| v.map(|v| (key, v))).boxed()
        })
        .collect();
    (
        field_strategies,
        // Unknown fields only: a known name with another type is a wrong-typed field.
        prop::collection::btree_map("x_[a-z_]{0,10}", any_json(), 0..3),
    )
        .prop_map(|(present, extra)| {
            let mut object: Map<String, Value> = extra.into_iter().collect();
            for (key, value) in present.into_iter().flatten() {
                object.insert(key.to_string(), value);
            }
            Value::Object(object)
        })
        .boxed()
}

fn text_value() -> BoxedStrategy<Value> {
    json_text().prop_map(Value::from).boxed()
}

fn int_value() -> BoxedStrategy<Value> {
    json_i64().prop_map(Value::from).boxed()
}

fn file_json(wild: bool) -> BoxedStrategy<Value> {
    object_with(
        wild,
        vec![
            ("file_id", Required, text_value()),
            ("file_size", Optional, int_value()),
            ("mime_type", Optional, text_value()),
        ],
    )
}

fn message_json(wild: bool) -> BoxedStrategy<Value> {
    let chat_type = prop_oneof![
        4 => Just("private".to_string()),
        1 => select(vec!["group", "supergroup", "channel", "Private", ""]).prop_map(str::to_string),
        1 => any::<String>(),
    ];
    let chat = object_with(
        wild,
        vec![
            ("id", Required, int_value()),
            ("type", Required, chat_type.prop_map(Value::from).boxed()),
        ],
    );
    let from = object_with(
        wild,
        vec![
            ("id", Required, int_value()),
            ("language_code", Optional, text_value()),
        ],
    );
    let contact = object_with(
        wild,
        vec![
            ("phone_number", Required, text_value()),
            // Optional in Telegram; absent often enough in wild objects.
            ("user_id", Required, int_value()),
        ],
    );
    object_with(
        wild,
        vec![
            ("chat", Required, chat),
            ("from", Optional, from),
            ("text", Optional, text_value()),
            ("caption", Optional, text_value()),
            ("media_group_id", Optional, text_value()),
            ("voice", Optional, file_json(wild)),
            ("audio", Optional, file_json(wild)),
            ("contact", Optional, contact),
            ("photo", Optional, Just(json!([])).boxed()),
        ],
    )
}

/// An update and whether it is wild (see [`object_with`]).
fn update_json() -> BoxedStrategy<(bool, Value)> {
    let update = |wild: bool| {
        object_with(
            wild,
            vec![
                ("update_id", Required, int_value()),
                ("message", Required, message_json(wild)),
                ("edited_message", Optional, message_json(wild)),
            ],
        )
        .prop_map(move |v| (wild, v))
    };
    prop_oneof![3 => update(false), 1 => update(true)].boxed()
}

/// What `inbound` must say about a message, checked field by field.
fn check_inbound(update: &Update) -> Result<(), TestCaseError> {
    let inbound = update.inbound();
    let Some(message) = &update.message else {
        prop_assert_eq!(inbound, Inbound::Ignore);
        return Ok(());
    };
    if message.chat.kind != "private" {
        prop_assert_eq!(inbound, Inbound::Ignore);
        return Ok(());
    }
    let chat = message.chat.id;
    let blank = |s: &str| s.trim().is_empty();
    // A text scrubbed down to nothing (it held only control characters) is no text.
    let text_given = message.text.as_deref().filter(|t| !t.is_empty());
    match inbound {
        Inbound::Ignore => {
            return Err(TestCaseError::fail("a private message is never ignored"));
        }
        Inbound::Start { chat_id } => {
            prop_assert_eq!(chat_id, chat);
            let first = message
                .text
                .as_deref()
                .and_then(|t| t.split_whitespace().next());
            prop_assert!(first.is_some_and(|c| c == "/start" || c.starts_with("/start@")));
        }
        Inbound::Text { chat_id, text } => {
            prop_assert_eq!(chat_id, chat);
            match text_given {
                Some(t) => prop_assert_eq!(text.as_str(), t),
                None => {
                    let from_contact = message
                        .contact
                        .as_ref()
                        .is_some_and(|c| c.phone_number == text);
                    let from_caption = message.caption.as_deref() == Some(&text) && !blank(&text);
                    prop_assert!(from_contact || from_caption);
                }
            }
        }
        Inbound::Voice {
            chat_id,
            file_id,
            mime,
            file_size,
        } => {
            prop_assert_eq!(chat_id, chat);
            prop_assert!(text_given.is_none());
            let file = message.voice.as_ref().or(message.audio.as_ref()).unwrap();
            prop_assert_eq!(&file_id, &file.file_id);
            prop_assert_eq!(file_size, file.file_size);
            prop_assert!(file_size.is_none_or(|s| s <= MAX_DOWNLOAD_BYTES));
            prop_assert_eq!(
                Some(mime.as_str()),
                file.mime_type.as_deref().or(Some("audio/ogg"))
            );
        }
        Inbound::TooLarge { chat_id } => {
            prop_assert_eq!(chat_id, chat);
            let file = message.voice.as_ref().or(message.audio.as_ref()).unwrap();
            prop_assert!(file.file_size.is_some_and(|s| s > MAX_DOWNLOAD_BYTES));
        }
        Inbound::Contact { chat_id, phone } => {
            prop_assert_eq!(chat_id, chat);
            let contact = message.contact.as_ref().unwrap();
            prop_assert_eq!(&phone, &contact.phone_number);
            let sender = message.from.as_ref().map_or(chat, |u| u.id);
            prop_assert_eq!(contact.user_id, Some(sender));
        }
        Inbound::Unsupported { chat_id } => {
            prop_assert_eq!(chat_id, chat);
            prop_assert!(text_given.is_none() && message.contact.is_none());
            prop_assert!(message.voice.is_none() && message.audio.is_none());
            prop_assert!(message.media_group_id.is_none());
            prop_assert!(message.caption.as_deref().is_none_or(blank));
        }
        Inbound::Album {
            chat_id,
            group,
            caption,
        } => {
            prop_assert_eq!(chat_id, chat);
            prop_assert_eq!(Some(&group), message.media_group_id.as_ref());
            match caption {
                Some(c) => {
                    prop_assert!(!blank(&c));
                    prop_assert_eq!(Some(&c), message.caption.as_ref());
                }
                None => prop_assert!(message.caption.as_deref().is_none_or(blank)),
            }
        }
    }
    let language = message
        .from
        .as_ref()
        .and_then(|u| u.language_code.as_deref());
    prop_assert_eq!(update.language_code(), language);
    Ok(())
}

/// Where each part of a split message sits in the original: parts appear in order, and only
/// whitespace lies between them (the doc: parts are trimmed, never empty, in order).
fn check_split(text: &str, max: usize, parts: &[String]) -> Result<(), TestCaseError> {
    let mut rest = text.trim();
    for part in parts {
        prop_assert!(!part.is_empty());
        prop_assert_eq!(part.trim(), part.as_str());
        prop_assert!(
            part.chars().count() <= max,
            "{} chars > {}",
            part.chars().count(),
            max
        );
        rest = rest.trim_start();
        prop_assert!(
            rest.starts_with(part.as_str()),
            "{:?} not next in {:?}",
            part,
            rest
        );
        rest = &rest[part.len()..];
    }
    prop_assert!(rest.trim().is_empty(), "left over: {:?}", rest);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Webhook bodies come from the internet: any JSON must either fail to parse or give an
    /// update whose meaning follows its fields, and parsing text or a value must agree.
    #[test]
    fn telegram_updates_parse_and_map_consistently((wild, value) in update_json()) {
        let from_value = serde_json::from_value::<Update>(value.clone());
        let from_text = serde_json::from_str::<Update>(&value.to_string());
        prop_assert_eq!(from_value.is_ok(), from_text.is_ok());
        // Unknown fields and any string or number contents never make Telegram's own shape
        // fail: a refused update is redelivered forever.
        prop_assert!(wild || from_value.is_ok(), "{:?}", from_value.err());
        if let (Ok(a), Ok(b)) = (&from_value, &from_text) {
            prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
            prop_assert_eq!(a.inbound(), b.inbound());
            check_inbound(a)?;
        }
    }

    #[test]
    fn telegram_update_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(update) = serde_json::from_slice::<Update>(&bytes) {
            check_inbound(&update)?;
        }
    }

    #[test]
    fn split_message_keeps_every_word_in_order(
        text in prop_oneof![
            any_text(),
            prop::collection::vec(
                prop_oneof![
                    piece(),
                    Just("\n\n".to_string()),
                    Just(". ".to_string()),
                    Just("… ".to_string()),
                    "[a-zа-я]{10,40}",
                ],
                0..80,
            )
            .prop_map(|v| v.concat()),
        ],
        max in prop_oneof![1usize..8, 8usize..64, Just(telegram::MAX_MESSAGE_CHARS)],
    ) {
        let parts = telegram::split_message(&text, max);
        check_split(&text, max, &parts)?;
    }

    /// Only a word longer than `max` is cut; other cuts fall between words.
    #[test]
    fn split_message_cuts_between_words(
        words in prop::collection::vec(
            prop_oneof![
                // At most 11 chars, so that with a sentence's «.» a word still fits in `max`.
                "[a-zа-яәқ0-9.,!?…-]{1,11}",
                select(
                    vocabulary()
                        .into_iter()
                        .filter(|w| w.chars().count() <= 11)
                        .collect::<Vec<_>>(),
                )
                .prop_map(str::to_string),
            ],
            0..60,
        ),
        seps in prop::collection::vec(select(vec![" ", "  ", "\n", "\n\n", ". ", " \n"]), 60),
        max in 12usize..80,
    ) {
        let text: String = words.iter().zip(&seps).map(|(w, s)| format!("{w}{s}")).collect();
        let parts = telegram::split_message(&text, max);
        check_split(&text, max, &parts)?;
        let words_of = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        prop_assert_eq!(words_of(&parts.join(" ")), words_of(&text));
    }

    #[test]
    fn bot_token_parse_is_strict_and_canonical(raw in prop_oneof![
        any_text(),
        "[ \t]{0,2}[0-9]{1,22}:[A-Za-z0-9_-]{18,102}[ \n]{0,2}",
        "[0-9]{3,20}:[A-Za-z0-9_:@ -]{20,40}",
    ]) {
        if let Ok(token) = BotToken::parse(&raw) {
            prop_assert_eq!(token.expose(), raw.trim());
            prop_assert_eq!(BotToken::parse(token.expose()), Ok(token.clone()));
            let (id, secret) = token.expose().split_once(':').unwrap();
            prop_assert!((3..=20).contains(&id.len()) && (20..=100).contains(&secret.len()));
            // Debug and hint show the id and the last four characters, never more.
            let tail = &secret[secret.len() - 4..];
            prop_assert_eq!(token.hint(), format!("{id}:…{tail}"));
            prop_assert_eq!(format!("{token:?}"), format!("BotToken({id}:…{tail})"));
        }
    }

    #[test]
    fn a_botfather_token_parses(
        id in "[1-9][0-9]{2,19}",
        secret in "[A-Za-z0-9_-]{20,100}",
        pad in "[ \t\n]{0,3}",
    ) {
        let raw = format!("{pad}{id}:{secret}{pad}");
        prop_assert!(BotToken::parse(&raw).is_ok(), "{:?}", raw);
    }

    #[test]
    fn chat_id_parse_is_canonical(raw in prop_oneof![
        any_text(),
        any::<i64>().prop_map(|n| n.to_string()),
        "@[A-Za-z0-9_]{3,34}",
        "-{0,2}[0-9]{0,22}",
    ]) {
        if let Ok(id) = ChatId::parse(&raw) {
            prop_assert_eq!(id.as_str(), raw.trim());
            prop_assert_eq!(ChatId::parse(id.as_str()), Ok(id.clone()));
        }
    }

    /// Every real chat id (users, groups, supergroups `-100…`) and channel username parses.
    #[test]
    fn real_chat_ids_parse(
        n in any::<i64>(),
        username in "@[A-Za-z0-9_]{5,32}",
    ) {
        // Ids under 10 are one character, shorter than any id Telegram issues.
        prop_assume!(!(0..10).contains(&n));
        prop_assert!(ChatId::parse(&n.to_string()).is_ok(), "{}", n);
        prop_assert!(ChatId::parse(&username).is_ok(), "{}", username);
    }
}

// ---------------------------------------------------------------------------------------------
// The documented patterns of the API's inputs (OpenAPI) against the parsers that enforce them
// ---------------------------------------------------------------------------------------------

fn phone_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any_text(),
        "[ +78(]{0,3}[0-9 ().\u{a0}\t-]{6,20}",
        (
            select(vec!["", "+7", "8", "7", "+", "+8"]),
            "7[0-9]{9}",
            separator()
        )
            .prop_map(|(prefix, digits, sep)| format!(
                "{prefix}{}",
                digits
                    .chars()
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .join(&sep)
            )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// A schemathesis-valid phone is a parseable one, and nothing else is.
    #[test]
    fn the_phone_pattern_is_the_parser(raw in phone_like()) {
        let pattern = regex::Regex::new(phone::PHONE_PATTERN).unwrap();
        prop_assert_eq!(pattern.is_match(&raw), Phone::parse(&raw).is_ok(), "{:?}", raw);
    }

    /// The text policy's pattern and length are the policy; scrubbed text always passes it.
    #[test]
    fn the_text_pattern_is_the_policy(raw in any_text(), max in 1usize..64) {
        use super::text;
        let storable = regex::Regex::new(&text::storable_pattern()).unwrap();
        let non_blank = regex::Regex::new(&text::non_blank_pattern()).unwrap();
        let fits = raw.chars().count() <= max;
        prop_assert_eq!(
            text::check(&raw, max, false).is_ok(),
            storable.is_match(&raw) && fits
        );
        prop_assert_eq!(
            text::check(&raw, max, true).is_ok(),
            non_blank.is_match(&raw) && fits,
            "{:?}", raw
        );
        let clean = text::scrub(&raw, max);
        prop_assert!(text::check(&clean, max, false).is_ok());
        prop_assert_eq!(text::scrub(&clean, max), clean.clone());
    }
}
