//! A throwaway CA for the HTTPS tests (rcgen, P-256).

#![allow(clippy::unwrap_used)]

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A chain (leaf first) and its PKCS#8 key, as [`super::CertSlot::new`]
/// takes them.
pub(crate) type Leaf = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// A self-signed root that signs leaves directly.
pub(crate) struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    /// The root certificate, for client trust stores.
    pub(crate) root: CertificateDer<'static>,
}

impl TestCa {
    pub(crate) fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "nameplate test root");
        let root = params.self_signed(&key).unwrap().der().clone();
        Self { issuer: Issuer::new(params, key), root }
    }

    /// A leaf for `names` (DNS names or IP addresses) with rcgen's default
    /// validity (1975 to 4096).
    pub(crate) fn leaf(&self, names: &[&str]) -> Leaf {
        self.sign(Self::params(names))
    }

    /// A leaf valid from midnight UTC of `from` to midnight UTC of `to`.
    pub(crate) fn leaf_valid(&self, names: &[&str], from: (i32, u8, u8), to: (i32, u8, u8)) -> Leaf {
        let mut params = Self::params(names);
        params.not_before = date_time_ymd(from.0, from.1, from.2);
        params.not_after = date_time_ymd(to.0, to.1, to.2);
        self.sign(params)
    }

    fn params(names: &[&str]) -> CertificateParams {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        CertificateParams::new(names).unwrap()
    }

    fn sign(&self, params: CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone()], key)
    }
}
