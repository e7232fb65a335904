//! The object's city: the [`City`] enum with its canonical keys and its names for replies.
//!
//! The finder that reads a city out of chat text lives with the engines,
//! in `workers/engine/text/city.rs`.

use std::fmt;
use std::str::FromStr;

use super::language::Language;

/// Where the object is built or renovated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum City {
    Almaty,
    Astana,
    Shymkent,
    Karaganda,
    Aktobe,
    Taraz,
    Pavlodar,
    UstKamenogorsk,
    Semey,
    Atyrau,
    Kostanay,
    Kyzylorda,
    Uralsk,
    Petropavl,
    Aktau,
    Turkestan,
    Kaskelen,
    Talgar,
    Konaev,
    /// A real town that is not in the list above.
    Other,
}

/// The string is not a canonical city key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown city key {0:?}")]
pub struct UnknownCity(pub String);

impl City {
    pub const ALL: [City; 20] = [
        City::Almaty,
        City::Astana,
        City::Shymkent,
        City::Karaganda,
        City::Aktobe,
        City::Taraz,
        City::Pavlodar,
        City::UstKamenogorsk,
        City::Semey,
        City::Atyrau,
        City::Kostanay,
        City::Kyzylorda,
        City::Uralsk,
        City::Petropavl,
        City::Aktau,
        City::Turkestan,
        City::Kaskelen,
        City::Talgar,
        City::Konaev,
        City::Other,
    ];

    /// The canonical key: `almaty`, `ust-kamenogorsk`, …, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            City::Almaty => "almaty",
            City::Astana => "astana",
            City::Shymkent => "shymkent",
            City::Karaganda => "karaganda",
            City::Aktobe => "aktobe",
            City::Taraz => "taraz",
            City::Pavlodar => "pavlodar",
            City::UstKamenogorsk => "ust-kamenogorsk",
            City::Semey => "semey",
            City::Atyrau => "atyrau",
            City::Kostanay => "kostanay",
            City::Kyzylorda => "kyzylorda",
            City::Uralsk => "uralsk",
            City::Petropavl => "petropavl",
            City::Aktau => "aktau",
            City::Turkestan => "turkestan",
            City::Kaskelen => "kaskelen",
            City::Talgar => "talgar",
            City::Konaev => "konaev",
            City::Other => "other",
        }
    }

    /// The city's name for a reply in `lang`; `None` for [`City::Other`] (its name is not kept).
    pub fn display_name(self, lang: Language) -> Option<&'static str> {
        let (ru, kk, en) = match self {
            City::Almaty => ("Алматы", "Алматы", "Almaty"),
            City::Astana => ("Астана", "Астана", "Astana"),
            City::Shymkent => ("Шымкент", "Шымкент", "Shymkent"),
            City::Karaganda => ("Караганда", "Қарағанды", "Karaganda"),
            City::Aktobe => ("Актобе", "Ақтөбе", "Aktobe"),
            City::Taraz => ("Тараз", "Тараз", "Taraz"),
            City::Pavlodar => ("Павлодар", "Павлодар", "Pavlodar"),
            City::UstKamenogorsk => ("Усть-Каменогорск", "Өскемен", "Ust-Kamenogorsk"),
            City::Semey => ("Семей", "Семей", "Semey"),
            City::Atyrau => ("Атырау", "Атырау", "Atyrau"),
            City::Kostanay => ("Костанай", "Қостанай", "Kostanay"),
            City::Kyzylorda => ("Кызылорда", "Қызылорда", "Kyzylorda"),
            City::Uralsk => ("Уральск", "Орал", "Uralsk"),
            City::Petropavl => ("Петропавловск", "Петропавл", "Petropavl"),
            City::Aktau => ("Актау", "Ақтау", "Aktau"),
            City::Turkestan => ("Туркестан", "Түркістан", "Turkestan"),
            City::Kaskelen => ("Каскелен", "Қаскелең", "Kaskelen"),
            City::Talgar => ("Талгар", "Талғар", "Talgar"),
            City::Konaev => ("Конаев", "Қонаев", "Konaev"),
            City::Other => return None,
        };
        Some(match lang {
            Language::Kk => kk,
            Language::En => en,
            Language::Ru | Language::Mixed => ru,
        })
    }
}

impl fmt::Display for City {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for City {
    type Err = UnknownCity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.trim().to_ascii_lowercase();
        City::ALL
            .into_iter()
            .find(|c| c.as_str() == key)
            .ok_or_else(|| UnknownCity(s.to_string()))
    }
}

super::key_enum_serde!(
    City,
    "A city key; `other` for any other town of Kazakhstan."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for city in City::ALL {
            assert_eq!(city.as_str().parse::<City>().unwrap(), city);
            let json = serde_json::to_string(&city).unwrap();
            assert_eq!(serde_json::from_str::<City>(&json).unwrap(), city);
        }
        assert!("moscow".parse::<City>().is_err());
    }

    #[test]
    fn display_names() {
        assert_eq!(
            City::Karaganda.display_name(Language::Kk),
            Some("Қарағанды")
        );
        assert_eq!(City::Other.display_name(Language::Ru), None);
    }
}
