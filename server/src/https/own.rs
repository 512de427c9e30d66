//! nameplate's own listener certificate, from the built-in CA's service
//! issuer.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::Issue;

/// An [`Issue`] that signs a fresh certificate (and key) valid for
/// `lifetime` with `ca`'s service issuer each time it is called.
pub fn own_certificate(ca: Arc<ca::issuance::Ca>, lifetime: Duration) -> Issue {
    Arc::new(move || {
        let service = ca.hierarchy().service().context("the CA has no service issuer (https.names is empty)")?;
        let cert = service.issue(lifetime, SystemTime::now()).context("signing the HTTPS certificate")?;
        let chain = cert.chain_der.into_iter().map(CertificateDer::from).collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pkcs8_der));
        Ok((chain, key))
    })
}
