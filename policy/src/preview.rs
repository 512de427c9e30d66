//! How long previews live.
//!
//! A preview asks for a TTL in seconds or takes the default (6 h); it must lie
//! within `[min, max]` (default 1 s to 24 h). The caller passes the clock's
//! reading, so expiry is a plain function of its inputs.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::Error;

/// Preview lifetimes as configured (the `[policy.preview]` table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreviewConfig {
    /// The TTL of a preview that asks for none, in seconds.
    pub default_ttl_seconds: u64,
    /// The shortest TTL a preview may ask for, in seconds.
    pub min_ttl_seconds: u64,
    /// The longest TTL a preview may ask for, in seconds.
    pub max_ttl_seconds: u64,
}

impl Default for PreviewConfig {
    fn default() -> Self {
        Self { default_ttl_seconds: 6 * 3600, min_ttl_seconds: 1, max_ttl_seconds: 24 * 3600 }
    }
}

impl PreviewConfig {
    /// Checks that `1 <= min <= default <= max`.
    pub fn check(&self) -> Result<(), Error> {
        let Self { default_ttl_seconds: default, min_ttl_seconds: min, max_ttl_seconds: max } = *self;
        if min == 0 || min > default || default > max {
            return Err(Error::Config(format!(
                "preview TTLs must satisfy 1 <= min ({min}) <= default ({default}) <= max ({max})"
            )));
        }
        Ok(())
    }

    /// The TTL a preview gets for `requested` seconds, or the default.
    pub fn ttl(&self, requested: Option<u64>) -> Result<Duration, Error> {
        let seconds = requested.unwrap_or(self.default_ttl_seconds);
        if seconds < self.min_ttl_seconds || seconds > self.max_ttl_seconds {
            return Err(Error::TtlOutOfBounds {
                requested: seconds,
                min: self.min_ttl_seconds,
                max: self.max_ttl_seconds,
            });
        }
        Ok(Duration::from_secs(seconds))
    }

    /// When a preview created at `now` with `requested` seconds expires.
    pub fn expires_at(&self, now: SystemTime, requested: Option<u64>) -> Result<SystemTime, Error> {
        let ttl = self.ttl(requested)?;
        now.checked_add(ttl).ok_or(Error::TtlOutOfBounds {
            requested: ttl.as_secs(),
            min: self.min_ttl_seconds,
            max: self.max_ttl_seconds,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;

    #[test]
    fn defaults_are_six_hours_within_one_second_to_a_day() {
        let config = PreviewConfig::default();
        assert!(config.check().is_ok());
        assert_eq!(config.ttl(None).unwrap(), Duration::from_secs(21_600));
        assert_eq!(config.ttl(Some(2)).unwrap(), Duration::from_secs(2));
        assert_eq!(config.ttl(Some(1)).unwrap(), Duration::from_secs(1));
        assert_eq!(config.ttl(Some(86_400)).unwrap(), Duration::from_secs(86_400));
    }

    #[test]
    fn out_of_bounds_requests_are_rejected_with_the_bounds() {
        let config = PreviewConfig::default();
        assert_eq!(config.ttl(Some(0)).unwrap_err(), Error::TtlOutOfBounds { requested: 0, min: 1, max: 86_400 });
        let err = config.ttl(Some(86_401)).unwrap_err();
        assert_eq!(err.to_string(), "a preview TTL of 86401 s is out of bounds: it must be between 1 s and 86400 s");
        assert!(config.ttl(Some(u64::MAX)).is_err());
        let strict = PreviewConfig { min_ttl_seconds: 60, ..config };
        assert!(matches!(strict.ttl(Some(59)), Err(Error::TtlOutOfBounds { min: 60, .. })));
        assert!(strict.ttl(Some(60)).is_ok());
    }

    #[test]
    fn expiry_is_now_plus_the_ttl() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let config = PreviewConfig::default();
        assert_eq!(config.expires_at(now, Some(2)).unwrap(), now + Duration::from_secs(2));
        assert_eq!(config.expires_at(now, None).unwrap(), now + Duration::from_secs(21_600));
        assert!(config.expires_at(now, Some(100_000)).is_err());
    }

    #[test]
    fn inconsistent_bounds_are_a_config_error() {
        let base = PreviewConfig::default();
        for bad in [
            PreviewConfig { min_ttl_seconds: 0, ..base },
            PreviewConfig { min_ttl_seconds: 7 * 3600, ..base },
            PreviewConfig { max_ttl_seconds: 3600, ..base },
        ] {
            assert!(matches!(bad.check(), Err(Error::Config(_))), "{bad:?}");
        }
    }

    #[test]
    fn config_deserializes_with_defaults() {
        let config: PreviewConfig = toml::from_str("max_ttl_seconds = 7200\ndefault_ttl_seconds = 600").unwrap();
        assert_eq!(config, PreviewConfig { max_ttl_seconds: 7200, default_ttl_seconds: 600, min_ttl_seconds: 1 });
        assert!(toml::from_str::<PreviewConfig>("ttl = 5").is_err());
    }
}
