//! A company's price list: for each kind of object it builds, a price range per square metre in
//! tenge, and the conditions it holds under. The bot quotes only from it; anything else is a
//! manager's calculation (workers/engine/guard.rs holds the LLM's replies to that).

use serde::{Deserialize, Serialize};

use super::object_type::ObjectType;
use super::text::{PriceConditions, TextError};

/// The largest price per m² a list may hold (a typo guard: 1 billion tenge).
pub const MAX_PER_M2: u32 = 1_000_000_000;

/// One line: building one m² of `object_type` costs `min_per_m2`–`max_per_m2` tenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceItem {
    pub object_type: ObjectType,
    pub min_per_m2: u32,
    pub max_per_m2: u32,
    /// What the price includes or assumes (materials, finish, discounts the company offers,
    /// deadlines it promises): the only terms the bot may state.
    pub conditions: Option<String>,
}

/// Why a price list is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPriceList {
    #[error("{0}: min_per_m2 and max_per_m2 must be from 1 to 1000000000")]
    Range(ObjectType),
    #[error("{0}: conditions {1}")]
    Conditions(ObjectType, TextError),
    #[error("{0} is listed twice")]
    Duplicate(ObjectType),
}

/// A checked price list: one line per object type at most, sane ranges (bounds given the other way
/// round are the same range), conditions under the text policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceList(Vec<PriceItem>);

impl PriceList {
    pub fn parse(items: Vec<PriceItem>) -> Result<Self, BadPriceList> {
        let mut checked: Vec<PriceItem> = Vec::with_capacity(items.len());
        for mut item in items {
            let object = item.object_type;
            let bounds = 1..=MAX_PER_M2;
            if !bounds.contains(&item.min_per_m2) || !bounds.contains(&item.max_per_m2) {
                return Err(BadPriceList::Range(object));
            }
            if item.min_per_m2 > item.max_per_m2 {
                std::mem::swap(&mut item.min_per_m2, &mut item.max_per_m2);
            }
            item.conditions = match item.conditions.as_deref() {
                Some(raw) => {
                    let kept = PriceConditions::parse(raw)
                        .map_err(|e| BadPriceList::Conditions(object, e))?
                        .into_string();
                    (!kept.is_empty()).then_some(kept)
                }
                None => None,
            };
            if checked.iter().any(|c| c.object_type == object) {
                return Err(BadPriceList::Duplicate(object));
            }
            checked.push(item);
        }
        Ok(Self::from_stored(checked))
    }

    /// As stored (the database's rows were checked when they were saved), in object order.
    pub fn from_stored(mut items: Vec<PriceItem>) -> Self {
        items.sort_by_key(|i| ObjectType::ALL.iter().position(|o| *o == i.object_type));
        Self(items)
    }

    pub fn items(&self) -> &[PriceItem] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The line for an object type, if the company gave one.
    pub fn for_object(&self, object: ObjectType) -> Option<&PriceItem> {
        self.0.iter().find(|i| i.object_type == object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(object_type: ObjectType, min: u32, max: u32) -> PriceItem {
        PriceItem {
            object_type,
            min_per_m2: min,
            max_per_m2: max,
            conditions: Some("  под ключ  ".into()),
        }
    }

    #[test]
    fn a_list_is_checked_and_kept_in_object_order() {
        let list = PriceList::parse(vec![
            item(ObjectType::Garage, 50_000, 80_000),
            item(ObjectType::House, 150_000, 250_000),
        ])
        .unwrap();
        assert_eq!(list.items()[0].object_type, ObjectType::House);
        assert_eq!(list.items()[0].conditions.as_deref(), Some("под ключ"));
        assert_eq!(
            list.for_object(ObjectType::Garage).unwrap().max_per_m2,
            80_000
        );
        assert!(list.for_object(ObjectType::Bathhouse).is_none());
    }

    #[test]
    fn bad_lists_are_refused() {
        let twice = vec![item(ObjectType::House, 1, 2), item(ObjectType::House, 3, 4)];
        assert_eq!(
            PriceList::parse(twice),
            Err(BadPriceList::Duplicate(ObjectType::House))
        );
        for (min, max) in [(0, 5), (1, MAX_PER_M2 + 1)] {
            assert_eq!(
                PriceList::parse(vec![item(ObjectType::House, min, max)]),
                Err(BadPriceList::Range(ObjectType::House))
            );
        }
        let mut control = item(ObjectType::House, 1, 2);
        control.conditions = Some("a\u{0}b".into());
        assert!(matches!(
            PriceList::parse(vec![control]),
            Err(BadPriceList::Conditions(ObjectType::House, _))
        ));
    }

    #[test]
    fn bounds_the_other_way_round_are_the_same_range() {
        let list = PriceList::parse(vec![item(ObjectType::House, 250_000, 150_000)]).unwrap();
        assert_eq!(
            (list.items()[0].min_per_m2, list.items()[0].max_per_m2),
            (150_000, 250_000)
        );
    }
}
