//! Domain values shared by the ACME modules: ids, accounts, EAB keys,
//! identifiers and challenge tokens.

use std::fmt;
use std::time::SystemTime;

use data_encoding::BASE64URL_NOPAD;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use zones::Name;

use super::error::{Error, problem};
use super::problem::{Problem, ProblemType};
use crate::pki::valid_label;

/// Random bytes in ids and tokens: 128 bits (RFC 8555 §8.1 asks for at least that for tokens).
const RANDOM_BYTES: usize = 16;

/// `len` random bytes from `rng`.
pub(crate) fn random_bytes(rng: &dyn SecureRandom, len: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes).map_err(|_| Error::Random)?;
    Ok(bytes)
}

/// 128 random bits as unpadded base64url.
pub(crate) fn random_token(rng: &dyn SecureRandom) -> Result<String, Error> {
    Ok(BASE64URL_NOPAD.encode(&random_bytes(rng, RANDOM_BYTES)?))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub String);

        impl $name {
            /// A fresh random id (128 bits, base64url).
            pub(crate) fn random(rng: &dyn SecureRandom) -> Result<Self, Error> {
                random_token(rng).map(Self)
            }

            /// The id as it appears in URLs.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// An account's id (the last segment of its URL).
    AccountId
);
id_type!(
    /// An order's id.
    OrderId
);
id_type!(
    /// An authorization's id.
    AuthzId
);

/// An account's status (RFC 8555 §7.1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AccountStatus {
    /// In use.
    Valid,
    /// Deactivated by its holder; final.
    Deactivated,
    /// Revoked by the CA; final.
    Revoked,
}

/// An ACME account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// The RFC 7638 thumbprint of its key (base64url), computed by the edge.
    pub thumbprint: String,
    /// Its public key as a JWK.
    pub jwk: serde_json::Value,
    /// Contact URLs (`mailto:`).
    pub contact: Vec<String>,
    /// Its status.
    pub status: AccountStatus,
    /// The team the account is bound to through EAB.
    pub team: Option<String>,
    /// The EAB key that bound it.
    pub eab_key_id: Option<String>,
    /// When it was created.
    pub created_at: SystemTime,
}

impl Account {
    /// The account's team, when it is valid and team-bound; else `unauthorized`.
    pub fn usable_team(&self) -> Result<&str, Problem> {
        if self.status != AccountStatus::Valid {
            return Err(problem(ProblemType::Unauthorized, "account is not valid"));
        }
        self.team.as_deref().ok_or_else(|| problem(ProblemType::Unauthorized, "account is not bound to a team"))
    }
}

/// An External Account Binding key (RFC 8555 §7.3.4). Single use, as at
/// Let's Encrypt: once an account is bound, the key binds no other account
/// (a second account for the same team needs a new key). Its `Debug`
/// leaves the HMAC key out, so a log line cannot carry it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EabKey {
    /// The key id the client puts in the EAB JWS `kid`.
    pub key_id: String,
    /// The HMAC key (32 bytes); shown to the team as unpadded base64url.
    pub hmac_key: Vec<u8>,
    /// The team accounts bound with this key belong to.
    pub team: String,
    /// When it was made.
    pub created_at: SystemTime,
    /// Who made it (a principal's name).
    pub created_by: String,
    /// The account it bound, once used.
    pub bound_to: Option<AccountId>,
}

impl fmt::Debug for EabKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EabKey")
            .field("key_id", &self.key_id)
            .field("hmac_key", &"<redacted>")
            .field("team", &self.team)
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("bound_to", &self.bound_to)
            .finish()
    }
}

/// The longest name, in presentation form without the trailing dot.
const MAX_NAME_LEN: usize = 253;

/// A `dns` identifier (RFC 8555 §9.7.7): lowercase, no trailing dot, an
/// optional leading `*.` for a wildcard order identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier(String);

impl Identifier {
    /// Parses an identifier of type `kind` with `value`; `unsupportedIdentifier`
    /// for a type other than `dns`, `rejectedIdentifier` for a bad name.
    pub fn parse(kind: &str, value: &str) -> Result<Self, Problem> {
        if kind != "dns" {
            return Err(problem(ProblemType::UnsupportedIdentifier, "only dns identifiers are supported"));
        }
        let value = value.to_ascii_lowercase();
        let base = value.strip_prefix("*.").unwrap_or(&value);
        if !valid_hostname(base) {
            return Err(problem(ProblemType::RejectedIdentifier, format!("{value:?} is not a valid DNS name")));
        }
        Ok(Self(value))
    }

    /// The identifier as sent (`*.x` for a wildcard).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a wildcard (`*.x`).
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// The name an authorization is for: `x` for `*.x`.
    pub fn base(&self) -> &str {
        self.0.strip_prefix("*.").unwrap_or(&self.0)
    }

    /// The identifier an authorization for this one is about: `x` for `*.x`.
    pub fn authz_identifier(&self) -> Identifier {
        Self(self.base().to_owned())
    }

    /// The base name as an absolute DNS name.
    pub fn name(&self) -> Result<Name, Problem> {
        fqdn(self.base())
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `name` (no trailing dot) as an absolute DNS name.
pub(crate) fn fqdn(name: &str) -> Result<Name, Problem> {
    let mut parsed = Name::from_ascii(name)
        .map_err(|_| problem(ProblemType::RejectedIdentifier, format!("{name:?} is not a valid DNS name")))?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// Whether `name` is a hostname: at least two LDH labels of 1..=63 octets,
/// no label starting or ending with `-`, not all-numeric at the end (no IP).
fn valid_hostname(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= MAX_NAME_LEN
        && labels.len() >= 2
        && labels.iter().all(|l| valid_label(l))
        && !labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

/// A challenge type offered (RFC 8555 §8.3, §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChallengeType {
    /// `dns-01`: a TXT record at `_acme-challenge.<name>`.
    Dns01,
    /// `http-01`: a file at `/.well-known/acme-challenge/<token>` on port 80.
    Http01,
}

impl ChallengeType {
    /// The wire name, e.g. `dns-01`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns01 => "dns-01",
            Self::Http01 => "http-01",
        }
    }
}

/// The key authorization `token || '.' || thumbprint` (RFC 8555 §8.1).
pub fn key_authorization(token: &str, thumbprint: &str) -> String {
    format!("{token}.{thumbprint}")
}

/// The dns-01 TXT value: base64url(SHA-256(key authorization)), unpadded (RFC 8555 §8.4).
pub fn dns01_txt_value(token: &str, thumbprint: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key_authorization(token, thumbprint).as_bytes());
    BASE64URL_NOPAD.encode(digest.as_ref())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_eab_keys_debug_leaves_the_hmac_key_out() {
        let key = EabKey {
            key_id: "kid-1".into(),
            hmac_key: b"secret-hmac-bytes".to_vec(),
            team: "hr".into(),
            created_at: SystemTime::UNIX_EPOCH,
            created_by: "admin".into(),
            bound_to: None,
        };
        let shown = format!("{key:?}");
        assert!(shown.contains("kid-1") && shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("115, 101, 99") && !shown.contains("secret"), "{shown}");
    }

    #[test]
    fn identifiers_are_lowercased_and_wildcards_split() {
        let id = Identifier::parse("dns", "*.App.Example.COM").unwrap();
        assert_eq!(id.as_str(), "*.app.example.com");
        assert!(id.is_wildcard());
        assert_eq!(id.base(), "app.example.com");
        assert_eq!(id.name().unwrap().to_string(), "app.example.com.");
    }

    #[test]
    fn bad_identifiers_are_refused_with_the_right_type() {
        assert_eq!(Identifier::parse("ip", "10.0.0.1").unwrap_err().kind, ProblemType::UnsupportedIdentifier);
        for bad in ["a..b", "-a.example", "a.*.example", "example", "10.0.0.1", "a_b.example", "x.example."] {
            assert_eq!(Identifier::parse("dns", bad).unwrap_err().kind, ProblemType::RejectedIdentifier, "{bad}");
        }
    }

    #[test]
    fn dns01_value_matches_rfc8555_construction() {
        // `printf tok.thumb | openssl dgst -sha256 -binary | basenc --base64url`, padding removed.
        assert_eq!(dns01_txt_value("tok", "thumb"), "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y");
        assert_eq!(key_authorization("tok", "thumb"), "tok.thumb");
    }

    #[test]
    fn tokens_carry_128_bits() {
        let rng = ring::rand::SystemRandom::new();
        let a = random_token(&rng).unwrap();
        assert_eq!(BASE64URL_NOPAD.decode(a.as_bytes()).unwrap().len(), 16);
        assert_ne!(a, random_token(&rng).unwrap());
    }
}
