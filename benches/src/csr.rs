//! Certificate requests made before the timed loop, so the client's own
//! signing does not take the cores the server is measured on.
//!
//! Every request is for one name and signed by one P-256 key shared by all
//! of them (the CA certifies a CSR's key; it need not be new each time).

use std::thread;

use anyhow::{Context, Result, anyhow};
use rcgen::{CertificateParams, DistinguishedName, KeyPair};

/// One name's certificate request, in both encodings.
pub(crate) struct Csr {
    /// The DER, as ACME's finalize takes it.
    pub(crate) der: Vec<u8>,
    /// The PEM, as `POST /api/v1/certs` takes it.
    pub(crate) pem: String,
}

/// A CSR for each of `names`, made on all cores.
pub(crate) fn make_all(names: &[String]) -> Result<Vec<Csr>> {
    let key = KeyPair::generate().context("generating the CSR key")?;
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = names.len().div_ceil(threads).max(1);
    thread::scope(|scope| {
        let handles: Vec<_> =
            names.chunks(chunk).map(|part| scope.spawn(|| part.iter().map(|n| make(n, &key)).collect())).collect();
        let mut all = Vec::with_capacity(names.len());
        for handle in handles {
            let part: Result<Vec<Csr>> = handle.join().map_err(|_| anyhow!("a CSR thread panicked"))?;
            all.extend(part?);
        }
        Ok(all)
    })
}

/// A CSR for `name` alone, signed with `key`, with an empty subject.
pub(crate) fn make(name: &str, key: &KeyPair) -> Result<Csr> {
    let mut params = CertificateParams::new(vec![name.to_owned()]).with_context(|| format!("CSR for {name}"))?;
    params.distinguished_name = DistinguishedName::new();
    let csr = params.serialize_request(key).with_context(|| format!("signing the CSR for {name}"))?;
    let pem = csr.pem().context("CSR PEM")?;
    Ok(Csr { der: csr.der().to_vec(), pem })
}
