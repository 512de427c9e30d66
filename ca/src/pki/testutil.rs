//! Helpers shared by the PKI tests (and the ACME store's): a hierarchy in a
//! temp dir, reopening a database, CSRs, and running `openssl`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SignatureAlgorithm};
use tempfile::TempDir;

use super::{Approved, CertStore, Hierarchy, HierarchySpec, RegionSpec};

/// Test longest lifetime.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// A spec with regions `default` (apps.company.com) and `eu`
/// (apps.company.com, eu-apps.company.com).
pub(crate) fn spec() -> HierarchySpec {
    HierarchySpec {
        ca_name: "nameplate".into(),
        regions: vec![
            region("default", &["apps.company.com"]),
            region("eu", &["apps.company.com", "eu-apps.company.com"]),
        ],
        root: None,
        crl_base_url: "https://localhost:8443".into(),
        max_lifetime: MAX_LIFETIME,
        service_names: Vec::new(),
    }
}

pub(crate) fn region(name: &str, permitted: &[&str]) -> RegionSpec {
    RegionSpec { name: name.into(), permitted: permitted.iter().map(|s| s.to_string()).collect() }
}

/// A fresh hierarchy and store in a temp dir.
pub(crate) struct Fixture {
    pub(crate) dir: TempDir,
    pub(crate) hierarchy: Hierarchy,
    pub(crate) store: CertStore,
}

/// Opens the db at `path`, waiting for a dropped handle's flusher thread
/// to release sled's file lock (it outlives the drop briefly).
pub(crate) fn reopen(path: &Path) -> sled::Db {
    zones::open_sled(path).unwrap()
}

pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let hierarchy = Hierarchy::load_or_create(&dir.path().join("ca"), &spec(), SystemTime::now()).unwrap();
    let db = sled::open(dir.path().join("db")).unwrap();
    let store = CertStore::open(&zones::GroupFlush::shared(&db)).unwrap();
    Fixture { dir, hierarchy, store }
}

impl Fixture {
    /// Writes `content` to `name` in the temp dir.
    pub(crate) fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Writes root.pem and chain-<region>.pem; returns their paths.
    pub(crate) fn trust_files(&self, region: &str) -> (PathBuf, PathBuf) {
        let root = self.write("root.pem", self.hierarchy.root_pem());
        let chain = self.write(&format!("chain-{region}.pem"), self.hierarchy.chain_pem(region).unwrap());
        (root, chain)
    }

    /// `openssl verify` of a leaf PEM against root + chain of `region`.
    pub(crate) fn verify(&self, region: &str, leaf_pem: &str) -> (bool, String) {
        let (root, chain) = self.trust_files(region);
        let leaf = self.write("leaf.pem", leaf_pem);
        openssl(&["verify", "-CAfile", s(&root), "-untrusted", s(&chain), s(&leaf)])
    }
}

pub(crate) fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs openssl; returns (success, stdout + stderr).
pub(crate) fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `openssl x509 -text` of a PEM certificate.
pub(crate) fn x509_text(fx: &Fixture, pem: &str) -> String {
    let path = fx.write("text.pem", pem);
    let (ok, text) = openssl(&["x509", "-noout", "-text", "-in", s(&path)]);
    assert!(ok, "{text}");
    text
}

pub(crate) fn approved(names: &[&str], lifetime: Duration) -> Approved {
    Approved::new(names.iter().map(|s| s.to_string()).collect(), lifetime, false)
}

/// A DER CSR from rcgen for `names`, with CN = first name.
pub(crate) fn rcgen_csr(alg: &'static SignatureAlgorithm, names: &[&str]) -> Vec<u8> {
    let key = KeyPair::generate_for(alg).unwrap();
    let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names[0]);
    params.distinguished_name = dn;
    params.serialize_request(&key).unwrap().der().to_vec()
}

/// A DER CSR from `openssl req` with a new key of `newkey` (e.g. `rsa:2048`).
pub(crate) fn openssl_csr(dir: &Path, newkey: &[&str], names: &[&str]) -> Vec<u8> {
    let (key, out) = (dir.join("csr.key"), dir.join("csr.der"));
    let san = names.iter().map(|n| format!("DNS:{n}")).collect::<Vec<_>>().join(",");
    let mut args = vec!["req", "-new", "-nodes", "-keyout", s(&key), "-outform", "DER", "-out", s(&out)];
    args.extend_from_slice(newkey);
    let subj = format!("/CN={}", names[0]);
    let ext = format!("subjectAltName={san}");
    args.extend_from_slice(&["-subj", &subj, "-addext", &ext]);
    let (ok, text) = openssl(&args);
    assert!(ok, "{text}");
    std::fs::read(out).unwrap()
}
