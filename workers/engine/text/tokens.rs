//! Tokeniser and letter folding shared by the lead-field finders (phone, city, object type,
//! area, person name, language).
//!
//! Customers in Kazakhstan write Russian, Kazakh (Cyrillic, often without the Kazakh-specific
//! letters), English and mixtures of them, so every finder compares *folded* word forms:
//! lower-cased, `ё`→`е`, and the Kazakh letters mapped to their nearest Russian look-alikes
//! (`қ`→`к`, `ү`/`ұ`→`у`, `і`→`и`, …). One dictionary entry then covers «Қостанай» and
//! «Костанай», «Айгерім» and «Айгерим». The original text slice is kept on every token, so a
//! name is still reported exactly as the customer spelled it.
//!
//! Digits and letters are always separate tokens («4ке» → `4`, `ке`; «90м2» → `90`, `м`, `2`),
//! and `space_before` remembers whether they were glued together, which is what the Kazakh
//! dimension suffix («6ға 8») and unit (`м2`) rules look at.

/// A small, fast, non-cryptographic hasher (the FxHash multiply-rotate) for the static word
/// tables: keys are short trusted strings, and SipHash showed up in profiles.
#[derive(Clone, Copy, Default)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Hash map / set types for the static word tables.
pub type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;
pub type FastSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<FastHasher>>;

/// What a token is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Letters, with inner hyphens and apostrophes («алма-ата», «name's»).
    Word,
    /// A run of ASCII digits.
    Num,
    /// Any other single non-space character.
    Sym,
}

/// One token of a message.
#[derive(Clone, Debug)]
pub struct Token<'a> {
    pub kind: Kind,
    /// The original slice of the text.
    pub raw: &'a str,
    /// Folded form for words (see [`fold`]); digits for numbers; the character for symbols.
    pub norm: String,
    /// Byte offsets of `raw` in the text.
    pub start: usize,
    pub end: usize,
    /// Whether whitespace separates this token from the previous one.
    pub space_before: bool,
}

impl Token<'_> {
    pub fn is_word(&self) -> bool {
        self.kind == Kind::Word
    }

    pub fn is_num(&self) -> bool {
        self.kind == Kind::Num
    }

    /// A symbol token equal to `c`.
    pub fn is_sym(&self, c: char) -> bool {
        self.kind == Kind::Sym && self.raw.starts_with(c)
    }

    /// First letter upper-case: the main signal that a word is a proper noun.
    pub fn is_capitalized(&self) -> bool {
        self.raw.chars().next().is_some_and(char::is_uppercase)
    }

    /// Every letter upper-case (abbreviations such as «ИИН», «СТО», «ТОО»).
    pub fn is_all_caps(&self) -> bool {
        let mut letters = self.raw.chars().filter(|c| c.is_alphabetic()).peekable();
        letters.peek().is_some() && letters.all(char::is_uppercase)
    }

    /// Numeric value of a digit token (saturating; only meaningful for short runs).
    pub fn int_value(&self) -> Option<u64> {
        if self.kind != Kind::Num || self.norm.len() > 18 {
            return None;
        }
        self.norm.parse().ok()
    }
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}' | '\u{0500}'..='\u{052F}')
}

/// Folds one lower-case character; `cyr` says the word is Cyrillic, so Latin look-alikes typed
/// by mistake («Айгерiм» with a Latin i) are mapped into Cyrillic too.
fn fold_lower(c: char, cyr: bool) -> char {
    match c {
        'ё' => 'е',
        'ә' => 'а',
        'ғ' => 'г',
        'қ' => 'к',
        'ң' => 'н',
        'ө' => 'о',
        'ұ' | 'ү' => 'у',
        'һ' => 'х',
        'і' => 'и',
        '’' | '‘' | 'ʼ' | '`' => '\'',
        'i' if cyr => 'и',
        'a' if cyr => 'а',
        'e' if cyr => 'е',
        'o' if cyr => 'о',
        'c' if cyr => 'с',
        'p' if cyr => 'р',
        'x' if cyr => 'х',
        'k' if cyr => 'к',
        'y' if cyr => 'у',
        _ => c,
    }
}

/// Lower-case of one character with a table-free fast path for ASCII and Cyrillic, which is
/// nearly all the text this crate sees (the generic Unicode lookup dominated profiles).
fn lower_fast(c: char, out: &mut impl FnMut(char)) {
    match c {
        'A'..='Z' => out(c.to_ascii_lowercase()),
        '\0'..='\u{7f}' => out(c),
        'А'..='Я' => out(char::from_u32(c as u32 + 0x20).unwrap_or(c)),
        'Ѐ'..='Џ' => out(char::from_u32(c as u32 + 0x50).unwrap_or(c)),
        'а'..='я' | 'ѐ'..='џ' => out(c),
        // Kazakh capitals in the extended block sit on even code points before their small
        // letter: Ғ/ғ, Қ/қ, Ң/ң, Ү/ү, Ұ/ұ, Һ/һ, Ә/ә, Ө/ө.
        '\u{0492}'..='\u{04BB}' | '\u{04D0}'..='\u{04E9}' => {
            let u = c as u32;
            out(char::from_u32(if u.is_multiple_of(2) { u + 1 } else { u }).unwrap_or(c))
        }
        _ => c.to_lowercase().for_each(out),
    }
}

/// Lower-cases and folds a word: `ё`→`е`, Kazakh letters → Russian look-alikes.
pub fn fold(s: &str) -> String {
    let cyr = s.chars().any(is_cyrillic);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        lower_fast(c, &mut |l| out.push(fold_lower(l, cyr)));
    }
    out
}

fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    // Russian and Kazakh letters without the Unicode table walk.
    matches!(c, 'Ѐ'..='ҁ' | 'Ҋ'..='ӿ') || c.is_alphabetic()
}

fn is_joiner(c: char) -> bool {
    matches!(c, '-' | '\'' | '’' | 'ʼ')
}

/// Splits `text` into word, number and symbol tokens.
pub fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::with_capacity(text.len() / 4 + 4);
    let mut it = text.char_indices().peekable();
    let mut space_before = true;
    while let Some(&(start, c)) = it.peek() {
        if c.is_whitespace() {
            space_before = true;
            it.next();
            continue;
        }
        if c.is_ascii_digit() {
            let mut end = start;
            while let Some(&(i, d)) = it.peek() {
                if d.is_ascii_digit() {
                    end = i + d.len_utf8();
                    it.next();
                } else {
                    break;
                }
            }
            let raw = &text[start..end];
            out.push(Token {
                kind: Kind::Num,
                raw,
                norm: raw.to_string(),
                start,
                end,
                space_before,
            });
        } else if is_word_char(c) {
            let mut end = start;
            loop {
                match it.peek() {
                    Some(&(i, d)) if is_word_char(d) => {
                        end = i + d.len_utf8();
                        it.next();
                    }
                    Some(&(i, d)) if is_joiner(d) => {
                        // A hyphen or apostrophe stays inside the word only between letters.
                        let next = text[i + d.len_utf8()..].chars().next();
                        if next.is_some_and(is_word_char) {
                            end = i + d.len_utf8();
                            it.next();
                        } else {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            let raw = &text[start..end];
            out.push(Token {
                kind: Kind::Word,
                raw,
                norm: fold(raw),
                start,
                end,
                space_before,
            });
        } else {
            it.next();
            let end = start + c.len_utf8();
            let raw = &text[start..end];
            out.push(Token {
                kind: Kind::Sym,
                raw,
                norm: raw.to_string(),
                start,
                end,
                space_before,
            });
        }
        space_before = false;
    }
    out
}

/// `s.starts_with(p)` for any `p`, checking the first two bytes (one Cyrillic letter) before
/// comparing whole prefixes: the word tables are long and this runs for every word.
pub fn starts_with_any(s: &str, prefixes: &[&str]) -> bool {
    let b = s.as_bytes();
    prefixes.iter().any(|p| {
        let pb = p.as_bytes();
        pb.len() <= b.len()
            && (pb.is_empty() || pb[0] == b[0])
            && (pb.len() < 2 || pb[1] == b[1])
            && &b[..pb.len()] == pb
    })
}

/// True for sentence-ending or clause-separating punctuation.
pub fn is_clause_break(t: &Token<'_>) -> bool {
    t.kind == Kind::Sym && matches!(t.raw, "." | "!" | "?" | ";" | "\n" | "…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_kazakh_letters_and_yo() {
        assert_eq!(fold("Қостанай"), "костанай");
        assert_eq!(fold("Өскемен"), "оскемен");
        assert_eq!(fold("Айгерім"), "айгерим");
        assert_eq!(fold("Семён"), "семен");
        assert_eq!(fold("Нұр-Сұлтан"), "нур-султан");
    }

    #[test]
    fn fast_lowercase_matches_unicode() {
        let sample = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ ӘҒҚҢӨҰҮҺІ ЀЂЃЄЅІЇЈЉЊЋЌЍЎЏ Ÿ ÀÉ Straße";
        let mut fast = String::new();
        for c in sample.chars() {
            lower_fast(c, &mut |l| fast.push(l));
        }
        assert_eq!(fast, sample.to_lowercase());
    }

    #[test]
    fn folds_latin_lookalikes_inside_cyrillic_words_only() {
        assert_eq!(fold("Айгерiм"), "айгерим");
        assert_eq!(fold("Kokshetau"), "kokshetau");
    }

    #[test]
    fn splits_digits_from_letters_and_keeps_glue() {
        let t = tokenize("4ке 6, 90м2 алма-ата name's");
        let raws: Vec<_> = t.iter().map(|t| t.raw).collect();
        assert_eq!(
            raws,
            ["4", "ке", "6", ",", "90", "м", "2", "алма-ата", "name's"]
        );
        assert!(!t[1].space_before);
        assert!(t[2].space_before);
        assert_eq!(t[0].kind, Kind::Num);
        assert_eq!(t[3].kind, Kind::Sym);
    }

    #[test]
    fn trailing_hyphen_is_not_part_of_word() {
        let t = tokenize("дом- 5");
        assert_eq!(t[0].raw, "дом");
        assert!(t[1].is_sym('-'));
    }

    #[test]
    fn capitalisation_flags() {
        let t = tokenize("Ерлан ИИН ерлан");
        assert!(t[0].is_capitalized() && !t[0].is_all_caps());
        assert!(t[1].is_all_caps());
        assert!(!t[2].is_capitalized());
    }

    #[test]
    fn prefix_lists() {
        assert!(starts_with_any("квартиры", &["дом", "квартир"]));
        assert!(!starts_with_any("кв", &["квартир"]));
        assert!(!starts_with_any("", &["а"]));
        assert!(starts_with_any("", &[""]));
    }
}
