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

/// An `expires` attribute. Annotations only ever give a [`Day`](Expiry::Day) (anything else is
/// a diagnostic); a model read from JSON written elsewhere may hold other text, which is kept so
/// the model round-trips and compared as text, as it always was. Serialised as the text it was.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expiry {
    /// A real day: the acceptance holds through it.
    Day(Date),
    /// Text that is no date, from a model threatmark did not build.
    Text(String),
}

impl Expiry {
    /// The day if `s` is one, the text otherwise.
    pub fn parse(s: &str) -> Expiry {
        Date::parse(s).map_or_else(|| Expiry::Text(s.to_string()), Expiry::Day)
    }

    /// Past on `today` (the day itself still counts).
    pub fn expired(&self, today: Date) -> bool {
        match self {
            Expiry::Day(day) => *day < today,
            Expiry::Text(text) => text.as_str() < today.to_string().as_str(),
        }
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expiry::Day(day) => day.fmt(f),
            Expiry::Text(text) => f.write_str(text),
        }
    }
}

impl Serialize for Expiry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Expiry::parse(&text))
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

    #[test]
    fn an_expiry_is_a_day_or_kept_text_and_round_trips() {
        let day = Expiry::parse("2026-03-01");
        assert_eq!(day, Expiry::Day(Date::new(2026, 3, 1).expect("valid")));
        assert_eq!(
            serde_json::to_string(&day).expect("valid"),
            "\"2026-03-01\""
        );
        let text: Expiry = serde_json::from_str("\"someday\"").expect("valid");
        assert_eq!(text, Expiry::Text("someday".into()));
        assert_eq!(serde_json::to_string(&text).expect("valid"), "\"someday\"");
        let today = Date::parse("2026-03-01").expect("valid");
        assert!(!day.expired(today), "the day itself still counts");
        assert!(day.expired(Date::parse("2026-03-02").expect("valid")));
        // Text is compared as text, as models from elsewhere always were.
        assert!(Expiry::Text("2026-02-30".into()).expired(today));
        assert!(!text.expired(today));
    }
}
