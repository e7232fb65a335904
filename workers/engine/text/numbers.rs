//! Number grammar shared by the area and phone finders: Russian, Kazakh and English number
//! words («сто двадцать», «от ста пятидесяти», «жүз елу», «екі жүз», «one hundred and
//! twenty»), digit groups with decimals and thousands separators («45,5», «35 000 000»,
//! «150,000,000»).
//!
//! A run of number words is read compound by compound (hundreds, tens, units; each slot once,
//! in descending order). A run that is one compound (optionally with «тысяча»/«мың») has a
//! value; a run of several compounds is a *list* — that is how a voice transcript dictates a
//! phone («восемь семьсот семь сто двадцать три …» = 8 707 123 …), so the run also keeps the
//! concatenated digits of its compounds.

use super::lexicon::{KK_NUM_SUFFIXES, NumWord, num_word};
use super::tokens::{Kind, Token};

/// Words that are numbers only next to another number word: Russian «он» (he) vs Kazakh «он»
/// (ten), English «oh», «a», «and», Russian «торт» (cake) vs Kazakh «төрт».
fn is_ambiguous(folded: &str) -> bool {
    matches!(folded, "он" | "oh" | "a" | "and" | "торт")
}

/// Kazakh dative endings: «6ға 8», «алтыға сегіз» mean «6 by 8».
pub fn is_kk_dative(suffix: &str) -> bool {
    matches!(suffix, "га" | "ге" | "ка" | "ке" | "на" | "не")
}

/// A maximal run of number words in a token list.
#[derive(Clone, Debug, PartialEq)]
pub struct WordNumber {
    /// Token indices of the first and last word of the run.
    pub first: usize,
    pub last: usize,
    /// The value when the run is one number («сто двадцать» = 120); `None` for a list.
    pub value: Option<f64>,
    /// Digits of the compounds in order («восемь семьсот семь» → "8707").
    pub digits: String,
    /// The run contained «тысяча»/«мың»: it cannot be dictated digits.
    pub has_thousand: bool,
    /// Kazakh case suffix on the last word («алтыға» → "га").
    pub suffix: Option<&'static str>,
}

#[derive(Default)]
struct Compound {
    val: u32,
    h: bool,
    t: bool,
    u: bool,
}

impl Compound {
    fn any(&self) -> bool {
        self.h || self.t || self.u
    }
}

/// Reads a sequence of number words into value and digits.
fn read_run(words: &[NumWord]) -> (Option<f64>, String, bool) {
    let mut digits = String::new();
    let mut cur = Compound::default();
    let mut total: u64 = 0;
    let mut pieces = 0usize;
    let mut has_thousand = false;
    let flush = |cur: &mut Compound, digits: &mut String, pieces: &mut usize| {
        if cur.any() {
            digits.push_str(&cur.val.to_string());
            *pieces += 1;
        }
        *cur = Compound::default();
    };
    for (k, w) in words.iter().enumerate() {
        match *w {
            NumWord::Zero => {
                flush(&mut cur, &mut digits, &mut pieces);
                digits.push('0');
                pieces += 1;
            }
            NumWord::Unit(n) => {
                if cur.u {
                    flush(&mut cur, &mut digits, &mut pieces);
                }
                cur.val += n;
                cur.u = true;
            }
            NumWord::Teen(n) => {
                if cur.t || cur.u {
                    flush(&mut cur, &mut digits, &mut pieces);
                }
                cur.val += n;
                cur.t = true;
                cur.u = true;
            }
            NumWord::Tens(n) => {
                if cur.t || cur.u {
                    flush(&mut cur, &mut digits, &mut pieces);
                }
                cur.val += n;
                cur.t = true;
            }
            NumWord::Hundreds(n) => {
                if cur.any() {
                    flush(&mut cur, &mut digits, &mut pieces);
                }
                cur.val = n;
                cur.h = true;
            }
            NumWord::HundredMul => {
                if cur.u && !cur.h && !cur.t {
                    cur.val *= 100;
                    cur.u = false;
                } else {
                    if cur.any() {
                        flush(&mut cur, &mut digits, &mut pieces);
                    }
                    cur.val = 100;
                }
                cur.h = true;
            }
            NumWord::Thousand => {
                has_thousand = true;
                let mult = if cur.any() { cur.val as u64 } else { 1 };
                total += mult * 1000;
                cur = Compound::default();
            }
            NumWord::And => {}
            NumWord::Article => {
                // Only reaches here before hundred/thousand (see `word_numbers`).
                if matches!(
                    words.get(k + 1),
                    Some(NumWord::HundredMul | NumWord::Thousand)
                ) {
                    cur.val = 1;
                    cur.u = true;
                }
            }
        }
    }
    let last_val = cur.val as u64;
    let last_any = cur.any();
    flush(&mut cur, &mut digits, &mut pieces);
    let value = if pieces <= 1 && (last_any || has_thousand) {
        Some((total + last_val) as f64)
    } else if pieces == 0 && has_thousand {
        Some(total as f64)
    } else {
        None
    };
    (value, digits, has_thousand)
}

/// Finds the runs of number words in `tokens`.
pub fn word_numbers(tokens: &[Token<'_>]) -> Vec<WordNumber> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        // Collect a run of number-word tokens; a hyphenated token («twenty-five») must be
        // number words in every part.
        let mut run: Vec<(usize, NumWord, Option<&'static str>, bool)> = Vec::new();
        let mut j = i;
        while j < tokens.len() && tokens[j].kind == Kind::Word {
            let norm = tokens[j].norm.as_str();
            let mut parts: Vec<(NumWord, Option<&'static str>)> = Vec::new();
            let ok = norm.split('-').all(|p| match num_word(p) {
                Some(x) => {
                    parts.push(x);
                    true
                }
                None => false,
            });
            if !ok || is_abbreviation(&tokens[j]) {
                break;
            }
            let amb = is_ambiguous(norm);
            for (w, s) in parts {
                run.push((j, w, s, amb));
            }
            j += 1;
            // A Kazakh case suffix ends a number («алтыға сегіз» is two numbers).
            if run.last().is_some_and(|r| r.2.is_some()) {
                break;
            }
        }
        if run.is_empty() {
            i += 1;
            continue;
        }
        i = j.max(i + 1);
        // Trim words that are numbers only in company: leading/trailing «and», an article not
        // before hundred/thousand, and an ambiguous word with no unambiguous neighbour.
        while run.first().is_some_and(|r| {
            r.1 == NumWord::And
                || (r.1 == NumWord::Article
                    && !matches!(
                        run.get(1).map(|x| x.1),
                        Some(NumWord::HundredMul | NumWord::Thousand)
                    ))
        }) {
            run.remove(0);
        }
        while run
            .last()
            .is_some_and(|r| matches!(r.1, NumWord::And | NumWord::Article))
        {
            run.pop();
        }
        if run.is_empty() || run.iter().all(|r| r.3) {
            continue;
        }
        let words: Vec<NumWord> = run.iter().map(|r| r.1).collect();
        let (value, digits, has_thousand) = read_run(&words);
        out.push(WordNumber {
            first: run[0].0,
            last: run[run.len() - 1].0,
            value,
            digits,
            has_thousand,
            suffix: run[run.len() - 1].2,
        });
    }
    out
}

/// An all-caps word of 3+ letters is an abbreviation («СТО» = car service, not 100).
fn is_abbreviation(t: &Token<'_>) -> bool {
    t.raw.chars().count() >= 3 && t.is_all_caps()
}

/// A number read from digits or words.
#[derive(Clone, Debug, PartialEq)]
pub struct NumItem {
    pub value: f64,
    /// Token indices covered (inclusive).
    pub first: usize,
    pub last: usize,
    pub from_words: bool,
    /// A Kazakh case suffix glued to the number («6ға», «4-ке», «алтыға»).
    pub suffix: Option<String>,
    /// Digits glued to `.`, `:` or `/` and more digits: a date or a time («12.06», «18:00»).
    pub date_like: bool,
}

fn glued_sym(tokens: &[Token<'_>], i: usize, c: char) -> bool {
    tokens
        .get(i)
        .is_some_and(|t| t.is_sym(c) && !t.space_before)
}

fn glued_num(tokens: &[Token<'_>], i: usize) -> bool {
    tokens.get(i).is_some_and(|t| t.is_num() && !t.space_before)
}

/// All numbers in `tokens` in text order, skipping tokens flagged in `skip` (phones).
pub fn numeric_items(tokens: &[Token<'_>], skip: &[bool]) -> Vec<NumItem> {
    let skipped = |i: usize| skip.get(i).copied().unwrap_or(false);
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if !t.is_num() || skipped(i) {
            i += 1;
            continue;
        }
        let mut last = i;
        let mut value: f64 = t.norm.parse().unwrap_or(f64::MAX);
        let mut date_like = false;
        // Decimal: 45,5 / 45.5 (one or two digits after the mark).
        let dec_sep = glued_sym(tokens, i + 1, ',') || glued_sym(tokens, i + 1, '.');
        if dec_sep && glued_num(tokens, i + 2) && !skipped(i + 2) {
            let frac = &tokens[i + 2].norm;
            let then_more = (glued_sym(tokens, i + 3, '.')
                || glued_sym(tokens, i + 3, ',')
                || glued_sym(tokens, i + 3, ':'))
                && glued_num(tokens, i + 4);
            if frac.len() <= 2 && !then_more {
                value = format!("{}.{}", t.norm, frac).parse().unwrap_or(value);
                last = i + 2;
                // «12.06» reads as a decimal but is usually a date; the area finder only takes
                // it with an area unit after it.
                date_like = tokens[i + 1].is_sym('.') && frac.len() == 2;
            } else if frac.len() == 3 && t.norm.len() <= 3 {
                // Thousands with commas or dots: 150,000,000.
                let sep = tokens[i + 1].raw;
                let mut digits = t.norm.clone();
                let mut k = i + 1;
                while tokens
                    .get(k)
                    .is_some_and(|s| s.raw == sep && !s.space_before)
                    && glued_num(tokens, k + 1)
                    && tokens[k + 1].norm.len() == 3
                {
                    digits.push_str(&tokens[k + 1].norm);
                    last = k + 1;
                    k += 2;
                }
                value = digits.parse().unwrap_or(value);
            } else {
                date_like = true;
                last = i + 2;
            }
        } else if (glued_sym(tokens, i + 1, ':') || glued_sym(tokens, i + 1, '/'))
            && glued_num(tokens, i + 2)
        {
            date_like = true;
            last = i + 2;
        } else if t.norm.len() <= 3 && !t.norm.starts_with('0') {
            // Thousands with spaces: 35 000 000.
            let mut digits = t.norm.clone();
            let mut k = i + 1;
            while tokens
                .get(k)
                .is_some_and(|n| n.is_num() && n.space_before && n.norm.len() == 3 && !skipped(k))
            {
                digits.push_str(&tokens[k].norm);
                last = k;
                k += 1;
            }
            value = digits.parse().unwrap_or(value);
        }
        // The tail of a date: «…12.06.2024», «05/09».
        if i >= 2
            && !t.space_before
            && !tokens[i - 1].space_before
            && (tokens[i - 1].is_sym('.') || tokens[i - 1].is_sym('/') || tokens[i - 1].is_sym(':'))
            && tokens[i - 2].is_num()
        {
            date_like = true;
        }
        // A Kazakh suffix glued to the digits: «6ға», «4-ке».
        let mut suffix = None;
        let mut s = last + 1;
        if glued_sym(tokens, s, '-') {
            s += 1;
        }
        if let Some(w) = tokens.get(s)
            && w.is_word()
            && !w.space_before
            && KK_NUM_SUFFIXES.contains(&w.norm.as_str())
        {
            suffix = Some(w.norm.clone());
            last = s;
        }
        out.push(NumItem {
            value,
            first: i,
            last,
            from_words: false,
            suffix,
            date_like,
        });
        i = last + 1;
    }
    for w in word_numbers(tokens) {
        if (w.first..=w.last).any(skipped) {
            continue;
        }
        if let Some(value) = w.value {
            out.push(NumItem {
                value,
                first: w.first,
                last: w.last,
                from_words: true,
                suffix: w.suffix.map(str::to_string),
                date_like: false,
            });
        }
    }
    out.sort_by_key(|n| n.first);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::engine::text::tokens::tokenize;

    fn values(text: &str) -> Vec<f64> {
        let t = tokenize(text);
        numeric_items(&t, &[]).iter().map(|n| n.value).collect()
    }

    fn words(text: &str) -> Vec<WordNumber> {
        word_numbers(&tokenize(text))
    }

    #[test]
    fn russian_compounds() {
        assert_eq!(values("сто двадцать"), [120.0]);
        assert_eq!(
            values("от ста пятидесяти до ста восьмидесяти"),
            [150.0, 180.0]
        );
        assert_eq!(values("двести пятьдесят пять"), [255.0]);
        assert_eq!(values("двадцать пять тысяч"), [25000.0]);
    }

    #[test]
    fn kazakh_compounds_and_suffixes() {
        assert_eq!(values("жүз елу"), [150.0]);
        assert_eq!(values("екі жүз"), [200.0]);
        assert_eq!(values("сексен бес"), [85.0]);
        assert_eq!(values("он екі"), [12.0]);
        assert_eq!(values("бес жүз елу"), [550.0]);
        let w = words("алтыға сегіз");
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].value, Some(6.0));
        assert_eq!(w[0].suffix, Some("га"));
        assert_eq!(w[1].value, Some(8.0));
    }

    #[test]
    fn english_compounds() {
        assert_eq!(values("one hundred and twenty"), [120.0]);
        assert_eq!(values("a hundred"), [100.0]);
        assert_eq!(values("twenty-five"), [25.0]);
    }

    #[test]
    fn ambiguous_words_need_company() {
        assert!(values("он хочет дом").is_empty());
        assert!(values("oh thanks and bye").is_empty());
        assert!(values("a house").is_empty());
    }

    #[test]
    fn dictated_digits_are_a_list() {
        let w = words("восемь семьсот семь сто двадцать три сорок пять шестьдесят семь");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].value, None);
        assert_eq!(w[0].digits, "87071234567");
        let k = words("сегіз жеті жүз жеті жүз жиырма үш қырық бес алпыс жеті");
        assert_eq!(k[0].digits, "87071234567");
        let z = words("восемь семь ноль один");
        assert_eq!(z[0].digits, "8701");
    }

    #[test]
    fn digit_groups() {
        assert_eq!(values("45,5 м²"), [45.5]);
        assert_eq!(values("бюджет 35 000 000"), [35_000_000.0]);
        assert_eq!(values("150,000,000 KZT"), [150_000_000.0]);
        assert_eq!(values("120 и 3"), [120.0, 3.0]);
    }

    #[test]
    fn dates_and_times_are_flagged() {
        let t = tokenize("12.06 после 18:00, 05/09");
        let items = numeric_items(&t, &[]);
        assert!(items.iter().all(|n| n.date_like), "{items:?}");
    }

    #[test]
    fn glued_kazakh_suffix() {
        let t = tokenize("6ға 8 и 4-ке 6");
        let items = numeric_items(&t, &[]);
        assert_eq!(items[0].suffix.as_deref(), Some("га"));
        assert_eq!(items[2].suffix.as_deref(), Some("ке"));
        assert_eq!(items[1].value, 8.0);
    }

    #[test]
    fn caps_sto_is_not_a_number() {
        assert!(values("построить СТО").is_empty());
    }
}
