//! The name finder: reads the customer's first name, a [`PersonName`], out of chat text.
//!
//! Evidence comes in three strengths ([`NameEvidence`]):
//! - **contact**: the customer hands over someone else («звоните жене, Айгерим», «әйеліме
//!   хабарласыңыз, Айгерімге», "call my husband Arman", «Контактное лицо — Сергей»);
//! - **intro**: the customer names themself («меня зовут», «Меня Саша зовут», «атым», «мен
//!   Бекзатпын», «Қанат деп жазыңыз», "I'm", "name's", or a full name «Ахметова Динара
//!   Сериковна»);
//! - **weak**: a capitalised word right next to a phone number («Светлана 8 775 …»,
//!   «87089014477 Алексей») or opening the answer to «как вас зовут?».
//!
//! Contact beats intro beats weak; among equals the last wins. A name is reported in its
//! nominative form and in the customer's own spelling: Kazakh suffixes are dropped
//! («Айгерімге» → «Айгерім», «Бекзатпын» → «Бекзат»), Russian case endings are undone when the
//! result is a known first name («Ольге» → «Ольга»), and surname and patronymic are dropped.
//! A list of common first names in Kazakhstan lets lower-case names through and tells a first
//! name from a surname; unknown names still count when capitalised in the right slot.

use std::sync::LazyLock;

use crate::domain::person_name::PersonName;

use super::lexicon::{
    is_city_word, is_folded_first_name, is_known_first_name, is_object_word, num_word,
};
use super::tokens::{FastSet, Token, fold, is_clause_break, starts_with_any};

/// Words that are never names even when capitalised at the start of a message.
const STOP_WORDS: &[&str] = &[
    "здравствуйте",
    "здраствуйте",
    "здрасте",
    "добрый",
    "доброе",
    "доброго",
    "привет",
    "салам",
    "салем",
    "саламатсыз",
    "саламатсызба",
    "салеметсиз",
    "салеметсизбе",
    "ассалаумагалейкум",
    "hello",
    "hi",
    "hey",
    "good",
    "thanks",
    "thank",
    "спасибо",
    "рахмет",
    "пожалуйста",
    "please",
    "ok",
    "ок",
    "окей",
    "okay",
    "да",
    "нет",
    "yes",
    "no",
    "ага",
    "угу",
    "хорошо",
    "ладно",
    "жарайды",
    "жаксы",
    "иа",
    "ия",
    "жок",
    "sure",
    "ой",
    "oops",
    "sorry",
    "извините",
    "простите",
    "кешириниз",
    "алло",
    "ну",
    "вот",
    "так",
    "это",
    "эй",
    "конечно",
    "of",
    "course",
    "я",
    "мы",
    "вы",
    "вас",
    "вам",
    "ваш",
    "ваша",
    "мой",
    "моя",
    "мое",
    "мне",
    "меня",
    "мен",
    "менин",
    "маган",
    "менiки",
    "меники",
    "биз",
    "сиз",
    "сиздер",
    "i",
    "me",
    "my",
    "we",
    "our",
    "you",
    "your",
    "he",
    "she",
    "it",
    "they",
    "телефон",
    "тел",
    "номер",
    "номерим",
    "номирим",
    "номир",
    "phone",
    "mobile",
    "number",
    "tel",
    "whatsapp",
    "ватсап",
    "вотсап",
    "вацап",
    "watsap",
    "сот",
    "контакт",
    "contact",
    "звоните",
    "позвоните",
    "пишите",
    "напишите",
    "call",
    "write",
    "text",
    "тоо",
    "ип",
    "жк",
    "иин",
    "бин",
    "казахстан",
    "kazakhstan",
    "россия",
    "компания",
    "company",
    "бюджет",
    "адрес",
    "срок",
    "сроки",
    "цена",
    "материал",
    "брус",
    "газоблок",
    "кирпич",
    "профлист",
    "тот",
    "та",
    "те",
    "же",
    "мой",
    "the",
    "a",
    "an",
    "and",
    "but",
    "или",
    "или",
    "и",
    "а",
    "но",
    "not",
    "ещё",
    "еще",
    "уже",
    "тоже",
    "вот",
    "там",
    "тут",
    "здесь",
    "сейчас",
    "потом",
    "завтра",
    "сегодня",
    "tomorrow",
    "today",
    "now",
    "капитальный",
    "косметический",
    "черновая",
    "чистовая",
    "полностью",
    "двухэтажный",
    "одноэтажный",
    "менеджер",
    "manager",
    "оператор",
    "operator",
    "human",
    "person",
    "человек",
    "kazakh",
    "russian",
    "english",
    "қазақ",
    "казак",
    "понял",
    "поняла",
    "понятно",
    "отлично",
    "great",
    "fine",
    "nice",
    "cool",
    "super",
    "супер",
    "круто",
    "кстати",
    "сколько",
    "how",
    "what",
    "when",
    "where",
    "who",
    "why",
    "как",
    "что",
    "когда",
    "где",
    "кто",
    "почему",
    "канша",
    "кандай",
    "калай",
    "кашан",
    "кайда",
    "кім",
    "ким",
    "не",
    "есть",
    "нужен",
    "нужна",
    "нужно",
    "хочу",
    "хотим",
    "need",
    "want",
    "want",
    "keрек",
    "керек",
    "interested",
    "looking",
    "plan",
    "planning",
    "деп",
    "деген",
    "атым",
    "есимим",
    "зовут",
    "имя",
    "name",
    "name's",
    "is",
    "am",
    "are",
    "ватсапка",
    "телеграм",
    "telegram",
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
    "january",
    "february",
    "march",
    "may",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "friday",
    "понедельник",
    "вторник",
    "среда",
    "четверг",
    "пятница",
    "суббота",
    "воскресенье",
    "бригада",
    "вахте",
    "вахта",
    "тенге",
    "теңге",
    "kzt",
    "sqm",
    "ps",
    "p.s",
    "pls",
    "it's",
    "its",
    "it",
    "i'm",
    "im",
    "i'd",
    "that's",
    "here's",
    "what's",
    "let's",
    "i'll",
    "i've",
    "we're",
    "we'll",
    "there",
    "this",
    "that",
    "hello",
    "dear",
    "mr",
    "mrs",
    "ms",
    "господин",
    "госпожа",
    "уважаемый",
    "уважаемая",
    "viber",
    "вайбер",
    "telegram",
    "tg",
    "каспи",
    "kaspi",
    "моб",
    "мобильный",
    "сотовый",
    "рабочий",
    "личный",
    "домашний",
    "сначала",
    "давайте",
    "давай",
    "можно",
    "нельзя",
    "лучше",
    "просто",
    "наверное",
    "вообще",
    "сам",
    "сама",
    "сами",
    "зачем",
    "откуда",
    "куда",
    "какой",
    "какая",
    "какие",
    "который",
    "все",
    "всё",
    "если",
    "только",
    "пока",
    "также",
    "короче",
    "слушайте",
    "неважно",
    "ах",
    "эх",
    "хм",
    "ээ",
    "блин",
    "извиняюсь",
    "why",
    "first",
    "just",
    "maybe",
    "well",
    "so",
    "actually",
    "hmm",
    "um",
    "uh",
    "yeah",
    "yep",
    "nope",
    "anyway",
    "алдымен",
    "неге",
    "кейин",
    "казир",
    "ракмет",
    "азирге",
    "жок",
    "кешириниз",
    "ия",
    "иа",
];

static STOP: LazyLock<FastSet<&'static str>> =
    LazyLock::new(|| STOP_WORDS.iter().copied().collect());

fn is_stop_word(n: &str) -> bool {
    const STOP_PREFIX: &[&str] = &[
        "номер",
        "номир",
        "телефон",
        "whatsapp",
        "ватсап",
        "вотсап",
        "вацап",
        "контакт",
    ];
    STOP.contains(n) || starts_with_any(n, STOP_PREFIX)
}

/// Endings that mark an unknown word as a verb, adjective or abstract noun, not a name.
fn has_non_name_ending(n: &str) -> bool {
    const ENDS: &[&str] = &[
        "ый", "ая", "ое", "ые", "ого", "ому", "ть", "ться", "ите", "йте", "ешь", "ишь", "ость",
        "ние", "ция", "ыныз", "иниз", "мыз", "миз", "гым", "гим", "мын", "мин", "пын", "пин",
        "ing", "ed", "ly", "tion",
    ];
    ENDS.iter().any(|e| n.ends_with(e))
}

/// Kazakh copula endings: «Бекзатпын» = «I am Бекзат».
const COPULA: &[&str] = &["пын", "пин", "мын", "мин", "бын", "бин"];

/// Kazakh case endings a name can carry, longest first (folded).
const KK_CASES: &[&str] = &[
    "нын", "нин", "дын", "дин", "тын", "тин", "мен", "бен", "пен", "дан", "ден", "тан", "тен",
    "нан", "нен", "га", "ге", "ка", "ке", "ны", "ни", "ды", "ди", "ты", "ти", "на", "не",
];

/// Russian case endings and what the nominative ends with instead («Ольге» → «Ольга»,
/// «Сергею» → «Сергей», «Ивану» → «Иван»).
const RU_CASES: &[(&str, &str)] = &[
    ("ою", "а"),
    ("ой", "а"),
    ("ей", "я"),
    ("ом", ""),
    ("ем", "й"),
    ("ем", "ь"),
    ("ем", ""),
    ("ю", "й"),
    ("ю", "ь"),
    ("у", ""),
    ("е", "а"),
    ("е", "я"),
    ("е", ""),
    ("и", "а"),
    ("и", "я"),
    ("и", "ь"),
    ("ы", "а"),
    ("а", ""),
    ("я", "й"),
    ("я", "ь"),
];

/// Drops `suffix_chars` characters from the end of `raw`.
fn cut_chars(raw: &str, suffix_chars: usize) -> &str {
    let n = raw.chars().count();
    let keep = n.saturating_sub(suffix_chars);
    match raw.char_indices().nth(keep) {
        Some((i, _)) => &raw[..i],
        None => raw,
    }
}

/// The nominative form of a name-like word in the customer's spelling. `strip_unknown`
/// allows dropping an unambiguous Kazakh suffix even when the stem is not a known name (after
/// «мен …», before «хабарласыңыз», …).
pub fn nominative(raw: &str, strip_unknown: bool) -> String {
    let f = fold(raw);
    if is_folded_first_name(f.as_str()) || f.chars().count() != raw.chars().count() {
        return raw.to_string();
    }
    for suf in COPULA.iter().chain(KK_CASES) {
        if let Some(stem) = f.strip_suffix(suf)
            && is_folded_first_name(stem)
        {
            return cut_chars(raw, suf.chars().count()).to_string();
        }
    }
    for (end, repl) in RU_CASES {
        if let Some(stem) = f.strip_suffix(end)
            && is_folded_first_name(format!("{stem}{repl}").as_str())
        {
            return format!("{}{repl}", cut_chars(raw, end.chars().count()));
        }
    }
    if strip_unknown {
        for suf in COPULA.iter().chain(KK_CASES) {
            if let Some(stem) = f.strip_suffix(suf)
                && stem.chars().count() >= 3
            {
                return cut_chars(raw, suf.chars().count()).to_string();
            }
        }
    }
    raw.to_string()
}

/// How the name was given; stronger evidence wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NameEvidence {
    Weak,
    Intro,
    Contact,
}

/// One name found in a message; `token` is the index of the word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameMention {
    pub name: PersonName,
    pub token: usize,
    pub evidence: NameEvidence,
}

/// What the finder needs to know besides the words.
#[derive(Clone, Copy, Debug, Default)]
pub struct NameContext<'a> {
    /// The bot's previous message asked for the customer's name.
    pub asked_name: bool,
    /// Token spans (`first`, `last`) of digit runs that look like phone numbers.
    pub phone_spans: &'a [(usize, usize)],
}

const PATRONYMIC_ENDS: &[&str] = &[
    "ович",
    "евич",
    "овна",
    "евна",
    "ична",
    "инична",
    "улы",
    "кызы",
    "ovich",
    "evich",
    "ovna",
    "evna",
    "uly",
    "kyzy",
];
const SURNAME_ENDS: &[&str] = &[
    "ов", "ова", "ев", "ева", "ин", "ина", "ын", "ына", "ский", "ская", "цкий", "цкая", "енко",
    "ук", "юк", "ov", "ova", "ev", "eva", "enko", "sky", "skaya",
];

fn is_patronymic(n: &str) -> bool {
    PATRONYMIC_ENDS.iter().any(|e| n.ends_with(e)) && n.chars().count() > 5
}

fn is_surname_like(n: &str) -> bool {
    !is_folded_first_name(n) && SURNAME_ENDS.iter().any(|e| n.ends_with(e)) && n.chars().count() > 4
}

/// Whether token `i` can be a name at all (not a function word, city, object, number).
fn plausible_word(t: &Token<'_>) -> bool {
    if !t.is_word() {
        return false;
    }
    let n = t.norm.as_str();
    let len = n.chars().count();
    // Short all-caps words are abbreviations («ТОО», «ИП»), not names.
    let abbreviation = t.is_all_caps() && len <= 3;
    (2..=20).contains(&len)
        && !abbreviation
        && !is_stop_word(n)
        && !is_city_word(n)
        && !is_object_word(t)
        && num_word(n).is_none()
}

/// How sure the cue before a word is that a name follows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cue {
    /// «меня зовут», «атым», "my name is": a lower-case unknown word is still a name.
    Explicit,
    /// Anything else: the word must be capitalised or a known first name.
    Loose,
}

/// Reads a name at token `i`: capitalised (or a known name), nominative, full name resolved.
fn name_at(tokens: &[Token<'_>], i: usize, strip_unknown: bool) -> Option<(PersonName, usize)> {
    name_at_cue(tokens, i, strip_unknown, Cue::Loose)
}

fn name_at_cue(
    tokens: &[Token<'_>],
    i: usize,
    strip_unknown: bool,
    cue: Cue,
) -> Option<(PersonName, usize)> {
    let t = tokens.get(i)?;
    if !plausible_word(t) {
        return None;
    }
    // A capitalised run «Ахметова Динара Сериковна» / «Динара Ахметова»: keep the first name.
    let in_run = |k: usize| {
        tokens
            .get(k)
            .is_some_and(|x| x.is_word() && x.is_capitalized() && plausible_word(x))
    };
    if t.is_capitalized() {
        let mut start = i;
        while start > 0 && in_run(start - 1) && i - start < 2 {
            start -= 1;
        }
        let mut end = i;
        while in_run(end + 1) && end - start < 2 {
            end += 1;
        }
        if end > start {
            let run: Vec<usize> = (start..=end).collect();
            let known = run.iter().copied().find(|&k| {
                is_known_first_name(tokens[k].raw)
                    || is_known_first_name(&nominative(tokens[k].raw, false))
            });
            let plain = run
                .iter()
                .copied()
                .find(|&k| !is_patronymic(&tokens[k].norm) && !is_surname_like(&tokens[k].norm));
            let has_marker = run
                .iter()
                .any(|&k| is_patronymic(&tokens[k].norm) || is_surname_like(&tokens[k].norm));
            // «Алия Сейткали» / «Сейткали Алия»: the known first name; «Ахметова Динара
            // Сериковна»: the word that is neither surname nor patronymic.
            let chosen = if has_marker { known.or(plain) } else { known };
            if let Some(k) = chosen {
                let nom = nominative(tokens[k].raw, strip_unknown);
                return PersonName::new(&nom).map(|p| (p, k));
            }
        }
    }
    let nom = nominative(t.raw, strip_unknown);
    let known = is_known_first_name(&nom);
    if !known {
        if (!t.is_capitalized() && cue == Cue::Loose) || has_non_name_ending(&fold(&nom)) {
            return None;
        }
        if is_patronymic(&t.norm) {
            return None;
        }
    }
    PersonName::new(&nom).map(|p| (p, i))
}

/// Next word index after `i`, skipping punctuation that can sit between a cue and a name.
fn next_word(tokens: &[Token<'_>], i: usize) -> Option<usize> {
    let mut k = i + 1;
    while let Some(t) = tokens.get(k) {
        if t.is_word() {
            return Some(k);
        }
        if !(t.is_sym(',')
            || t.is_sym(':')
            || t.is_sym('-')
            || t.is_sym('—')
            || t.is_sym('–')
            || t.is_sym('"')
            || t.is_sym('«'))
        {
            return None;
        }
        k += 1;
    }
    None
}

fn prev_word(tokens: &[Token<'_>], i: usize) -> Option<usize> {
    let k = i.checked_sub(1)?;
    tokens[k].is_word().then_some(k)
}

fn is_relation_word(n: &str) -> bool {
    const EXACT: &[&str] = &[
        "жена",
        "жене",
        "жену",
        "женой",
        "жены",
        "муж",
        "мужу",
        "мужа",
        "мужем",
        "брат",
        "брату",
        "брата",
        "братом",
        "сын",
        "сыну",
        "сына",
        "сыном",
        "отец",
        "отцу",
        "отца",
        "друг",
        "другу",
        "друга",
        "зять",
        "зятю",
        "wife",
        "husband",
        "colleague",
        "brother",
        "sister",
        "son",
        "daughter",
        "father",
        "mother",
        "dad",
        "mom",
        "mum",
        "partner",
        "assistant",
        "foreman",
        "friend",
        "boss",
        "secretary",
        "лицо",
        "person",
    ];
    const PREFIX: &[&str] = &[
        "супруг",
        "сестр",
        "доч",
        "пап",
        "мам",
        "коллег",
        "партнер",
        "прораб",
        "помощник",
        "помощниц",
        "секретар",
        "бухгалтер",
        "директор",
        "начальник",
        "сосед",
        "представител",
        "айелим",
        "куйеуим",
        "агам",
        "иним",
        "апам",
        "карындас",
        "синлим",
        "кызым",
        "улым",
        "акем",
        "анам",
        "ариптес",
        "бауырым",
        "жолдасым",
        "досым",
        "бастыгым",
        "жиен",
    ];
    EXACT.contains(&n) || starts_with_any(n, PREFIX)
}

/// Filler between a relation word and the name: «моей», "my", «её зовут», "her name is".
fn is_contact_filler(n: &str) -> bool {
    matches!(
        n,
        "моей"
            | "моему"
            | "моя"
            | "мой"
            | "my"
            | "our"
            | "her"
            | "his"
            | "name"
            | "is"
            | "named"
            | "зовут"
            | "её"
            | "ее"
            | "его"
            | "по"
            | "имени"
            | "аты"
            | "есими"
            | "хабарласыныз"
            | "хабарласындар"
            | "звоните"
            | "позвоните"
            | "пожалуйста"
            | "please"
            | "на"
            | "номер"
            | "call"
            | "contact"
    )
}

fn is_call_verb(n: &str) -> bool {
    starts_with_any(
        n,
        &[
            "звони",
            "позвони",
            "набери",
            "наберите",
            "свяжитесь",
            "спросит",
            "спрашива",
            "обращайтесь",
            "передайте",
            "call",
            "ask",
            "contact",
            "text",
        ],
    )
}

/// Kazakh forms of address after a name: аға, ағай, апа, апай, әпке, мырза, ханым, бәйке
/// (folded, with a dative ending allowed).
fn is_honorific(n: &str) -> bool {
    const TITLES: &[&str] = &[
        "ага",
        "агай",
        "апа",
        "апай",
        "апке",
        "мырза",
        "ханым",
        "байке",
    ];
    starts_with_any(n, TITLES)
        && TITLES.iter().any(|h| {
            n.strip_prefix(h)
                .is_some_and(|rest| matches!(rest, "" | "га" | "ге" | "ка" | "ке"))
        })
}

fn is_kk_contact_verb(n: &str) -> bool {
    n.starts_with("хабарлас")
        || n.starts_with("звон")
        || n.starts_with("жазыныз")
        || n.starts_with("сог")
}

/// Finds the names in one customer message.
pub fn find_in_tokens(tokens: &[Token<'_>], ctx: NameContext<'_>) -> Vec<NameMention> {
    let mut out: Vec<NameMention> = Vec::new();
    let mut push = |found: Option<(PersonName, usize)>, evidence| {
        if let Some((name, token)) = found {
            out.push(NameMention {
                name,
                token,
                evidence,
            });
        }
    };
    let word_is =
        |i: Option<usize>, w: &[&str]| i.is_some_and(|i| w.contains(&tokens[i].norm.as_str()));

    for (i, t) in tokens.iter().enumerate() {
        if !t.is_word() {
            continue;
        }
        let n = t.norm.as_str();
        let prev = prev_word(tokens, i);
        let next = next_word(tokens, i);
        match n {
            "зовут" | "звать" => {
                if word_is(prev, &["её", "ее", "его"]) {
                    push(
                        next.and_then(|k| name_at(tokens, k, false)),
                        NameEvidence::Contact,
                    );
                } else if word_is(prev, &["меня", "мене"]) {
                    // «меня зовут Ерлан» or «Жанна меня зовут».
                    let after = next.and_then(|k| name_at_cue(tokens, k, false, Cue::Explicit));
                    if after.is_some() {
                        push(after, NameEvidence::Intro);
                    } else {
                        let before = prev
                            .and_then(|p| p.checked_sub(1))
                            .and_then(|k| name_at(tokens, k, false));
                        push(before, NameEvidence::Intro);
                    }
                } else if let Some(p) = prev
                    && word_is(p.checked_sub(1), &["меня", "мене"])
                {
                    // «Меня Саша зовут».
                    push(name_at(tokens, p, false), NameEvidence::Intro);
                } else if prev.is_none() {
                    // «Звать Ерлан», «Зовут Ерлан».
                    push(
                        next.and_then(|k| name_at_cue(tokens, k, false, Cue::Explicit)),
                        NameEvidence::Intro,
                    );
                }
            }
            "имя"
                if word_is(prev, &["мое", "моё"])
                    || tokens.get(i + 1).is_some_and(|x| x.is_sym(':')) =>
            {
                push(
                    next.and_then(|k| name_at_cue(tokens, k, false, Cue::Explicit)),
                    NameEvidence::Intro,
                );
            }
            "я" | "i'm" | "im" | "call" if n != "call" || word_is(next, &["me"]) => {
                let k = if n == "call" {
                    next.and_then(|m| next_word(tokens, m))
                } else {
                    next
                };
                push(
                    k.and_then(|k| name_at(tokens, k, false)),
                    NameEvidence::Intro,
                );
            }
            "am" if word_is(prev, &["i"]) => {
                push(
                    next.and_then(|k| name_at(tokens, k, false)),
                    NameEvidence::Intro,
                );
            }
            "name's" | "is" if n == "name's" || word_is(prev, &["name"]) => {
                let mine = n == "name's" || word_is(prev.and_then(|p| p.checked_sub(1)), &["my"]);
                let ev = if mine {
                    NameEvidence::Intro
                } else {
                    NameEvidence::Contact
                };
                push(
                    next.and_then(|k| name_at_cue(tokens, k, false, Cue::Explicit)),
                    ev,
                );
            }
            "this" if word_is(next, &["is"]) => {
                push(
                    next.and_then(|k| next_word(tokens, k))
                        .and_then(|k| name_at(tokens, k, false)),
                    NameEvidence::Intro,
                );
            }
            "атым" | "есимим" | "аты-жоним" | "атым-жоним" => {
                push(
                    next.and_then(|k| name_at_cue(tokens, k, true, Cue::Explicit)),
                    NameEvidence::Intro,
                );
            }
            "мен" => {
                push(
                    next.and_then(|k| name_at(tokens, k, true)),
                    NameEvidence::Intro,
                );
            }
            "деп" | "деген" => {
                push(
                    prev.and_then(|k| name_at(tokens, k, true)),
                    NameEvidence::Intro,
                );
            }
            "уважением" | "regards" => {
                push(
                    next.and_then(|k| name_at(tokens, k, false)),
                    NameEvidence::Intro,
                );
            }
            "это" => {
                // «Это Ерлан, по поводу бани»: only a known first name, «это» is too common.
                if let Some(k) = next
                    && is_known_first_name(tokens[k].raw)
                {
                    push(name_at(tokens, k, false), NameEvidence::Intro);
                }
            }
            _ => {}
        }
        // «Бекзатпын»: a capitalised word with a copula ending.
        if t.is_capitalized() && COPULA.iter().any(|c| n.ends_with(c)) && !word_is(prev, &["мен"])
        {
            let nom = nominative(t.raw, true);
            if nom.chars().count() < t.raw.chars().count() {
                push(name_at(tokens, i, true), NameEvidence::Intro);
            }
        }
        // «Серікбол ағаға хабарласыңыз», «Гүлнар апай»: a capitalised name before a Kazakh
        // honorific (the title is dropped); a contact when a call verb follows.
        if is_honorific(n)
            && let Some(p) = prev
            && tokens[p].is_capitalized()
        {
            let calls = (1..=2).any(|d| {
                tokens
                    .get(i + d)
                    .is_some_and(|x| x.is_word() && is_kk_contact_verb(&x.norm))
            });
            let ev = if calls {
                NameEvidence::Contact
            } else {
                NameEvidence::Intro
            };
            push(name_at(tokens, p, true), ev);
        }
        // Contact person after a relation word: «жене, Айгерим», "my colleague Aliya".
        if is_relation_word(n) {
            let mut k = i;
            for _ in 0..4 {
                let Some(w) = next_word(tokens, k) else { break };
                if is_contact_filler(&tokens[w].norm) {
                    k = w;
                    continue;
                }
                push(name_at(tokens, w, true), NameEvidence::Contact);
                break;
            }
        }
        // «позвоните Ольге», «свяжитесь с Ерланом», "ask for Aliya".
        if is_call_verb(n) {
            let mut k = next;
            if word_is(k, &["с", "со", "к", "for", "to"]) {
                k = k.and_then(|m| next_word(tokens, m));
            }
            if let Some(w) = k
                && tokens[w].is_capitalized()
            {
                push(name_at(tokens, w, false), NameEvidence::Contact);
            }
        }
        // «Айгерімге хабарласыңыз»: a capitalised dative before a Kazakh call verb.
        if t.is_capitalized()
            && ["га", "ге", "ка", "ке", "на", "не"]
                .iter()
                .any(|s| n.ends_with(s))
            && (1..=2).any(|d| {
                tokens
                    .get(i + d)
                    .is_some_and(|x| x.is_word() && is_kk_contact_verb(&x.norm))
            })
        {
            push(name_at(tokens, i, true), NameEvidence::Contact);
        }
    }

    // A full name with a patronymic anywhere: «Ахметова Динара Сериковна».
    for (i, t) in tokens.iter().enumerate() {
        if t.is_word() && t.is_capitalized() && is_patronymic(&t.norm) {
            let mut k = i;
            while k > 0 && tokens[k - 1].is_word() && tokens[k - 1].is_capitalized() && i - k < 2 {
                k -= 1;
            }
            if k < i {
                push(name_at(tokens, k, false), NameEvidence::Intro);
            }
        }
    }

    // Weak: next to a phone number.
    for &(first, last) in ctx.phone_spans {
        let mut b = first;
        let mut skipped = 0;
        while b > 0
            && skipped < 2
            && tokens[b - 1].kind == super::tokens::Kind::Sym
            && !is_clause_break(&tokens[b - 1])
        {
            b -= 1;
            skipped += 1;
        }
        if b > 0 && (skipped == 0 || tokens[b - 1].is_word()) {
            push(name_at(tokens, b - 1, false), NameEvidence::Weak);
        }
        if let Some(a) = next_word(tokens, last) {
            // «… 8 701 009 87 65 Рустам» ends the message or clause; «… Жду звонка» goes on
            // as a sentence, so an unknown word there is not a name.
            let ends = tokens
                .get(a + 1)
                .is_none_or(|x| !x.is_word() || x.is_capitalized());
            if ends || is_known_first_name(tokens[a].raw) {
                push(name_at(tokens, a, false), NameEvidence::Weak);
            }
        } else if tokens.get(last + 1).is_some_and(|x| x.is_sym('.'))
            && let Some(a) = next_word(tokens, last + 1)
            && a == last + 2
        {
            // «87089014477. Алексей» is rarer than a new sentence: only a known name.
            if is_known_first_name(tokens[a].raw) {
                push(name_at(tokens, a, false), NameEvidence::Weak);
            }
        }
        // «Вадим. +7 700 …»: a one-word sentence right before the number.
        if b >= 2
            && tokens[b - 1].is_sym('.')
            && tokens[b - 2].is_word()
            && (b < 3 || is_clause_break(&tokens[b - 3]) || b == 2)
        {
            push(name_at(tokens, b - 2, false), NameEvidence::Weak);
        }
    }

    // Weak: the answer to «как вас зовут?» starts with the name (after a greeting or «да»).
    if ctx.asked_name {
        let mut seen = 0;
        for (i, t) in tokens.iter().enumerate() {
            if !t.is_word() {
                continue;
            }
            if is_stop_word(&t.norm) && seen < 2 {
                seen += 1;
                continue;
            }
            // «Семён», «Дина. Ой…», «Марат, +7…» stand alone; «Напишу позже» runs on as a
            // sentence, so an unknown word followed by lower-case words is not a name.
            let alone = tokens
                .get(i + 1)
                .is_none_or(|x| !x.is_word() || x.is_capitalized());
            if alone || is_known_first_name(t.raw) {
                push(name_at(tokens, i, false), NameEvidence::Weak);
            }
            break;
        }
    }
    out
}

/// The customer's name from all mentions in conversation order: strongest evidence, then last.
pub fn pick<'a>(mentions: impl IntoIterator<Item = &'a NameMention>) -> Option<PersonName> {
    let mut best: Option<&NameMention> = None;
    for m in mentions {
        if best.is_none_or(|b| m.evidence >= b.evidence) {
            best = Some(m);
        }
    }
    best.map(|m| m.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::engine::text::phone;
    use crate::workers::engine::text::tokens::tokenize;

    fn name_in(text: &str, asked: bool) -> Option<String> {
        let t = tokenize(text);
        let spans: Vec<(usize, usize)> = phone::digit_runs(&t)
            .into_iter()
            .filter(|r| r.digit_count(&t) >= 7)
            .map(|r| (r.first, r.last))
            .collect();
        let ctx = NameContext {
            asked_name: asked,
            phone_spans: &spans,
        };
        pick(&find_in_tokens(&t, ctx)).map(PersonName::into_string)
    }

    fn n(text: &str) -> Option<String> {
        name_in(text, false)
    }

    #[test]
    fn russian_intro_patterns() {
        assert_eq!(n("Меня зовут Ерлан").as_deref(), Some("Ерлан"));
        assert_eq!(
            n("брус. Меня Саша зовут, номер 8-776-120-45-89").as_deref(),
            Some("Саша")
        );
        assert_eq!(
            n("Жанна меня зовут номер восемь семьсот семь").as_deref(),
            Some("Жанна")
        );
        assert_eq!(n("меня зовут марат").as_deref(), Some("Марат"));
        assert_eq!(n("Звать Ерлан, дом нужен").as_deref(), Some("Ерлан"));
    }

    #[test]
    fn kazakh_intro_patterns_and_suffixes() {
        assert_eq!(
            n("Атым Айбек, номер 8 701 987 65 43").as_deref(),
            Some("Айбек")
        );
        assert_eq!(
            n("Менің атым Әсел. 8-701-333-22-11").as_deref(),
            Some("Әсел")
        );
        assert_eq!(
            n("Сәлеметсіздер ме, мен Бекзатпын. Оралда үй салдырғым келеді").as_deref(),
            Some("Бекзат")
        );
        assert_eq!(
            n("Қанат деп жазыңыз, нөмір 8 705 890 12 34").as_deref(),
            Some("Қанат")
        );
        assert_eq!(n("мен Алматыда тұрамын"), None);
        assert_eq!(n("Мен сварщикпін"), None);
    }

    #[test]
    fn english_intro_patterns() {
        assert_eq!(
            n("Sure, I'm Timur, +7 701 555 43 21").as_deref(),
            Some("Timur")
        );
        assert_eq!(
            n("my number is +77089992211, name's Aidos").as_deref(),
            Some("Aidos")
        );
        assert_eq!(n("My name is Kate").as_deref(), Some("Kate"));
        assert_eq!(n("I'm travelling"), None);
    }

    #[test]
    fn contact_person_wins() {
        assert_eq!(
            n("звоните жене, Айгерим, 8 777 014 23 56, я на вахте").as_deref(),
            Some("Айгерим")
        );
        assert_eq!(
            n("күрделі. Маған емес, әйеліме хабарласыңыз, Айгерімге. Нөмірі +7 777 612 09 43")
                .as_deref(),
            Some("Айгерім")
        );
        assert_eq!(
            n("Please contact my colleague Aliya, her mobile is 8 702 300 11 45.").as_deref(),
            Some("Aliya")
        );
        assert_eq!(
            n("call my husband Arman please, 8 (707) 311 22 40").as_deref(),
            Some("Arman")
        );
        assert_eq!(
            n("Контактное лицо — Сергей, тел. 8-701-771-05-32").as_deref(),
            Some("Сергей")
        );
        assert_eq!(
            n("Меня зовут Марат, но звоните Ольге").as_deref(),
            Some("Ольга")
        );
    }

    #[test]
    fn kazakh_honorific_is_dropped() {
        assert_eq!(
            n("Серікбол ағаға хабарласыңыз, 8 701 333 44 55").as_deref(),
            Some("Серікбол")
        );
    }

    #[test]
    fn surname_and_patronymic_dropped() {
        assert_eq!(
            n("Добрый день! Ахметова Динара Сериковна. Нужен ремонт квартиры").as_deref(),
            Some("Динара")
        );
        assert_eq!(n("Иванов Сергей, 87011234567").as_deref(), Some("Сергей"));
    }

    #[test]
    fn known_first_name_wins_inside_a_full_name() {
        assert_eq!(n("Алия Сейткали, 8 701 111 22 33").as_deref(), Some("Алия"));
        assert_eq!(n("Сейткали Алия, 8 701 111 22 33").as_deref(), Some("Алия"));
    }

    #[test]
    fn weak_next_to_phone() {
        assert_eq!(n("Светлана 8 775 209 61 40").as_deref(), Some("Светлана"));
        assert_eq!(n("87089014477 Алексей").as_deref(), Some("Алексей"));
        assert_eq!(n("8 702 845 67 21, Бауыржан").as_deref(), Some("Бауыржан"));
        assert_eq!(n("Sarah, 8 777 123 45 6").as_deref(), Some("Sarah"));
        assert_eq!(n("Телефон 8 776 443 21 00"), None);
        assert_eq!(n("+7 701 777 21 09 ватсапқа жіберіңіз"), None);
        assert_eq!(n("Астана, 8 701 111 22 33"), None);
        assert_eq!(n("8 701 111 22 33 Жду звонка"), None);
    }

    #[test]
    fn weak_answer_to_name_question() {
        assert_eq!(name_in("Семён", true).as_deref(), Some("Семён"));
        assert_eq!(
            name_in("Дина. Ой, қате жаздым", true).as_deref(),
            Some("Дина")
        );
        assert_eq!(
            name_in("Max. phone +7 707 234 11 90", true).as_deref(),
            Some("Max")
        );
        assert_eq!(name_in("пока не знаем", true), None);
        assert_eq!(name_in("Зачем вам имя?", true), None);
        assert_eq!(name_in("Напишу позже", true), None);
        assert_eq!(
            name_in("Ерлан буду ждать звонка", true).as_deref(),
            Some("Ерлан")
        );
        assert_eq!(name_in("Viber 8 701 111 22 33", false), None);
        assert_eq!(name_in("Дина", false), None);
    }

    #[test]
    fn nominative_forms() {
        assert_eq!(nominative("Айгерімге", true), "Айгерім");
        assert_eq!(nominative("Бекзатпын", true), "Бекзат");
        assert_eq!(nominative("Сергею", false), "Сергей");
        assert_eq!(nominative("Ерланом", false), "Ерлан");
        assert_eq!(nominative("Дина", true), "Дина");
        assert_eq!(nominative("Жанна", true), "Жанна");
    }
}
