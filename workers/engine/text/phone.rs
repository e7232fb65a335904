//! The phone finder: pulls [`Phone`]s out of free chat text.
//!
//! The finder reads digit groups the way people type them («+7 701 234 56 78», «8(701)2345678»,
//! «8-701-771-05-32», «701 234 98 76») and digits dictated in words in voice transcripts
//! («восемь семьсот семь сто двадцать три сорок пять шестьдесят семь»). It must not be fooled by
//! the other long numbers in a sales chat, so a group run becomes a phone only when its digits
//! are exactly a KZ mobile (10 digits `7XX…` or 11 digits `87XX…`/`77XX…`, or `+7 7XX…`), it is
//! not introduced by «ИИН», «БИН», «№», «заказ», … and not followed by a currency. Foreign
//! numbers (+1, +49, Kyrgyz +996) are rejected as a whole: a short leading group that does not
//! start a KZ mobile taints the run instead of being skipped.

use crate::domain::phone::Phone;

use super::numbers::{WordNumber, word_numbers};
use super::tokens::{Token, starts_with_any, tokenize};

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

    fn last(text: &str) -> Option<String> {
        find_last_phone(text).map(|p| p.as_str().to_string())
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
