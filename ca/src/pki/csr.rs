//! CSR parsing and checks: self-signature, key type and size, names.
//!
//! The key is classified before the signature is verified, so a weak RSA
//! key reports [`CsrError::WeakKey`] rather than a verification failure.

use std::collections::BTreeSet;

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Smallest accepted RSA modulus.
const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus the verifier handles.
const RSA_MAX_BITS: usize = 8192;

/// Why a CSR was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrError {
    /// Not a DER PKCS#10 request.
    #[error("malformed CSR")]
    Malformed,
    /// The self-signature does not verify.
    #[error("CSR signature does not verify")]
    BadSignature,
    /// A known key type, but too weak (e.g. RSA below 2048 bits).
    #[error("weak key: {0}")]
    WeakKey(String),
    /// A key type or curve we do not certify.
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    /// The CSR names nothing.
    #[error("CSR has no DNS names")]
    NoNames,
    /// A subjectAltName that is not a usable DNS name.
    #[error("unsupported name in CSR: {0}")]
    BadName(String),
    /// The subject CN is not among the SANs.
    #[error("CN {0} is not among the subjectAltNames")]
    CnNotInSans(String),
}

/// The kind of a subject public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// ECDSA on P-256.
    P256,
    /// ECDSA on P-384.
    P384,
    /// Ed25519.
    Ed25519,
    /// RSA with a modulus of this many bits.
    Rsa {
        /// Modulus size.
        bits: usize,
    },
}

impl KeyKind {
    /// Whether the CA certifies this kind of key.
    pub fn acceptable(self) -> bool {
        match self {
            KeyKind::Rsa { bits } => (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits),
            _ => true,
        }
    }
}

/// A CSR whose signature, key and names have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedCsr {
    names: Vec<String>,
    key_kind: KeyKind,
    spki_der: Vec<u8>,
}

impl CheckedCsr {
    /// Parses and checks a DER CSR.
    pub fn parse(der: &[u8]) -> Result<CheckedCsr, CsrError> {
        let (rest, csr) = X509CertificationRequest::from_der(der).map_err(|_| CsrError::Malformed)?;
        if !rest.is_empty() {
            return Err(CsrError::Malformed);
        }
        let spki = &csr.certification_request_info.subject_pki;
        let key_kind = classify(spki)?;
        csr.verify_signature().map_err(|_| CsrError::BadSignature)?;
        let names = names(&csr)?;
        Ok(CheckedCsr { names, key_kind, spki_der: spki.raw.to_vec() })
    }

    /// The requested DNS names, lowercased, deduplicated, sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The kind of the subject key.
    pub fn key_kind(&self) -> KeyKind {
        self.key_kind
    }

    /// The subject public key info, DER.
    pub fn subject_public_key_info_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Whether the CSR names exactly this set of names (case-insensitive).
    pub fn matches(&self, names: &[String]) -> bool {
        let wanted: BTreeSet<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        wanted.iter().eq(self.names.iter())
    }
}

fn classify(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyKind, CsrError> {
    let alg = &spki.algorithm.algorithm;
    if *alg == OID_SIG_ED25519 {
        Ok(KeyKind::Ed25519)
    } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        classify_curve(spki)
    } else if *alg == OID_PKCS1_RSAENCRYPTION {
        classify_rsa(spki)
    } else {
        Err(CsrError::UnsupportedKey(alg.to_id_string()))
    }
}

fn classify_curve(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyKind, CsrError> {
    let params = spki.algorithm.parameters.as_ref();
    let curve = params.and_then(|p| p.as_oid().ok());
    match curve {
        Some(c) if c == OID_EC_P256 => Ok(KeyKind::P256),
        Some(c) if c == OID_NIST_EC_P384 => Ok(KeyKind::P384),
        Some(c) => Err(CsrError::UnsupportedKey(format!("curve {}", c.to_id_string()))),
        None => Err(CsrError::UnsupportedKey("EC key without named curve".into())),
    }
}

fn classify_rsa(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyKind, CsrError> {
    let Ok(PublicKey::RSA(rsa)) = spki.parsed() else {
        return Err(CsrError::Malformed);
    };
    let bits = modulus_bits(rsa.modulus);
    if bits < RSA_MIN_BITS {
        return Err(CsrError::WeakKey(format!("RSA {bits} bits")));
    }
    if bits > RSA_MAX_BITS {
        return Err(CsrError::UnsupportedKey(format!("RSA {bits} bits")));
    }
    Ok(KeyKind::Rsa { bits })
}

fn modulus_bits(modulus: &[u8]) -> usize {
    let start = modulus.iter().position(|b| *b != 0).unwrap_or(modulus.len());
    let significant = &modulus[start..];
    significant.first().map_or(0, |first| significant.len() * 8 - first.leading_zeros() as usize)
}

fn names(csr: &X509CertificationRequest<'_>) -> Result<Vec<String>, CsrError> {
    let mut names = BTreeSet::new();
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            for general in &san.general_names {
                names.insert(dns_name(general)?);
            }
        }
    }
    check_cn(csr, &names)?;
    if names.is_empty() {
        return Err(CsrError::NoNames);
    }
    Ok(names.into_iter().collect())
}

fn dns_name(general: &GeneralName<'_>) -> Result<String, CsrError> {
    let GeneralName::DNSName(name) = general else {
        return Err(CsrError::BadName(general.to_string()));
    };
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*' | '_');
    if name.is_empty() || name.len() > 253 || !name.chars().all(ok) {
        return Err(CsrError::BadName((*name).to_string()));
    }
    Ok(name.trim_end_matches('.').to_ascii_lowercase())
}

fn check_cn(csr: &X509CertificationRequest<'_>, names: &BTreeSet<String>) -> Result<(), CsrError> {
    for cn in csr.certification_request_info.subject.iter_common_name() {
        let cn = cn.as_str().map_err(|_| CsrError::Malformed)?.to_ascii_lowercase();
        if !names.contains(&cn) {
            return Err(CsrError::CnNotInSans(cn));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rcgen::{PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519};

    use super::super::testutil::{openssl_csr, rcgen_csr};
    use super::*;

    #[test]
    fn classifies_rcgen_keys_and_lowercases_names() {
        let cases = [
            (&PKCS_ECDSA_P256_SHA256, KeyKind::P256),
            (&PKCS_ECDSA_P384_SHA384, KeyKind::P384),
            (&PKCS_ED25519, KeyKind::Ed25519),
        ];
        for (alg, kind) in cases {
            let der = rcgen_csr(alg, &["B.apps.company.com", "a.apps.company.com"]);
            let csr = CheckedCsr::parse(&der).unwrap();
            assert_eq!(csr.key_kind(), kind);
            assert_eq!(csr.names(), ["a.apps.company.com", "b.apps.company.com"]);
        }
    }

    #[test]
    fn rsa_2048_accepted_and_1024_weak() {
        let dir = tempfile::tempdir().unwrap();
        let strong = openssl_csr(dir.path(), &["-newkey", "rsa:2048"], &["x.apps.company.com"]);
        let kind = CheckedCsr::parse(&strong).unwrap().key_kind();
        assert_eq!(kind, KeyKind::Rsa { bits: 2048 });
        let weak = openssl_csr(dir.path(), &["-newkey", "rsa:1024"], &["x.apps.company.com"]);
        assert!(matches!(CheckedCsr::parse(&weak), Err(CsrError::WeakKey(_))));
    }

    #[test]
    fn other_curve_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let args = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp521r1"];
        let der = openssl_csr(dir.path(), &args, &["x.apps.company.com"]);
        assert!(matches!(CheckedCsr::parse(&der), Err(CsrError::UnsupportedKey(_))));
    }

    #[test]
    fn flipped_signature_byte_is_rejected() {
        let mut der = rcgen_csr(&PKCS_ECDSA_P256_SHA256, &["x.apps.company.com"]);
        let last = der.len() - 5;
        der[last] ^= 0x01;
        assert_eq!(CheckedCsr::parse(&der), Err(CsrError::BadSignature));
        let mut ed = rcgen_csr(&PKCS_ED25519, &["x.apps.company.com"]);
        let last = ed.len() - 1;
        ed[last] ^= 0x80;
        assert_eq!(CheckedCsr::parse(&ed), Err(CsrError::BadSignature));
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(CheckedCsr::parse(b"\x30\x03\x02\x01\x00"), Err(CsrError::Malformed));
        let mut der = rcgen_csr(&PKCS_ED25519, &["x.apps.company.com"]);
        der.push(0);
        assert_eq!(CheckedCsr::parse(&der), Err(CsrError::Malformed));
    }

    #[test]
    fn cn_must_be_among_sans() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        let out = dir.path().join("c.der");
        let args = [
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-keyout",
            key.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            out.to_str().unwrap(),
            "-subj",
            "/CN=other.apps.company.com",
            "-addext",
            "subjectAltName=DNS:x.apps.company.com",
        ];
        let (ok, text) = super::super::testutil::openssl(&args);
        assert!(ok, "{text}");
        let err = CheckedCsr::parse(&std::fs::read(out).unwrap()).unwrap_err();
        assert_eq!(err, CsrError::CnNotInSans("other.apps.company.com".into()));
    }

    #[test]
    fn matches_is_set_equality() {
        let der = rcgen_csr(&PKCS_ECDSA_P256_SHA256, &["a.apps.company.com", "b.apps.company.com"]);
        let csr = CheckedCsr::parse(&der).unwrap();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(csr.matches(&names(&["B.apps.company.com", "a.apps.company.com", "a.apps.company.com"])));
        assert!(!csr.matches(&names(&["a.apps.company.com"])));
        assert!(!csr.matches(&names(&["a.apps.company.com", "b.apps.company.com", "c.apps.company.com"])));
    }

    #[test]
    fn modulus_bits_ignores_leading_zeros() {
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0x01, 0xff]), 9);
        assert_eq!(modulus_bits(&[]), 0);
    }
}
