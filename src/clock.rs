//! The exchange's one clock: "now" as a UTC instant, and "today" as the date in Sweden.
//!
//! Why Swedish time: the contract's dates (an invoice's issue date, a policy's validity, "a basis
//! may not be issued after today") are Swedish calendar dates. The hub used to take the machine's
//! local date and the store the UTC date, so between midnight and 01:00 (02:00 in summer) Swedish
//! time a basis issued that day passed the hub, was logged as disclosed, and was refused by the
//! store as issued in the future. Every part now asks this module, and `clippy.toml` refuses
//! `Utc::now` and `Local::now` anywhere else.

use chrono::{DateTime, NaiveDate, Utc};

/// The time zone of the contract's dates.
pub const SWEDEN: chrono_tz::Tz = chrono_tz::Europe::Stockholm;

/// The current instant.
#[allow(clippy::disallowed_methods)] // the one place that reads the system clock
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Today's date in Sweden.
pub fn today() -> NaiveDate {
    swedish_date(now())
}

/// Where a step asks for "now" and "today". The running exchange passes [`SystemClock`]; a test
/// of a step passes [`FixedClock`], so the day's edge (23:30 UTC is already tomorrow in Sweden)
/// is tested without waiting for midnight.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Today's date in Sweden at [`Clock::now`].
    fn today(&self) -> NaiveDate {
        swedish_date(self.now())
    }
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        now()
    }
}

/// A clock that stands still at one instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The Swedish calendar date at instant `t` (CET, or CEST in summer).
pub fn swedish_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&SWEDEN).date_naive()
}

/// The instant a Swedish calendar day begins, as the stores keep instants (RFC 3339 UTC,
/// seconds): what a filter "arrived on or after this day" compares with.
pub fn swedish_midnight_utc(day: NaiveDate) -> String {
    use chrono::TimeZone as _;
    let local = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    // Sweden's clock changes at 02:00/03:00, never at midnight: the earliest is the one.
    SWEDEN
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.to_utc())
        .unwrap_or_else(|| local.and_utc())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_date_is_the_swedish_one_in_winter_in_summer_and_across_the_changes() {
        for (at, day) in [
            // Winter (CET, UTC+1): 23:30 UTC is 00:30 the next day.
            ("2026-12-01T22:59:59Z", "2026-12-01"),
            ("2026-12-01T23:30:00Z", "2026-12-02"),
            // Summer (CEST, UTC+2): 22:30 UTC is 00:30 the next day.
            ("2026-06-30T21:59:59Z", "2026-06-30"),
            ("2026-06-30T22:30:00Z", "2026-07-01"),
            // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
            ("2026-03-28T22:30:00Z", "2026-03-28"),
            ("2026-03-28T23:30:00Z", "2026-03-29"),
            ("2026-10-24T21:30:00Z", "2026-10-24"),
            ("2026-10-24T22:30:00Z", "2026-10-25"),
        ] {
            assert_eq!(swedish_date(utc(at)), date(day), "{at}");
        }
    }
}
