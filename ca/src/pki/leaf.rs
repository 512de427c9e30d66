//! Leaf issuance, which requires proof: an [`Approved`] that only the ACME
//! and policy code of this crate can make, and a durably [`ReservedSerial`].
//!
//! The issuer re-checks everything it can on its own: names non-empty and
//! under its permitted subtrees, lifetime within its maximum, key type.
//! The leaf: no CA, EKU serverAuth (+ clientAuth), KeyUsage
//! digitalSignature (+ keyEncipherment for RSA), SANs = the names, subject
//! CN = the first name when it fits in 64 characters (else an empty
//! subject), notBefore = now - 1 minute, notAfter = now + lifetime, AKI,
//! SKI and a CRL Distribution Point at the issuer's CRL URL.

use std::time::{Duration, SystemTime};

use rcgen::{
    CertificateParams, CrlDistributionPoint, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm,
};

use pem::{EncodeConfig, LineEnding, Pem};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair};
use yasna::Tag;

use super::Error;
use super::csr::{CheckedCsr, KeyKind};
use super::hierarchy::Issuer;
use super::store::{ReservedSerial, from_unix, unix};

/// Backdating of leaves, for relying parties whose clocks run behind.
const BACKDATE_SECS: u64 = 60;
/// Longest subject CN (RFC 5280 ub-common-name).
const CN_MAX: usize = 64;

/// Proof that validation and the policy check passed for these names,
/// this lifetime and these usages. Constructible only inside `ca`.
#[derive(Debug, Clone)]
pub struct Approved {
    names: Vec<String>,
    lifetime: Duration,
    client_auth: bool,
}

impl Approved {
    /// Records an approval; names are lowercased.
    pub(crate) fn new(names: Vec<String>, lifetime: Duration, client_auth: bool) -> Self {
        let names = names.into_iter().map(|n| n.to_ascii_lowercase()).collect();
        Approved { names, lifetime, client_auth }
    }

    /// The approved names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The approved lifetime.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Whether EKU clientAuth is approved beside serverAuth.
    pub fn client_auth(&self) -> bool {
        self.client_auth
    }
}

/// Key types the CA can generate for direct issuance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// ECDSA P-256.
    P256,
    /// ECDSA P-384.
    P384,
    /// Ed25519.
    Ed25519,
}

/// The subject public key of a leaf: from a checked CSR or generated here.
#[derive(Debug, Clone)]
pub struct LeafKey {
    alg: &'static SignatureAlgorithm,
    raw: Vec<u8>,
    kind: KeyKind,
}

impl LeafKey {
    /// The public key of a checked CSR.
    pub fn from_csr(csr: &CheckedCsr) -> Result<LeafKey, Error> {
        let spki = rcgen::SubjectPublicKeyInfo::from_der(csr.subject_public_key_info_der())?;
        let (alg, raw) = (spki.algorithm(), spki.der_bytes().to_vec());
        Ok(LeafKey { alg, raw, kind: csr.key_kind() })
    }

    /// Generates a key; returns it with its PKCS#8 private key PEM.
    ///
    /// ECDSA keys come from ring directly, with the public key read out of
    /// the PKCS#8 document ring makes: rcgen's `KeyPair::generate_for`
    /// would parse that document into a signing key, computing the public
    /// point a second time, for a key the CA never signs with.
    pub fn generate(key_type: KeyType) -> Result<(LeafKey, String), Error> {
        let (alg, kind, ring_alg) = match key_type {
            KeyType::P256 => (&rcgen::PKCS_ECDSA_P256_SHA256, KeyKind::P256, &ECDSA_P256_SHA256_ASN1_SIGNING),
            KeyType::P384 => (&rcgen::PKCS_ECDSA_P384_SHA384, KeyKind::P384, &ECDSA_P384_SHA384_ASN1_SIGNING),
            KeyType::Ed25519 => {
                let pair = KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
                let key =
                    LeafKey { alg: &rcgen::PKCS_ED25519, raw: pair.public_key_raw().to_vec(), kind: KeyKind::Ed25519 };
                return Ok((key, pair.serialize_pem()));
            }
        };
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(ring_alg, &SystemRandom::new()).map_err(|_| Error::Rng)?;
        let raw = ec_public_key(pkcs8.as_ref()).map_err(|_| rcgen::Error::CouldNotParseKeyPair)?;
        let pem = pem::encode_config(
            &Pem::new("PRIVATE KEY", pkcs8.as_ref()),
            EncodeConfig::new().set_line_ending(LineEnding::LF),
        );
        Ok((LeafKey { alg, raw, kind }, pem))
    }

    /// The kind of key.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }
}

/// The public point (SEC 1 uncompressed) of an ECDSA private key in a
/// PKCS#8 document (RFC 5208): the `publicKey` of its ECPrivateKey (RFC
/// 5915), which ring always includes.
fn ec_public_key(pkcs8: &[u8]) -> Result<Vec<u8>, yasna::ASN1Error> {
    let private_key = yasna::parse_der(pkcs8, |r| {
        r.read_sequence(|r| {
            r.next().read_u8()?;
            r.next().read_der()?;
            r.next().read_bytes()
        })
    })?;
    yasna::parse_der(&private_key, |r| {
        r.read_sequence(|r| {
            r.next().read_u8()?;
            r.next().read_bytes()?;
            r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_der()))?;
            let (point, _) = r.next().read_tagged(Tag::context(1), |r| r.read_bitvec_bytes())?;
            Ok(point)
        })
    })
}

impl PublicKeyData for LeafKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

/// A signed leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// Serial, big-endian bytes.
    pub serial: Vec<u8>,
    /// Serial, lowercase hex.
    pub serial_hex: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The certificate, PEM.
    pub pem: String,
    /// Start of validity (backdated one minute).
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Leaf then intermediate, PEM: the ACME certificate download.
    pub chain_pem: String,
}

impl Issuer {
    /// Signs a leaf after re-checking names, lifetime and key type.
    pub fn issue(
        &self,
        approval: Approved,
        key: LeafKey,
        serial: ReservedSerial,
        now: SystemTime,
    ) -> Result<IssuedCert, Error> {
        self.check(&approval, &key)?;
        let (not_before, not_after) = validity(now, approval.lifetime);
        let params = self.leaf_params(&approval, &key, &serial, not_before, not_after)?;
        let cert = params.signed_by(&key, &self.signer)?;
        let pem = cert.pem();
        let chain_pem = format!("{pem}{}", self.cert_pem);
        Ok(IssuedCert {
            serial: serial.bytes().to_vec(),
            serial_hex: serial.hex(),
            der: cert.der().to_vec(),
            pem,
            not_before,
            not_after,
            chain_pem,
        })
    }

    fn check(&self, approval: &Approved, key: &LeafKey) -> Result<(), Error> {
        if approval.names.is_empty() {
            return Err(Error::NoNames);
        }
        if let Some(name) = approval.names.iter().find(|n| !valid_dns_name(n)) {
            return Err(Error::BadName(name.clone()));
        }
        if let Some(name) = approval.names.iter().find(|n| !self.permits(n)) {
            return Err(Error::OutsideConstraints(name.clone()));
        }
        if approval.lifetime.is_zero() || approval.lifetime > self.max_lifetime {
            return Err(Error::Lifetime(approval.lifetime));
        }
        if !key.kind.acceptable() {
            return Err(Error::KeyNotAllowed(format!("{:?}", key.kind)));
        }
        Ok(())
    }

    /// Whether a name (or the base of a wildcard) lies in a permitted subtree.
    pub fn permits(&self, name: &str) -> bool {
        let base = name.strip_prefix("*.").unwrap_or(name);
        self.permitted.iter().any(|p| within(base, p))
    }

    fn leaf_params(
        &self,
        approval: &Approved,
        key: &LeafKey,
        serial: &ReservedSerial,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<CertificateParams, Error> {
        let mut params = CertificateParams::new(approval.names.clone())?;
        params.distinguished_name = subject(&approval.names);
        params.is_ca = IsCa::ExplicitNoCa;
        params.serial_number = Some(SerialNumber::from_slice(serial.bytes()));
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        params.key_usages = key_usages(key.kind);
        params.extended_key_usages = ekus(approval.client_auth);
        params.use_authority_key_identifier_extension = true;
        params.crl_distribution_points = vec![CrlDistributionPoint { uris: vec![self.crl_url.clone()] }];
        Ok(params)
    }
}

/// LDH labels of 1 to 63 characters, at most 253 in all; only the leftmost
/// label may be `*`.
pub(super) fn valid_dns_name(name: &str) -> bool {
    let base = name.strip_prefix("*.").unwrap_or(name);
    name.len() <= 253 && base.split('.').all(valid_label)
}

/// Whether `label` is a lowercase LDH label of 1 to 63 characters, not
/// starting or ending with `-` (also the ACME identifier check).
pub(crate) fn valid_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

fn within(name: &str, subtree: &str) -> bool {
    let Some(prefix) = name.strip_suffix(subtree) else { return false };
    prefix.is_empty() || (prefix.len() > 1 && prefix.ends_with('.'))
}

pub(super) fn validity(now: SystemTime, lifetime: Duration) -> (SystemTime, SystemTime) {
    let secs = unix(now);
    let not_before = from_unix(secs.saturating_sub(BACKDATE_SECS));
    (not_before, from_unix(secs) + Duration::from_secs(lifetime.as_secs()))
}

pub(super) fn subject(names: &[String]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Some(first) = names.first().filter(|n| n.len() <= CN_MAX) {
        dn.push(DnType::CommonName, first.as_str());
    }
    dn
}

fn key_usages(kind: KeyKind) -> Vec<KeyUsagePurpose> {
    match kind {
        KeyKind::Rsa { .. } => vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment],
        _ => vec![KeyUsagePurpose::DigitalSignature],
    }
}

fn ekus(client_auth: bool) -> Vec<ExtendedKeyUsagePurpose> {
    let mut ekus = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if client_auth {
        ekus.push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    ekus
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rcgen::{PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519};
    use x509_parser::prelude::{FromDer, X509Certificate};

    use super::super::testutil::{Fixture, MAX_LIFETIME, approved, fixture, openssl_csr, rcgen_csr, x509_text};
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn issue(fx: &Fixture, region: &str, approval: Approved, key: LeafKey) -> Result<IssuedCert, Error> {
        let serial = fx.store.reserve_serial().unwrap();
        fx.hierarchy.issuer(region).unwrap().issue(approval, key, serial, SystemTime::now())
    }

    fn assert_verifies(fx: &Fixture, region: &str, cert: &IssuedCert) {
        let (ok, text) = fx.verify(region, &cert.pem);
        assert!(ok && text.contains(": OK"), "{text}");
    }

    #[test]
    fn generated_keys_verify_with_openssl() {
        let fx = fixture();
        for key_type in [KeyType::P256, KeyType::P384, KeyType::Ed25519] {
            let (key, private_pem) = LeafKey::generate(key_type).unwrap();
            assert!(private_pem.contains("PRIVATE KEY"));
            let cert = issue(&fx, "default", approved(&["web.team.prod.apps.company.com"], HOUR), key).unwrap();
            assert_verifies(&fx, "default", &cert);
        }
    }

    #[test]
    fn generated_public_keys_are_those_of_the_private_keys() {
        for key_type in [KeyType::P256, KeyType::P384, KeyType::Ed25519] {
            let (key, private_pem) = LeafKey::generate(key_type).unwrap();
            let parsed = KeyPair::from_pem(&private_pem).unwrap();
            assert_eq!(key.der_bytes(), parsed.public_key_raw(), "{key_type:?}");
            assert_eq!(key.algorithm(), parsed.algorithm(), "{key_type:?}");
        }
    }

    #[test]
    fn csr_keys_verify_with_openssl() {
        let fx = fixture();
        let names = ["api.team.eu-apps.company.com", "www.apps.company.com"];
        let mut csrs: Vec<_> = [&PKCS_ECDSA_P256_SHA256, &PKCS_ECDSA_P384_SHA384, &PKCS_ED25519]
            .into_iter()
            .map(|alg| rcgen_csr(alg, &names))
            .collect();
        csrs.push(openssl_csr(fx.dir.path(), &["-newkey", "rsa:2048"], &names));
        for der in csrs {
            let csr = CheckedCsr::parse(&der).unwrap();
            let key = LeafKey::from_csr(&csr).unwrap();
            let cert = issue(&fx, "eu", approved(&names, HOUR), key).unwrap();
            assert_verifies(&fx, "eu", &cert);
            let (_, parsed) = X509Certificate::from_der(&cert.der).unwrap();
            assert_eq!(parsed.public_key().raw, csr.subject_public_key_info_der());
        }
    }

    #[test]
    fn leaf_extensions_as_specified() {
        let fx = fixture();
        let (key, _) = LeafKey::generate(KeyType::P256).unwrap();
        let approval = Approved::new(vec!["Mtls.apps.company.com".into()], HOUR, true);
        let cert = issue(&fx, "default", approval, key).unwrap();
        let text = x509_text(&fx, &cert.pem);
        assert!(text.contains("URI:https://localhost:8443/ca/crl/default.crl"), "{text}");
        assert!(text.contains("TLS Web Server Authentication, TLS Web Client Authentication"), "{text}");
        assert!(text.contains("CA:FALSE") && text.contains("Digital Signature"), "{text}");
        assert!(text.contains("DNS:mtls.apps.company.com") && text.contains("CN = mtls.apps.company.com"), "{text}");
        assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
        assert!(
            cert.chain_pem.starts_with(&cert.pem)
                && cert.chain_pem.ends_with(fx.hierarchy.chain_pem("default").unwrap())
        );
    }

    #[test]
    fn validity_is_backdated_and_serial_is_the_reserved_one() {
        let fx = fixture();
        let (key, _) = LeafKey::generate(KeyType::P256).unwrap();
        let serial = fx.store.reserve_serial().unwrap();
        let hex = serial.hex();
        let now = from_unix(1_900_000_000);
        let issuer = fx.hierarchy.issuer("default").unwrap();
        let cert = issuer.issue(approved(&["a.apps.company.com"], HOUR), key, serial, now).unwrap();
        let (_, parsed) = X509Certificate::from_der(&cert.der).unwrap();
        assert_eq!(parsed.validity().not_before.timestamp(), 1_900_000_000 - 60);
        assert_eq!(parsed.validity().not_after.timestamp(), 1_900_000_000 + 3600);
        assert_eq!((unix(cert.not_before), unix(cert.not_after)), (1_900_000_000 - 60, 1_900_003_600));
        assert_eq!(HEXLOWER_ENC.encode(parsed.raw_serial()), hex);
        assert_eq!(cert.serial_hex, hex);
    }

    use data_encoding::HEXLOWER as HEXLOWER_ENC;

    #[test]
    fn names_outside_constraints_are_refused() {
        let fx = fixture();
        for name in ["evil.example.com", "eu-apps.company.com", "xapps.company.com", "apps.company.com.evil.com"] {
            let (key, _) = LeafKey::generate(KeyType::P256).unwrap();
            let err = issue(&fx, "default", approved(&["ok.apps.company.com", name], HOUR), key).unwrap_err();
            assert!(matches!(&err, Error::OutsideConstraints(n) if n == name), "{err}");
        }
        let issuer = fx.hierarchy.issuer("eu").unwrap();
        assert!(issuer.permits("*.x.eu-apps.company.com") && issuer.permits("apps.company.com"));
    }

    #[test]
    fn malformed_names_are_refused() {
        let fx = fixture();
        for name in [
            "a..apps.company.com",
            "a*.apps.company.com",
            "x.*.apps.company.com",
            "-a.apps.company.com",
            "a_b.apps.company.com",
        ] {
            let (key, _) = LeafKey::generate(KeyType::P256).unwrap();
            let err = issue(&fx, "default", approved(&[name], HOUR), key).unwrap_err();
            assert!(matches!(&err, Error::BadName(n) if n == name), "{err}");
        }
        let (key, _) = LeafKey::generate(KeyType::P256).unwrap();
        let wildcard = issue(&fx, "default", approved(&["*.team.apps.company.com"], HOUR), key).unwrap();
        assert_verifies(&fx, "default", &wildcard);
    }

    #[test]
    fn empty_names_and_bad_lifetimes_are_refused() {
        let fx = fixture();
        let key = || LeafKey::generate(KeyType::P256).unwrap().0;
        let empty = issue(&fx, "default", approved(&[], HOUR), key());
        assert!(matches!(empty, Err(Error::NoNames)));
        let names = ["a.apps.company.com"];
        let long = issue(&fx, "default", approved(&names, MAX_LIFETIME + HOUR), key());
        assert!(matches!(long, Err(Error::Lifetime(_))));
        let zero = issue(&fx, "default", approved(&names, Duration::ZERO), key());
        assert!(matches!(zero, Err(Error::Lifetime(_))));
        assert!(issue(&fx, "default", approved(&names, MAX_LIFETIME), key()).is_ok());
    }

    #[test]
    fn name_constraints_stop_a_leaked_intermediate() {
        let fx = fixture();
        let issuer = fx.hierarchy.issuer("default").unwrap();
        let (key, _) = LeafKey::generate(KeyType::P256).unwrap();
        let mut params = CertificateParams::new(vec!["evil.example.com".to_string()]).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        let evil = params.signed_by(&key, &issuer.signer).unwrap();
        let (ok, text) = fx.verify("default", &evil.pem());
        assert!(!ok, "{text}");
        assert!(text.contains("permitted subtree violation"), "{text}");
    }

    /// Rough issuance rate (dev profile; for orientation only).
    #[test]
    #[ignore]
    fn measure_issuance_rate() {
        let fx = fixture();
        let issuer = fx.hierarchy.issuer("default").unwrap();
        let (key, _) = LeafKey::generate(KeyType::P256).unwrap();
        let n = 2000u32;
        let start = std::time::Instant::now();
        for i in 0..n {
            let approval = approved(&[&format!("h{i}.apps.company.com")], HOUR);
            let serial = ReservedSerial::for_bench(i);
            issuer.issue(approval, key.clone(), serial, SystemTime::now()).unwrap();
        }
        let rate = f64::from(n) / start.elapsed().as_secs_f64();
        println!("{rate:.0} leaves/s signing only (no store), one core");
        assert!(rate > 0.0);
    }
}
