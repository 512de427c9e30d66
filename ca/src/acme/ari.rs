//! ACME Renewal Information (RFC 9773): certificate identifiers and the
//! suggested renewal window.
//!
//! The window starts two thirds into the certificate's lifetime and ends
//! five sixths into it, leaving the last sixth for retries: for a 24-hour
//! leaf that is hours 16 to 20, for a 90-day one days 60 to 75.

use std::time::{Duration, SystemTime};

use data_encoding::BASE64URL_NOPAD;

use super::error::problem;
use super::problem::{Problem, ProblemType};

/// A parsed ARI certificate identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertId {
    /// The Authority Key Identifier's keyIdentifier octets.
    pub key_identifier: Vec<u8>,
    /// The serial number's DER content octets (two's complement, minimal).
    pub serial_der: Vec<u8>,
}

impl CertId {
    /// The id of the certificate with AKI keyIdentifier `aki` and serial
    /// `serial` (unsigned big-endian; leading zeros are dropped and a 0x00 is
    /// put back when the high bit is set, as DER requires).
    pub fn new(aki: &[u8], serial: &[u8]) -> Self {
        Self { key_identifier: aki.to_vec(), serial_der: der_integer_content(serial) }
    }

    /// `base64url(keyIdentifier) "." base64url(serial)`, unpadded (RFC 9773 §4.1).
    pub fn encode(&self) -> String {
        format!("{}.{}", BASE64URL_NOPAD.encode(&self.key_identifier), BASE64URL_NOPAD.encode(&self.serial_der))
    }

    /// Parses an id as sent in `replaces` or the renewalInfo URL; `malformed` when it is not one.
    pub fn parse(id: &str) -> Result<Self, Problem> {
        let bad = || problem(ProblemType::Malformed, "not an ARI certificate identifier");
        let (aki, serial) = id.split_once('.').ok_or_else(bad)?;
        let key_identifier = BASE64URL_NOPAD.decode(aki.as_bytes()).map_err(|_| bad())?;
        let serial_der = BASE64URL_NOPAD.decode(serial.as_bytes()).map_err(|_| bad())?;
        let minimal = serial_der.len() < 2 || !(serial_der[0] == 0 && serial_der[1] & 0x80 == 0);
        let positive = serial_der.first().is_some_and(|b| b & 0x80 == 0);
        if key_identifier.is_empty() || !minimal || !positive {
            return Err(bad());
        }
        Ok(Self { key_identifier, serial_der })
    }
}

/// The DER INTEGER content octets of the unsigned big-endian `value`.
fn der_integer_content(value: &[u8]) -> Vec<u8> {
    let start = value.iter().position(|&b| b != 0).unwrap_or(value.len());
    let digits = &value[start..];
    match digits.first() {
        None => vec![0],
        Some(b) if b & 0x80 != 0 => [&[0u8][..], digits].concat(),
        Some(_) => digits.to_vec(),
    }
}

/// The suggested renewal window `(start, end)` of a certificate valid from
/// `not_before` to `not_after`.
pub fn renewal_window(not_before: SystemTime, not_after: SystemTime) -> (SystemTime, SystemTime) {
    let lifetime = not_after.duration_since(not_before).unwrap_or(Duration::ZERO);
    (not_before + lifetime * 2 / 3, not_before + lifetime * 5 / 6)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc9773_example_identifier() {
        // RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
        // serial 00:87:65:43:21 -> "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
        let aki = [
            0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01,
            0xC8, 0xD4,
        ];
        let id = CertId::new(&aki, &[0x87, 0x65, 0x43, 0x21]);
        assert_eq!(id.encode(), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        assert_eq!(CertId::parse("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").unwrap(), id);
        assert_eq!(CertId::new(&aki, &[0, 0, 0x87, 0x65, 0x43, 0x21]), id);
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in ["", "nodot", "aYhb.", ".AIdlQyE", "aYhb!.AIdlQyE", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AAE", "aYhb.gA"] {
            assert_eq!(CertId::parse(bad).unwrap_err().kind, ProblemType::Malformed, "{bad}");
        }
    }

    #[test]
    fn window_is_two_thirds_to_five_sixths() {
        let nb = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let (start, end) = renewal_window(nb, nb + Duration::from_secs(6 * 3600));
        assert_eq!(start, nb + Duration::from_secs(4 * 3600));
        assert_eq!(end, nb + Duration::from_secs(5 * 3600));
        assert_eq!(renewal_window(nb, nb), (nb, nb));
    }
}
