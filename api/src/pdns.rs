//! PowerDNS's RRset body shape, as `GET` and `PATCH /zones/{zone}/rrsets`
//! speak it, and the parsing of one record's content per type.

use serde::{Deserialize, Serialize};
use zones::{RData, RRset, RecordType};

use crate::ApiError;

/// `{"rrsets": [...]}`, both ways.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RRsets<T> {
    /// The RRsets.
    pub(crate) rrsets: Vec<T>,
}

/// One RRset as `GET` returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RRsetView {
    /// The owner name, absolute (with the trailing dot).
    pub(crate) name: String,
    /// The record type, e.g. `A`.
    #[serde(rename = "type")]
    pub(crate) rtype: String,
    /// The RRset's TTL.
    pub(crate) ttl: u32,
    /// The records.
    pub(crate) records: Vec<Content>,
}

impl RRsetView {
    /// `set` in the wire shape.
    pub(crate) fn of(set: &RRset) -> Self {
        Self {
            name: set.name().to_ascii(),
            rtype: set.rtype().to_string(),
            ttl: set.ttl(),
            records: set.rdatas().iter().map(|r| Content { content: r.to_string(), disabled: false }).collect(),
        }
    }
}

/// One record's presentation-format content.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Content {
    /// The RDATA as in a master file, e.g. `192.0.2.1`.
    pub(crate) content: String,
    /// PowerDNS's disabled flag; only `false` is supported.
    #[serde(default)]
    pub(crate) disabled: bool,
}

/// What a PATCH does to an RRset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum ChangeType {
    /// Replace the RRset with `records` (none: remove it).
    Replace,
    /// Remove the RRset.
    Delete,
}

/// One RRset of a PATCH body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RRsetPatch {
    /// The owner name (trailing dot optional).
    pub(crate) name: String,
    /// The record type.
    #[serde(rename = "type")]
    pub(crate) rtype: String,
    /// The TTL; required for `REPLACE`.
    #[serde(default)]
    pub(crate) ttl: Option<u32>,
    /// `REPLACE` or `DELETE`.
    pub(crate) changetype: ChangeType,
    /// The records for `REPLACE`.
    #[serde(default)]
    pub(crate) records: Vec<Content>,
}

/// The record types a PATCH may write.
const WRITABLE: &[RecordType] = &[
    RecordType::A,
    RecordType::AAAA,
    RecordType::CNAME,
    RecordType::MX,
    RecordType::TXT,
    RecordType::SRV,
    RecordType::CAA,
    RecordType::NS,
    RecordType::PTR,
    RecordType::SOA,
];

/// Parses a record type name such as `A` or `aaaa` that a PATCH may write.
pub(crate) fn parse_type(text: &str) -> Result<RecordType, ApiError> {
    let rtype: RecordType = text
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| ApiError::InvalidRequest(format!("unknown record type {text:?}")))?;
    if !WRITABLE.contains(&rtype) {
        let names: Vec<String> = WRITABLE.iter().map(ToString::to_string).collect();
        return Err(ApiError::InvalidRequest(format!(
            "record type {rtype} cannot be written through the API; the types are {}",
            names.join(", ")
        )));
    }
    Ok(rtype)
}

/// Parses `content` as the RDATA of one `rtype` record (names in it must be
/// absolute).
pub(crate) fn parse_content(owner: &str, rtype: RecordType, content: &str) -> Result<RData, ApiError> {
    let bad = |why: String| {
        ApiError::InvalidRecords(format!("{owner} {rtype}: {content:?} is not valid {rtype} content: {why}"))
    };
    if content.contains(['\n', '\r']) {
        return Err(bad("it spans lines".to_owned()));
    }
    let rdata = RData::try_from_str(rtype, content).map_err(|e| bad(e.to_string()))?;
    if let Some(name) = relative_name(rtype, content) {
        return Err(bad(format!("the name {name} must be absolute (end with a dot)")));
    }
    if rdata.record_type() != rtype {
        return Err(bad(format!("it parsed as {}", rdata.record_type())));
    }
    Ok(rdata)
}

/// The first domain name in `content` of type `rtype` that lacks its
/// trailing dot: content is parsed without an origin, so such a name would
/// silently mean the name below the root.
fn relative_name(rtype: RecordType, content: &str) -> Option<&str> {
    let tokens: Vec<&str> = content.split_whitespace().collect();
    let names = match rtype {
        RecordType::CNAME | RecordType::NS | RecordType::PTR => tokens.get(..1),
        RecordType::MX => tokens.get(1..2),
        RecordType::SRV => tokens.get(3..4),
        RecordType::SOA => tokens.get(..2),
        _ => None,
    };
    names.unwrap_or_default().iter().find(|name| !name.ends_with('.')).copied()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use super::*;

    #[test]
    fn content_is_parsed_per_type() {
        assert_eq!(parse_content("a.", RecordType::A, "192.0.2.1").unwrap().to_string(), "192.0.2.1");
        assert_eq!(parse_content("a.", RecordType::AAAA, "2001:db8::1").unwrap().to_string(), "2001:db8::1");
        let mx = parse_content("a.", RecordType::MX, "10 mail.example.com.").unwrap();
        assert_eq!(mx.to_string(), "10 mail.example.com.");
        let txt = parse_content("a.", RecordType::TXT, "\"hello world\"").unwrap();
        assert_eq!(txt.record_type(), RecordType::TXT);
        for (rtype, content) in [
            (RecordType::A, "999.1.1.1"),
            (RecordType::A, "2001:db8::1"),
            (RecordType::AAAA, "192.0.2.1"),
            (RecordType::MX, "mail.example.com."),
            (RecordType::MX, "10 mail.example.com"),
            (RecordType::CNAME, "target.example.com"),
            (RecordType::SRV, "0 5 443 svc.example.com"),
            (RecordType::A, "192.0.2.1\n192.0.2.2"),
        ] {
            let err = parse_content("a.", rtype, content).unwrap_err();
            assert!(
                matches!(err, ApiError::InvalidRecords(ref d) if d.contains("is not valid")),
                "{rtype} {content}: {err}"
            );
        }
    }

    #[test]
    fn only_data_types_are_writable() {
        assert_eq!(parse_type("aaaa").unwrap(), RecordType::AAAA);
        assert!(matches!(parse_type("BOGUS"), Err(ApiError::InvalidRequest(_))));
        assert!(matches!(parse_type("AXFR"), Err(ApiError::InvalidRequest(_))));
    }
}
