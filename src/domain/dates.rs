//! Dates and instants a client sends (report ranges, filters): only years 2000–2099.
//!
//! chrono reads years far outside what PostgreSQL stores (`-4714-01-01` was a 500), and no date
//! this product deals with is earlier than its customers' first message or later than this
//! century. The window is stated once, here, and shown in the OpenAPI document as a pattern on the
//! year, so a client learns it from the schema rather than from a 422.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};

pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 2099;

/// The year prefix [`FIRST_YEAR`]–[`LAST_YEAR`] as a pattern (a test holds the two together).
const YEAR_PATTERN: &str = "^20[0-9]{2}-";

const OUTSIDE: &str = "must be in the years 2000–2099";

fn in_window(year: i32) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&year)
}

fn schema(format: KnownFormat, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .format(Some(SchemaFormat::KnownFormat(format)))
        .pattern(Some(YEAR_PATTERN))
        .description(Some(description))
        .into()
}

/// A calendar day, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(NaiveDate);

impl Day {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .filter(|_| raw.len() == 10)
            .ok_or("must be a date written YYYY-MM-DD")?;
        if !in_window(date.year()) {
            return Err(OUTSIDE);
        }
        Ok(Self(date))
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Day {
    fn schema() -> RefOr<Schema> {
        schema(
            KnownFormat::Date,
            "A day, YYYY-MM-DD, in the years 2000–2099.",
        )
    }
}

impl utoipa::ToSchema for Day {}

/// An instant, RFC 3339 with an offset (`2026-12-07T09:30:00+05:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(DateTime<Utc>);

impl Instant {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let at = DateTime::parse_from_rfc3339(raw)
            .map_err(|_| "must be an RFC 3339 date-time, e.g. 2026-12-07T09:30:00+05:00")?;
        // The year as written, which is what the pattern sees (in UTC it may be a year off).
        if !in_window(at.year()) {
            return Err(OUTSIDE);
        }
        Ok(Self(at.with_timezone(&Utc)))
    }

    pub fn utc(self) -> DateTime<Utc> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Instant {
    fn schema() -> RefOr<Schema> {
        schema(
            KnownFormat::DateTime,
            "An RFC 3339 date-time with an offset, in the years 2000–2099.",
        )
    }
}

impl utoipa::ToSchema for Instant {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_and_its_pattern_agree() {
        let pattern = regex::Regex::new(YEAR_PATTERN).unwrap();
        for year in 0..=9999 {
            let day = format!("{year:04}-06-15");
            assert_eq!(pattern.is_match(&day), Day::parse(&day).is_ok(), "{day}");
        }
    }

    #[test]
    fn days_and_instants_outside_the_window_or_malformed_are_refused() {
        assert!(Day::parse("2026-02-28").is_ok());
        for bad in [
            "-4714-01-01",
            "1999-12-31",
            "2100-01-01",
            "2026-02-30",
            "2026-2-3",
            "+2026-01-01",
        ] {
            assert!(Day::parse(bad).is_err(), "{bad}");
        }
        assert!(Instant::parse("2026-12-07T09:30:00+05:00").is_ok());
        assert!(Instant::parse("2026-12-07T09:30:00Z").is_ok());
        assert!(Instant::parse("2000-01-01T01:00:00+05:00").is_ok());
        for bad in [
            "-4714-01-01T00:00:00Z",
            "2100-01-01T00:00:00Z",
            "2026-12-07",
        ] {
            assert!(Instant::parse(bad).is_err(), "{bad}");
        }
    }
}
