//! The qualification rule (shared/eval/README.md): a lead is qualified when there is a phone, a
//! city, and either an object type or an area. The engines use it to decide what to ask next;
//! the turn applies it to the lead it commits and passes the verdict to `turn_commit`, which moves
//! a `new` lead to `qualified` (sql/functions/turn_commit.sql): the rule is written only here.

use super::city::City;
use super::object_type::ObjectType;
use super::phone::Phone;

pub fn is_qualified(
    phone: Option<&Phone>,
    city: Option<City>,
    object_type: Option<ObjectType>,
    area_m2: Option<f64>,
) -> bool {
    phone.is_some() && city.is_some() && (object_type.is_some() || area_m2.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_a_city_and_an_object_or_an_area() {
        let p = Phone::parse("87012345678").unwrap();
        let house = Some(ObjectType::House);
        assert!(is_qualified(Some(&p), Some(City::Almaty), house, None));
        assert!(is_qualified(Some(&p), Some(City::Other), None, Some(80.0)));
        assert!(!is_qualified(None, Some(City::Almaty), house, Some(80.0)));
        assert!(!is_qualified(Some(&p), None, house, Some(80.0)));
        assert!(!is_qualified(Some(&p), Some(City::Almaty), None, None));
    }
}
