//! Words that name an object or a renovation, and which [`ObjectType`] each names: the
//! object-type finder classifies words with them, the name finder rejects them («Баня» at the
//! start of a message is no name).

use crate::domain::object_type::ObjectType;
use crate::workers::engine::text::tokens::{Token, starts_with_any};

const BANYA: &[&str] = &[
    "баня",
    "бани",
    "баню",
    "бане",
    "баней",
    "банею",
    "бань",
    "банька",
    "баньку",
    "баньки",
    "баньке",
    "банькой",
    "банный",
    "банного",
    "банному",
    "банном",
    "банная",
    "банной",
    "банную",
    "банные",
    "банных",
];

/// Russian «дом» (house) in its case forms, and «домик».
pub const DOM_FORMS: &[&str] = &[
    "дом",
    "дома",
    "дому",
    "домом",
    "доме",
    "домик",
    "домика",
    "домику",
    "домиком",
    "домике",
    "домов",
    "домам",
    "домами",
    "домах",
    "домишко",
];

/// Kazakh endings after «үй» (house): case suffixes and possessives («үйді», «үйіміз»).
const UY_ENDINGS: &[&str] = &[
    "",
    "ди",
    "дин",
    "ге",
    "де",
    "ден",
    "дер",
    "лер",
    "лерди",
    "и",
    "ин",
    "им",
    "имиз",
    "имизди",
    "имди",
    "инди",
    "иниз",
    "ине",
    "ин",
    "ге",
    "имизге",
];

fn starts_any(norm: &str, prefixes: &[&str]) -> bool {
    starts_with_any(norm, prefixes)
}

/// Classifies one word: the object type and whether the word is only a weak hint.
pub fn classify_object_word(t: &Token<'_>) -> Option<(ObjectType, bool)> {
    if !t.is_word() {
        return None;
    }
    let n = t.norm.as_str();
    if let Some(found) = classify_word(t, n) {
        return Some(found);
    }
    // Compounds: «баня-беседка», «сауна-баня», «гараж-мастерская» — the first part that names
    // an object.
    if n.contains('-') {
        return n.split('-').find_map(|part| classify_word(t, part));
    }
    None
}

fn classify_word(t: &Token<'_>, n: &str) -> Option<(ObjectType, bool)> {
    use ObjectType::*;
    if BANYA.contains(&n)
        || starts_any(
            n,
            &[
                "саун",
                "монш",
                "хаммам",
                "парилк",
                "bathhouse",
                "banya",
                "sauna",
            ],
        )
    {
        return Some((Bathhouse, false));
    }
    if starts_any(n, &["гараж", "garage", "автогараж"]) {
        return Some((Garage, false));
    }
    if starts_any(n, &["коттедж", "котедж", "cottage"]) {
        return Some((Cottage, false));
    }
    if t.raw == "СТО" || (matches!(n, "тц" | "трц") && t.is_all_caps()) {
        return Some((Commercial, false));
    }
    // ИЖС: individual housing construction.
    if n == "ижс" {
        return Some((House, false));
    }
    if starts_any(
        n,
        &[
            "магазин",
            "офис",
            "кафе",
            "кофейн",
            "ресторан",
            "ангар",
            "цех",
            "производствен",
            "гостиниц",
            "хостел",
            "бизнес-центр",
            "автосервис",
            "автомойк",
            "шиномонтаж",
            "коммерческ",
            "павильон",
            "супермаркет",
            "минимаркет",
            "аптек",
            "клиник",
            "салон",
            "фитнес",
            "спортзал",
            "завод",
            "фабрик",
            "пекарн",
            "мастерск",
            "дукен",
            "койма",
            "кенсе",
            "мейрамхана",
            "warehouse",
            "restaurant",
            "hangar",
            "hotel",
            "hostel",
            "motel",
            "workshop",
            "factory",
            "showroom",
            "supermarket",
            "commercial",
            "retail",
            "clinic",
            "bakery",
        ],
    ) || matches!(
        n,
        "склад"
            | "склада"
            | "складу"
            | "складом"
            | "складе"
            | "склады"
            | "складов"
            | "складское"
            | "складского"
            | "складской"
            | "складских"
            | "столовая"
            | "столовую"
            | "столовой"
            | "отель"
            | "отеля"
            | "отелю"
            | "отелем"
            | "торговый"
            | "торгового"
            | "торговое"
            | "торговая"
            | "торговую"
            | "торговой"
            | "торговом"
            | "торговых"
            | "shop"
            | "shops"
            | "store"
            | "stores"
            | "office"
            | "offices"
            | "cafe"
            | "café"
            | "mall"
            | "gym"
            | "storage"
    ) {
        return Some((Commercial, false));
    }
    if starts_any(n, &["квартир", "патер", "apartment", "condo"]) || matches!(n, "flat" | "flats")
    {
        return Some((ApartmentRenovation, false));
    }
    if DOM_FORMS.contains(&n)
        || starts_any(
            n,
            &["дач", "саяжай", "особняк", "таунхаус", "дуплекс", "усадьб"],
        )
        || matches!(
            n,
            "house"
                | "houses"
                | "home"
                | "villa"
                | "bungalow"
                | "cabin"
                | "townhouse"
                | "duplex"
                | "mansion"
        )
        || n.strip_prefix("уй")
            .is_some_and(|rest| UY_ENDINGS.contains(&rest))
    {
        return Some((House, false));
    }
    if starts_any(
        n,
        &[
            "забор",
            "ограждени",
            "оград",
            "коршау",
            "дуал",
            "фундамент",
            "иргетас",
            "навес",
            "беседк",
            "террас",
            "терасс",
            "веранд",
            "пристро",
            "крыш",
            "кровл",
            "сарай",
            "сарая",
            "теплиц",
            "бассейн",
            "септик",
            "скважин",
            "хозблок",
            "погреб",
            "брусчатк",
            "благоустройств",
            "шатыр",
            "fence",
            "foundation",
            "canopy",
            "gazebo",
            "shed",
            "greenhouse",
            "pool",
            "terrace",
            "veranda",
            "porch",
            "roof",
            "carport",
            "barn",
            "patio",
        ],
    ) {
        return Some((Other, false));
    }
    // Weak hints: a renovation or a room, without the object named.
    if starts_any(
        n,
        &[
            "ремонт",
            "евроремонт",
            "отделк",
            "жондеу",
            "новостройк",
            "санузел",
            "санузл",
            "ванн",
            "кухн",
            "комнат",
            "bathroom",
            "kitchen",
            "renovat",
            "refurbish",
        ],
    ) || (n == "жк" && t.is_all_caps())
    {
        return Some((ApartmentRenovation, true));
    }
    if starts_any(n, &["здани", "building"]) {
        return Some((Commercial, true));
    }
    None
}

/// Whether a word names an object or a renovation (the name finder rejects such words).
pub fn is_object_word(t: &Token<'_>) -> bool {
    classify_object_word(t).is_some()
}
