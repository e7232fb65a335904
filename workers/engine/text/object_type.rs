//! The object-type finder: reads an [`ObjectType`] out of chat text.
//!
//! Every object word («баню», «үйді», «склад», "warehouse", «пәтерге») is a mention with a
//! strength:
//! - a *head* is the thing being built («хочу баню построить»);
//! - a *modifier* only locates or serves it — after «на/под/для/с/в/к/возле», "for/with/near",
//!   or with a Kazakh locative/dative/genitive suffix: «баню на даче», «фундамент под дом»,
//!   «дом с гаражом», «саяжайда үй», «пәтерге ремонт»;
//! - a *weak* word hints at renovation without naming the object («ремонт», «кухня», «ЖК»).
//!
//! Heads decide; modifiers only when there is no head; weak words only when there is nothing
//! else. Among equals a fixed specificity order applies (bathhouse › garage › commercial ›
//! cottage › apartment › house), and "other" structures (fence, foundation, canopy) only win
//! when nothing else is named — so «дом и забор» is a house, «фундамент под дом» is other.

use crate::domain::object_type::ObjectType;

use super::lexicon::{DOM_FORMS, classify_object_word};
use super::tokens::{Token, starts_with_any, tokenize};

/// How strongly a mention names the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    Weak,
    Modifier,
    Head,
}

/// One object word; `token` is its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectMention {
    pub kind: ObjectType,
    pub token: usize,
    pub strength: Strength,
}

fn is_mod_prep(norm: &str) -> bool {
    matches!(
        norm,
        "под"
            | "для"
            | "на"
            | "с"
            | "со"
            | "к"
            | "ко"
            | "в"
            | "во"
            | "у"
            | "возле"
            | "около"
            | "рядом"
            | "вокруг"
            | "внутри"
            | "при"
            | "перед"
            | "for"
            | "with"
            | "on"
            | "near"
            | "next"
            | "inside"
            | "around"
            | "beside"
            | "behind"
            | "at"
            | "in"
            | "to"
    )
}

/// Kazakh suffixes that make an object word a place or a purpose rather than the object.
fn kk_modifier_suffix(norm: &str) -> bool {
    const SUF: &[&str] = &[
        "дагы", "деги", "нын", "нин", "дын", "дин", "тын", "тин", "дан", "ден", "тан", "тен",
        "нан", "нен", "га", "ге", "ка", "ке", "да", "де", "та", "те",
    ];
    // Only on Kazakh stems (folded), where these endings are case suffixes.
    let kazakh_stem = starts_with_any(
        norm,
        &[
            "уй",
            "монш",
            "патер",
            "саяжай",
            "коршау",
            "иргетас",
            "дукен",
            "койма",
            "кенсе",
            "гараж",
            "коттедж",
        ],
    );
    kazakh_stem && SUF.iter().any(|s| norm.ends_with(s)) && !norm.ends_with("ди")
}

fn is_at_home_context(norm: &str) -> bool {
    matches!(
        norm,
        "я" | "буду" | "сейчас" | "нахожусь" | "сижу" | "был" | "была" | "не"
    )
}

fn is_company_reference(norm: &str) -> bool {
    matches!(
        norm,
        "ваш"
            | "вашем"
            | "ваше"
            | "вашего"
            | "вам"
            | "вас"
            | "your"
            | "you"
            | "сиздин"
            | "сиздердин"
            | "приехать"
            | "приеду"
            | "подъехать"
            | "подъеду"
            | "зайти"
            | "зайду"
            | "come"
            | "visit"
    )
}

fn is_street_marker(norm: &str) -> bool {
    matches!(
        norm,
        "ул" | "улица" | "пр" | "проспект" | "мкр" | "микрорайон" | "адрес" | "переулок"
    )
}

/// All object mentions in a token list, in order.
pub fn find_in_tokens(tokens: &[Token<'_>]) -> Vec<ObjectMention> {
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let Some((mut kind, weak)) = classify_object_word(t) else {
            continue;
        };
        let prev = |k: usize| i.checked_sub(k).map(|j| &tokens[j]);
        let prev_word_is =
            |k: usize, f: &dyn Fn(&str) -> bool| prev(k).is_some_and(|p| p.is_word() && f(&p.norm));
        let n = t.norm.as_str();
        // «летняя кухня» is a separate structure; «қонақ үй», «гостевой дом» are lodging.
        if n.starts_with("кухн") && prev_word_is(1, &|p| p.starts_with("летн")) {
            kind = ObjectType::Other;
        }
        if kind == ObjectType::House
            && prev_word_is(1, &|p| {
                p.starts_with("конак") || p.starts_with("гостев") || p == "guest"
            })
        {
            kind = ObjectType::Commercial;
        }
        if DOM_FORMS.contains(&n) {
            // «я дома» (at home), «ул. Абая, дом 5» (an address) are not the object.
            if n == "дома" && prev_word_is(1, &is_at_home_context) {
                continue;
            }
            let numbered = tokens.get(i + 1).is_some_and(|x| x.is_num());
            let address = (1..=4).any(|k| prev_word_is(k, &is_street_marker));
            if numbered && address {
                continue;
            }
        }
        if n.starts_with("офис") && (1..=3).any(|k| prev_word_is(k, &is_company_reference)) {
            continue;
        }
        // «коммерческий директор», «коммерческое предложение» are not buildings.
        if (n.starts_with("коммерческ") || n == "commercial")
            && !tokens.get(i + 1).is_some_and(|x| {
                x.is_word()
                    && [
                        "помещ",
                        "здан",
                        "объект",
                        "недвиж",
                        "площад",
                        "строен",
                        "центр",
                        "building",
                        "property",
                        "space",
                        "premises",
                    ]
                    .iter()
                    .any(|p| x.norm.starts_with(p))
            })
        {
            continue;
        }
        // "my home number", "I'm at home" say nothing about the object.
        if n == "home"
            && (prev_word_is(1, &|p| p == "at")
                || tokens.get(i + 1).is_some_and(|x| {
                    x.is_word() && matches!(x.norm.as_str(), "number" | "phone" | "address")
                }))
        {
            continue;
        }
        let strength = if weak {
            Strength::Weak
        } else if kk_modifier_suffix(n) {
            Strength::Modifier
        } else {
            // A preposition right before, or before one adjective («под двухэтажный дом»).
            let mut modifier = false;
            for k in 1..=2 {
                match prev(k) {
                    Some(p) if p.is_word() && is_mod_prep(&p.norm) => {
                        modifier = true;
                        break;
                    }
                    Some(p) if p.is_word() => {}
                    _ => break,
                }
            }
            if modifier {
                Strength::Modifier
            } else {
                Strength::Head
            }
        };
        out.push(ObjectMention {
            kind,
            token: i,
            strength,
        });
    }
    out
}

/// Specificity rank used to choose among several named objects (higher wins).
fn rank(kind: ObjectType) -> u8 {
    match kind {
        ObjectType::Bathhouse => 6,
        ObjectType::Garage => 5,
        ObjectType::Commercial => 4,
        ObjectType::Cottage => 3,
        ObjectType::ApartmentRenovation => 2,
        ObjectType::House => 1,
        ObjectType::Other => 0,
    }
}

/// The object type from the mentions of a whole conversation (see the module doc).
pub fn pick<'a>(mentions: impl IntoIterator<Item = &'a ObjectMention>) -> Option<ObjectType> {
    let mut best: Option<(u8, ObjectType)> = None;
    for m in mentions {
        // Tier: head beats modifier beats weak; within a tier "other" comes last.
        let tier: u8 = match m.strength {
            Strength::Head => 4,
            Strength::Modifier => 2,
            Strength::Weak => 0,
        } + u8::from(m.kind != ObjectType::Other);
        let score = tier * 10 + rank(m.kind);
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, m.kind));
        }
    }
    best.map(|(_, k)| k)
}

/// The object type named in `text`, if any.
pub fn find_object_type(text: &str) -> Option<ObjectType> {
    pick(&find_in_tokens(&tokenize(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(text: &str) -> Option<&'static str> {
        find_object_type(text).map(ObjectType::as_str)
    }

    #[test]
    fn basic_words_in_three_languages() {
        assert_eq!(o("хочу построить дом"), Some("house"));
        assert_eq!(o("Алматыда үй салғымыз келеді"), Some("house"));
        assert_eq!(o("Looking at a 2-storey house"), Some("house"));
        assert_eq!(o("Павлодарда монша салғым келеді"), Some("bathhouse"));
        assert_eq!(o("how much for a sauna 3x4"), Some("bathhouse"));
        assert_eq!(o("коттедж нужен"), Some("cottage"));
        assert_eq!(o("Ақтөбеде дүкен салу керек"), Some("commercial"));
        assert_eq!(o("opening an office building"), Some("commercial"));
        assert_eq!(o("нужен склад из сэндвич-панелей"), Some("commercial"));
        assert_eq!(o("need apartment renovation"), Some("apartment_renovation"));
        assert_eq!(o("Гараж керек"), Some("garage"));
        assert_eq!(o("Түркістанда қоршау салып бересіздер ме"), Some("other"));
    }

    #[test]
    fn modifiers_lose_to_heads() {
        assert_eq!(o("хотим баню построить на даче"), Some("bathhouse"));
        assert_eq!(o("хочу фундамент залить под дом"), Some("other"));
        assert_eq!(o("дом на ленточном фундаменте"), Some("house"));
        assert_eq!(o("дом с гаражом"), Some("house"));
        assert_eq!(o("сауна в доме"), Some("bathhouse"));
        assert_eq!(o("Қонаевта саяжайда үй салғым келеді"), Some("house"));
        assert_eq!(
            o("Қостанайда пәтерге ремонт керек"),
            Some("apartment_renovation")
        );
    }

    #[test]
    fn specificity_and_other_last() {
        assert_eq!(
            o("это вы делали проект дома? Хотим ещё гараж пристроить"),
            Some("garage")
        );
        assert_eq!(o("нужен дом и забор"), Some("house"));
        assert_eq!(o("коттеджный дом"), Some("cottage"));
    }

    #[test]
    fn weak_renovation_hints() {
        assert_eq!(o("нужен ремонт ванной"), Some("apartment_renovation"));
        assert_eq!(o("дом, 3 спальни, большая кухня"), Some("house"));
        assert_eq!(o("ремонт крыши"), Some("other"));
        assert_eq!(o("летняя кухня во дворе"), Some("other"));
    }

    #[test]
    fn hyphenated_compounds() {
        assert_eq!(o("нужна баня-беседка"), Some("bathhouse"));
        assert_eq!(o("бизнес-центр"), Some("commercial"));
        assert_eq!(o("участок под ИЖС, дом"), Some("house"));
    }

    #[test]
    fn false_friends() {
        assert_eq!(o("я дома после шести"), None);
        assert_eq!(o("адрес: ул. Абая, дом 5"), None);
        assert_eq!(o("могу приехать к вам в офис"), None);
        assert_eq!(o("построить СТО"), Some("commercial"));
        assert_eq!(o("warehouse"), Some("commercial"));
        assert_eq!(o("two-storey"), None);
        assert_eq!(o("call my home number"), None);
        assert_eq!(o("Руслан, коммерческий директор"), None);
        assert_eq!(o("коммерческое помещение"), Some("commercial"));
    }
}
