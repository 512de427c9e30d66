//! CAA (RFC 8659) with the account and method binding of RFC 8657, as a
//! pure function over a [`CaaView`].
//!
//! - The relevant RRset is the first non-empty CAA RRset met climbing from
//!   the name towards the root; none at all means issuance is allowed.
//! - For a wildcard, `issuewild` properties take precedence when present;
//!   otherwise `issue` applies to both.
//! - An unknown tag with the critical flag refuses issuance.
//! - `issue ";"` (no issuer) authorizes nobody; issuer names compare
//!   case-insensitively, a trailing dot ignored.
//! - `accounturi` must equal the account's URL; `validationmethods` must list
//!   the method that validated the authorization. A pre-authorized name
//!   (no challenge) matches no method, so a property carrying
//!   `validationmethods` never authorizes it: the zone owner asked for a
//!   specific challenge and gets it.
//! - A property value that does not parse authorizes nobody.

use hickory_proto::rr::rdata::CAA;
use zones::{Name, ZoneSet};

use super::authz::ValidationMethod;
use super::dns::{DnsView, Lookup, Resolver};
use super::error::problem;
use super::problem::{Problem, ProblemType};

/// The CAA records at one name (an empty list when there are none).
pub trait CaaView {
    /// The CAA RRset at `name`; a `dns` problem when it cannot be read.
    fn caa_at(&self, name: &Name) -> Result<Vec<CAA>, Problem>;
}

impl CaaView for Resolver<'_> {
    fn caa_at(&self, name: &Name) -> Result<Vec<CAA>, Problem> {
        self.caa(name)
    }
}

/// The zones served here alone: a name under an external delegation cannot
/// be checked (`dns`); use [`Resolver`] to reach delegated nameservers.
impl CaaView for ZoneSet {
    fn caa_at(&self, name: &Name) -> Result<Vec<CAA>, Problem> {
        match self.caa(name) {
            Lookup::Found(v) => Ok(v),
            Lookup::Empty | Lookup::Outside(_) => Ok(Vec::new()),
            Lookup::Delegated(d) => {
                Err(problem(ProblemType::Dns, format!("CAA for {} needs external lookup", d.qname)))
            }
        }
    }
}

/// Whether CA `ca_identity` may issue for `name` (the authorization's name;
/// `wildcard` for `*.name`) to `account_uri`, validated by `method`.
pub fn check_caa(
    view: &dyn CaaView,
    name: &Name,
    wildcard: bool,
    ca_identity: &str,
    account_uri: &str,
    method: ValidationMethod,
) -> Result<(), Problem> {
    let Some((owner, rrset)) = relevant_rrset(view, name)? else {
        return Ok(());
    };
    if let Some(bad) = rrset.iter().find(|r| r.issuer_critical && !known_tag(&r.tag)) {
        return Err(refused(&owner, &format!("critical unknown property {:?}", bad.tag)));
    }
    let properties = applicable(&rrset, wildcard);
    if properties.is_empty() {
        return Ok(());
    }
    let caller = Caller { ca_identity, account_uri, method };
    if properties.iter().any(|p| caller.authorized_by(&p.value)) {
        return Ok(());
    }
    Err(refused(&owner, "no property authorizes this CA, account and validation method"))
}

fn refused(owner: &Name, why: &str) -> Problem {
    problem(ProblemType::Caa, format!("CAA records at {owner} forbid issuance: {why}"))
}

/// The first non-empty CAA RRset climbing from `name` to the root.
fn relevant_rrset(view: &dyn CaaView, name: &Name) -> Result<Option<(Name, Vec<CAA>)>, Problem> {
    let mut current = name.clone();
    current.set_fqdn(true);
    loop {
        let rrset = view.caa_at(&current)?;
        if !rrset.is_empty() {
            return Ok(Some((current, rrset)));
        }
        if current.is_root() {
            return Ok(None);
        }
        current = current.base_name();
    }
}

fn known_tag(tag: &str) -> bool {
    ["issue", "issuewild", "iodef"].iter().any(|t| tag.eq_ignore_ascii_case(t))
}

/// The properties that decide: `issuewild` for a wildcard when any is
/// present, else `issue`.
fn applicable(rrset: &[CAA], wildcard: bool) -> Vec<&CAA> {
    let with = |tag: &str| rrset.iter().filter(|r| r.tag.eq_ignore_ascii_case(tag)).collect::<Vec<_>>();
    let wild = with("issuewild");
    if wildcard && !wild.is_empty() { wild } else { with("issue") }
}

/// Who asks: the CA, the account, the validation method.
struct Caller<'a> {
    ca_identity: &'a str,
    account_uri: &'a str,
    method: ValidationMethod,
}

impl Caller<'_> {
    /// Whether one `issue`/`issuewild` value authorizes this caller.
    fn authorized_by(&self, value: &[u8]) -> bool {
        let Some((issuer, params)) = parse_value(value) else {
            return false;
        };
        let issuer = issuer.trim_end_matches('.');
        !issuer.is_empty()
            && issuer.eq_ignore_ascii_case(self.ca_identity.trim_end_matches('.'))
            && params.iter().all(|(k, v)| self.parameter_ok(k, v))
    }

    /// RFC 8657 parameters; unknown parameters are ignored (RFC 8659 §4.2).
    fn parameter_ok(&self, key: &str, value: &str) -> bool {
        match key.to_ascii_lowercase().as_str() {
            "accounturi" => value == self.account_uri,
            "validationmethods" => match self.method {
                ValidationMethod::Challenge(kind) => value.split(',').any(|m| m.trim() == kind.as_str()),
                ValidationMethod::PreAuthorized => false,
            },
            _ => true,
        }
    }
}

/// `issuer-domain-name *(";" key "=" value)` (RFC 8659 §4.2), whitespace
/// around the parts allowed; `None` when malformed.
fn parse_value(value: &[u8]) -> Option<(String, Vec<(String, String)>)> {
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.split(';');
    let issuer = parts.next()?.trim().to_owned();
    let params = parts
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect::<Option<Vec<_>>>()?;
    let valid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    params.iter().all(|(k, _)| valid(k)).then_some((issuer, params))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::acme::dns::tests::name;
    use crate::acme::types::ChallengeType;

    const CA: &str = "ca.nameplate.test";
    const ACCT: &str = "https://acme.test/acme/acct/1";
    const DNS: ValidationMethod = ValidationMethod::Challenge(ChallengeType::Dns01);
    const HTTP: ValidationMethod = ValidationMethod::Challenge(ChallengeType::Http01);

    /// A zone `example.com.` with the given extra lines.
    fn zone(lines: &str) -> ZoneSet {
        let text = format!(
            "$ORIGIN example.com.\n@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 30\n@ 3600 IN NS ns1\n\
             ns1 300 IN A 192.0.2.1\n{lines}\n"
        );
        ZoneSet::new().with_zone(Arc::new(zones::zonefile::parse(&text, None).unwrap()))
    }

    fn check(zs: &ZoneSet, n: &str, wildcard: bool, method: ValidationMethod) -> Result<(), ProblemType> {
        check_caa(zs, &name(n), wildcard, CA, ACCT, method).map_err(|p| p.kind)
    }

    #[test]
    fn no_caa_allows() {
        assert_eq!(check(&zone(""), "www.example.com.", false, DNS), Ok(()));
    }

    #[test]
    fn issue_matching_and_not_matching() {
        let ok = zone(r#"@ IN CAA 0 issue "CA.Nameplate.Test.""#);
        assert_eq!(check(&ok, "a.b.example.com.", false, DNS), Ok(()));
        let other = zone(r#"@ IN CAA 0 issue "letsencrypt.org""#);
        assert_eq!(check(&other, "a.example.com.", false, DNS), Err(ProblemType::Caa));
        let nobody = zone(r#"@ IN CAA 0 issue ";""#);
        assert_eq!(check(&nobody, "a.example.com.", false, DNS), Err(ProblemType::Caa));
    }

    #[test]
    fn closest_rrset_wins_over_parent() {
        let zs = zone("@ IN CAA 0 issue \"ca.nameplate.test\"\nsub IN CAA 0 issue \"other.ca\"");
        assert_eq!(check(&zs, "x.sub.example.com.", false, DNS), Err(ProblemType::Caa));
        assert_eq!(check(&zs, "x.example.com.", false, DNS), Ok(()));
    }

    #[test]
    fn issuewild_takes_precedence_for_wildcards_only() {
        let zs = zone("@ IN CAA 0 issue \"ca.nameplate.test\"\n@ IN CAA 0 issuewild \";\"");
        assert_eq!(check(&zs, "app.example.com.", false, DNS), Ok(()));
        assert_eq!(check(&zs, "app.example.com.", true, DNS), Err(ProblemType::Caa));
        let issue_only = zone(r#"@ IN CAA 0 issue "other.ca""#);
        assert_eq!(check(&issue_only, "app.example.com.", true, DNS), Err(ProblemType::Caa));
        let iodef_only = zone(r#"@ IN CAA 0 iodef "mailto:sec@example.com""#);
        assert_eq!(check(&iodef_only, "app.example.com.", true, DNS), Ok(()));
    }

    #[test]
    fn accounturi_must_match() {
        let ok = zone(&format!(r#"@ IN CAA 0 issue "ca.nameplate.test; accounturi={ACCT}""#));
        assert_eq!(check(&ok, "a.example.com.", false, DNS), Ok(()));
        let other = zone(r#"@ IN CAA 0 issue "ca.nameplate.test; accounturi=https://acme.test/acme/acct/2""#);
        assert_eq!(check(&other, "a.example.com.", false, DNS), Err(ProblemType::Caa));
    }

    #[test]
    fn validationmethods_must_list_the_method_and_never_match_preauthorization() {
        let zs = zone(r#"@ IN CAA 0 issue "ca.nameplate.test; validationmethods=dns-01""#);
        assert_eq!(check(&zs, "a.example.com.", false, DNS), Ok(()));
        assert_eq!(check(&zs, "a.example.com.", false, HTTP), Err(ProblemType::Caa));
        assert_eq!(check(&zs, "a.example.com.", false, ValidationMethod::PreAuthorized), Err(ProblemType::Caa));
        let plain = zone(r#"@ IN CAA 0 issue "ca.nameplate.test""#);
        assert_eq!(check(&plain, "a.example.com.", false, ValidationMethod::PreAuthorized), Ok(()));
    }

    #[test]
    fn critical_unknown_tag_refuses_but_noncritical_is_ignored() {
        let crit = zone("@ IN CAA 0 issue \"ca.nameplate.test\"\n@ IN CAA 128 tbs \"x\"");
        assert_eq!(check(&crit, "a.example.com.", false, DNS), Err(ProblemType::Caa));
        let plain = zone("@ IN CAA 0 issue \"ca.nameplate.test\"\n@ IN CAA 0 tbs \"x\"");
        assert_eq!(check(&plain, "a.example.com.", false, DNS), Ok(()));
    }

    #[test]
    fn malformed_value_authorizes_nobody() {
        let zs = zone(r#"@ IN CAA 0 issue "ca.nameplate.test; novalue""#);
        assert_eq!(check(&zs, "a.example.com.", false, DNS), Err(ProblemType::Caa));
    }

    #[test]
    fn delegated_names_need_the_resolver() {
        let zs = zone("ext 3600 IN NS ns.other.net.");
        assert_eq!(check(&zs, "a.ext.example.com.", false, DNS), Err(ProblemType::Dns));
    }
}
