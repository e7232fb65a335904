//! Managers' working hours, in Kazakhstan time (UTC+5 across the country since March 2024): when a
//! customer handed to a manager can expect an answer.

use std::fmt;

use chrono::{DateTime, Utc};

/// Kazakhstan's single time zone.
pub const KZ_UTC_OFFSET_MINUTES: i64 = 5 * 60;

/// Daily hours `from`–`to` (minutes after local midnight); `to` before `from` spans midnight, and
/// `to` equal to `from` is around the clock (`00:00-00:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    from: u16,
    to: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("working hours look like 09:00-18:00 (Kazakhstan time)")]
pub struct BadWorkingHours;

/// What [`WorkingHours::parse`] accepts, in ECMA-262 and `regex` syntax alike (a test holds them
/// together).
pub const WORKING_HOURS_PATTERN: &str =
    r"^\s*(?:[01][0-9]|2[0-3]):[0-5][0-9]\s*-\s*(?:[01][0-9]|2[0-3]):[0-5][0-9]\s*$";

impl WorkingHours {
    pub fn parse(raw: &str) -> Result<Self, BadWorkingHours> {
        let (from, to) = raw.trim().split_once('-').ok_or(BadWorkingHours)?;
        Ok(Self {
            from: minutes(from)?,
            to: minutes(to)?,
        })
    }

    /// From the stored minutes; None when either is missing or out of range.
    pub fn from_minutes(from: Option<i16>, to: Option<i16>) -> Option<Self> {
        let (from, to) = (u16::try_from(from?).ok()?, u16::try_from(to?).ok()?);
        (from < 1440 && to < 1440).then_some(Self { from, to })
    }

    pub fn from_minute(self) -> i16 {
        self.from as i16
    }

    pub fn to_minute(self) -> i16 {
        self.to as i16
    }

    pub fn is_open(self, now: DateTime<Utc>) -> bool {
        let local =
            (now.timestamp().div_euclid(60) + KZ_UTC_OFFSET_MINUTES).rem_euclid(1440) as u16;
        if self.from == self.to {
            true
        } else if self.from < self.to {
            (self.from..self.to).contains(&local)
        } else {
            local >= self.from || local < self.to
        }
    }

    /// The first moment at or after `now` when the managers work: `now` itself while open, else
    /// the next start of the hours (whole minutes, Kazakhstan time). Outbound messages that must
    /// wait for the managers (follow-ups) are deferred to it.
    pub fn next_open(self, now: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_open(now) {
            return now;
        }
        let minute = now.timestamp().div_euclid(60);
        let local = (minute + KZ_UTC_OFFSET_MINUTES).rem_euclid(1440);
        // Closed means `local` is not `from`, so the wait is 1..=1439 minutes.
        let wait = (i64::from(self.from) - local).rem_euclid(1440);
        DateTime::from_timestamp((minute + wait) * 60, 0).unwrap_or(now)
    }
}

/// `HH:MM`, two digits each.
impl<'de> serde::Deserialize<'de> for WorkingHours {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&raw)
            .map_err(|_| serde::de::Error::custom("must look like 09:00-18:00 (Kazakhstan time)"))
    }
}

impl utoipa::PartialSchema for WorkingHours {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .pattern(Some(WORKING_HOURS_PATTERN))
            .description(Some(
                "Daily hours in Kazakhstan time, e.g. 09:00-18:00; 20:00-02:00 spans midnight, \
                 00:00-00:00 is around the clock.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for WorkingHours {}

fn minutes(hhmm: &str) -> Result<u16, BadWorkingHours> {
    let digits = |s: &str| -> Result<u16, BadWorkingHours> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                Ok(u16::from((a - b'0') * 10 + (b - b'0')))
            }
            _ => Err(BadWorkingHours),
        }
    };
    let (h, m) = hhmm.trim().split_once(':').ok_or(BadWorkingHours)?;
    let (h, m) = (digits(h)?, digits(m)?);
    if h > 23 || m > 59 {
        return Err(BadWorkingHours);
    }
    Ok(h * 60 + m)
}

impl fmt::Display for WorkingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.from / 60,
            self.from % 60,
            self.to / 60,
            self.to % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(utc: &str) -> DateTime<Utc> {
        utc.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        let hours = WorkingHours::parse(" 09:00-18:30 ").unwrap();
        assert_eq!(hours.to_string(), "09:00-18:30");
        let pattern = regex::Regex::new(WORKING_HOURS_PATTERN).unwrap();
        for bad in [
            "",
            "9-18",
            "09:00",
            "25:00-18:00",
            "09:60-18:00",
            "+9:00-18:00",
            "09:00-18:00-19:00",
            "٠٩:٠٠-18:00",
        ] {
            assert!(WorkingHours::parse(bad).is_err(), "{bad}");
            assert!(!pattern.is_match(bad), "{bad}");
        }
        for good in [
            "09:00-18:00",
            " 00:00 - 23:59 ",
            "20:00-02:00",
            "09:00-09:00",
        ] {
            assert!(WorkingHours::parse(good).is_ok(), "{good}");
            assert!(pattern.is_match(good), "{good}");
        }
        assert_eq!(
            WorkingHours::from_minutes(Some(540), Some(1080)),
            Some(WorkingHours::parse("09:00-18:00").unwrap())
        );
        assert_eq!(WorkingHours::from_minutes(None, Some(1080)), None);
    }

    #[test]
    fn open_in_kazakhstan_time() {
        let day = WorkingHours::parse("09:00-18:00").unwrap();
        // 04:00 UTC is 09:00 in Astana; 13:00 UTC is 18:00.
        assert!(day.is_open(at("2026-11-25T04:00:00Z")));
        assert!(day.is_open(at("2026-11-25T12:59:00Z")));
        assert!(!day.is_open(at("2026-11-25T13:00:00Z")));
        assert!(!day.is_open(at("2026-11-25T03:59:00Z")));
        let night = WorkingHours::parse("20:00-02:00").unwrap();
        assert!(night.is_open(at("2026-11-25T15:00:00Z")));
        assert!(night.is_open(at("2026-11-25T20:59:00Z")));
        assert!(!night.is_open(at("2026-11-25T21:00:00Z")));
        let always = WorkingHours::parse("00:00-00:00").unwrap();
        assert!(always.is_open(at("2026-11-25T21:00:00Z")));
    }

    #[test]
    fn next_open_is_now_while_open_else_the_next_start() {
        let day = WorkingHours::parse("09:00-18:00").unwrap();
        let open = at("2026-11-25T05:30:17Z");
        assert_eq!(day.next_open(open), open, "open: no wait");
        // 18:00 Astana (13:00 UTC) closes; the next start is 09:00 Astana, 04:00 UTC next day.
        assert_eq!(
            day.next_open(at("2026-11-25T13:00:00Z")),
            at("2026-11-26T04:00:00Z")
        );
        // 23:30 UTC is 04:30 Astana the next day: the same day's 09:00 Astana.
        assert_eq!(
            day.next_open(at("2026-11-25T23:30:45Z")),
            at("2026-11-26T04:00:00Z")
        );
        // One second before the start.
        assert_eq!(
            day.next_open(at("2026-11-26T03:59:59Z")),
            at("2026-11-26T04:00:00Z")
        );
        let night = WorkingHours::parse("20:00-02:00").unwrap();
        // 03:00 Astana (22:00 UTC): closed until 20:00 Astana, 15:00 UTC the next UTC day.
        assert_eq!(
            night.next_open(at("2026-11-25T22:00:00Z")),
            at("2026-11-26T15:00:00Z")
        );
        let always = WorkingHours::parse("00:00-00:00").unwrap();
        assert_eq!(always.next_open(open), open);
        // Whatever the time, the answer is open and never before `now`.
        for minutes in (0..2 * 1440).step_by(7) {
            let t = at("2026-11-25T00:00:30Z") + chrono::Duration::minutes(minutes);
            for hours in [day, night] {
                let next = hours.next_open(t);
                assert!(next >= t && hours.is_open(next), "{hours} {t} {next}");
                assert!(next - t < chrono::Duration::days(1));
            }
        }
    }
}
