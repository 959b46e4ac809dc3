//! A calendar day, `YYYY-MM-DD`: the `--today` of `analyze`, `report`, `site` and `check`, and
//! the date of a history point. Parsed once at the edge, so the core compares days, not strings;
//! written (and serialised) exactly as it was read.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A real day of the Gregorian calendar, year 0000 to 9999. Ordered by (year, month, day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// Not a date written `YYYY-MM-DD`, or no such day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date written YYYY-MM-DD")]
pub struct DateError(pub String);

fn days_in(year: u16, month: u8) -> u8 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// The day, if it exists.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        (year <= 9999 && day >= 1 && day <= days_in(year, month)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// `YYYY-MM-DD`, digits only (no sign, no short fields), and a real day.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| {
            let part = s.get(r)?;
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse::<u16>().ok())
                .flatten()
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        Date::new(year, u8::try_from(month).ok()?, u8::try_from(day).ok()?)
    }

    /// The UTC day of a Unix time; `None` outside years 0000 to 9999.
    pub fn from_unix(seconds: i64) -> Option<Date> {
        let d = time::OffsetDateTime::from_unix_timestamp(seconds)
            .ok()?
            .date();
        Date::new(u16::try_from(d.year()).ok()?, u8::from(d.month()), d.day())
    }

    /// Today in UTC.
    pub fn today() -> Date {
        let d = time::OffsetDateTime::now_utc().date();
        // The clock is within years 0000 to 9999; fall back to the epoch's day if it is not.
        Date::new(
            u16::try_from(d.year()).unwrap_or(1970),
            u8::from(d.month()),
            d.day(),
        )
        .unwrap_or(Date {
            year: 1970,
            month: 1,
            day: 1,
        })
    }
}

/// An `expires` date is past on `today` (the day itself still counts). Annotations are
/// validated when read; a model from elsewhere may hold any text, compared as it always was.
pub fn expired(expires: &str, today: Date) -> bool {
    match Date::parse(expires) {
        Some(exp) => exp < today,
        None => expires < today.to_string().as_str(),
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Date, DateError> {
        Date::parse(s).ok_or_else(|| DateError(s.to_string()))
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_days_written_in_full_parse() {
        assert!(Date::parse("2024-02-29").is_some());
        assert!(Date::parse("2000-02-29").is_some());
        assert!(Date::parse("2023-02-29").is_none());
        assert!(Date::parse("1900-02-29").is_none());
        assert!(Date::parse("2023-13-01").is_none());
        assert!(Date::parse("2023-00-10").is_none());
        assert!(Date::parse("2023-01-00").is_none());
        assert!(Date::parse("2023-1-01").is_none());
        assert!(Date::parse("+023-01-01").is_none());
        assert!(Date::parse("2023-+1-01").is_none());
        assert!(Date::parse("2023-01-01 ").is_none());
        assert!(Date::parse("２０２３-01-01").is_none());
    }

    #[test]
    fn days_compare_by_calendar_and_write_back_as_read() {
        let a = Date::parse("2025-12-31");
        let b = Date::parse("2026-01-01");
        assert!(a.is_some() && a < b);
        for s in ["0001-01-01", "2026-12-06", "9999-12-31"] {
            assert_eq!(Date::parse(s).map(|d| d.to_string()).as_deref(), Some(s));
        }
        assert_eq!(
            serde_json::to_string(&Date::parse("2024-02-29"))
                .ok()
                .as_deref(),
            Some("\"2024-02-29\"")
        );
        assert!(serde_json::from_str::<Date>("\"2023-02-29\"").is_err());
    }

    #[test]
    fn a_unix_time_is_its_utc_day() {
        assert_eq!(Date::from_unix(0), Date::parse("1970-01-01"));
        assert_eq!(Date::from_unix(1_709_251_199), Date::parse("2024-02-29"));
        assert_eq!(Date::from_unix(i64::MAX), None);
    }
}
