//! City and town names in every spelling and inflected form: the city finder looks words up in
//! them, the name finder and language detection leave them alone («Алматы, 8 701 …» is no name;
//! a city's name says nothing about the language).
//!
//! Instead of stemming at run time, every spelling is expanded once into its inflected forms
//! (Russian endings by the last letter, Kazakh suffixes appended) and looked up in a hash map,
//! one probe per word.

use std::sync::LazyLock;

use crate::domain::city::City;
use crate::workers::engine::text::tokens::FastMap;

use super::first_names::is_known_first_name;
use super::kazakh::KK_SUFFIXES;

/// Spellings of the listed cities, folded (see `tokens::fold`).
const CITY_NAMES: &[(City, &[&str])] = &[
    (
        City::Almaty,
        &[
            "алматы",
            "алма-ата",
            "алмата",
            "almaty",
            "alma-ata",
            "almaata",
        ],
    ),
    (
        City::Astana,
        &[
            "астана",
            "нур-султан",
            "нурсултан",
            "целиноград",
            "акмола",
            "astana",
            "nur-sultan",
            "nursultan",
        ],
    ),
    (
        City::Shymkent,
        &["шымкент", "чимкент", "shymkent", "chimkent"],
    ),
    (
        City::Karaganda,
        &[
            "караганда",
            "караганды",
            "karaganda",
            "karagandy",
            "qaragandy",
            "qaraghandy",
        ],
    ),
    (
        City::Aktobe,
        &["актобе", "актюбинск", "aktobe", "aqtobe", "aktyubinsk"],
    ),
    (City::Taraz, &["тараз", "джамбул", "taraz"]),
    (City::Pavlodar, &["павлодар", "pavlodar"]),
    (
        City::UstKamenogorsk,
        &[
            "усть-каменогорск",
            "устькаменогорск",
            "оскемен",
            "ust-kamenogorsk",
            "oskemen",
            "öskemen",
        ],
    ),
    (
        City::Semey,
        &["семей", "семипалатинск", "semey", "semei", "semipalatinsk"],
    ),
    (City::Atyrau, &["атырау", "гурьев", "atyrau"]),
    (
        City::Kostanay,
        &["костанай", "кустанай", "kostanay", "kostanai", "qostanay"],
    ),
    (
        City::Kyzylorda,
        &[
            "кызылорда",
            "кызыл-орда",
            "кзыл-орда",
            "kyzylorda",
            "qyzylorda",
        ],
    ),
    (City::Uralsk, &["уральск", "орал", "uralsk", "oral"]),
    (
        City::Petropavl,
        &["петропавловск", "петропавл", "petropavl", "petropavlovsk"],
    ),
    (City::Aktau, &["актау", "aktau", "aqtau"]),
    (
        City::Turkestan,
        &["туркестан", "туркистан", "turkestan", "turkistan"],
    ),
    (City::Kaskelen, &["каскелен", "kaskelen", "qaskelen"]),
    (City::Talgar, &["талгар", "talgar"]),
    (
        City::Konaev,
        &[
            "конаев",
            "кунаев",
            "капчагай",
            "капшагай",
            "konaev",
            "kunaev",
            "qonaev",
            "kapchagay",
            "kapshagay",
            "kapchagai",
        ],
    ),
];

/// Real Kazakhstan towns and villages outside the list (folded) → [`City::Other`]. Names that
/// are also common words or surnames (Абай, Сатпаев, Есиль, Аксай) are left out on purpose.
const OTHER_TOWNS: &[&str] = &[
    "экибастуз",
    "екибастуз",
    "кокшетау",
    "кокчетав",
    "темиртау",
    "жезказган",
    "джезказган",
    "балхаш",
    "балкаш",
    "талдыкорган",
    "рудный",
    "степногорск",
    "лисаковск",
    "кентау",
    "жанаозен",
    "щучинск",
    "есик",
    "иссык",
    "узынагаш",
    "жаркент",
    "текели",
    "сарыагаш",
    "аральск",
    "арал",
    "байконур",
    "байконыр",
    "кульсары",
    "кулсары",
    "хромтау",
    "шахтинск",
    "сарань",
    "риддер",
    "зыряновск",
    "аягоз",
    "курчатов",
    "атбасар",
    "аркалык",
    "житикара",
    "кандыагаш",
    "шалкар",
    "жанатас",
    "ленгер",
    "жетысай",
    "казалинск",
    "бурабай",
    "косшы",
    "приозерск",
    "уштобе",
    "ушарал",
    "сарканд",
    "шардара",
    "акколь",
    "ерейментау",
    "макинск",
    "тайынша",
    "булаево",
    "боралдай",
    "иргели",
    "шамалган",
    "чунджа",
    "шонжы",
    "жанакорган",
    "шиели",
    "аксу",
    "эмба",
    "арыс",
    "кордай",
    "мерке",
    "тобыл",
    "затобольск",
    "мамлютка",
    "сергеевка",
    "аксай",
    "форт-шевченко",
    "бейнеу",
    "алга",
    "зайсан",
    "шемонаиха",
    "каркаралинск",
    "бесагаш",
    "отеген-батыр",
    "ekibastuz",
    "kokshetau",
    "temirtau",
    "zhezkazgan",
    "balkhash",
    "taldykorgan",
    "rudny",
    "stepnogorsk",
    "lisakovsk",
    "kentau",
    "zhanaozen",
    "shchuchinsk",
    "yesik",
    "esik",
    "uzynagash",
    "zharkent",
    "tekeli",
    "saryagash",
    "aralsk",
    "baikonur",
    "baikonyr",
    "kulsary",
    "khromtau",
    "shakhtinsk",
    "ridder",
    "ayagoz",
    "kurchatov",
    "atbasar",
    "arkalyk",
    "zhitikara",
    "kandyagash",
    "shalkar",
    "zhanatas",
    "lenger",
    "zhetysay",
    "burabay",
    "kosshy",
];

/// Russian and Kazakh inflected forms of one folded spelling.
fn inflections(name: &str) -> Vec<String> {
    let mut out = vec![name.to_string()];
    let latin = name.is_ascii();
    if latin {
        return out;
    }
    for suf in KK_SUFFIXES {
        out.push(format!("{name}{suf}"));
    }
    // Kazakh locative + adjectival «-дағы» and «-лық» come through KK_SUFFIXES; the ablative
    // after a vowel is «-дан/-нан», also there.
    let last = name.chars().last().unwrap_or(' ');
    let stem: String = {
        let mut c = name.chars();
        c.next_back();
        c.as_str().to_string()
    };
    match last {
        'а' => {
            for e in ["ы", "е", "у", "ой", "ою", "и"] {
                out.push(format!("{stem}{e}"));
            }
        }
        'й' => {
            for e in ["я", "е", "ю", "ем"] {
                out.push(format!("{stem}{e}"));
            }
        }
        'ы' => {
            for e in ["е", "у", "а"] {
                out.push(format!("{stem}{e}"));
            }
        }
        'ь' => {
            for e in ["и", "ю", "ью"] {
                out.push(format!("{stem}{e}"));
            }
        }
        'е' | 'о' | 'у' | 'и' | 'я' | 'ю' => {}
        _ => {
            for e in ["а", "у", "ом", "е"] {
                out.push(format!("{name}{e}"));
            }
        }
    }
    out
}

/// Every inflected form of every spelling (folded) → its city; a listed city wins a clash
/// with another town.
pub static CITY_FORMS: LazyLock<FastMap<String, City>> = LazyLock::new(|| {
    let mut m = FastMap::default();
    // Other towns first so a listed city's form always wins a clash.
    for town in OTHER_TOWNS {
        for f in inflections(town) {
            m.insert(f, City::Other);
        }
    }
    for (city, names) in CITY_NAMES {
        for name in *names {
            for f in inflections(name) {
                m.insert(f, *city);
            }
        }
    }
    m
});

/// Whether a folded word is a city or town name in any of its forms (the name finder uses it
/// to reject «Алматы, 8 701 …» as a name).
pub fn is_city_word(folded: &str) -> bool {
    CITY_FORMS.contains_key(folded) && !is_known_first_name(folded)
}
