//! Language detection: counts the words of a text per [`Language`].
//!
//! Kazakh is recognised by its own letters (ә ғ қ ң ө ұ ү һ і) and, because many people type
//! Kazakh on a Russian keyboard, by a list of frequent Kazakh words that have no such letter
//! («керек», «салу», «ба», «жок», «рахмет»). Latin-script words count as English. A text whose
//! second language has a real share of the words is `Mixed`; replies are never written in
//! "mixed", they use [`dominant`] of the latest customer message instead.

use crate::domain::language::Language;

use super::lexicon::{is_city_word, is_kazakh_number_word, is_known_first_name};
use super::tokens::{Kind, starts_with_any, tokenize};

/// Words per language in a text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LanguageCounts {
    pub ru: u32,
    pub kk: u32,
    pub en: u32,
}

fn has_kazakh_letter(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(
            c,
            'ә' | 'ғ'
                | 'қ'
                | 'ң'
                | 'ө'
                | 'ұ'
                | 'ү'
                | 'һ'
                | 'і'
                | 'Ә'
                | 'Ғ'
                | 'Қ'
                | 'Ң'
                | 'Ө'
                | 'Ұ'
                | 'Ү'
                | 'Һ'
                | 'І'
        )
    })
}

/// Frequent Kazakh words that are spelled with Russian letters only (folded forms).
fn is_plain_kazakh_word(folded: &str) -> bool {
    matches!(
        folded,
        "керек"
            | "салу"
            | "салып"
            | "мен"
            | "сен"
            | "биз"
            | "сиз"
            | "бар"
            | "жок"
            | "емес"
            | "иа"
            | "рахмет"
            | "жарайды"
            | "саламатсыз"
            | "саламатсызба"
            | "саламатсыздар"
            | "ба"
            | "бе"
            | "ма"
            | "ме"
            | "па"
            | "пе"
            | "ке"
            | "ге"
            | "га"
            | "ка"
            | "деп"
            | "шаршы"
            | "болады"
            | "болды"
            | "жасау"
            | "жасаймыз"
            | "ассалаумагалейкум"
            | "уагалейкумассалам"
            | "былай"
            | "енди"
            | "гана"
            | "кейин"
            | "ертен"
            | "монша"
            | "атым"
            | "номирим"
            | "салем"
            | "жаксы"
            | "калай"
            | "кандай"
            | "канша"
            | "сатып"
            | "жер"
            | "шамамен"
    ) || is_kazakh_number_word(folded)
        || [
            "сыздар",
            "сиздер",
            "ныз",
            "низ",
            "мыз",
            "миз",
            "гым",
            "гим",
            "шамасында",
            "дейин",
        ]
        .iter()
        .any(|e| folded.ends_with(e) && folded.chars().count() > e.chars().count() + 1)
        || starts_with_any(folded, &["саяжай", "жоба", "шешкен", "жазам", "жазамын"])
}

/// Construction loanwords and units written the same in Russian and Kazakh chats; they say
/// nothing about the language.
fn is_neutral_word(folded: &str) -> bool {
    matches!(
        folded,
        "ремонт"
            | "гараж"
            | "коттедж"
            | "забор"
            | "профлист"
            | "бюджет"
            | "тел"
            | "брус"
            | "метр"
            | "м"
            | "кв"
            | "газоблок"
            | "кирпич"
            | "ватсап"
            | "whatsapp"
            | "ок"
            | "ok"
            | "х"
            | "x"
    ) || folded.starts_with("метр")
}

/// Counts the words of `text` per language.
pub fn counts(text: &str) -> LanguageCounts {
    let mut c = LanguageCounts::default();
    for t in tokenize(text) {
        // Names and city names are written the same in every language.
        if t.kind != Kind::Word
            || is_city_word(&t.norm)
            || is_known_first_name(t.raw)
            || is_neutral_word(&t.norm)
        {
            continue;
        }
        if t.raw
            .chars()
            .all(|ch| ch.is_ascii_alphabetic() || ch == '\'' || ch == '-')
        {
            // One-letter Latin tokens are mostly units or dimension marks («10 x 12», «m»).
            if t.raw.len() > 1 {
                c.en += 1;
            }
        } else if has_kazakh_letter(t.raw) || is_plain_kazakh_word(&t.norm) {
            c.kk += 1;
        } else if t.raw.chars().any(|ch| ch.is_alphabetic() && !ch.is_ascii()) {
            c.ru += 1;
        }
    }
    c
}

impl LanguageCounts {
    pub fn total(&self) -> u32 {
        self.ru + self.kk + self.en
    }

    pub fn add(&mut self, other: LanguageCounts) {
        self.ru += other.ru;
        self.kk += other.kk;
        self.en += other.en;
    }

    /// The language with the most words (ties: Kazakh, then Russian, then English — a
    /// Kazakh-marked word is the stronger signal), or `None` for no words.
    pub fn dominant(&self) -> Option<Language> {
        if self.total() == 0 {
            return None;
        }
        let best = [
            (self.kk, Language::Kk),
            (self.ru, Language::Ru),
            (self.en, Language::En),
        ]
        .into_iter()
        .fold(
            (0, Language::Ru),
            |acc, x| if x.0 > acc.0 { x } else { acc },
        );
        Some(best.1)
    }

    /// `Mixed` when a second language holds a real share of the words, otherwise the dominant
    /// one; `None` for no words.
    pub fn language(&self) -> Option<Language> {
        let dominant = self.dominant()?;
        let total = self.total();
        let mut shares = [self.ru, self.kk, self.en];
        shares.sort_unstable();
        let second = shares[1];
        if second >= 2 && second * 4 >= total {
            Some(Language::Mixed)
        } else {
            Some(dominant)
        }
    }
}

/// The language of `text`: `Mixed` when two languages share it; Russian when it has no words
/// (the engine's default market language).
pub fn detect(text: &str) -> Language {
    counts(text).language().unwrap_or(Language::Ru)
}

/// The single language with most words in `text` (never `Mixed`), if any.
pub fn dominant(text: &str) -> Option<Language> {
    counts(text).dominant()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_language() {
        assert_eq!(
            detect("Здравствуйте, хочу построить дом в Алматы"),
            Language::Ru
        );
        assert_eq!(
            detect("Сәлеметсіз бе! Алматыда үй салғымыз келеді"),
            Language::Kk
        );
        assert_eq!(detect("Hi, I need a house built in Aktobe"), Language::En);
    }

    #[test]
    fn kazakh_typed_with_russian_letters() {
        assert_eq!(detect("саламатсыз ба гараж керек"), Language::Kk);
    }

    #[test]
    fn mixed_text() {
        assert_eq!(
            detect(
                "Hello, I live in Almaty but we are building a house, около двухсот метров, в Конаеве"
            ),
            Language::Mixed
        );
        assert_eq!(dominant("Hi, нужна баня в Алматы"), Some(Language::Ru));
    }

    #[test]
    fn empty_text_defaults_to_russian() {
        assert_eq!(detect("+7 701 234 56 78"), Language::Ru);
        assert_eq!(dominant("123"), None);
    }
}
