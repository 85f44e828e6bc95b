//! Instants shown as a person in Norway reads them: Europe/Oslo wall-clock time, `03.11.2022 kl. 14:05`.

use std::sync::{Arc, LazyLock};

use jiff::Timestamp;
use jiff::fmt::strtime;
use jiff::tz::TimeZone;

/// The time, as a parameter: the system clock in production, a hand-set one in tests. Whatever
/// judges by the time (pages, the session stores, housekeeping) asks this, never the system.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Timestamp::now)
}

/// The zone every date shown to a person is in.
pub const OSLO: &str = "Europe/Oslo";

/// jiff's bundled tz database (feature `tzdb-bundle-always`) always has Europe/Oslo, so the
/// fallback to UTC cannot happen in a build of this crate; a unit test holds that line.
static OSLO_TZ: LazyLock<TimeZone> = LazyLock::new(|| TimeZone::get(OSLO).unwrap_or(TimeZone::UTC));

fn format_in_oslo(format: &str, timestamp: Timestamp) -> String {
    let zoned = timestamp.to_zoned(OSLO_TZ.clone());
    // The formats below are fixed and valid for any `Zoned`; should jiff still refuse, an RFC 3339
    // instant is better on a page than nothing.
    strtime::format(format, &zoned).unwrap_or_else(|_| timestamp.to_string())
}

/// The date in Oslo: `03.11.2022`.
pub fn oslo_date(timestamp: Timestamp) -> String {
    format_in_oslo("%d.%m.%Y", timestamp)
}

/// The date and time in Oslo: `03.11.2022 kl. 14:05` (24-hour clock, no seconds).
pub fn oslo_date_time(timestamp: Timestamp) -> String {
    format_in_oslo("%d.%m.%Y kl. %H:%M", timestamp)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_bundled_tz_database_knows_oslo() {
        assert!(TimeZone::get(OSLO).is_ok());
        assert_ne!(*OSLO_TZ, TimeZone::UTC);
    }

    #[test]
    fn winter_time_is_one_hour_ahead_of_utc() {
        assert_eq!(
            oslo_date_time(ts("2022-11-03T13:05:00Z")),
            "03.11.2022 kl. 14:05"
        );
    }

    #[test]
    fn summer_time_is_two_hours_ahead_of_utc() {
        assert_eq!(
            oslo_date_time(ts("2022-07-01T12:30:59Z")),
            "01.07.2022 kl. 14:30"
        );
    }

    #[test]
    fn a_late_utc_evening_is_the_next_day_in_oslo() {
        assert_eq!(oslo_date(ts("2022-12-31T23:30:00Z")), "01.01.2023");
        assert_eq!(oslo_date(ts("2022-11-03T00:00:00Z")), "03.11.2022");
    }

    #[test]
    fn the_switch_to_summer_time_is_followed() {
        // 2023-03-26 01:00 UTC is when Norway moved from +01 to +02.
        assert_eq!(
            oslo_date_time(ts("2023-03-26T00:59:00Z")),
            "26.03.2023 kl. 01:59"
        );
        assert_eq!(
            oslo_date_time(ts("2023-03-26T01:00:00Z")),
            "26.03.2023 kl. 03:00"
        );
    }
}
