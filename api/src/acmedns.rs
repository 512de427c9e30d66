//! acme-dns compatibility: the registrations and TXT values behind
//! `POST /register` and `POST /update` (`routes/acmedns.rs`), with the
//! behaviour of joohoi/acme-dns, so that cert-manager's `acmeDNS` solver and
//! lego's `acme-dns` provider work unmodified.
//!
//! A registration is a username and a subdomain (random v4 UUIDs), a
//! password (40 random characters of the base64url alphabet, shown once)
//! and optional `allowfrom` CIDRs; it belongs to the team whose token made
//! it, or to the platform team when it was made anonymously. Its TXT values
//! are published at `<subdomain>.<acme zone>` with TTL 1, in the served zone
//! that holds that name (by default `acme.<platform zone>`, inside the
//! platform zone). A subdomain holds at most two values; an update replaces
//! the older one, so `example.com` and `*.example.com` validate together.
//!
//! ```text
//! acmedns/<username>      -> JSON Registration {username, password_hash, subdomain, allowfrom,
//!                                               team, created_at, txt}
//! acmedns-sub/<subdomain> -> <username>
//! ```
//!
//! `txt` holds the published values, oldest first. The password is kept
//! only as `hmac-sha256:<salt hex>:<tag hex>` (HMAC-SHA256 keyed with 128
//! random bits) and checked with `ring::hmac::verify`, in constant time.

use std::net::IpAddr;
use std::time::SystemTime;

use data_encoding::HEXLOWER;
use ring::hmac;
use ring::rand::SystemRandom;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use zones::{ChangeSet, Name, Op, RData, RRset, RecordType, Store, Transaction};

use crate::audit::Audit;
use crate::tokens::random;
use crate::zones_catalog::{parse_name, text};
use crate::{ApiError, rfc3339};

/// The TTL of the published TXT values (acme-dns's).
pub(crate) const TXT_TTL: u32 = 1;
/// How many TXT values a subdomain holds at once.
const TXT_VALUES: usize = 2;
/// The length of a password.
const PASSWORD_LEN: usize = 40;
/// The length of a TXT value: an unpadded base64url SHA-256 (RFC 8555 §8.4).
const TXT_LEN: usize = 43;
/// The characters of a password (acme-dns's alphabet).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz1234567890-_";
/// The prefix of a stored password hash.
const HASH_SCHEME: &str = "hmac-sha256";

/// The acme-dns settings (`[acme_dns]` in the server's configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcmeDnsConfig {
    /// Whether `/register` and `/update` are served (404 otherwise).
    pub enabled: bool,
    /// The zone the subdomains live under, e.g. `acme.apps.company.com.`.
    pub zone: Name,
    /// Whether `/register` without a bearer token creates a registration
    /// (owned by the platform team).
    pub allow_anonymous_register: bool,
}

/// Why an acme-dns setting is refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AcmeDnsConfigError(String);

impl AcmeDnsConfig {
    /// Enabled, anonymous registration off, the zone `acme.<platform zone>`
    /// of `policy` (its zone without a region, else its first).
    pub fn default_for(policy: &policy::Policy) -> Self {
        let zones = policy.scheme.zones();
        let platform = zones.iter().find(|z| z.region().is_none()).or(zones.first());
        let zone = platform.and_then(|z| Name::from_ascii(format!("acme.{}", z.apex().to_ascii())).ok());
        Self { enabled: zone.is_some(), zone: zone.unwrap_or_else(Name::root), allow_anonymous_register: false }
    }

    /// The settings with `zone` (empty: [`AcmeDnsConfig::default_for`]'s),
    /// checked against `policy`: a zone inside a platform zone may not be the
    /// platform zone itself, and the label below the platform apex must be
    /// one no team can take (a reserved label), since a team zone there
    /// would take the subdomains' names.
    pub fn new(
        policy: &policy::Policy,
        enabled: bool,
        zone: &str,
        allow_anonymous_register: bool,
    ) -> Result<Self, AcmeDnsConfigError> {
        let zone = match zone {
            "" => Self::default_for(policy).zone,
            text => parse_name("acme_dns.zone", text).map_err(|e| AcmeDnsConfigError(e.to_string()))?,
        };
        if enabled {
            check_zone(policy, &zone)?;
        }
        Ok(Self { enabled, zone, allow_anonymous_register })
    }

    /// `<subdomain>.<zone>` without the trailing dot, as `/register` answers.
    pub(crate) fn fulldomain(&self, subdomain: &str) -> String {
        format!("{subdomain}.{}", text(&self.zone))
    }

    /// The owner name of `subdomain`'s TXT values.
    fn owner(&self, subdomain: &str) -> Result<Name, ApiError> {
        parse_name("subdomain", &self.fulldomain(subdomain))
    }
}

/// Checks that no team can take the name of `zone` (see [`AcmeDnsConfig::new`]).
fn check_zone(policy: &policy::Policy, zone: &Name) -> Result<(), AcmeDnsConfigError> {
    if zone.is_root() {
        return Err(AcmeDnsConfigError("acme_dns.zone may not be the root".to_owned()));
    }
    let Some(platform) = policy.scheme.zone_containing(zone) else {
        return Ok(()); // a zone of its own, served here or not
    };
    let depth = usize::from(zone.num_labels() - platform.apex().num_labels());
    let Some(label) = zone.iter().nth(depth.wrapping_sub(1)) else {
        return Err(AcmeDnsConfigError(format!(
            "acme_dns.zone {} is a platform zone: its subdomains would take team names",
            text(zone)
        )));
    };
    let label = String::from_utf8_lossy(label).to_ascii_lowercase();
    if policy.scheme.env(&label).is_ok() {
        return Err(AcmeDnsConfigError(format!("acme_dns.zone {}: {label} is an environment", text(zone))));
    }
    if policy.scheme.team(&label).is_ok() {
        return Err(AcmeDnsConfigError(format!(
            "acme_dns.zone {}: {label} could become a team name; add it to [policy.scheme] reserved",
            text(zone)
        )));
    }
    Ok(())
}

/// Why an acme-dns request is refused, in acme-dns's words (the routes
/// answer `{"error": "<code>"}`).
#[derive(Debug)]
pub(crate) enum Refusal {
    /// `/register`: a body that is not the JSON acme-dns reads (400).
    MalformedJson,
    /// `/register`: an `allowfrom` entry that is not a CIDR (400).
    InvalidAllowfromCidr,
    /// `/update`: unknown user, wrong key, another subdomain, an address
    /// outside `allowfrom`, or a body that is not JSON (401).
    Forbidden,
    /// `/update`: a subdomain that is not a DNS label (400).
    BadSubdomain,
    /// `/update`: a TXT value that is not 43 base64url characters (400).
    BadTxt,
    /// The store failed (500 `db_error`; the detail is logged).
    Db(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Db(e)
    }
}

/// A registration as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Registration {
    /// The username, a lowercase UUID.
    pub(crate) username: String,
    /// `hmac-sha256:<salt hex>:<tag hex>` of the password.
    pub(crate) password_hash: String,
    /// The subdomain, a lowercase UUID.
    pub(crate) subdomain: String,
    /// The CIDRs updates may come from; empty: anywhere.
    pub(crate) allowfrom: Vec<String>,
    /// The team that owns it.
    pub(crate) team: String,
    /// When it was made (RFC 3339).
    pub(crate) created_at: String,
    /// The published TXT values, oldest first (at most two).
    #[serde(default)]
    pub(crate) txt: Vec<String>,
}

/// What `POST /register` answers, in acme-dns's field order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub(crate) struct Credentials {
    /// The `X-Api-User` of updates (a UUID).
    pub(crate) username: String,
    /// The `X-Api-Key` of updates (40 characters, shown only now).
    pub(crate) password: String,
    /// `<subdomain>.<acme zone>`: the target of the `_acme-challenge` CNAME.
    pub(crate) fulldomain: String,
    /// The subdomain updates name (a UUID).
    pub(crate) subdomain: String,
    /// The CIDRs updates may come from; empty: anywhere.
    pub(crate) allowfrom: Vec<String>,
}

fn key(username: &str) -> Vec<u8> {
    format!("acmedns/{username}").into_bytes()
}

fn sub_key(subdomain: &str) -> Vec<u8> {
    format!("acmedns-sub/{subdomain}").into_bytes()
}

/// The registration of `username` (a lowercase UUID), if any.
pub(crate) fn get(store: &Store, username: &str) -> Result<Option<Registration>, ApiError> {
    match store.catalog_get(&key(username))? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// Creates a registration for `team` that updates may send from
/// `allowfrom` (checked by [`allowfrom`]), durably, with `audit` as its note
/// (its target becomes the username).
pub(crate) fn register(
    store: &Store,
    config: &AcmeDnsConfig,
    now: SystemTime,
    team: &str,
    allowfrom: Vec<String>,
    audit: Audit,
) -> Result<Credentials, ApiError> {
    let rng = SystemRandom::new();
    let (username, subdomain) = (new_uuid(&rng)?, new_uuid(&rng)?);
    let password = new_password(&rng)?;
    let record = Registration {
        username: username.clone(),
        password_hash: hash_password(&rng, &password)?,
        subdomain: subdomain.clone(),
        allowfrom: allowfrom.clone(),
        team: team.to_owned(),
        created_at: rfc3339(now),
        txt: Vec::new(),
    };
    let fulldomain = config.fulldomain(&subdomain);
    let mut tx = Transaction::new();
    tx.catalog_put(&key(&username), serde_json::to_vec(&record)?)
        .catalog_put(&sub_key(&subdomain), username.clone().into_bytes());
    let why = json!({ "fulldomain": fulldomain, "allowfrom": allowfrom });
    audit.target(&username).why(why).commit(store, tx, now)?;
    Ok(Credentials { username, password, fulldomain, subdomain, allowfrom })
}

/// The registration `user` and `key` (the `X-Api-User` and `X-Api-Key`
/// headers) name, or [`Refusal::Forbidden`]. As acme-dns, the username is
/// any form of UUID and the key must have the shape of a password before it
/// is checked; an unknown user costs a check too.
pub(crate) fn authenticate(store: &Store, user: &str, key: &str) -> Result<Registration, Refusal> {
    let Ok(username) = uuid::Uuid::parse_str(user) else {
        return Err(Refusal::Forbidden);
    };
    if !valid_key(key) {
        return Err(Refusal::Forbidden);
    }
    match get(store, &username.to_string())? {
        Some(record) if verify_password(&record.password_hash, key) => Ok(record),
        Some(_) => Err(Refusal::Forbidden),
        None => {
            // The same work as for a known user, so timing does not tell.
            verify_password("hmac-sha256:00000000000000000000000000000000:00", key);
            Err(Refusal::Forbidden)
        }
    }
}

/// Publishes `value` for `username`'s subdomain: its TXT values become the
/// newest of the old ones and `value` ([`rotate`]), in one change set of the
/// zone that holds `<subdomain>.<zone>`, stored with the registration and
/// audited as `acme-dns:<username>` for the registration's team, durably.
pub(crate) fn update(
    store: &Store,
    config: &AcmeDnsConfig,
    now: SystemTime,
    username: &str,
    value: &str,
) -> Result<(), ApiError> {
    let mut record =
        get(store, username)?.ok_or_else(|| ApiError::Internal(format!("acme-dns user {username} vanished")))?;
    record.txt = rotate(&record.txt, value);
    let owner = config.owner(&record.subdomain)?;
    let snapshot = store.snapshot();
    let zone = snapshot.closest_zone(&owner).ok_or_else(|| ApiError::Internal(format!("no zone holds {owner}")))?;
    let mut set = RRset::new(&owner, RecordType::TXT, TXT_TTL);
    for text in &record.txt {
        set.insert(RData::TXT(hickory_proto::rr::rdata::TXT::new(vec![text.clone()])));
    }
    let who = format!("acme-dns:{username}");
    let mut change = ChangeSet::new(zone.apex(), who.clone(), "acme-dns: update");
    change.push(Op::ReplaceRRset(set));
    let mut tx = Transaction::new();
    tx.change(change).catalog_put(&key(username), serde_json::to_vec(&record)?);
    let audit = Audit::system(&who, &record.team, "acmedns.update", text(&owner));
    audit.why(json!({ "txt": record.txt })).commit(store, tx, now)?;
    Ok(())
}

/// The TXT values after publishing `value`: the newest of `old` (oldest
/// first) that fit beside it, then `value`.
pub(crate) fn rotate(old: &[String], value: &str) -> Vec<String> {
    let keep = old.len().saturating_sub(TXT_VALUES - 1);
    let mut out: Vec<String> = old[keep..].to_vec();
    out.push(value.to_owned());
    out
}

/// A new random (v4) UUID, lowercase with hyphens.
fn new_uuid(rng: &SystemRandom) -> Result<String, ApiError> {
    Ok(uuid::Builder::from_random_bytes(random::<16>(rng)?).into_uuid().to_string())
}

/// A new password: 40 characters of [`ALPHABET`], 6 random bits each.
fn new_password(rng: &SystemRandom) -> Result<String, ApiError> {
    Ok(random::<PASSWORD_LEN>(rng)?.iter().map(|b| char::from(ALPHABET[usize::from(b & 63)])).collect())
}

/// `hmac-sha256:<salt>:<tag>` of `password` with a new random salt.
fn hash_password(rng: &SystemRandom, password: &str) -> Result<String, ApiError> {
    let salt = random::<16>(rng)?;
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &salt), password.as_bytes());
    Ok(format!("{HASH_SCHEME}:{}:{}", HEXLOWER.encode(&salt), HEXLOWER.encode(tag.as_ref())))
}

/// Whether `password` is the one `stored` ([`hash_password`]) was made of;
/// the tags are compared in constant time.
fn verify_password(stored: &str, password: &str) -> bool {
    let mut parts = stored.splitn(3, ':');
    let (Some(HASH_SCHEME), Some(salt), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(salt), Ok(tag)) = (HEXLOWER.decode(salt.as_bytes()), HEXLOWER.decode(tag.as_bytes())) else {
        return false;
    };
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, &salt), password.as_bytes(), &tag).is_ok()
}

/// Whether every character of `text` is in the base64url alphabet and there
/// are `len` of them (acme-dns's `SanitizeString` check).
fn base64url_of_len(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `key` has the shape of a password.
pub(crate) fn valid_key(key: &str) -> bool {
    base64url_of_len(key, PASSWORD_LEN)
}

/// Whether `txt` has the shape of a dns-01 key authorization digest.
pub(crate) fn valid_txt(txt: &str) -> bool {
    base64url_of_len(txt, TXT_LEN)
}

/// Whether `subdomain` is an LDH label of 1 to 63 characters that neither
/// starts nor ends with a hyphen (acme-dns's `validSubdomain`).
pub(crate) fn valid_subdomain(subdomain: &str) -> bool {
    let bytes = subdomain.as_bytes();
    let edge = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    (1..=63).contains(&bytes.len())
        && edge(bytes.first())
        && edge(bytes.last())
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// The `allowfrom` entries of a `/register` body as acme-dns's
/// `json.Unmarshal` reads it: an empty body, `null` or an object whose keys
/// match its fields case-insensitively; `allowfrom` a list of strings (a
/// `null` entry is an empty string), `username` a UUID, `password`,
/// `subdomain` and `txt` strings, each also `null`; other keys are ignored.
/// Anything else is [`Refusal::MalformedJson`].
pub(crate) fn register_body(body: &[u8]) -> Result<Vec<String>, Refusal> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| Refusal::MalformedJson)?;
    let object = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Object(object) => object,
        _ => return Err(Refusal::MalformedJson),
    };
    for name in ["password", "subdomain", "txt"] {
        if !matches!(field(&object, name), None | Some(Value::Null | Value::String(_))) {
            return Err(Refusal::MalformedJson);
        }
    }
    match field(&object, "username") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) if uuid::Uuid::parse_str(text).is_ok() => {}
        Some(_) => return Err(Refusal::MalformedJson),
    }
    match field(&object, "allowfrom") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                Value::Null => Ok(String::new()),
                _ => Err(Refusal::MalformedJson),
            })
            .collect(),
        Some(_) => Err(Refusal::MalformedJson),
    }
}

/// The `subdomain` and `txt` of an `/update` body as acme-dns's
/// `json.Decoder` reads it: the first JSON value, keys matched
/// case-insensitively, a field that is not a string left empty, and
/// nothing at all from a body that is not JSON (acme-dns only logs that).
pub(crate) fn update_body(body: &[u8]) -> (String, String) {
    let first = serde_json::Deserializer::from_slice(body).into_iter::<Value>().next();
    let Some(Ok(Value::Object(object))) = first else {
        return (String::new(), String::new());
    };
    let string = |name| match field(&object, name) {
        Some(Value::String(text)) => text.clone(),
        _ => String::new(),
    };
    (string("subdomain"), string("txt"))
}

/// The value of `name` in `object`: the exact key, else the first key equal
/// to it ignoring ASCII case (as Go's `encoding/json` matches fields).
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// The `allowfrom` entries as acme-dns keeps them (brackets removed), or
/// [`Refusal::InvalidAllowfromCidr`] if one is not a CIDR.
pub(crate) fn allowfrom(entries: Vec<String>) -> Result<Vec<String>, Refusal> {
    entries
        .into_iter()
        .map(|entry| {
            let entry: String = entry.chars().filter(|c| !matches!(c, '[' | ']')).collect();
            Cidr::parse(&entry).map(|_| entry).ok_or(Refusal::InvalidAllowfromCidr)
        })
        .collect()
}

/// Whether an update from `peer` may pass `allowfrom`: always when it is
/// empty; otherwise only from an address inside one of its CIDRs (an unknown
/// address is inside none).
pub(crate) fn allowed_from(allowfrom: &[String], peer: Option<IpAddr>) -> bool {
    if allowfrom.is_empty() {
        return true;
    }
    let Some(peer) = peer else {
        return false;
    };
    allowfrom.iter().filter_map(|entry| Cidr::parse(entry)).any(|cidr| cidr.contains(peer))
}

/// An address prefix, parsed as Go's `net.ParseCIDR` does: `addr/bits`
/// with decimal bits up to the address's width (host bits may be set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    /// The prefix `text` names, if it is one.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (addr, bits) = text.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = bits.trim_start_matches('0');
        let bits: u8 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
        (bits <= width(addr)).then_some(Self { addr, bits })
    }

    /// Whether `ip` is inside the prefix. As in Go, an IPv4-mapped IPv6
    /// address is its IPv4 address, and an IPv4-mapped prefix holds IPv4
    /// addresses.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let (net, bits) = match self.addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), self.bits.saturating_sub(96)),
                None => (self.addr, self.bits),
            },
            v4 => (v4, self.bits),
        };
        let ip = ip.to_canonical();
        if width(net) != width(ip) {
            return false;
        }
        let shift = u32::from(width(net) - bits);
        shift >= 128 || number(net) >> shift == number(ip) >> shift
    }
}

fn width(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

fn number(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn shapes_of_keys_values_and_subdomains() {
        let txt = "a".repeat(43);
        assert!(valid_txt(&txt) && valid_txt("LHDhK3oGRvkiefQnx7OOczTY5Tic_xZ6HcMOc_gmtoM"));
        for bad in ["a".repeat(42), "a".repeat(44), format!("{}=", "a".repeat(42)), format!("{}+", "a".repeat(42))] {
            assert!(!valid_txt(&bad), "{bad}");
        }
        assert!(!valid_txt(&format!("{}é", "a".repeat(41))), "43 bytes, 42 characters");
        assert!(valid_key(&"-_Az09".repeat(7)[..40]) && !valid_key(&"a".repeat(39)) && !valid_key(&"a".repeat(41)));
        for good in ["a", "6f1c3e9a-7d2b-4c1e-9a55-0e5d8f3b2a10", "A-1", &"x".repeat(63)] {
            assert!(valid_subdomain(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a.b", "a_b", &"x".repeat(64)] {
            assert!(!valid_subdomain(bad), "{bad}");
        }
    }

    #[test]
    fn two_values_the_newest_kept() {
        let one = rotate(&[], "a");
        assert_eq!(one, ["a"]);
        let two = rotate(&one, "b");
        assert_eq!(two, ["a", "b"]);
        assert_eq!(rotate(&two, "c"), ["b", "c"]);
        assert_eq!(rotate(&strings(&["x", "y", "z"]), "c"), ["z", "c"], "more than two stored: the newest one stays");
    }

    #[test]
    fn passwords_are_40_characters_and_only_their_hash_is_kept() {
        let rng = SystemRandom::new();
        let password = new_password(&rng).unwrap();
        assert!(valid_key(&password), "{password}");
        assert_ne!(password, new_password(&rng).unwrap());
        let stored = hash_password(&rng, &password).unwrap();
        assert!(!stored.contains(&password));
        assert!(stored.starts_with("hmac-sha256:") && stored.len() == 12 + 32 + 1 + 64, "{stored}");
        assert!(verify_password(&stored, &password));
        // The last character changed (to one it is not), so the test cannot pass by luck.
        let last = if password.ends_with('x') { "y" } else { "x" };
        assert!(!verify_password(&stored, &format!("{}{last}", &password[..39])));
        assert_ne!(stored, hash_password(&rng, &password).unwrap(), "salted");
        for broken in ["", "sha256:00:00", "hmac-sha256:zz:00", "hmac-sha256:00"] {
            assert!(!verify_password(broken, &password), "{broken}");
        }
        let id = new_uuid(&rng).unwrap();
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!((parsed.get_version_num(), parsed.to_string()), (4, id.clone()));
        assert_eq!(id.len(), 36);
    }

    #[test]
    fn register_bodies_as_go_unmarshals_them() {
        assert_eq!(register_body(b"").unwrap(), Vec::<String>::new());
        assert_eq!(register_body(b"null").unwrap(), Vec::<String>::new());
        assert_eq!(register_body(b" {} ").unwrap(), Vec::<String>::new());
        assert_eq!(register_body(br#"{"allowfrom": ["192.0.2.0/24", null]}"#).unwrap(), ["192.0.2.0/24", ""]);
        assert_eq!(register_body(br#"{"AllowFrom": ["::1/128"], "other": 5}"#).unwrap(), ["::1/128"]);
        assert_eq!(register_body(br#"{"allowfrom": null, "username": null}"#).unwrap(), Vec::<String>::new());
        let uuid = br#"{"username": "6F1C3E9A-7D2B-4C1E-9A55-0E5D8F3B2A10"}"#;
        assert!(register_body(uuid).is_ok());
        for bad in [
            &b"{"[..],
            b"[]",
            b"\"x\"",
            b"{} {}",
            br#"{"allowfrom": "192.0.2.0/24"}"#,
            br#"{"allowfrom": [1]}"#,
            br#"{"username": "me"}"#,
            br#"{"txt": 5}"#,
        ] {
            assert!(matches!(register_body(bad), Err(Refusal::MalformedJson)), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn update_bodies_as_go_decodes_them() {
        let both = |s: &str, t: &str| (s.to_owned(), t.to_owned());
        assert_eq!(update_body(br#"{"subdomain": "s", "txt": "t"}"#), both("s", "t"));
        assert_eq!(update_body(br#"{"Subdomain": "s", "TXT": "t", "x": 1} trailing"#), both("s", "t"));
        assert_eq!(update_body(br#"{"subdomain": "s", "txt": 5}"#), both("s", ""));
        for nothing in [&b""[..], b"{", b"[\"s\"]", b"null", b"{\"subdomain\": \"s\""] {
            assert_eq!(update_body(nothing), both("", ""), "{}", String::from_utf8_lossy(nothing));
        }
    }

    #[test]
    fn cidrs_as_go_parses_and_matches_them() {
        assert_eq!(
            allowfrom(strings(&["192.0.2.0/24", "[::1]/128", "10.1.2.3/8"])).unwrap(),
            ["192.0.2.0/24", "::1/128", "10.1.2.3/8"]
        );
        for bad in ["", "192.0.2.1", "192.0.2.0/33", "::/129", "192.0.2.0/", "192.0.2.0/+8", "300.0.0.0/8", "x/8"] {
            assert!(matches!(allowfrom(strings(&[bad])), Err(Refusal::InvalidAllowfromCidr)), "{bad}");
        }
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let allow = strings(&["192.0.2.0/24", "2001:db8::/32"]);
        assert!(allowed_from(&allow, Some(ip("192.0.2.77"))));
        assert!(allowed_from(&allow, Some(ip("::ffff:192.0.2.77"))), "IPv4-mapped");
        assert!(allowed_from(&allow, Some(ip("2001:db8:1::5"))));
        assert!(!allowed_from(&allow, Some(ip("192.0.3.1"))));
        assert!(!allowed_from(&allow, Some(ip("2001:db9::1"))));
        assert!(!allowed_from(&allow, None));
        assert!(allowed_from(&[], None), "no allowfrom: anywhere");
        assert!(allowed_from(&strings(&["0.0.0.0/0"]), Some(ip("203.0.113.9"))));
        assert!(!allowed_from(&strings(&["::/0"]), Some(ip("203.0.113.9"))), "an IPv6 prefix holds no IPv4");
        assert!(allowed_from(&strings(&["::ffff:192.0.2.0/120"]), Some(ip("192.0.2.9"))));
        assert!(allowed_from(&strings(&["127.0.0.1/032"]), Some(ip("127.0.0.1"))), "leading zeros, as Go");
    }

    #[test]
    fn the_zone_must_not_be_a_team_name() {
        let policy = |reserved: &[&str]| {
            let mut config = policy::PolicyConfig::default();
            config.scheme.reserved = strings(reserved);
            policy::Policy::new(&config, policy::RiskGate::default()).unwrap()
        };
        let open = policy(&["www"]);
        let guarded = policy(&["www", "acme"]);
        let default = AcmeDnsConfig::new(&guarded, true, "", false).unwrap();
        assert_eq!(default.zone.to_ascii(), "acme.apps.company.com.");
        assert_eq!(default.fulldomain("x"), "x.acme.apps.company.com");
        let error = AcmeDnsConfig::new(&open, true, "", false).unwrap_err().to_string();
        assert!(error.contains("acme could become a team name"), "{error}");
        assert!(AcmeDnsConfig::new(&open, false, "", false).is_ok(), "not checked when disabled");
        assert!(AcmeDnsConfig::new(&open, true, "x.www.apps.company.com", false).is_ok());
        assert!(AcmeDnsConfig::new(&open, true, "acme.example.org.", false).is_ok(), "a zone of its own");
        for bad in ["apps.company.com", "prod.apps.company.com", "hr.apps.company.com", "a..b"] {
            assert!(AcmeDnsConfig::new(&open, true, bad, false).is_err(), "{bad}");
        }
        assert_eq!(AcmeDnsConfig::default_for(&open).zone.to_ascii(), "acme.apps.company.com.");
    }
}
