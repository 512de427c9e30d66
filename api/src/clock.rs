//! The injected time source, and RFC 3339 text for timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// A source of the current time, injected so tests can fix it.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// `at` as RFC 3339 UTC text with whole seconds, e.g. `2026-11-28T12:00:00Z`
/// (times before 1970 are written as the epoch).
pub fn rfc3339(at: SystemTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    utc(at).format(format).unwrap_or_default()
}

/// `at` as RFC 3339 UTC text with milliseconds, e.g.
/// `2026-11-28T12:00:00.250Z`.
pub fn rfc3339_ms(at: SystemTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    utc(at).format(format).unwrap_or_default()
}

/// The time RFC 3339 `text` names (any offset, any fraction of a second).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok().map(SystemTime::from)
}

fn utc(at: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(at.max(UNIX_EPOCH))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_utc_dates() {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(1_700_000_000)), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH - Duration::from_secs(5)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_ms(at(1_700_000_000) + Duration::from_millis(250)), "2023-11-14T22:13:20.250Z");
        assert_eq!(rfc3339_ms(at(1_700_000_000) + Duration::from_micros(1999)), "2023-11-14T22:13:20.001Z");
    }

    #[test]
    fn parses_what_it_writes_and_other_offsets() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        assert_eq!(parse_rfc3339(&rfc3339_ms(at)), Some(at));
        let plus_one = parse_rfc3339("2023-11-14T23:13:20+01:00").unwrap();
        assert_eq!(plus_one, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        for bad in ["", "yesterday", "2023-11-14", "2023-13-01T00:00:00Z"] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
