//! Kazakhstan mobile phone numbers: the [`Phone`] newtype (always E.164 `+77XXXXXXXXX`) and the
//! finder that pulls phones out of free chat text.
//!
//! The finder reads digit groups the way people type them («+7 701 234 56 78», «8(701)2345678»,
//! «8-701-771-05-32», «701 234 98 76») and digits dictated in words in voice transcripts
//! («восемь семьсот семь сто двадцать три сорок пять шестьдесят семь»). It must not be fooled by
//! the other long numbers in a sales chat, so a group run becomes a phone only when its digits
//! are exactly a KZ mobile (10 digits `7XX…` or 11 digits `87XX…`/`77XX…`, or `+7 7XX…`), it is
//! not introduced by «ИИН», «БИН», «№», «заказ», … and not followed by a currency. Foreign
//! numbers (+1, +49, Kyrgyz +996) are rejected as a whole: a short leading group that does not
//! start a KZ mobile taints the run instead of being skipped.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::numbers::{WordNumber, word_numbers};
use super::tokens::{Token, starts_with_any, tokenize};

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

/// A phone found in a token list; `first..=last` are the token indices it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneSpan {
    pub phone: Phone,
    pub first: usize,
    pub last: usize,
}

/// A run of digit groups joined by spaces, dashes or brackets — anything a phone could be
/// typed as, valid or not («8 777 123 45 6» is a run too; the name finder looks next to it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigitRun {
    pub first: usize,
    pub last: usize,
    pub plus: bool,
    /// Token indices of the digit groups.
    pub groups: Vec<usize>,
}

impl DigitRun {
    pub fn digit_count(&self, tokens: &[Token<'_>]) -> usize {
        self.groups.iter().map(|&g| tokens[g].norm.len()).sum()
    }
}

fn is_plus_word(t: &Token<'_>) -> bool {
    t.is_word() && matches!(t.norm.as_str(), "плюс" | "plus")
}

/// Splits `tokens` into digit-group runs.
pub fn digit_runs(tokens: &[Token<'_>]) -> Vec<DigitRun> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        // Digits glued to letters belong to a word («Tele2», «м2»), not to a phone.
        let glued_to_word = i > 0 && !tokens[i].space_before && tokens[i - 1].is_word();
        if !tokens[i].is_num() || glued_to_word {
            i += 1;
            continue;
        }
        let mut first = i;
        let mut plus = false;
        // «+7», «+ 7», «+(7)», «плюс 7».
        let mut k = i;
        if k > 0 && tokens[k - 1].is_sym('(') {
            k -= 1;
        }
        if k > 0 && (tokens[k - 1].is_sym('+') || is_plus_word(&tokens[k - 1])) {
            plus = true;
            first = k - 1;
        } else if k < i {
            first = k;
        }
        let mut groups = vec![i];
        let mut last = i;
        let mut j = i + 1;
        loop {
            let mut k = j;
            let mut seps = 0;
            while k < tokens.len()
                && seps < 2
                && (tokens[k].is_sym('-')
                    || tokens[k].is_sym('(')
                    || tokens[k].is_sym(')')
                    || tokens[k].is_sym('–'))
            {
                k += 1;
                seps += 1;
            }
            if k < tokens.len() && tokens[k].is_num() {
                groups.push(k);
                last = k;
                j = k + 1;
            } else {
                // A closing bracket right after the last group belongs to the run.
                if j < tokens.len() && tokens[j].is_sym(')') {
                    last = j;
                }
                break;
            }
        }
        out.push(DigitRun {
            first,
            last,
            plus,
            groups,
        });
        i = last + 1;
    }
    out
}

/// Words that make the number after them an identifier, never a phone.
fn is_id_word(norm: &str) -> bool {
    const EXACT: &[&str] = &[
        "иин", "бин", "жсн", "бсн", "iin", "bin", "id", "no", "инн", "рнн",
    ];
    const PREFIX: &[&str] = &[
        "заказ",
        "order",
        "договор",
        "contract",
        "счет",
        "счёт",
        "invoice",
        "артикул",
        "накладн",
        "квитанц",
        "кадастр",
        "лицев",
        "паспорт",
        "passport",
        "удостоверен",
        "тапсырыс",
        "шарт",
    ];
    EXACT.contains(&norm) || starts_with_any(norm, PREFIX)
}

fn is_currency(t: &Token<'_>) -> bool {
    if t.is_sym('₸') || t.is_sym('$') || t.is_sym('€') {
        return true;
    }
    t.is_word()
        && matches!(
            t.norm.as_str(),
            "тг" | "тенге"
                | "тнг"
                | "kzt"
                | "tenge"
                | "руб"
                | "рублей"
                | "usd"
                | "долларов"
                | "млн"
                | "тыс"
                | "mln"
        )
}

fn introduced_by_id_word(tokens: &[Token<'_>], first: usize) -> bool {
    tokens[first.saturating_sub(3)..first]
        .iter()
        .any(|t| t.is_sym('№') || t.is_sym('#') || (t.is_word() && is_id_word(&t.norm)))
}

/// Reads the phones out of one digit run: group-aligned, left to right. `skip_first` drops the
/// first group (it follows «ИИН», «№», …).
fn phones_in_run(run: &DigitRun, tokens: &[Token<'_>], skip_first: bool) -> Vec<PhoneSpan> {
    let groups: Vec<&str> = run
        .groups
        .iter()
        .map(|&g| tokens[g].norm.as_str())
        .collect();
    let mut out = Vec::new();
    if run.plus && !skip_first {
        let mut acc = String::new();
        for (j, g) in groups.iter().enumerate() {
            acc.push_str(g);
            if acc.len() >= 11 {
                if let Ok(phone) = Phone::from_digits(&acc, true) {
                    out.push(PhoneSpan {
                        phone,
                        first: run.first,
                        last: run.groups[j],
                    });
                }
                break;
            }
        }
        return out;
    }
    if run.plus {
        return out;
    }
    let mut i = usize::from(skip_first);
    while i < groups.len() {
        let mut acc = String::new();
        let mut found: Option<(usize, Phone)> = None;
        let mut ten: Option<(usize, Phone)> = None;
        for (j, g) in groups.iter().enumerate().skip(i) {
            acc.push_str(g);
            if acc.len() == 10 {
                ten = Phone::from_digits(&acc, false).ok().map(|p| (j, p));
            } else if acc.len() == 11 {
                found = Phone::from_digits(&acc, false).ok().map(|p| (j, p));
                break;
            } else if acc.len() > 11 {
                break;
            }
        }
        // A 10-digit reading needs the run to end there; otherwise «1 702 555 0199» would read
        // as a KZ number after dropping the US country code.
        let ten = ten.filter(|(j, _)| *j + 1 == groups.len() || groups[*j + 1].len() >= 10);
        match found.or(ten) {
            Some((j, phone)) => {
                out.push(PhoneSpan {
                    phone,
                    first: if i == 0 { run.first } else { run.groups[i] },
                    last: run.groups[j],
                });
                i = j + 1;
            }
            // A long standalone number (an ИИН typed before the phone) is skipped; a short
            // group is a country code or a fragment and spoils the rest of the run.
            None if groups[i].len() >= 4 => i += 1,
            None => break,
        }
    }
    out
}

/// All phones in a token list, in text order.
pub fn find_in_tokens(tokens: &[Token<'_>]) -> Vec<PhoneSpan> {
    let mut out = Vec::new();
    let words = word_numbers(tokens);
    for run in digit_runs(tokens) {
        if tokens.get(run.last + 1).is_some_and(is_currency) {
            continue;
        }
        let skip_first = introduced_by_id_word(tokens, run.first);
        let found = phones_in_run(&run, tokens, skip_first);
        if found.is_empty() && !skip_first {
            // «восемь 701 234 56 78»: a dictated prefix, then digits.
            if let Some(w) = words
                .iter()
                .find(|w| w.last + 1 == run.first && !w.has_thousand)
            {
                let mut digits = w.digits.clone();
                for &g in &run.groups {
                    digits.push_str(&tokens[g].norm);
                }
                let plus = w.first > 0 && is_plus_word(&tokens[w.first - 1]);
                if let Ok(phone) = Phone::from_digits(&digits, plus) {
                    out.push(PhoneSpan {
                        phone,
                        first: w.first,
                        last: run.last,
                    });
                }
            }
        }
        out.extend(found);
    }
    out.extend(spoken_phones(&words, tokens));
    out.sort_by_key(|p| p.first);
    out
}

/// Digit runs that look like a mistyped KZ mobile: 7–12 digits starting with 7, 8 or `+`, not
/// an identifier, a price or a thousands-grouped amount, and not read as a valid phone. The
/// bot uses this to ask the customer to check the number.
pub fn broken_phone_runs(tokens: &[Token<'_>]) -> Vec<DigitRun> {
    let valid = find_in_tokens(tokens);
    digit_runs(tokens)
        .into_iter()
        .filter(|run| {
            let n = run.digit_count(tokens);
            let first = &tokens[run.groups[0]].norm;
            // «8 000 000» is an amount: groups of three after a short head, no `+`.
            let amount = !run.plus
                && run.groups.len() > 1
                && first.len() <= 3
                && run.groups[1..].iter().all(|&g| tokens[g].norm.len() == 3);
            let kz_start = run.plus || first.starts_with('7') || first.starts_with('8');
            (7..=12).contains(&n)
                && kz_start
                && !amount
                && !introduced_by_id_word(tokens, run.first)
                && !tokens.get(run.last + 1).is_some_and(is_currency)
                && !valid
                    .iter()
                    .any(|p| p.first <= run.last && p.last >= run.first)
        })
        .collect()
}

/// Phones dictated in number words; runs separated only by commas or dashes are one number.
fn spoken_phones(runs: &[WordNumber], tokens: &[Token<'_>]) -> Vec<PhoneSpan> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < runs.len() {
        let mut digits = runs[i].digits.clone();
        let mut bad = runs[i].has_thousand;
        let mut j = i;
        while j + 1 < runs.len() {
            let gap = &tokens[runs[j].last + 1..runs[j + 1].first];
            if gap.iter().all(|t| t.is_sym(',') || t.is_sym('-')) {
                j += 1;
                digits.push_str(&runs[j].digits);
                bad |= runs[j].has_thousand;
            } else {
                break;
            }
        }
        let first = runs[i].first;
        let plus = first > 0 && (tokens[first - 1].is_sym('+') || is_plus_word(&tokens[first - 1]));
        if !bad
            && (digits.len() == 10 || digits.len() == 11)
            && !introduced_by_id_word(tokens, first)
            && let Ok(phone) = Phone::from_digits(&digits, plus)
        {
            out.push(PhoneSpan {
                phone,
                first: if plus { first - 1 } else { first },
                last: runs[j].last,
            });
        }
        i = j + 1;
    }
    out
}

/// All phones in `text`, in order.
pub fn find_phones(text: &str) -> Vec<Phone> {
    find_in_tokens(&tokenize(text))
        .into_iter()
        .map(|p| p.phone)
        .collect()
}

/// The last phone in `text`: a correction later in the same message wins.
pub fn find_last_phone(text: &str) -> Option<Phone> {
    find_phones(text).pop()
}

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

    fn last(text: &str) -> Option<String> {
        find_last_phone(text).map(|p| p.as_str().to_string())
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

    #[test]
    fn finds_phone_in_text() {
        assert_eq!(
            last("Вадим. +7 700 981 44 02. но лучше пишите в вотсап").as_deref(),
            Some("+77009814402")
        );
        assert_eq!(
            last("Дмитрий 8(777)5551203").as_deref(),
            Some("+77775551203")
        );
        assert_eq!(last("Dana, 701 234 98 76").as_deref(), Some("+77012349876"));
        assert_eq!(
            last("Ruslan, 7 705 432 1098").as_deref(),
            Some("+77054321098")
        );
        assert_eq!(
            last("Контактное лицо — Сергей, тел. 8-701-771-05-32. БИН 180540012345").as_deref(),
            Some("+77017710532")
        );
    }

    #[test]
    fn correction_last_wins() {
        assert_eq!(
            last("номер 8 701 111 22 33, ой нет, правильный 8 701 111 22 34").as_deref(),
            Some("+77011112234")
        );
    }

    #[test]
    fn incomplete_number_is_not_a_phone() {
        assert_eq!(last("Sarah, 8 777 123 45 6"), None);
    }

    #[test]
    fn iin_bin_order_prices_dates_are_not_phones() {
        assert_eq!(last("ИИН керек па? 870415301234."), None);
        assert_eq!(last("БИН 180540012345"), None);
        assert_eq!(last("по заказу №45871, дом 87"), None);
        assert_eq!(last("заказ 7012345678"), None);
        assert_eq!(last("бюджет 35 000 000 теңге, 12.06 после 18:00"), None);
        assert_eq!(last("Budget around 150,000,000 KZT"), None);
        assert_eq!(last("цена 7 500 000 000 тг"), None);
        assert_eq!(
            last("ИИН 870415301234 87761234455").as_deref(),
            Some("+77761234455")
        );
    }

    #[test]
    fn foreign_numbers_in_text_are_ignored() {
        assert_eq!(last("call me at +1 702 555 0199"), None);
        assert_eq!(last("мой номер +996 700 123 456"), None);
        assert_eq!(last("+49 30 1234 5678"), None);
        assert_eq!(last("1 702 555 0199"), None);
    }

    #[test]
    fn spoken_digits_in_russian_and_kazakh() {
        assert_eq!(
            last("Жанна меня зовут номер восемь семьсот семь сто двадцать три сорок пять шестьдесят семь")
                .as_deref(),
            Some("+77071234567")
        );
        assert_eq!(
            last("нөмірім сегіз жеті жүз бір, екі жүз отыз төрт, елу алты, жетпіс сегіз")
                .as_deref(),
            Some("+77012345678")
        );
        assert_eq!(last("дом сто двадцать квадратов"), None);
        assert_eq!(
            last("номер восемь 701 234 56 78").as_deref(),
            Some("+77012345678")
        );
        assert_eq!(
            last("плюс семь семьсот семь, сто двадцать три, сорок пять, шестьдесят семь")
                .as_deref(),
            Some("+77071234567")
        );
    }

    #[test]
    fn broken_phone_detection() {
        let t = tokenize("Sarah, 8 777 123 45 6");
        assert_eq!(broken_phone_runs(&t).len(), 1);
        for ok in [
            "8 777 123 45 67",
            "ИИН 870415301234",
            "бюджет 8 000 000",
            "35 000 000 тенге",
            "дом 87",
        ] {
            let t = tokenize(ok);
            assert!(broken_phone_runs(&t).is_empty(), "{ok}");
        }
    }

    #[test]
    fn digits_glued_to_a_word_do_not_spoil_the_phone() {
        assert_eq!(
            last("мой Tele2 8 747 111 22 33").as_deref(),
            Some("+77471112233")
        );
    }

    #[test]
    fn landline_then_mobile() {
        assert_eq!(
            last("рабочий 8 7182 55 66 77, мобильный 8 701 222 11 00").as_deref(),
            Some("+77012221100")
        );
        assert_eq!(
            last("моб 8 701 222 11 00, офис 8 (7172) 55-66-77").as_deref(),
            Some("+77012221100")
        );
    }

    #[test]
    fn two_phones_in_one_run() {
        assert_eq!(find_phones("87012345678 87019876543").len(), 2);
    }
}
