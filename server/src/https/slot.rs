//! The current certificate of the HTTPS listener, swappable at run time.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::Error;

/// The TLS server configuration for a slot: TLS 1.3 and 1.2 with the ring
/// provider, no client authentication, ALPN `h2` then `http/1.1`, and the
/// slot as the certificate resolver.
pub fn server_config(slot: Arc<CertSlot>) -> Result<Arc<ServerConfig>, Error> {
    let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions)?
        .with_no_client_auth()
        .with_cert_resolver(slot);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The validity period of a certificate (RFC 5280 4.1.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// The first instant the certificate is valid.
    pub not_before: SystemTime,
    /// The last instant the certificate is valid.
    pub not_after: SystemTime,
}

/// Holds the certificate chain and key the listener presents, and lets the
/// renewal swap them while handshakes go on.
pub struct CertSlot {
    current: ArcSwap<Current>,
}

/// One loaded certificate: what rustls needs, and the leaf's validity.
struct Current {
    key: Arc<CertifiedKey>,
    validity: Validity,
}

impl CertSlot {
    /// A slot holding `chain` (leaf first) and its private key (PKCS#8,
    /// SEC1 or PKCS#1; ECDSA P-256/P-384, Ed25519 or RSA). The key must
    /// belong to the leaf.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<Self, Error> {
        Ok(Self { current: ArcSwap::from_pointee(Current::load(chain, key)?) })
    }

    /// Presents `chain` and `key` from the next handshake on. On error the
    /// slot keeps the certificate it had.
    pub fn replace(&self, chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<(), Error> {
        self.current.store(Arc::new(Current::load(chain, key)?));
        Ok(())
    }

    /// Takes over the certificate `other` holds (loaded and checked).
    pub(super) fn adopt(&self, other: CertSlot) {
        self.current.store(other.current.into_inner());
    }

    /// The leaf's `notAfter`.
    pub fn not_after(&self) -> SystemTime {
        self.validity().not_after
    }

    /// The leaf's validity period.
    pub fn validity(&self) -> Validity {
        self.current.load().validity
    }

    /// The chain and signing key presented now.
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        self.current.load().key.clone()
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.certified_key())
    }
}

impl fmt::Debug for CertSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertSlot").field("validity", &self.validity()).finish_non_exhaustive()
    }
}

impl Current {
    fn load(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<Self, Error> {
        let leaf = chain.first().ok_or(Error::EmptyChain)?;
        let validity = leaf_validity(leaf)?;
        let key = CertifiedKey::from_der(chain, key, &provider())?;
        key.keys_match()?;
        Ok(Self { key: Arc::new(key), validity })
    }
}

/// The crypto provider, named explicitly so that a second provider linked
/// into the binary can never change which one serves.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn leaf_validity(leaf: &CertificateDer<'_>) -> Result<Validity, Error> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| Error::Certificate(e.to_string()))?;
    let validity = cert.validity();
    Ok(Validity {
        not_before: system_time(validity.not_before.timestamp())?,
        not_after: system_time(validity.not_after.timestamp())?,
    })
}

fn system_time(unix_seconds: i64) -> Result<SystemTime, Error> {
    let offset = Duration::from_secs(unix_seconds.unsigned_abs());
    let time = if unix_seconds >= 0 { UNIX_EPOCH.checked_add(offset) } else { UNIX_EPOCH.checked_sub(offset) };
    time.ok_or(Error::Validity)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::https::test_pki::TestCa;

    #[test]
    fn validity_comes_from_the_leaf() {
        let ca = TestCa::new();
        let (chain, key) = ca.leaf_valid(&["localhost"], (2024, 3, 1), (2024, 5, 30));
        let slot = CertSlot::new(chain, key).unwrap();
        assert_eq!(slot.validity().not_before, UNIX_EPOCH + Duration::from_secs(1_709_251_200));
        assert_eq!(slot.not_after(), UNIX_EPOCH + Duration::from_secs(1_717_027_200));
    }

    #[test]
    fn an_empty_chain_is_refused() {
        let ca = TestCa::new();
        let (_, key) = ca.leaf(&["localhost"]);
        assert!(matches!(CertSlot::new(Vec::new(), key), Err(Error::EmptyChain)));
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let ca = TestCa::new();
        let (chain, _) = ca.leaf(&["localhost"]);
        let (_, other_key) = ca.leaf(&["localhost"]);
        assert!(matches!(CertSlot::new(chain, other_key), Err(Error::Key(_))));
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        let ca = TestCa::new();
        let (_, key) = ca.leaf(&["localhost"]);
        let chain = vec![CertificateDer::from(vec![0x30, 0x03, 0x01, 0x01, 0xff])];
        assert!(matches!(CertSlot::new(chain, key), Err(Error::Certificate(_))));
    }

    #[test]
    fn replace_swaps_and_a_failed_replace_keeps_the_old_certificate() {
        let ca = TestCa::new();
        let (first, key) = ca.leaf(&["localhost"]);
        let slot = CertSlot::new(first.clone(), key).unwrap();
        let (second, second_key) = ca.leaf_valid(&["localhost"], (2030, 1, 1), (2030, 2, 1));
        let (_, wrong_key) = ca.leaf(&["localhost"]);
        assert!(slot.replace(second.clone(), wrong_key).is_err());
        assert_eq!(slot.certified_key().cert, first);
        slot.replace(second.clone(), second_key).unwrap();
        assert_eq!(slot.certified_key().cert, second);
        assert_eq!(slot.not_after(), UNIX_EPOCH + Duration::from_secs(1_896_134_400));
    }

    #[test]
    fn the_config_offers_h2_and_http1_and_both_versions() {
        let ca = TestCa::new();
        let (chain, key) = ca.leaf(&["localhost"]);
        let config = server_config(Arc::new(CertSlot::new(chain, key).unwrap())).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert!(config.crypto_provider().cipher_suites.iter().any(|s| s.version() == &rustls::version::TLS12));
    }
}
