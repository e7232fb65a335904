//! What the customer wants built: the [`ObjectType`] enum, its canonical keys and its names for
//! replies.
//!
//! The finder that reads the object type out of chat text lives with the engines,
//! in `workers/engine/text/object_type.rs`.

use std::fmt;
use std::str::FromStr;

use super::language::Language;

/// The kind of object the lead is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectType {
    House,
    Cottage,
    ApartmentRenovation,
    Bathhouse,
    Garage,
    Commercial,
    Other,
}

/// The string is not an object type key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown object type {0:?}")]
pub struct UnknownObjectType(pub String);

impl ObjectType {
    pub const ALL: [ObjectType; 7] = [
        ObjectType::House,
        ObjectType::Cottage,
        ObjectType::ApartmentRenovation,
        ObjectType::Bathhouse,
        ObjectType::Garage,
        ObjectType::Commercial,
        ObjectType::Other,
    ];

    /// The canonical key: `house`, `apartment_renovation`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::House => "house",
            ObjectType::Cottage => "cottage",
            ObjectType::ApartmentRenovation => "apartment_renovation",
            ObjectType::Bathhouse => "bathhouse",
            ObjectType::Garage => "garage",
            ObjectType::Commercial => "commercial",
            ObjectType::Other => "other",
        }
    }

    /// A short human name for replies.
    pub fn display_name(self, lang: Language) -> &'static str {
        let (ru, kk, en) = match self {
            ObjectType::House => ("дом", "үй", "house"),
            ObjectType::Cottage => ("коттедж", "коттедж", "cottage"),
            ObjectType::ApartmentRenovation => {
                ("ремонт квартиры", "пәтер жөндеу", "apartment renovation")
            }
            ObjectType::Bathhouse => ("баня", "монша", "bathhouse"),
            ObjectType::Garage => ("гараж", "гараж", "garage"),
            ObjectType::Commercial => (
                "коммерческий объект",
                "коммерциялық нысан",
                "commercial building",
            ),
            ObjectType::Other => ("сооружение", "құрылыс нысаны", "structure"),
        };
        match lang {
            Language::Kk => kk,
            Language::En => en,
            Language::Ru | Language::Mixed => ru,
        }
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObjectType {
    type Err = UnknownObjectType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.trim().to_ascii_lowercase();
        ObjectType::ALL
            .into_iter()
            .find(|o| o.as_str() == key)
            .ok_or_else(|| UnknownObjectType(s.to_string()))
    }
}

super::key_enum_serde!(ObjectType, "What the customer builds.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for t in ObjectType::ALL {
            assert_eq!(t.as_str().parse::<ObjectType>().unwrap(), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::from_str::<ObjectType>(&json).unwrap(), t);
        }
        assert!("castle".parse::<ObjectType>().is_err());
    }
}
