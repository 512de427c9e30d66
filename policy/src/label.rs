//! DNS labels as the naming scheme accepts them.
//!
//! A [`Label`] is a lowercase LDH label (RFC 952, RFC 1123 §2.1): 1 to 63
//! characters from `a-z`, `0-9` and `-`, neither starting nor ending with a
//! hyphen, and without hyphens in both the third and fourth positions (those
//! are reserved for IDNA A-labels, RFC 5891 §4.2.3.1). Uppercase is rejected
//! rather than folded, so the name a team asked for is the name it gets.
//! All-digit labels are valid (RFC 1123 §2.1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The longest label DNS allows (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// A validated lowercase LDH label.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Label(String);

impl Label {
    /// Parses `label`, saying precisely why it is not a valid label.
    pub fn new(label: &str) -> Result<Self, Error> {
        Self::parse("label", label)
    }

    /// Parses `label` as the `what` of something ("team name", "app name", ...),
    /// which the error message names.
    pub(crate) fn parse(what: &'static str, label: &str) -> Result<Self, Error> {
        match problem(label) {
            None => Ok(Self(label.to_owned())),
            Some(why) => Err(Error::InvalidLabel { what, label: label.to_owned(), why }),
        }
    }

    /// A label the code spells out, known to be valid.
    pub(crate) fn trusted(label: &'static str) -> Self {
        debug_assert!(problem(label).is_none(), "{label}");
        Self(label.to_owned())
    }

    /// The label's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What is wrong with `label`, if anything.
fn problem(label: &str) -> Option<&'static str> {
    let bytes = label.as_bytes();
    if bytes.is_empty() {
        return Some("it is empty");
    }
    if bytes.len() > MAX_LABEL_LEN {
        return Some("it is longer than 63 characters");
    }
    if bytes.iter().any(u8::is_ascii_uppercase) {
        return Some("uppercase letters are not allowed; use lowercase");
    }
    if !bytes.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Some("only the letters a-z, the digits 0-9 and '-' are allowed");
    }
    if bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' {
        return Some("it may not start or end with '-'");
    }
    if bytes.get(2..4) == Some(b"--") {
        return Some("'--' in the third and fourth positions is reserved for internationalized names");
    }
    None
}

impl FromStr for Label {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Label {
    type Error = Error;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<Label> for String {
    fn from(label: Label) -> Self {
        label.0
    }
}

impl AsRef<str> for Label {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;

    fn why(label: &str) -> &'static str {
        match Label::new(label) {
            Err(Error::InvalidLabel { why, .. }) => why,
            other => panic!("{label:?} was accepted: {other:?}"),
        }
    }

    #[test]
    fn sixty_three_characters_pass_and_sixty_four_fail() {
        let max = "a".repeat(63);
        assert_eq!(Label::new(&max).unwrap().as_str(), max);
        assert_eq!(why(&"a".repeat(64)), "it is longer than 63 characters");
    }

    #[test]
    fn empty_is_rejected() {
        assert_eq!(why(""), "it is empty");
    }

    #[test]
    fn hyphens_may_not_lead_or_trail_or_sit_in_positions_three_and_four() {
        assert!(why("-app").contains("start or end"));
        assert!(why("app-").contains("start or end"));
        assert!(why("-").contains("start or end"));
        assert!(why("xn--bcher-kva").contains("reserved"));
        assert!(why("ab--c").contains("reserved"));
        for ok in ["a-b", "a--b", "abc--d", "time-sheet-2", "pr-42"] {
            assert!(Label::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn uppercase_is_rejected_not_folded() {
        assert_eq!(why("Timesheet"), "uppercase letters are not allowed; use lowercase");
        assert_eq!(why("HR"), "uppercase letters are not allowed; use lowercase");
    }

    #[test]
    fn digits_only_and_single_characters_are_valid() {
        for ok in ["42", "0", "a", "9a"] {
            assert_eq!(Label::new(ok).unwrap().to_string(), ok);
        }
    }

    #[test]
    fn other_characters_are_rejected() {
        for bad in ["_acme-challenge", "a.b", "a b", "caf\u{e9}", "a*", "*", "a_b"] {
            assert_eq!(why(bad), "only the letters a-z, the digits 0-9 and '-' are allowed", "{bad}");
        }
    }

    #[test]
    fn the_error_names_what_the_label_was_for() {
        let err = Label::parse("team name", "Hr").unwrap_err();
        assert_eq!(
            err.to_string(),
            "team name \"Hr\" is not a valid DNS label: uppercase letters are not allowed; use lowercase"
        );
    }

    #[test]
    fn serde_validates() {
        let label: Label = serde_json::from_str("\"hr\"").unwrap();
        assert_eq!(serde_json::to_string(&label).unwrap(), "\"hr\"");
        assert!(serde_json::from_str::<Label>("\"HR\"").is_err());
    }
}
