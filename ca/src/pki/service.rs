//! The issuer of nameplate's own HTTPS certificate.
//!
//! The region intermediates may sign only for the platform zones, and
//! `localhost` or `127.0.0.1` lie outside them, as they should. So the
//! listener's certificate comes from a third kind of intermediate: the
//! *service issuer*, made by the root at every start for the configured
//! service names and held in memory only (its key is never written; a
//! restart makes a new one). Its critical name constraints permit exactly
//! those names: each DNS name as a dNSName subtree, each IP address as a
//! single-address iPAddress subtree; with no IP address among the names,
//! all addresses are excluded, since an unconstrained name form would
//! otherwise be open.
//!
//! Its leaves: ECDSA P-256 keys generated here, EKU serverAuth, SANs = the
//! service names (IP addresses as iPAddress SANs), a random serial. They
//! carry no CRL distribution point: a compromised listener key is answered
//! by a restart, which replaces issuer and leaf alike.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose, NameConstraints, SerialNumber,
};

use super::Error;
use super::keys::generate_p256;
use super::leaf::{subject, valid_dns_name, validity};
use super::store::random_serial;

/// The service issuer's own validity; it outlives any run between restarts.
const SERVICE_ISSUER_VALIDITY: Duration = Duration::from_secs(3 * 365 * 24 * 3600);
/// Backdating of the service issuer, for clock skew.
const SERVICE_ISSUER_BACKDATE: Duration = Duration::from_secs(3600);

/// An in-memory intermediate that signs only nameplate's own certificate.
pub struct ServiceIssuer {
    names: Vec<String>,
    signer: rcgen::Issuer<'static, KeyPair>,
    cert_der: Vec<u8>,
}

impl std::fmt::Debug for ServiceIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceIssuer").field("names", &self.names).finish_non_exhaustive()
    }
}

/// A certificate for the listener, with its key.
pub struct ServiceCert {
    /// Leaf then service issuer, DER.
    pub chain_der: Vec<Vec<u8>>,
    /// The leaf's private key, PKCS#8 DER.
    pub key_pkcs8_der: Vec<u8>,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

impl std::fmt::Debug for ServiceCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCert")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl ServiceIssuer {
    /// Makes a service issuer for `names`, signed by `root`.
    pub(crate) fn new(
        ca_name: &str,
        names: &[String],
        root: &rcgen::Issuer<'_, KeyPair>,
        now: SystemTime,
    ) -> Result<ServiceIssuer, Error> {
        let names = checked_names(names)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, ca_name);
        dn.push(DnType::CommonName, format!("{ca_name} Service CA"));
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        params.use_authority_key_identifier_extension = true;
        params.not_before = (now - SERVICE_ISSUER_BACKDATE).into();
        params.not_after = (now + SERVICE_ISSUER_VALIDITY).into();
        params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
        params.name_constraints = Some(constraints(&names));
        let key = generate_p256()?;
        let cert = params.signed_by(&key, root)?;
        let cert_der = cert.der().to_vec();
        let signer = rcgen::Issuer::from_ca_cert_der(&cert_der.clone().into(), key)?;
        Ok(ServiceIssuer { names, signer, cert_der })
    }

    /// The names (DNS names and IP addresses) this issuer certifies.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The service issuer's certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// Signs a fresh certificate for all the service names, valid for
    /// `lifetime` from `now` (backdated one minute), with a new key.
    pub fn issue(&self, lifetime: Duration, now: SystemTime) -> Result<ServiceCert, Error> {
        if lifetime.is_zero() || lifetime > SERVICE_ISSUER_VALIDITY {
            return Err(Error::Lifetime(lifetime));
        }
        let (not_before, not_after) = validity(now, lifetime);
        let mut params = CertificateParams::new(self.names.clone())?;
        params.distinguished_name = subject(&self.names);
        params.is_ca = IsCa::ExplicitNoCa;
        params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = generate_p256()?;
        let cert = params.signed_by(&key, &self.signer)?;
        Ok(ServiceCert {
            chain_der: vec![cert.der().to_vec(), self.cert_der.clone()],
            key_pkcs8_der: key.serialize_der(),
            not_before,
            not_after,
        })
    }
}

/// The names lowercased, each an IP address or a DNS name (no wildcards);
/// at least one.
fn checked_names(names: &[String]) -> Result<Vec<String>, Error> {
    if names.is_empty() {
        return Err(Error::Spec("the service issuer needs at least one name".into()));
    }
    names
        .iter()
        .map(|name| {
            let name = name.trim().to_ascii_lowercase();
            let ok = name.parse::<IpAddr>().is_ok() || (!name.starts_with("*.") && valid_dns_name(&name));
            if ok { Ok(name) } else { Err(Error::Spec(format!("bad service name {name:?}"))) }
        })
        .collect()
}

/// Permits exactly `names`. The iPAddress form is constrained as soon as
/// one address is permitted; with none, every address is excluded, since
/// an unconstrained name form would be open.
fn constraints(names: &[String]) -> NameConstraints {
    let permitted: Vec<GeneralSubtree> = names.iter().map(|n| subtree(n)).collect();
    let mut excluded = Vec::new();
    if !permitted.iter().any(|t| matches!(t, GeneralSubtree::IpAddress(_))) {
        for any in [IpAddr::from([0u8; 4]), IpAddr::from([0u16; 8])] {
            excluded.push(GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(any, 0)));
        }
    }
    NameConstraints { permitted_subtrees: permitted, excluded_subtrees: excluded }
}

/// The permitted subtree of exactly `name`: a single address or a DNS name.
fn subtree(name: &str) -> GeneralSubtree {
    match name.parse::<IpAddr>() {
        Ok(ip @ IpAddr::V4(_)) => GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(ip, 32)),
        Ok(ip @ IpAddr::V6(_)) => GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(ip, 128)),
        Err(_) => GeneralSubtree::DnsName(name.to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rcgen::CertificateParams;

    use super::super::Hierarchy;
    use super::super::testutil::{Fixture, fixture, openssl, s, spec};
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn service_fixture(names: &[&str]) -> Fixture {
        let mut fx = fixture();
        let spec =
            super::super::HierarchySpec { service_names: names.iter().map(|n| n.to_string()).collect(), ..spec() };
        fx.hierarchy = Hierarchy::load_or_create(&fx.dir.path().join("ca"), &spec, SystemTime::now()).unwrap();
        fx
    }

    fn pem(label: &str, der: &[u8]) -> String {
        let body = data_encoding::BASE64.encode(der);
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
    }

    /// `openssl verify` of `leaf` against the root with the service issuer
    /// as the untrusted intermediate, for `host` or `ip`.
    fn verify(fx: &Fixture, leaf_der: &[u8], check: &[&str]) -> (bool, String) {
        let service = fx.hierarchy.service().unwrap();
        let root = fx.write("root.pem", fx.hierarchy.root_pem());
        let chain = fx.write("service.pem", pem("CERTIFICATE", service.cert_der()));
        let leaf = fx.write("leaf.pem", pem("CERTIFICATE", leaf_der));
        let mut args = vec!["verify", "-CAfile", s(&root), "-untrusted", s(&chain)];
        args.extend_from_slice(check);
        args.push(s(&leaf));
        openssl(&args)
    }

    #[test]
    fn the_listener_certificate_verifies_for_each_name() {
        let fx = service_fixture(&["LocalHost", "127.0.0.1"]);
        let service = fx.hierarchy.service().unwrap();
        assert_eq!(service.names(), ["localhost", "127.0.0.1"]);
        let cert = service.issue(24 * HOUR, SystemTime::now()).unwrap();
        assert_eq!(cert.chain_der.len(), 2);
        assert_eq!(cert.chain_der[1], service.cert_der());
        assert_eq!(cert.not_after.duration_since(cert.not_before).unwrap(), 24 * HOUR + Duration::from_secs(60));
        for check in [["-verify_hostname", "localhost"], ["-verify_ip", "127.0.0.1"]] {
            let (ok, text) = verify(&fx, &cert.chain_der[0], &check);
            assert!(ok && text.contains(": OK"), "{check:?}: {text}");
        }
        let (ok, text) = verify(&fx, &cert.chain_der[0], &["-verify_hostname", "other.example"]);
        assert!(!ok, "{text}");
        let key = KeyPair::try_from(cert.key_pkcs8_der.as_slice()).unwrap();
        let (_, leaf) = x509_parser::parse_x509_certificate(&cert.chain_der[0]).unwrap();
        assert_eq!(leaf.public_key().subject_public_key.data.as_ref(), key.public_key_raw());
    }

    #[test]
    fn the_service_issuer_cannot_sign_for_other_names() {
        let cases = [(&["localhost", "127.0.0.1"][..], "apps.company.com"), (&["localhost", "127.0.0.1"], "127.0.0.2")];
        let more = [(&["localhost", "127.0.0.1"][..], "::1"), (&["localhost"], "127.0.0.1")];
        for (names, other) in cases.into_iter().chain(more) {
            let fx = service_fixture(names);
            let signer = &fx.hierarchy.service().unwrap().signer;
            let key = generate_p256().unwrap();
            let mut params = CertificateParams::new(vec![other.to_owned()]).unwrap();
            params.distinguished_name = DistinguishedName::new();
            params.use_authority_key_identifier_extension = true;
            let evil = params.signed_by(&key, signer).unwrap();
            let (ok, text) = verify(&fx, evil.der(), &[]);
            assert!(!ok, "{other}: {text}");
            assert!(text.contains("subtree violation"), "{other}: {text}");
        }
    }

    #[test]
    fn no_service_names_no_service_issuer_and_bad_names_are_refused() {
        assert!(fixture().hierarchy.service().is_none());
        let fx = fixture();
        for bad in [vec![], vec!["*.localhost".to_owned()], vec!["bad name".to_owned()]] {
            let spec = super::super::HierarchySpec { service_names: bad.clone(), ..spec() };
            let made = Hierarchy::load_or_create(&fx.dir.path().join("ca"), &spec, SystemTime::now());
            assert_eq!(made.is_err(), !bad.is_empty(), "{bad:?}");
        }
    }
}
