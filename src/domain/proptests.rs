//! Property tests for the free-text parsers and the Telegram shapes.
//!
//! Customers type anything — Kazakh and Russian letters, emoji, pasted control characters,
//! whole phone books — and every finder here runs on every message, so a panic on one odd
//! message fails that conversation's job for good. Each parser must therefore survive any
//! UTF-8, and every value it produces must read back as itself (values are stored and parsed
//! again: JSON columns, the lead form, the next turn).
//!
//! The strategies are in [`super::proptest_strategies`].

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

use super::area::{self, AreaContext};
use super::city::{self, City};
use super::language::{self, Language};
use super::numbers::{numeric_items, word_numbers};
use super::object_type::{self, ObjectType};
use super::person_name::{self, NameContext, NameEvidence, PersonName, nominative};
use super::phone::{self, Phone};
use super::proptest_strategies::{
    CASES, any_text, chat_text_of, language, mixed_case, name_like, piece, separator, vocabulary,
};
use super::telegram::{self, BotToken, ChatId, Inbound, MAX_DOWNLOAD_BYTES, Update};
use super::tokens::{Kind, fold, starts_with_any, strip_kk_suffix, tokenize};

/// Messages reach the finders capped at 4096 characters (HTTP and Telegram alike).
const LONGEST_MESSAGE: usize = 4096;

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// A message at the size limit, for quadratic blow-ups and long-run arithmetic.
fn long_text() -> impl Strategy<Value = String> {
    prop_oneof![
        chat_text_of(1500),
        "[0-9]{1000,4096}",
        prop::collection::vec(
            select(vec!["сто", "жүз", "мың", "тысяча", "восемь", "он"]),
            0..800
        )
        .prop_map(|v| v.join(" ")),
        prop::collection::vec(prop::char::range('а', 'я'), 1000..4096)
            .prop_map(|v| format!("Д{}", String::from_iter(v))),
    ]
    .prop_map(|s| s.chars().take(LONGEST_MESSAGE).collect())
}

/// Any valid Kazakhstan mobile, `+77XXXXXXXXX`, excluding the 71X/72X landline codes.
fn kz_mobile() -> impl Strategy<Value = Phone> {
    "7[03-9][0-9]{8}".prop_map(|national| Phone::parse(&format!("+7{national}")).unwrap())
}

/// The bot's context around a message, as the engine builds it.
fn area_context_values() -> impl Strategy<Value = (bool, Vec<f64>)> {
    (
        any::<bool>(),
        prop::collection::vec(
            prop_oneof![
                3 => 0.0..300_000.0f64,
                1 => select(vec![f64::NAN, f64::INFINITY, -0.0, f64::MAX, f64::MIN_POSITIVE]),
            ],
            0..3,
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Number words, written the way the number grammar reads them
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip]
const RU_UNITS: [&str; 10] =
    ["", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"];
#[rustfmt::skip]
const RU_TEENS: [&str; 10] = [
    "десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать",
    "шестнадцать", "семнадцать", "восемнадцать", "девятнадцать",
];
#[rustfmt::skip]
const RU_TENS: [&str; 10] = [
    "", "", "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят",
    "восемьдесят", "девяносто",
];
#[rustfmt::skip]
const RU_HUNDREDS: [&str; 10] = [
    "", "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот", "восемьсот",
    "девятьсот",
];
#[rustfmt::skip]
const KK_UNITS: [&str; 10] =
    ["", "бір", "екі", "үш", "төрт", "бес", "алты", "жеті", "сегіз", "тоғыз"];
#[rustfmt::skip]
const KK_TENS: [&str; 10] =
    ["", "он", "жиырма", "отыз", "қырық", "елу", "алпыс", "жетпіс", "сексен", "тоқсан"];
/// A digit dictated on its own, as voice transcripts spell phone numbers.
#[rustfmt::skip]
const RU_DIGITS: [&str; 10] =
    ["ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"];

/// 1..=999 in Russian words: «сто двадцать пять».
fn russian_words(n: u32) -> String {
    let (h, rest) = (n / 100, n % 100);
    let mut words = vec![RU_HUNDREDS[h as usize]];
    if (10..20).contains(&rest) {
        words.push(RU_TEENS[(rest - 10) as usize]);
    } else {
        words.push(RU_TENS[(rest / 10) as usize]);
        words.push(RU_UNITS[(rest % 10) as usize]);
    }
    words.retain(|w| !w.is_empty());
    words.join(" ")
}

/// 1..=999 in Kazakh words: «екі жүз елу бес».
fn kazakh_words(n: u32) -> Vec<&'static str> {
    let (h, t, u) = (n / 100, n / 10 % 10, n % 10);
    let mut words = Vec::new();
    if h > 1 {
        words.push(KK_UNITS[h as usize]);
    }
    if h > 0 {
        words.push("жүз");
    }
    words.push(KK_TENS[t as usize]);
    words.push(KK_UNITS[u as usize]);
    words.retain(|w| !w.is_empty());
    words
}

/// «35 000 000»: thousands separated by `sep`.
fn grouped(n: u64, sep: &str) -> String {
    let digits = n.to_string();
    let head = digits.len() % 3;
    let mut groups = Vec::new();
    if head > 0 {
        groups.push(&digits[..head]);
    }
    groups.extend((head..digits.len()).step_by(3).map(|i| &digits[i..i + 3]));
    groups.join(sep)
}

/// Digit runs long enough to be a phone, as the engine passes them to the name finder.
fn phone_like_spans(tokens: &[super::tokens::Token<'_>]) -> Vec<(usize, usize)> {
    phone::digit_runs(tokens)
        .into_iter()
        .filter(|r| r.digit_count(tokens) >= 7)
        .map(|r| (r.first, r.last))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Every finder indexes tokens and slices the text by their offsets.
    #[test]
    fn tokens_cover_the_text_in_order(text in any_text()) {
        let tokens = tokenize(&text);
        let mut prev_end = 0;
        for (i, t) in tokens.iter().enumerate() {
            prop_assert!(t.start < t.end && t.end <= text.len());
            prop_assert!(t.start >= prev_end);
            prop_assert_eq!(t.raw, &text[t.start..t.end]);
            let gap = &text[prev_end..t.start];
            prop_assert!(gap.chars().all(char::is_whitespace), "{:?}", gap);
            prop_assert_eq!(t.space_before, i == 0 || !gap.is_empty());
            match t.kind {
                Kind::Num => {
                    prop_assert!(t.raw.bytes().all(|b| b.is_ascii_digit()));
                    prop_assert_eq!(&t.norm, t.raw);
                }
                Kind::Word => prop_assert_eq!(&t.norm, &fold(t.raw)),
                Kind::Sym => prop_assert_eq!(t.raw.chars().count(), 1),
            }
            let _ = (t.int_value(), t.is_capitalized(), t.is_all_caps());
            prev_end = t.end;
        }
        prop_assert!(text[prev_end..].chars().all(char::is_whitespace));
    }

    /// Finders fold twice (a folded word is looked up through functions that fold again), so
    /// folding must not change a folded word.
    #[test]
    fn fold_is_idempotent(text in any_text()) {
        let once = fold(&text);
        prop_assert_eq!(fold(&once), once);
    }

    /// `fold` lower-cases Cyrillic and Latin through a hand-written fast path; it must agree
    /// with Unicode's lower case.
    #[test]
    fn fold_agrees_with_unicode_lower_case(
        word in prop::collection::vec(
            prop_oneof![
                prop::char::range('\u{400}', '\u{52f}'),
                prop::char::range('A', 'Z'),
                prop::char::range('a', 'z'),
            ],
            0..20,
        )
        .prop_map(String::from_iter),
    ) {
        prop_assert_eq!(fold(&word), fold(&word.to_lowercase()));
    }

    /// `starts_with_any` is a hand-optimised `starts_with` over a list.
    #[test]
    fn starts_with_any_agrees_with_starts_with(
        s in any_text(),
        prefixes in prop::collection::vec(
            prop_oneof![select(vocabulary()).prop_map(str::to_string), any::<String>()],
            0..6,
        ),
        take in 0usize..8,
    ) {
        // Include prefixes of `s` itself, cut at char boundaries.
        let mut prefixes = prefixes;
        prefixes.push(s.chars().take(take).collect());
        let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        prop_assert_eq!(
            starts_with_any(&s, &refs),
            refs.iter().any(|p| s.starts_with(p))
        );
    }

    #[test]
    fn kazakh_suffix_strip_splits_the_word(text in any_text(), min_stem in 0usize..5) {
        let folded = fold(&text);
        if let Some((stem, suffix)) = strip_kk_suffix(&folded, min_stem) {
            prop_assert_eq!(format!("{stem}{suffix}"), folded.as_str());
            prop_assert!(stem.chars().count() >= min_stem);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn numbers_point_at_their_tokens(
        text in any_text(),
        skip in prop::collection::vec(any::<bool>(), 0..80),
    ) {
        let tokens = tokenize(&text);
        for w in word_numbers(&tokens) {
            prop_assert!(w.first <= w.last && w.last < tokens.len());
            prop_assert!(w.digits.bytes().all(|b| b.is_ascii_digit()));
            if let Some(v) = w.value {
                prop_assert!(v.is_finite() && v >= 0.0);
            }
        }
        // A short or long skip mask is tolerated (missing entries are "not skipped").
        let items = numeric_items(&tokens, &skip);
        for n in &items {
            prop_assert!(n.first <= n.last && n.last < tokens.len());
            prop_assert!(!n.value.is_nan() && n.value >= 0.0);
            prop_assert!(!skip.get(n.first).copied().unwrap_or(false));
        }
        prop_assert!(items.windows(2).all(|w| w[0].first <= w[1].first));
    }

    /// Masking every token (all phones) leaves no number to read.
    #[test]
    fn numbers_in_skipped_tokens_are_not_read(text in any_text()) {
        let tokens = tokenize(&text);
        prop_assert!(numeric_items(&tokens, &vec![true; tokens.len()]).is_empty());
    }

    #[test]
    fn a_number_written_in_digits_reads_back(n in 0u64..1_000_000_000_000) {
        for written in [n.to_string(), grouped(n, " "), grouped(n, ",")] {
            let tokens = tokenize(&written);
            let items = numeric_items(&tokens, &[]);
            prop_assert_eq!(items.len(), 1, "{}", written);
            prop_assert_eq!(items[0].value, n as f64, "{}", written);
        }
    }

    #[test]
    fn a_number_written_in_russian_words_reads_back(
        thousands in 0u32..1000,
        rest in 0u32..1000,
    ) {
        prop_assume!(thousands + rest > 0);
        let mut words = Vec::new();
        if thousands > 0 {
            words.push(russian_words(thousands));
            words.push("тысяч".to_string());
        }
        if rest > 0 {
            words.push(russian_words(rest));
        }
        let text = words.join(" ");
        let items = numeric_items(&tokenize(&text), &[]);
        prop_assert_eq!(items.len(), 1, "{}", text);
        prop_assert_eq!(items[0].value, f64::from(thousands * 1000 + rest), "{}", text);
        prop_assert!(items[0].from_words);
    }

    #[test]
    fn a_number_written_in_kazakh_words_reads_back(thousands in 0u32..1000, rest in 0u32..1000) {
        prop_assume!(thousands + rest > 0);
        let mut words = Vec::new();
        if thousands > 0 {
            words.extend(kazakh_words(thousands));
            words.push("мың");
        }
        if rest > 0 {
            words.extend(kazakh_words(rest));
        }
        // «он» (he / ten) and «төрт» (торт, cake / four) count only next to another number
        // word, by design: alone, or only with each other, they are ordinary Russian words.
        prop_assume!(!words.iter().all(|w| matches!(*w, "он" | "төрт")));
        let text = words.join(" ");
        let items = numeric_items(&tokenize(&text), &[]);
        prop_assert_eq!(items.len(), 1, "{}", text);
        prop_assert_eq!(items[0].value, f64::from(thousands * 1000 + rest), "{}", text);
    }
}

// ---------------------------------------------------------------------------------------------
// Phones
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

    /// Everything the finder returns is a phone `Phone::parse` accepts unchanged, and its spans
    /// point inside the message.
    #[test]
    fn found_phones_are_valid_phones(text in any_text()) {
        let tokens = tokenize(&text);
        let spans = phone::find_in_tokens(&tokens);
        for s in &spans {
            prop_assert!(s.first <= s.last && s.last < tokens.len());
            prop_assert_eq!(Phone::parse(s.phone.as_str()), Ok(s.phone.clone()));
        }
        prop_assert!(spans.windows(2).all(|w| w[0].first <= w[1].first));
        for run in phone::digit_runs(&tokens) {
            prop_assert!(run.first <= run.last && run.last < tokens.len());
            prop_assert!(run.groups.iter().all(|&g| tokens[g].is_num()));
        }
        for run in phone::broken_phone_runs(&tokens) {
            prop_assert!(run.last < tokens.len());
        }
        let phones = phone::find_phones(&text);
        prop_assert_eq!(phone::find_last_phone(&text), phones.last().cloned());
    }

    #[test]
    fn a_phone_reads_back_from_its_usual_spellings(p in kz_mobile(), context in 0usize..4) {
        let d = &p.as_str()[2..]; // 7XXXXXXXXX
        let spellings = [
            p.as_str().to_string(),
            format!("8{d}"),
            d.to_string(),
            format!("+7 {} {} {} {}", &d[..3], &d[3..6], &d[6..8], &d[8..]),
            format!("8 ({}) {}-{}-{}", &d[..3], &d[3..6], &d[6..8], &d[8..]),
            format!("8-{}-{}-{}-{}", &d[..3], &d[3..6], &d[6..8], &d[8..]),
            format!("8({}){}", &d[..3], &d[3..]),
        ];
        for spelled in spellings {
            prop_assert_eq!(Phone::parse(&spelled), Ok(p.clone()), "{}", spelled);
            let text = match context {
                0 => spelled.clone(),
                1 => format!("Мой номер {spelled}, спасибо"),
                2 => format!("Ерлан {spelled}"),
                _ => format!("звоните: {spelled}!"),
            };
            prop_assert_eq!(phone::find_phones(&text), vec![p.clone()], "{}", text);
        }
    }

    /// Phones listed one after another come back in order (the last is the correction).
    #[test]
    fn listed_phones_read_back_in_order(
        phones in prop::collection::vec(kz_mobile(), 1..4),
        sep in select(vec![", ", " или ", "\n", "; ", " "]),
        eight in any::<bool>(),
    ) {
        let spelled: Vec<String> = phones
            .iter()
            .map(|p| if eight { format!("8{}", &p.as_str()[2..]) } else { p.to_string() })
            .collect();
        let text = spelled.join(sep);
        prop_assert_eq!(phone::find_phones(&text), phones.clone(), "{}", text);
        prop_assert_eq!(phone::find_last_phone(&text), phones.last().cloned());
    }

    #[test]
    fn a_dictated_phone_reads_back(p in kz_mobile(), with_plus in any::<bool>()) {
        let national = &p.as_str()[2..];
        let digits = national.bytes().map(|b| RU_DIGITS[usize::from(b - b'0')]);
        let head = if with_plus { ["плюс", "семь"] } else { ["восемь", ""] };
        let text = head
            .into_iter()
            .filter(|w| !w.is_empty())
            .chain(digits)
            .collect::<Vec<_>>()
            .join(" ");
        prop_assert_eq!(phone::find_last_phone(&text), Some(p), "{}", text);
    }
}

// ---------------------------------------------------------------------------------------------
// Area
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn area_is_a_plausible_number_or_nothing(
        text in any_text(),
        (asked_area, bot_values) in area_context_values(),
    ) {
        if let Some(a) = area::find_area(&text) {
            prop_assert!((2.0..=200_000.0).contains(&a), "{}", a);
        }
        let tokens = tokenize(&text);
        let ctx = AreaContext { asked_area, bot_values: &bot_values };
        let mentions = area::find_in_tokens(&tokens, &[], ctx);
        for m in &mentions {
            prop_assert!(m.first <= m.last && m.last < tokens.len());
            prop_assert!((2.0..=200_000.0).contains(&m.value));
        }
        // In text order, so that the caller's "last one wins" is the latest correction.
        prop_assert!(mentions.windows(2).all(|w| w[0].first <= w[1].first));
    }

    #[test]
    fn a_corrected_area_wins(
        first in 2u32..=200_000,
        second in 2u32..=200_000,
        correction in select(vec![", нет, ", ". Ой, не так: ", ", вернее ", " or rather "]),
    ) {
        let text = format!("{first} м²{correction}{second} м²");
        prop_assert_eq!(area::find_area(&text), Some(f64::from(second)), "{}", text);
    }

    #[test]
    fn an_area_with_its_unit_reads_back(
        whole in 2u32..=200_000,
        tenths in prop_oneof![3 => Just(None), 1 => (1u32..10).prop_map(Some)],
        mark in select(vec![",", "."]),
        unit in select(vec!["м²", "м2", "кв.м", "кв. м", "квадратов", "шаршы метр", "sqm", "m2"]),
        lead in select(vec!["", "площадь ", "дом ", "около ", "примерно "]),
    ) {
        let (written, value) = match tenths {
            Some(t) => (format!("{whole}{mark}{t}"), f64::from(whole) + f64::from(t) / 10.0),
            None => (whole.to_string(), f64::from(whole)),
        };
        prop_assume!(value <= 200_000.0);
        for text in [format!("{lead}{written} {unit}"), format!("{lead}{written}{unit}")] {
            let found = area::find_area(&text);
            prop_assert!(
                found.is_some_and(|a| (a - value).abs() < 1e-9),
                "{} → {:?}", text, found
            );
        }
    }

    #[test]
    fn an_area_in_thousands_groups_reads_back(a in 1000u64..=200_000) {
        let text = format!("{} м²", grouped(a, " "));
        prop_assert_eq!(area::find_area(&text), Some(a as f64), "{}", text);
    }

    #[test]
    fn dimensions_multiply(
        x in 1u32..=500,
        y in 1u32..=500,
        conn in select(vec![" на ", "х", " x ", "×", " by "]),
    ) {
        // Products outside 2..=200 000 m² are no building's floor area and are dropped.
        prop_assume!((2..=200_000).contains(&(x * y)));
        let text = format!("{x}{conn}{y}");
        prop_assert_eq!(area::find_area(&text), Some(f64::from(x * y)), "{}", text);
    }

    #[test]
    fn an_area_in_words_reads_back(n in 2u32..1000) {
        let text = format!("{} квадратов", russian_words(n));
        prop_assert_eq!(area::find_area(&text), Some(f64::from(n)), "{}", text);
    }
}

// ---------------------------------------------------------------------------------------------
// Person names
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

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

    /// Without `strip_unknown`, a case ending is undone only toward a known first name, which is
    /// then left alone. With it, one unknown Kazakh suffix goes per call («Абвгдгага» →
    /// «Абвгдга» → «Абвгд»), so only a known result is a fixed point.
    #[test]
    fn nominative_is_a_fixed_point(raw in name_like()) {
        let strict = nominative(&raw, false);
        prop_assert_eq!(nominative(&strict, false), strict.clone());
        prop_assert!(strict.chars().count() <= raw.chars().count());
        let loose = nominative(&raw, true);
        prop_assert!(loose.chars().count() <= raw.chars().count());
        if person_name::is_known_first_name(&loose) {
            prop_assert_eq!(nominative(&loose, true), loose);
        }
    }

    #[test]
    fn names_found_in_text_are_valid_names(text in any_text(), asked_name in any::<bool>()) {
        let tokens = tokenize(&text);
        let spans = phone_like_spans(&tokens);
        let mentions = person_name::find_in_tokens(
            &tokens,
            NameContext { asked_name, phone_spans: &spans },
        );
        for m in &mentions {
            prop_assert!(m.token < tokens.len());
            prop_assert_eq!(PersonName::new(m.name.as_str()), Some(m.name.clone()));
        }
        // Contact beats intro beats weak; among equals the last wins.
        let strongest = mentions.iter().map(|m| m.evidence).max();
        let expected = mentions.iter().rev().find(|m| Some(m.evidence) == strongest);
        prop_assert_eq!(person_name::pick(&mentions), expected.map(|m| m.name.clone()));
    }

    #[test]
    fn a_self_introduction_reads_back(
        name in select(vec![
            "Ерлан", "Айгерім", "Марат", "Динара", "Бекзат", "Сергей", "Ольга", "Әсел",
            "Timur", "Aliya", "Жанна", "Нұрлан", "Светлана", "Арман",
        ]),
        lower in any::<bool>(),
        intro in select(vec!["Меня зовут", "меня зовут", "Атым", "Менің атым", "My name is"]),
    ) {
        let written = if lower { name.to_lowercase() } else { name.to_string() };
        let text = format!("{intro} {written}");
        let mentions = person_name::find_in_tokens(&tokenize(&text), NameContext::default());
        let found = person_name::pick(&mentions);
        prop_assert_eq!(found.as_ref().map(PersonName::as_str), Some(name), "{}", text);
        prop_assert!(mentions.iter().any(|m| m.evidence == NameEvidence::Intro));
    }
}

// ---------------------------------------------------------------------------------------------
// Cities, object types, language
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn city_finder_points_at_its_tokens(text in any_text()) {
        let tokens = tokenize(&text);
        let mentions = city::find_in_tokens(&tokens);
        for m in &mentions {
            prop_assert!(m.first <= m.last && m.last < tokens.len());
        }
        let picked = city::pick(&mentions);
        prop_assert_eq!(city::find_city(&text), picked);
        // The last mention of the best role wins; negated and undecided ones never do.
        let best = mentions.iter().map(|m| m.role).filter(|&r| r > city::CityRole::Undecided).max();
        let expected = mentions.iter().rev().find(|m| Some(m.role) == best);
        prop_assert_eq!(picked, expected.map(|m| m.city));
        let _ = text.parse::<City>();
    }

    #[test]
    fn a_city_key_reads_back(city in select(City::ALL.to_vec()), mask in any::<u64>()) {
        let key = format!("  {} ", mixed_case(city.as_str(), mask));
        prop_assert_eq!(key.parse::<City>(), Ok(city));
        let json = serde_json::to_string(&city).unwrap();
        prop_assert_eq!(serde_json::from_str::<City>(&json).ok(), Some(city));
        // The keys are Latin spellings of the names, so a customer typing one is understood;
        // «other» is no town.
        let expected = (city != City::Other).then_some(city);
        prop_assert_eq!(city::find_city(city.as_str()), expected);
    }

    /// What the bot writes about a city, the finder reads as that city.
    #[test]
    fn a_city_display_name_reads_back(
        city in select(City::ALL.to_vec()),
        lang in language(),
        in_sentence in any::<bool>(),
    ) {
        let Some(name) = city.display_name(lang) else {
            // «Other» keeps no name by design.
            prop_assert_eq!(city, City::Other);
            return Ok(());
        };
        let text = match (in_sentence, lang) {
            (false, _) => name.to_string(),
            (true, Language::En) => format!("We build in {name}"),
            (true, Language::Kk) => format!("{name} қаласы"),
            (true, _) => format!("Строим в {name}"),
        };
        prop_assert_eq!(city::find_city(&text), Some(city), "{}", text);
    }

    #[test]
    fn object_finder_points_at_its_tokens(text in any_text()) {
        let tokens = tokenize(&text);
        let mentions = object_type::find_in_tokens(&tokens);
        for m in &mentions {
            prop_assert!(m.token < tokens.len());
        }
        let picked = object_type::pick(&mentions);
        prop_assert_eq!(object_type::find_object_type(&text), picked);
        // Heads decide; modifiers only without a head; weak words only when nothing else.
        let strongest = mentions.iter().map(|m| m.strength).max();
        prop_assert_eq!(picked.is_some(), strongest.is_some());
        if let Some(kind) = picked {
            prop_assert!(mentions.iter().any(|m| m.kind == kind && Some(m.strength) == strongest));
        }
        let _ = text.parse::<ObjectType>();
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

    /// The finder reads back the object names the bot uses in its replies, except the generic
    /// ones: «сооружение», "structure", «құрылыс нысаны» (Other) and «коммерциялық нысан»
    /// (Kazakh Commercial) name no particular building, and the finder only takes words that
    /// do.
    #[test]
    fn an_object_display_name_reads_back(
        kind in select(ObjectType::ALL.to_vec()),
        lang in language(),
    ) {
        let generic = kind == ObjectType::Other
            || (kind == ObjectType::Commercial && lang == Language::Kk);
        prop_assume!(!generic);
        let name = kind.display_name(lang);
        prop_assert_eq!(object_type::find_object_type(name), Some(kind), "{}", name);
    }

    #[test]
    fn language_detection_is_total_and_counts_words_independently(
        a in any_text(),
        b in any_text(),
    ) {
        let detected = language::detect(&a);
        prop_assert!(Language::ALL.contains(&detected));
        prop_assert_ne!(language::dominant(&a), Some(Language::Mixed));
        let counts = language::counts(&a);
        let words = tokenize(&a).iter().filter(|t| t.is_word()).count();
        prop_assert!(counts.total() as usize <= words);
        if counts.total() == 0 {
            prop_assert_eq!(detected, Language::Ru);
        }
        // Whitespace ends every token, so two messages count as the sum of their words.
        let mut sum = counts;
        sum.add(language::counts(&b));
        prop_assert_eq!(language::counts(&format!("{a}\n{b}")), sum);
    }

    #[test]
    fn a_language_code_reads_back(lang in language(), mask in any::<u64>()) {
        let code = format!(" {}", mixed_case(lang.code(), mask));
        prop_assert_eq!(code.parse::<Language>(), Ok(lang));
    }
}

// ---------------------------------------------------------------------------------------------
// Long messages
// ---------------------------------------------------------------------------------------------

proptest! {
    // Each case is a full-size message through every finder; a few catch blow-ups.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn every_finder_survives_a_message_at_the_size_limit(text in long_text()) {
        let tokens = tokenize(&text);
        let phones = phone::find_in_tokens(&tokens);
        let mut skip = vec![false; tokens.len()];
        for p in &phones {
            skip[p.first..=p.last].fill(true);
        }
        let _ = phone::broken_phone_runs(&tokens);
        let _ = area::find_in_tokens(
            &tokens,
            &skip,
            AreaContext { asked_area: true, bot_values: &[120.0] },
        );
        let spans = phone_like_spans(&tokens);
        let ctx = NameContext { asked_name: true, phone_spans: &spans };
        let _ = person_name::find_in_tokens(&tokens, ctx);
        let _ = city::find_in_tokens(&tokens);
        let _ = object_type::find_in_tokens(&tokens);
        let _ = language::detect(&text);
        let _ = Phone::parse(&text);
        let _ = PersonName::new(&text);
        let _ = nominative(&text, true);
        for part in telegram::split_message(&text, telegram::MAX_MESSAGE_CHARS) {
            prop_assert!(part.chars().count() <= telegram::MAX_MESSAGE_CHARS);
        }
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
