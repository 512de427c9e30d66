//! Challenge validation (RFC 8555 §8.3 http-01, §8.4 dns-01) as plain
//! functions over the [`Resolver`] and the [`HttpFetch`] seam.
//!
//! Problem types: a name we cannot look up is `dns`; no TXT record at all is
//! `unauthorized` (as Boulder); a TXT or HTTP body that does not match is
//! `incorrectResponse`; an HTTP target that cannot be reached is `connection`.

use std::net::{IpAddr, SocketAddr};

use zones::Name;

use super::dns::Resolver;
use super::error::problem;
use super::problem::{Problem, ProblemType};
use super::types::{dns01_txt_value, key_authorization};

/// The HTTP GET of an http-01 challenge; implemented by the edge (blocking,
/// bounded in time and body size, redirects per RFC 8555 §8.3).
pub trait HttpFetch {
    /// The body of `http://<host>/.well-known/acme-challenge/<token>` fetched
    /// from `addr`; a `connection` problem when it cannot be fetched.
    fn get(&self, addr: SocketAddr, host: &str, token: &str) -> Result<String, Problem>;
}

/// The owner name of the dns-01 TXT record for `name`.
pub fn dns01_name(name: &Name) -> Result<Name, Problem> {
    Name::from_ascii("_acme-challenge")
        .and_then(|label| label.append_domain(name))
        .map_err(|_| problem(ProblemType::Dns, format!("{name} is too long for a dns-01 challenge")))
}

/// Validates dns-01 for `name` (the authorization's, never `*.x`).
pub fn validate_dns01(dns: Resolver<'_>, name: &Name, token: &str, thumbprint: &str) -> Result<(), Problem> {
    let owner = dns01_name(name)?;
    let values = dns.txt(&owner)?;
    if values.is_empty() {
        return Err(problem(ProblemType::Unauthorized, format!("no TXT record found at {owner}")));
    }
    let expected = dns01_txt_value(token, thumbprint);
    if values.iter().any(|v| v == &expected) {
        return Ok(());
    }
    Err(problem(ProblemType::IncorrectResponse, format!("no TXT record at {owner} holds the expected value")))
}

/// Validates http-01 for `name` on `port`, trying its addresses in order
/// (IPv6 first) until one answers.
pub fn validate_http01(
    dns: Resolver<'_>,
    http: &dyn HttpFetch,
    port: u16,
    name: &Name,
    token: &str,
    thumbprint: &str,
) -> Result<(), Problem> {
    let addrs = dns.addresses(name)?;
    let host = name.to_ascii().trim_end_matches('.').to_owned();
    let mut last = problem(ProblemType::Dns, format!("no A or AAAA record found for {host}"));
    for addr in addrs.into_iter().filter(|a| fetchable(*a)) {
        match http.get(SocketAddr::new(addr, port), &host, token) {
            Ok(body) => return compare_body(&body, token, thumbprint),
            Err(p) => last = p,
        }
    }
    Err(last)
}

/// The body must be the key authorization, trailing whitespace aside.
fn compare_body(body: &str, token: &str, thumbprint: &str) -> Result<(), Problem> {
    if body.trim_end() == key_authorization(token, thumbprint) {
        Ok(())
    } else {
        Err(problem(ProblemType::IncorrectResponse, "the http-01 response is not the key authorization"))
    }
}

/// Whether `addr` may be the target of an http-01 fetch: not loopback,
/// unspecified or multicast (defence against probing the CA host itself).
pub(crate) fn fetchable(addr: IpAddr) -> bool {
    !(addr.is_loopback() || addr.is_unspecified() || addr.is_multicast())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::cell::RefCell;
    use std::sync::Arc;

    use super::*;
    use crate::acme::dns::NoExternalDns;
    use crate::acme::dns::tests::name;

    const ZONE: &str = r#"$ORIGIN example.com.
@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 30
@ 3600 IN NS ns1
ns1 300 IN A 192.0.2.1
_acme-challenge.ok 60 IN TXT "sYAwVrqDtVOuJZvAHurSAYPoEt5fFV_C4bdSOOW-o5Y"
_acme-challenge.ok 60 IN TXT "stale"
_acme-challenge.bad 60 IN TXT "stale"
_acme-challenge.via 60 IN CNAME _acme-challenge.ok
www 300 IN AAAA 2001:db8::80
www 300 IN A 192.0.2.80
"#;

    fn zones() -> zones::ZoneSet {
        zones::ZoneSet::new().with_zone(Arc::new(zones::zonefile::parse(ZONE, None).unwrap()))
    }

    fn dns01(zs: &zones::ZoneSet, n: &str) -> Result<(), Problem> {
        validate_dns01(Resolver { view: zs, external: &NoExternalDns }, &name(n), "tok", "thumb")
    }

    #[test]
    fn dns01_success_failure_and_cname() {
        let zs = zones();
        assert_eq!(dns01(&zs, "ok.example.com."), Ok(()));
        assert_eq!(dns01(&zs, "via.example.com."), Ok(()));
        assert_eq!(dns01(&zs, "bad.example.com.").unwrap_err().kind, ProblemType::IncorrectResponse);
        assert_eq!(dns01(&zs, "none.example.com.").unwrap_err().kind, ProblemType::Unauthorized);
        assert_eq!(dns01(&zs, "x.example.net.").unwrap_err().kind, ProblemType::Dns);
    }

    /// Answers with `body` from `ok_addr`, refuses every other address.
    struct Fake {
        ok_addr: SocketAddr,
        body: &'static str,
        asked: RefCell<Vec<SocketAddr>>,
    }

    impl HttpFetch for Fake {
        fn get(&self, addr: SocketAddr, host: &str, token: &str) -> Result<String, Problem> {
            assert_eq!((host, token), ("www.example.com", "tok"));
            self.asked.borrow_mut().push(addr);
            if addr == self.ok_addr { Ok(self.body.into()) } else { Err(problem(ProblemType::Connection, "refused")) }
        }
    }

    fn http01(ok_addr: &str, body: &'static str) -> (Result<(), Problem>, Vec<SocketAddr>) {
        let zs = zones();
        let fake = Fake { ok_addr: ok_addr.parse().unwrap(), body, asked: RefCell::default() };
        let dns = Resolver { view: &zs, external: &NoExternalDns };
        let got = validate_http01(dns, &fake, 8080, &name("www.example.com."), "tok", "thumb");
        (got, fake.asked.into_inner())
    }

    #[test]
    fn http01_falls_back_to_v4_and_trims_trailing_whitespace() {
        let (got, asked) = http01("192.0.2.80:8080", "tok.thumb\r\n ");
        assert_eq!(got, Ok(()));
        assert_eq!(asked.len(), 2);
        assert_eq!(asked[0], "[2001:db8::80]:8080".parse().unwrap());
    }

    #[test]
    fn http01_wrong_body_and_unreachable() {
        assert_eq!(http01("192.0.2.80:8080", " tok.thumb").0.unwrap_err().kind, ProblemType::IncorrectResponse);
        assert_eq!(http01("192.0.2.99:8080", "tok.thumb").0.unwrap_err().kind, ProblemType::Connection);
    }

    #[test]
    fn loopback_is_not_fetchable() {
        assert!(!fetchable("127.0.0.1".parse().unwrap()));
        assert!(fetchable("192.0.2.80".parse().unwrap()));
    }
}
