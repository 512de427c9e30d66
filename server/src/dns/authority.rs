//! What the DNS side asks the rest of the server: TSIG keys, transfer
//! rights, and the one write path for dynamic UPDATE.
//!
//! `server/src/dns/` depends only on `zones` and `policy`; the team keys,
//! ownership, quotas and the audit log live with the API's catalog. The
//! binary's wiring implements [`Authority`] over them (`server/src/authority.rs`)
//! and hands it to the listeners as an `Arc<dyn Authority>`.

use std::net::IpAddr;

use zones::{ChangeSet, Name};

/// A TSIG algorithm (RFC 8945 §6, RFC 4635).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `hmac-md5.sig-alg.reg.int.` (cert-manager's default).
    HmacMd5,
    /// `hmac-sha1.` (lego's default).
    HmacSha1,
    /// `hmac-sha224.`
    HmacSha224,
    /// `hmac-sha256.`
    HmacSha256,
    /// `hmac-sha384.`
    HmacSha384,
    /// `hmac-sha512.`
    HmacSha512,
}

impl Algorithm {
    /// Every algorithm, in the order of [`Algorithm::short_name`]'s table.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::HmacMd5,
        Algorithm::HmacSha1,
        Algorithm::HmacSha224,
        Algorithm::HmacSha256,
        Algorithm::HmacSha384,
        Algorithm::HmacSha512,
    ];

    /// The algorithm's name in a TSIG RR, absolute and lowercase.
    pub fn dns_name(self) -> &'static str {
        match self {
            Algorithm::HmacMd5 => "hmac-md5.sig-alg.reg.int.",
            Algorithm::HmacSha1 => "hmac-sha1.",
            Algorithm::HmacSha224 => "hmac-sha224.",
            Algorithm::HmacSha256 => "hmac-sha256.",
            Algorithm::HmacSha384 => "hmac-sha384.",
            Algorithm::HmacSha512 => "hmac-sha512.",
        }
    }

    /// The name as BIND and Knot spell it in key files and on the command
    /// line (`hmac-sha256`).
    pub fn short_name(self) -> &'static str {
        match self {
            Algorithm::HmacMd5 => "hmac-md5",
            Algorithm::HmacSha1 => "hmac-sha1",
            Algorithm::HmacSha224 => "hmac-sha224",
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm named `name`, short (`hmac-sha256`) or as in a TSIG RR
    /// (`hmac-sha256.`, `hmac-md5.sig-alg.reg.int.`), in any case.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        let name = name.to_ascii_lowercase();
        let name = name.trim_end_matches('.');
        let name = name.strip_suffix(".sig-alg.reg.int").unwrap_or(name);
        Algorithm::ALL.into_iter().find(|a| a.short_name() == name)
    }

    /// The length of the HMAC's output in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Algorithm::HmacMd5 => 16,
            Algorithm::HmacSha1 => 20,
            Algorithm::HmacSha224 => 28,
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha384 => 48,
            Algorithm::HmacSha512 => 64,
        }
    }
}

/// A TSIG key: its name, algorithm and secret, and whose it is.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// The key's name, lowercase and absolute.
    pub name: Name,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The shared secret (never logged: `Debug` leaves it out).
    pub secret: Vec<u8>,
    /// The team that owns it; `None` for a key from the configuration
    /// (secondaries), which may transfer but not update.
    pub team: Option<String>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("team", &self.team)
            .finish_non_exhaustive()
    }
}

/// Why an UPDATE's change was not applied, as the RCODE it becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The key may not write a name (policy), or over a quota: REFUSED.
    Refused(String),
    /// The change breaks the zone's rules (CNAME beside data, below a cut,
    /// ...): REFUSED as well, with the reason logged.
    Invalid(String),
    /// Storage failed: SERVFAIL.
    Failed(String),
}

/// The rest of the server, as the DNS side sees it.
pub trait Authority: Send + Sync {
    /// The key named `name` (configured secondaries' keys and team keys).
    fn tsig_key(&self, name: &Name) -> Option<TsigKey>;

    /// Whether a client at `peer`, signed with `key` if any, may transfer
    /// (AXFR/IXFR) the zone at `zone`: a configured secondary (by address
    /// and/or key) may transfer every zone; a team key the zones its team
    /// owns.
    fn may_transfer(&self, peer: IpAddr, key: Option<&TsigKey>, zone: &Name) -> bool;

    /// Applies `change` (one zone's UPDATE, prerequisites already checked
    /// against the snapshot) on behalf of team key `key`: every name
    /// authorized by policy, the team's quota checked, journaled and audited
    /// with the key as who, durable before it returns.
    fn update(&self, key: &TsigKey, change: ChangeSet) -> Result<(), Refusal>;
}

/// For tests: an authority that knows one key, lets nobody transfer and
/// refuses every write.
#[cfg(test)]
pub(crate) struct OneKey(pub(crate) TsigKey);

#[cfg(test)]
impl Authority for OneKey {
    fn tsig_key(&self, name: &Name) -> Option<TsigKey> {
        (name == &self.0.name).then(|| self.0.clone())
    }
    fn may_transfer(&self, _: IpAddr, _: Option<&TsigKey>, _: &Name) -> bool {
        false
    }
    fn update(&self, _: &TsigKey, _: ChangeSet) -> Result<(), Refusal> {
        Err(Refusal::Refused("not in this test".into()))
    }
}
