//! The city finder: reads a [`City`] out of chat text.
//!
//! Names come in Russian, Kazakh and Latin spellings, old names (Алма-Ата, Нур-Султан,
//! Семипалатинск, Капчагай) and with case endings («в Астане», «из Караганды», «Алматыда»,
//! «Шымкентте», «Қонаевта»). Instead of stemming at run time, every spelling is expanded once
//! into its inflected forms (Russian endings by the last letter, Kazakh suffixes appended) and
//! looked up in a hash map ([`CITY_FORMS`], in the lexicon), one probe per word. Real Kazakhstan
//! towns outside the list map to [`City::Other`].
//!
//! A conversation often names two cities: «живу в Астане, а строить будем в Каскелене». Each
//! mention gets a [`CityRole`]; residence («живу», «тұрамын», "I live in") and negated («не в
//! Алматы», «Астанада емес») mentions lose to a plain one, and among equals the last wins.

use std::sync::LazyLock;

use crate::domain::city::City;

use super::lexicon::{CITY_FORMS, is_known_first_name};
use super::tokens::{FastMap, Token, is_clause_break, starts_with_any, tokenize};

/// Forms that are also ordinary words and count only when capitalised: «семей» (of families),
/// «рудный» (ore), «есік» (door), "oral".
fn needs_capital(form: &str) -> bool {
    matches!(
        form,
        "семей"
            | "рудный"
            | "oral"
            | "арал"
            | "аксу"
            | "есик"
            | "иссык"
            | "аксай"
            | "арыс"
            | "алга"
    )
}

/// One-deletion neighbourhood of every form of 6+ letters, for typo tolerance («Шымкнт»,
/// «Караганданда»): a key maps to its city, or to `None` when two cities share it.
static TYPO_KEYS: LazyLock<FastMap<String, Option<City>>> = LazyLock::new(|| {
    let mut m: FastMap<String, Option<City>> = FastMap::default();
    for (form, city) in CITY_FORMS.iter() {
        let chars: Vec<char> = form.chars().collect();
        if chars.len() < 6 {
            continue;
        }
        let mut keys = vec![form.clone()];
        for skip in 0..chars.len() {
            keys.push(
                chars
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, c)| *c)
                    .collect(),
            );
        }
        for k in keys {
            m.entry(k)
                .and_modify(|v| {
                    if *v != Some(*city) {
                        *v = None;
                    }
                })
                .or_insert(Some(*city));
        }
    }
    m
});

/// A city form within one typo of `norm` (a letter missing, extra or wrong). Only for words of
/// 6+ letters, and never for a known first name («Талгат» is a man, not «Талгар»).
fn typo_lookup(norm: &str) -> Option<City> {
    let chars: Vec<char> = norm.chars().collect();
    if chars.len() < 6 || is_known_first_name(norm) {
        return None;
    }
    let mut found: Option<City> = None;
    let mut consider = |c: Option<City>| -> bool {
        match (c, found) {
            (None, _) => false,
            (Some(c), None) => {
                found = Some(c);
                true
            }
            (Some(c), Some(f)) => {
                c == f || {
                    found = None;
                    false
                }
            }
        }
    };
    if let Some(c) = TYPO_KEYS.get(norm) {
        consider(*c);
    }
    for skip in 0..chars.len() {
        let key: String = chars
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, c)| *c)
            .collect();
        if let Some(c) = CITY_FORMS.get(&key) {
            consider(Some(*c));
        }
        if let Some(c) = TYPO_KEYS.get(&key) {
            consider(*c);
        }
    }
    found
}

fn is_place_preposition(norm: &str) -> bool {
    matches!(
        norm,
        "в" | "во"
            | "из"
            | "г"
            | "город"
            | "города"
            | "городе"
            | "под"
            | "около"
            | "возле"
            | "in"
            | "from"
            | "near"
            | "city"
            | "town"
    )
}

/// How a city mention relates to the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CityRole {
    /// Negated: «не в Алматы», «Астанада емес».
    Negated,
    /// Named as an option not chosen yet: «может Алматы, может Астана», «ещё не решили».
    Undecided,
    /// Where the customer lives or comes from, not necessarily where they build.
    Residence,
    /// A plain mention: where the work is.
    Target,
}

/// One city mention; `first..=last` are token indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CityMention {
    pub city: City,
    pub first: usize,
    pub last: usize,
    pub role: CityRole,
}

fn is_residence_word(norm: &str) -> bool {
    const PREFIX: &[&str] = &[
        "живу",
        "живем",
        "живет",
        "живут",
        "прожива",
        "прописан",
        "родом",
        "турамын",
        "турамыз",
        "туратын",
        "турады",
        "тургылыкты",
        "live",
        "living",
        "reside",
        "based",
    ];
    starts_with_any(norm, PREFIX)
}

fn is_street_word(norm: &str) -> bool {
    matches!(
        norm,
        "ул" | "улица"
            | "улице"
            | "улицу"
            | "пр"
            | "проспект"
            | "пр-т"
            | "переулок"
            | "пер"
            | "бульвар"
            | "мкр"
            | "микрорайон"
            | "street"
            | "st"
            | "ave"
            | "avenue"
            | "кошеси"
            | "дангылы"
    )
}

fn lookup(t: &Token<'_>, prev: Option<&Token<'_>>) -> Option<City> {
    if !t.is_word() {
        return None;
    }
    let placed_by_preposition = prev.is_some_and(|p| p.is_word() && is_place_preposition(&p.norm));
    if let Some(city) = CITY_FORMS.get(t.norm.as_str()) {
        if needs_capital(&t.norm) && !t.is_capitalized() {
            return None;
        }
        // «Нурсултан» is also a man's name: the bare form counts as the city only after «в»,
        // «из», "in" (inflected «в Нурсултане» is unambiguous).
        if is_known_first_name(&t.norm) && !placed_by_preposition {
            return None;
        }
        return Some(*city);
    }
    // Typos only where a place name is expected: capitalised, or after «в», «из», "in".
    let placed =
        t.is_capitalized() || prev.is_some_and(|p| p.is_word() && is_place_preposition(&p.norm));
    if placed { typo_lookup(&t.norm) } else { None }
}

/// All city mentions in a token list, in order.
pub fn find_in_tokens(tokens: &[Token<'_>]) -> Vec<CityMention> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if !t.is_word() {
            i += 1;
            continue;
        }
        // Two-word spellings typed with a space: «Алма Ата», «Нур Султан», «Усть Каменогорск».
        let mut found = None;
        if let Some(next) = tokens.get(i + 1)
            && next.is_word()
        {
            let joined = format!("{}-{}", t.norm, next.norm);
            if let Some(c) = CITY_FORMS.get(&joined) {
                found = Some((*c, i + 1));
            }
        }
        if found.is_none()
            && let Some(c) = lookup(t, i.checked_sub(1).map(|p| &tokens[p]))
        {
            found = Some((c, i));
        }
        let Some((city, last)) = found else {
            i += 1;
            continue;
        };
        let before = |k: usize| i.checked_sub(k).map(|j| &tokens[j]);
        let after = |k: usize| tokens.get(last + k);
        let street = (1..=2)
            .any(|k| before(k).is_some_and(|b| b.is_word() && is_street_word(&b.norm)))
            || after(1).is_some_and(|a| a.is_word() && is_street_word(&a.norm));
        if street {
            i = last + 1;
            continue;
        }
        let mut role = CityRole::Target;
        // Look back within the clause for «живу», "I live", and forward for «тұрамын».
        let mut k = i;
        let mut steps = 0;
        while k > 0 && steps < 5 {
            k -= 1;
            steps += 1;
            let b = &tokens[k];
            if is_clause_break(b) || b.is_sym(',') {
                break;
            }
            if b.is_word() && is_residence_word(&b.norm) {
                role = CityRole::Residence;
                break;
            }
        }
        for a in tokens.iter().skip(last + 1).take(2) {
            if a.is_word() && is_residence_word(&a.norm) {
                role = CityRole::Residence;
            }
        }
        let negated = (1..=2).any(|k| {
            before(k).is_some_and(|b| b.is_word() && matches!(b.norm.as_str(), "не" | "not"))
        }) || after(1).is_some_and(|a| a.is_word() && a.norm == "емес");
        if negated {
            role = CityRole::Negated;
        }
        out.push(CityMention {
            city,
            first: i,
            last,
            role,
        });
        i = last + 1;
    }
    mark_undecided(tokens, &mut out);
    out
}

fn is_undecided_word(norm: &str) -> bool {
    matches!(
        norm,
        "может"
            | "возможно"
            | "или"
            | "либо"
            | "or"
            | "either"
            | "maybe"
            | "perhaps"
            | "choosing"
            | "between"
            | "undecided"
            | "выбираем"
            | "немесе"
            | "мумкин"
            | "алде"
    ) || norm.starts_with("решил")
        || norm.starts_with("определил")
        || norm.starts_with("decid")
        || norm.starts_with("шешпе")
        || norm.starts_with("шешкен")
}

/// A sentence that weighs several cities («может Алматы, может Астана», "Almaty or Astana",
/// «ещё не решили: Алматы или Каскелен») names options, not the object's city.
fn mark_undecided(tokens: &[Token<'_>], mentions: &mut [CityMention]) {
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        let end = i + 1 == tokens.len();
        if !(is_clause_break(t) || end) {
            continue;
        }
        let sentence = start..=i;
        start = i + 1;
        let in_sentence: Vec<usize> = (0..mentions.len())
            .filter(|&k| sentence.contains(&mentions[k].first))
            .collect();
        let distinct = in_sentence.iter().any(|&a| {
            in_sentence
                .iter()
                .any(|&b| mentions[a].city != mentions[b].city)
        });
        let weighing = tokens[sentence.clone()]
            .iter()
            .any(|w| w.is_word() && is_undecided_word(&w.norm));
        if distinct && weighing {
            for k in in_sentence {
                if mentions[k].role == CityRole::Target {
                    mentions[k].role = CityRole::Undecided;
                }
            }
        }
    }
}

/// The city of the object from mentions in conversation order: the last mention of the best
/// role (a plain mention beats a residence; a negated one is never picked).
pub fn pick<'a>(mentions: impl IntoIterator<Item = &'a CityMention>) -> Option<City> {
    let mut best: Option<&CityMention> = None;
    for m in mentions {
        if m.role <= CityRole::Undecided {
            continue;
        }
        if best.is_none_or(|b| m.role >= b.role) {
            best = Some(m);
        }
    }
    best.map(|m| m.city)
}

/// The city named in `text`, if any.
pub fn find_city(text: &str) -> Option<City> {
    pick(&find_in_tokens(&tokenize(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> Option<&'static str> {
        find_city(text).map(City::as_str)
    }

    #[test]
    fn russian_case_endings() {
        assert_eq!(c("дом в Астане"), Some("astana"));
        assert_eq!(c("из Караганды"), Some("karaganda"));
        assert_eq!(c("в караганде, юго-восток"), Some("karaganda"));
        assert_eq!(c("в Костанае"), Some("kostanay"));
        assert_eq!(c("в Семее"), Some("semey"));
        assert_eq!(c("в Уральске"), Some("uralsk"));
        assert_eq!(c("коттедж нужен в алма-ате"), Some("almaty"));
        assert_eq!(c("в Капчагае, у воды"), Some("konaev"));
        assert_eq!(c("ремонт квартиры в Нур-Султане"), Some("astana"));
    }

    #[test]
    fn kazakh_suffixes_and_letters() {
        assert_eq!(c("Алматыда үй салғымыз келеді"), Some("almaty"));
        assert_eq!(c("Шымкентте монша"), Some("shymkent"));
        assert_eq!(c("Өскеменде коттедж"), Some("ust-kamenogorsk"));
        assert_eq!(c("Қонаевта саяжайда"), Some("konaev"));
        assert_eq!(c("қызылордада пәтерге ремонт"), Some("kyzylorda"));
        assert_eq!(c("Оралда үй"), Some("uralsk"));
        assert_eq!(c("Ақтөбеде дүкен"), Some("aktobe"));
        assert_eq!(c("Нұр-Сұлтан"), Some("astana"));
    }

    #[test]
    fn latin_and_old_names() {
        assert_eq!(c("planning a cottage in Nur-Sultan"), Some("astana"));
        assert_eq!(c("Семипалатинск, размер 4 на 5"), Some("semey"));
        assert_eq!(c("Алма Ата"), Some("almaty"));
        assert_eq!(c("in Kaskelen"), Some("kaskelen"));
    }

    #[test]
    fn towns_outside_the_list_are_other() {
        assert_eq!(c("вы работаете в Экибастузе?"), Some("other"));
        assert_eq!(c("Do you work in Kokshetau?"), Some("other"));
        assert_eq!(c("Көкшетауда үй"), Some("other"));
    }

    #[test]
    fn build_city_beats_residence() {
        assert_eq!(
            c("живу в Астане, а строить будем в Каскелене"),
            Some("kaskelen")
        );
        assert_eq!(
            c("Мен Алматыда тұрамын, бірақ үйді Талғарда салмақпыз"),
            Some("talgar")
        );
        assert_eq!(
            c("I live in Almaty but we are building a house in Konaev"),
            Some("konaev")
        );
        assert_eq!(c("живу в Астане, хочу дом"), Some("astana"));
    }

    #[test]
    fn negation_and_streets() {
        assert_eq!(c("в Талгаре, не в Алматы"), Some("talgar"));
        assert_eq!(c("адрес: ул. Конаева 12"), None);
        assert_eq!(c("для молодых семей"), None);
    }

    #[test]
    fn undecided_options_are_not_a_city() {
        assert_eq!(
            c("Ещё не решили, может Алматы, может Астана. Я позже напишу"),
            None
        );
        assert_eq!(c("Almaty or Astana, not sure"), None);
        assert_eq!(c("в Алматы или рядом"), Some("almaty"));
    }

    #[test]
    fn last_plain_mention_wins() {
        assert_eq!(c("дом в Алматы… ой, в Талгаре"), Some("talgar"));
    }

    #[test]
    fn one_typo_is_tolerated_in_long_names() {
        assert_eq!(c("нужен дом в Шымкнте"), Some("shymkent"));
        assert_eq!(c("в караганде"), Some("karaganda"));
        assert_eq!(c("в Павлдаре"), Some("pavlodar"));
        assert_eq!(c("в Усть-Каменогорке"), Some("ust-kamenogorsk"));
        // A name one letter away from a town is still a name.
        assert_eq!(c("Талгат, 8 701 111 22 33"), None);
        // Lower-case words only get typo tolerance after a place preposition.
        assert_eq!(c("строим"), None);
    }

    #[test]
    fn a_city_that_is_also_a_first_name() {
        assert_eq!(c("Нұрсұлтан, 87781112233"), None);
        assert_eq!(c("живём в Нурсултане"), Some("astana"));
        assert_eq!(c("в Нурсултан"), Some("astana"));
    }
}
