//! Building / renovation area in square metres, read out of chat text.
//!
//! A number is an area only with evidence, because a sales chat is full of other numbers
//! (prices, dates, rooms, floors, order numbers, land plots):
//! - an area unit after it: «120 м²», «78 кв.м», «300 кв», «150 квадратов», «56 шаршы», "70 sqm";
//! - dimensions: «10 на 12», «24х36», «6ға 8», "6 by 8" → the product;
//! - an area word before or after it: «площадь 600», «квадратов сто двадцать», «210 общая
//!   площадь»;
//! - plain metres («150 метров») unless the text is about length (a fence, «ұзындығы 40 метр»);
//! - a bare number right after the bot asked for the area.
//!
//! Ranges («100-120», «от ста пятидесяти до ста восьмидесяти», "250-300") give the midpoint.
//! Land (сотки, сотық, гектар, a «участок» in m²) is never an area. Numbers may be digits or
//! words (see `numbers`). Every mention is returned in order; the caller takes the last one,
//! which is how a correction («не 180, а 210») wins.

use super::numbers::{NumItem, is_kk_dative, numeric_items};
use super::phone;
use super::tokens::{Token, starts_with_any, tokenize};

/// Why a number was read as an area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AreaEvidence {
    Unit,
    Dimensions,
    Keyword,
    Metres,
    Answer,
}

/// One area value; `first..=last` are token indices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AreaMention {
    pub value: f64,
    pub first: usize,
    pub last: usize,
    pub evidence: AreaEvidence,
}

/// What the bot said just before this message.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AreaContext<'a> {
    /// The previous bot message asked for the area or size.
    pub asked_area: bool,
    /// Areas the previous bot message stated («Итого 180 м²»): a bare «да, 180» confirms one.
    pub bot_values: &'a [f64],
}

/// What follows (or precedes) a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    SquareMetres,
    SquareFeet,
    Metres,
    /// Land units: сотка, гектар, acre.
    Land,
    /// Money, thousands, millions.
    Money,
    /// Rooms, floors, people, years, days… (or a volume/length unit other than metres).
    Count,
    /// An area word such as «площадь» (only as a following or preceding word).
    AreaWord,
}

fn word<'a>(tokens: &'a [Token<'a>], i: usize) -> Option<&'a str> {
    tokens
        .get(i)
        .filter(|t| t.is_word())
        .map(|t| t.norm.as_str())
}

fn is_metre_word(n: &str) -> bool {
    n.starts_with("метр") || n.starts_with("meter") || n.starts_with("metre")
}

fn is_sqm_word(n: &str) -> bool {
    n.starts_with("квадрат")
        || matches!(n, "кв" | "квм" | "шаршы" | "sqm" | "sq" | "square" | "кв.м")
}

fn is_area_word(n: &str) -> bool {
    n.starts_with("площад") || n.starts_with("аудан") || n.starts_with("квадратур") || n == "area"
}

fn is_land_word(n: &str) -> bool {
    n.starts_with("сот")
        || n.starts_with("гектар")
        || n.starts_with("hectare")
        || n.starts_with("sotk")
        || n.starts_with("sotok")
        || n.starts_with("acre")
        || n.starts_with("акр")
        || matches!(n, "га" | "ha")
}

fn is_money_word(n: &str) -> bool {
    matches!(
        n,
        "тг" | "тенге"
            | "тнг"
            | "kzt"
            | "tenge"
            | "руб"
            | "рублей"
            | "usd"
            | "eur"
            | "евро"
            | "млн"
            | "млрд"
            | "mln"
            | "k"
            | "к"
            | "тыс"
            | "мын"
    ) || starts_with_any(
        n,
        &[
            "миллион",
            "million",
            "billion",
            "тысяч",
            "долл",
            "dollar",
            "теңге",
            "рубл",
        ],
    )
}

fn is_count_word(n: &str) -> bool {
    const PREFIX: &[&str] = &[
        "комнат",
        "этаж",
        "спальн",
        "bedroom",
        "room",
        "floor",
        "storey",
        "store",
        "stori",
        "story",
        "человек",
        "чел",
        "лет",
        "год",
        "мкр",
        "микрорайон",
        "дней",
        "дня",
        "день",
        "недел",
        "месяц",
        "час",
        "минут",
        "мин",
        "раз",
        "шт",
        "штук",
        "окн",
        "окон",
        "двер",
        "процент",
        "куб",
        "тонн",
        "мешк",
        "кабат",
        "болме",
        "жыл",
        "адам",
        "кун",
        "сагат",
        "people",
        "worker",
        "year",
        "day",
        "week",
        "month",
        "hour",
        "pcs",
        "bag",
        "unit",
        "пост",
        "мест",
        "машин",
        "сотрудник",
        "рабоч",
        "см",
        "мм",
        "км",
        "кг",
        "cm",
        "mm",
        "km",
        "kg",
        "квартир",
        "кабинет",
        "санузл",
        "ванн",
        "сотых",
    ];
    starts_with_any(n, PREFIX) || matches!(n, "х" | "x" | "ай")
}

/// Reads the unit starting at token `i` (right after a number); returns it and the index of
/// its last token.
fn unit_at(tokens: &[Token<'_>], i: usize) -> Option<(Unit, usize)> {
    let t = tokens.get(i)?;
    if t.is_sym('%') {
        return Some((Unit::Count, i));
    }
    if t.is_sym('₸') || t.is_sym('$') || t.is_sym('€') {
        return Some((Unit::Money, i));
    }
    // «2-х этажный», "2-storey": a hyphen between the number and the noun.
    if t.is_sym('-') && !t.space_before {
        let mut j = i + 1;
        if word(tokens, j).is_some_and(|w| matches!(w, "х" | "ти" | "ух" | "ох" | "ми" | "ни"))
        {
            j += 1;
        }
        if let Some(w) = word(tokens, j)
            && is_count_word(w)
        {
            return Some((Unit::Count, j));
        }
        return None;
    }
    let n = word(tokens, i)?;
    // м², м2, m², m2 — but м3/м³ is a volume.
    if matches!(n, "м" | "m") {
        if let Some(next) = tokens.get(i + 1)
            && !next.space_before
        {
            if next.is_sym('²') || next.raw == "2" {
                return Some((Unit::SquareMetres, i + 1));
            }
            if next.is_sym('³') || next.raw == "3" {
                return Some((Unit::Count, i + 1));
            }
            // «м.кв»
            if next.is_sym('.') && word(tokens, i + 2) == Some("кв") {
                return Some((Unit::SquareMetres, i + 2));
            }
        }
        // «м кв», «м. кв.»
        let j = if tokens.get(i + 1).is_some_and(|x| x.is_sym('.')) {
            i + 2
        } else {
            i + 1
        };
        if word(tokens, j) == Some("кв") {
            return Some((Unit::SquareMetres, j));
        }
        return Some((Unit::Metres, i));
    }
    if n == "кв" || n == "sq" {
        // «кв.м», «кв. м.», «кв метров», "sq m", "sq. ft".
        let mut j = i + 1;
        if tokens.get(j).is_some_and(|t| t.is_sym('.')) {
            j += 1;
        }
        if let Some(w) = word(tokens, j) {
            if matches!(w, "м" | "m") || is_metre_word(w) {
                return Some((Unit::SquareMetres, j));
            }
            if matches!(w, "ft" | "feet" | "foot") {
                return Some((Unit::SquareFeet, j));
            }
        }
        return Some((Unit::SquareMetres, i));
    }
    if n == "square" {
        if let Some(w) = word(tokens, i + 1)
            && matches!(w, "ft" | "feet" | "foot")
        {
            return Some((Unit::SquareFeet, i + 1));
        }
        let end = if word(tokens, i + 1).is_some_and(is_metre_word) {
            i + 1
        } else {
            i
        };
        return Some((Unit::SquareMetres, end));
    }
    if n == "sqft" {
        return Some((Unit::SquareFeet, i));
    }
    if is_sqm_word(n) {
        // «квадратных метров», «шаршы метр».
        let end = if word(tokens, i + 1).is_some_and(is_metre_word) {
            i + 1
        } else {
            i
        };
        return Some((Unit::SquareMetres, end));
    }
    if is_metre_word(n) {
        if word(tokens, i + 1).is_some_and(|w| w.starts_with("квадрат")) {
            return Some((Unit::SquareMetres, i + 1));
        }
        return Some((Unit::Metres, i));
    }
    if is_land_word(n) {
        return Some((Unit::Land, i));
    }
    if is_money_word(n) {
        return Some((Unit::Money, i));
    }
    if is_count_word(n) {
        return Some((Unit::Count, i));
    }
    // «210 общая площадь»: an area word after at most one adjective.
    if is_area_word(n) {
        return Some((Unit::AreaWord, i));
    }
    if matches!(
        n,
        "общая"
            | "общей"
            | "общую"
            | "жилая"
            | "жилой"
            | "полезная"
            | "total"
            | "living"
            | "жалпы"
    ) && word(tokens, i + 1).is_some_and(is_area_word)
    {
        return Some((Unit::AreaWord, i + 1));
    }
    None
}

fn is_approx_word(n: &str) -> bool {
    matches!(
        n,
        "от" | "примерно"
            | "прмерно"
            | "приблизительно"
            | "около"
            | "где-то"
            | "порядка"
            | "шамамен"
            | "шамасы"
            | "about"
            | "around"
            | "approximately"
            | "approx"
            | "roughly"
            | "nearly"
            | "almost"
            | "from"
            | "is"
            | "of"
            | "будет"
            | "—"
    )
}

/// A unit or area word just before a number: «квадратов сто двадцать», «площадь 600»,
/// «метров от ста пятидесяти».
fn unit_before(tokens: &[Token<'_>], first: usize) -> Option<Unit> {
    let mut k = first;
    for _ in 0..3 {
        k = k.checked_sub(1)?;
        let t = &tokens[k];
        if t.is_sym('~') || t.is_sym('≈') || t.is_sym(':') || t.is_sym('-') || t.is_sym('—') {
            continue;
        }
        let n = word(tokens, k)?;
        if is_approx_word(n) {
            continue;
        }
        if is_area_word(n) || n.starts_with("размер") || n == "size" {
            return Some(Unit::AreaWord);
        }
        if is_sqm_word(n) {
            return Some(Unit::SquareMetres);
        }
        if is_metre_word(n) {
            return Some(Unit::Metres);
        }
        return None;
    }
    None
}

/// Words before a number that make it a price or a land size.
fn price_or_land_before(tokens: &[Token<'_>], first: usize) -> (bool, bool) {
    let mut price = false;
    let mut land = false;
    for k in first.saturating_sub(3)..first {
        if let Some(n) = word(tokens, k) {
            price |= n.starts_with("бюджет")
                || n.starts_with("budget")
                || n.starts_with("цен")
                || n.starts_with("стоимост")
                || n.starts_with("стоит")
                || n.starts_with("баг")
                || n == "price"
                || n == "за";
            land |= n.starts_with("участ")
                || n.starts_with("земл")
                || n == "жер"
                || n == "plot"
                || n == "land"
                || n.starts_with("территори");
        }
        if tokens[k].is_sym('№') || tokens[k].is_sym('#') {
            price = true;
        }
    }
    (price, land)
}

fn is_length_word(n: &str) -> bool {
    starts_with_any(
        n,
        &[
            "длин",
            "погон",
            "пог",
            "периметр",
            "узын",
            "биикт",
            "высот",
            "глубин",
            "ширин",
            "length",
            "long",
            "height",
            "high",
            "tall",
            "deep",
            "wide",
            "width",
            "perimeter",
        ],
    )
}

fn is_linear_object(n: &str) -> bool {
    starts_with_any(
        n,
        &[
            "забор",
            "огражд",
            "оград",
            "коршау",
            "дуал",
            "fence",
            "сетк",
            "трасс",
            "дорог",
            "кабел",
            "труб",
            "road",
            "pipe",
            "cable",
        ],
    )
}

/// Connector between two dimensions: «на», «х», "x", "by", «×», «*».
fn dims_connector(tokens: &[Token<'_>], i: usize) -> bool {
    match tokens.get(i) {
        Some(t) if t.is_word() => matches!(t.norm.as_str(), "на" | "х" | "x" | "by"),
        Some(t) => t.is_sym('×') || t.is_sym('*'),
        None => false,
    }
}

fn range_connector(tokens: &[Token<'_>], i: usize) -> bool {
    match tokens.get(i) {
        Some(t) if t.is_word() => {
            matches!(
                t.norm.as_str(),
                "до" | "to" | "или" | "or" | "and" | "мен" | "и"
            )
        }
        Some(t) => t.is_sym('-') || t.is_sym('–') || t.is_sym('—') || t.is_sym('/'),
        None => false,
    }
}

/// Skips a metre unit glued to a dimension («6м на 8м», "6 m x 8 m").
fn skip_metre(tokens: &[Token<'_>], i: usize) -> usize {
    match word(tokens, i) {
        Some(w) if matches!(w, "м" | "m") || is_metre_word(w) => i + 1,
        _ => i,
    }
}

fn item_at(items: &[NumItem], from: usize, token: usize) -> Option<usize> {
    items
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, n)| n.first == token)
        .map(|(k, _)| k)
}

/// «2 этажа по 90»: the floor count when the number follows «N этаж… по».
fn floors_before(tokens: &[Token<'_>], items: &[NumItem], first: usize) -> Option<f64> {
    let po = first.checked_sub(1)?;
    if word(tokens, po) != Some("по") {
        return None;
    }
    let floor_word = po.checked_sub(1)?;
    if !word(tokens, floor_word).is_some_and(|w| w.starts_with("этаж")) {
        return None;
    }
    items
        .iter()
        .find(|n| n.last + 1 == floor_word && (2.0..=5.0).contains(&n.value))
        .map(|n| n.value)
}

/// The number of floors named in the message: «2 этажа», «двухэтажный», «екі қабатты»,
/// "two-storey". Only counts of 2–5 matter (one floor changes nothing).
fn floor_count(tokens: &[Token<'_>], items: &[NumItem]) -> Option<f64> {
    let is_floor = |w: &str| {
        ["этаж", "кабат", "floor", "stor"]
            .iter()
            .any(|p| w.starts_with(p))
    };
    for n in items {
        let named = (n.last + 1..=n.last + 3)
            .take_while(|&j| j < tokens.len())
            .any(|j| word(tokens, j).is_some_and(is_floor));
        if named && (2.0..=5.0).contains(&n.value) {
            return Some(n.value);
        }
    }
    tokens.iter().filter(|t| t.is_word()).find_map(|t| {
        let w = t.norm.as_str();
        if w.starts_with("двухэтаж") || w.starts_with("two-stor") || w.starts_with("two-floor")
        {
            Some(2.0)
        } else if w.starts_with("трехэтаж") || w.starts_with("three-stor") {
            Some(3.0)
        } else {
            None
        }
    })
}

/// «әр қабаты 90», «90 на каждый этаж», "90 sqm per floor": the area is per floor.
fn per_floor(tokens: &[Token<'_>], first: usize, last: usize) -> bool {
    (first.saturating_sub(3)..(last + 5).min(tokens.len())).any(|j| {
        word(tokens, j).is_some_and(|w| {
            matches!(w, "каждый" | "каждом" | "каждого" | "per" | "each")
                || (w == "ар" && word(tokens, j + 1).is_some_and(|n| n.starts_with("кабат")))
        })
    })
}

/// All area mentions in a token list, in order; `skip` masks tokens already used (phones).
pub fn find_in_tokens(
    tokens: &[Token<'_>],
    skip: &[bool],
    ctx: AreaContext<'_>,
) -> Vec<AreaMention> {
    let items = numeric_items(tokens, skip);
    let linear_text = tokens
        .iter()
        .any(|t| t.is_word() && is_linear_object(&t.norm));
    let mut out = Vec::new();
    let mut k = 0;
    while k < items.len() {
        let a = &items[k];
        let after_a = a.last + 1;
        let unit_a = unit_at(tokens, after_a);
        let (price_ctx, land_ctx) = price_or_land_before(tokens, a.first);

        // Dimensions: «10 на 12», «6ға 8», «24х36», "6 m x 8 m".
        let dative = a.suffix.as_deref().is_some_and(is_kk_dative);
        let conn = skip_metre(tokens, after_a);
        // «4 метрге 6 метр»: the metre word itself carries the Kazakh dative.
        let metre_dative = word(tokens, after_a).is_some_and(|w| {
            is_metre_word(w) && ["ге", "ке", "га", "ка"].iter().any(|d| w.ends_with(d))
        });
        let b_start = if dative {
            Some(after_a)
        } else if metre_dative {
            Some(after_a + 1)
        } else if dims_connector(tokens, conn) {
            Some(conn + 1)
        } else {
            None
        };
        if let Some(bs) = b_start
            && let Some(kb) = item_at(&items, k + 1, bs)
        {
            let b = &items[kb];
            let after_b = skip_metre(tokens, b.last + 1);
            let b_counted = matches!(
                unit_at(tokens, b.last + 1),
                Some((Unit::Count | Unit::Money | Unit::Land, _))
            );
            let plausible = (1.0..=500.0).contains(&a.value) && (1.0..=500.0).contains(&b.value);
            if plausible && !b_counted && !a.date_like && !b.date_like {
                let mut last = b.last;
                let mut next = kb + 1;
                // A third dimension (height) is not part of the floor area.
                if dims_connector(tokens, after_b)
                    && let Some(kc) = item_at(&items, kb + 1, after_b + 1)
                {
                    last = items[kc].last;
                    next = kc + 1;
                }
                if let Some((Unit::SquareMetres | Unit::Metres, end)) = unit_at(tokens, last + 1) {
                    last = end;
                }
                out.push(AreaMention {
                    value: a.value * b.value,
                    first: a.first,
                    last,
                    evidence: AreaEvidence::Dimensions,
                });
                k = next;
                continue;
            }
        }

        // A range: «100-120», «от ста пятидесяти до ста восьмидесяти», «100-ден 120-ға».
        let mut value = a.value;
        let mut last = a.last;
        let mut unit = unit_a;
        let mut next = k + 1;
        let ablative = a
            .suffix
            .as_deref()
            .is_some_and(|s| matches!(s, "ден" | "дан" | "тен" | "тан" | "нен" | "нан"));
        if unit.is_none() {
            let b_start = if ablative {
                Some(after_a)
            } else if range_connector(tokens, after_a) {
                Some(after_a + 1)
            } else {
                None
            };
            if let Some(bs) = b_start
                && let Some(kb) = item_at(&items, k + 1, bs)
            {
                let b = &items[kb];
                if b.value > a.value && b.value <= a.value * 3.0 && !b.date_like && !a.date_like {
                    value = (a.value + b.value) / 2.0;
                    last = b.last;
                    unit = unit_at(tokens, b.last + 1);
                    next = kb + 1;
                }
            }
        }
        k = next;

        let mention = |value: f64, evidence| AreaMention {
            value,
            first: a.first,
            last,
            evidence,
        };
        let near_length = (a.first.saturating_sub(3)..a.first)
            .chain(last + 1..last + 3)
            .any(|j| word(tokens, j).is_some_and(is_length_word));
        // «2 этажа по 90 кв.м», «екі қабатты, әр қабаты 90»: the total over the floors.
        let floors = floors_before(tokens, &items, a.first)
            .or_else(|| {
                per_floor(tokens, a.first, last)
                    .then(|| floor_count(tokens, &items))
                    .flatten()
            })
            .unwrap_or(1.0);
        let confirms_bot = ctx
            .bot_values
            .iter()
            .any(|b| (b - value).abs() <= 0.01 * b.abs());
        match unit {
            Some((Unit::SquareMetres, _)) if !land_ctx => {
                out.push(mention(value * floors, AreaEvidence::Unit));
            }
            Some((Unit::SquareFeet, _)) if !land_ctx => {
                out.push(mention(value * 0.092_903, AreaEvidence::Unit));
            }
            Some((Unit::AreaWord, _)) if !land_ctx && !a.date_like => {
                out.push(mention(value, AreaEvidence::Keyword));
            }
            Some((Unit::Metres, _))
                if !land_ctx && !a.date_like && !linear_text && !near_length =>
            {
                out.push(mention(value, AreaEvidence::Metres));
            }
            None if !a.date_like && !price_ctx && !land_ctx => match unit_before(tokens, a.first) {
                Some(Unit::SquareMetres | Unit::AreaWord) => {
                    out.push(mention(value, AreaEvidence::Keyword));
                }
                Some(Unit::Metres) if !linear_text && !near_length => {
                    out.push(mention(value, AreaEvidence::Metres));
                }
                _ if (ctx.asked_area || confirms_bot) && (5.0..=20_000.0).contains(&value) => {
                    out.push(mention(value, AreaEvidence::Answer));
                }
                _ => {}
            },
            _ => {}
        }
    }
    out.retain(|m| m.value >= 2.0 && m.value <= 200_000.0);
    out
}

/// The last area in `text` (phones masked out first so their digits are not read as numbers).
pub fn find_area(text: &str) -> Option<f64> {
    let tokens = tokenize(text);
    let mut skip = vec![false; tokens.len()];
    for p in phone::find_in_tokens(&tokens) {
        skip[p.first..=p.last].fill(true);
    }
    find_in_tokens(&tokens, &skip, AreaContext::default())
        .last()
        .map(|m| m.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(text: &str) -> Option<f64> {
        find_area(text)
    }

    fn answer(text: &str) -> Option<f64> {
        let t = tokenize(text);
        find_in_tokens(
            &t,
            &[],
            AreaContext {
                asked_area: true,
                bot_values: &[],
            },
        )
        .last()
        .map(|m| m.value)
    }

    #[test]
    fn units() {
        assert_eq!(a("дом 90 м2"), Some(90.0));
        assert_eq!(a("около 220 м²"), Some(220.0));
        assert_eq!(a("78 кв.м, новостройка"), Some(78.0));
        assert_eq!(a("прмерно 300 кв"), Some(300.0));
        assert_eq!(a("где-то 150 квадратов"), Some(150.0));
        assert_eq!(a("56 шаршы"), Some(56.0));
        assert_eq!(a("~70 sqm"), Some(70.0));
        assert_eq!(a("about 180 sq m"), Some(180.0));
        assert_eq!(a("roughly 400 m2"), Some(400.0));
        assert_eq!(a("45,5 м²"), Some(45.5));
        assert_eq!(a("120 м кв"), Some(120.0));
        assert_eq!(a("120 м. кв."), Some(120.0));
    }

    #[test]
    fn dimensions_are_multiplied() {
        assert_eq!(a("одноэтажный дом, 10 на 12"), Some(120.0));
        assert_eq!(a("склад 24х36"), Some(864.0));
        assert_eq!(a("warehouse 30x20"), Some(600.0));
        assert_eq!(a("6 by 8 meters"), Some(48.0));
        assert_eq!(a("6ға 8"), Some(48.0));
        assert_eq!(a("монша керек 4ке 6"), Some(24.0));
        assert_eq!(a("баня 6м х 6м"), Some(36.0));
        assert_eq!(a("алтыға сегіз"), Some(48.0));
        assert_eq!(a("4 метрге 6 метр"), Some(24.0));
    }

    #[test]
    fn ranges_give_midpoint() {
        assert_eq!(a("100-120 шаршы метр"), Some(110.0));
        assert_eq!(a("250-300 sqm"), Some(275.0));
        assert_eq!(
            a("дом хотим двухэтажный метров от ста пятидесяти до ста восьмидесяти где-то"),
            Some(165.0)
        );
        assert_eq!(a("от 100 до 150 м2"), Some(125.0));
    }

    #[test]
    fn number_words() {
        assert_eq!(a("жүз елу шаршы метр шамасында"), Some(150.0));
        assert_eq!(a("екі жүз шаршы метрдей"), Some(200.0));
        assert_eq!(
            a("нам дом нужен одноэтажный квадратов сто двадцать"),
            Some(120.0)
        );
        assert_eq!(
            a("a one hundred and twenty square metre house"),
            Some(120.0)
        );
        assert_eq!(a("сексен бес шаршы метр, үш бөлме"), Some(85.0));
    }

    #[test]
    fn corrections_last_wins() {
        assert_eq!(
            a("двухэтажный. ой, извините, не 180, а 210 общая площадь"),
            Some(210.0)
        );
        assert_eq!(a("Ой, қате жаздым, 250 емес 270 шаршы"), Some(270.0));
    }

    #[test]
    fn land_and_length_are_not_area() {
        assert_eq!(a("есть участок шесть соток"), None);
        assert_eq!(a("жер бар 8 сотық"), None);
        assert_eq!(a("участок 2 гектара"), None);
        assert_eq!(a("10 sotka plot"), None);
        assert_eq!(a("забор из профлиста 60 метров"), None);
        assert_eq!(a("Ұзындығы 40 метр"), None);
        assert_eq!(a("участок 600 м2"), None);
        assert_eq!(a("ангар 600 квадратов, участок 2 гектара"), Some(600.0));
    }

    #[test]
    fn other_numbers_are_not_area() {
        assert_eq!(a("бюджет 35 000 000 теңге"), None);
        assert_eq!(a("3 комнаты, 2 этажа"), None);
        assert_eq!(a("свободен 12.06 после 18:00, 14 мкр"), None);
        assert_eq!(a("по заказу №45871"), None);
        assert_eq!(a("до 90 млн"), None);
        assert_eq!(a("Looking at a 2-storey house"), None);
        assert_eq!(a("Ринат. 87761234455"), None);
    }

    #[test]
    fn bare_number_after_area_question() {
        assert_eq!(answer("где-то 150"), Some(150.0));
        assert_eq!(answer("2 этажа, 150"), Some(150.0));
        assert_eq!(answer("сто двадцать"), Some(120.0));
        assert_eq!(answer("пока не знаем"), None);
    }

    #[test]
    fn floors_times_floor_area() {
        assert_eq!(a("нужен дом, 2 этажа по 90 кв.м"), Some(180.0));
        assert_eq!(a("2 этажа, 90 кв.м"), Some(90.0));
        assert_eq!(
            a("екі қабатты үй салғымыз келеді, әр қабаты 90 шаршы"),
            Some(180.0)
        );
        assert_eq!(a("two-storey house, 100 sqm per floor"), Some(200.0));
        assert_eq!(a("двухэтажный дом 150 м2"), Some(150.0));
    }

    #[test]
    fn confirming_the_bots_figure() {
        let t = tokenize("Да, 180. Меня зовут Роман");
        let ctx = AreaContext {
            asked_area: false,
            bot_values: &[180.0],
        };
        assert_eq!(
            find_in_tokens(&t, &[], ctx).last().map(|m| m.value),
            Some(180.0)
        );
        assert!(find_in_tokens(&t, &[], AreaContext::default()).is_empty());
    }

    #[test]
    fn square_feet_are_converted() {
        let v = a("about 1500 sq ft").unwrap();
        assert!((v - 139.35).abs() < 0.1, "{v}");
    }
}
