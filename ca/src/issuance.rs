//! The running CA and direct issuance (Vault `pki/issue` style).
//!
//! [`Ca::open`] creates `<dir>/` (keys 0600, by [`Hierarchy::load_or_create`])
//! and opens one sled database at `<dir>/db`, which holds the
//! [`CertStore`] and which the ACME store shares, with its flushes
//! ([`Ca::database`]). [`Ca::open_in`] keeps the records in a database the
//! caller opened: the server's is the zone store's, so that a direct
//! issuance and its catalog entry take one flush.
//!
//! [`Ca::issue`] takes a [`policy::CertDecision`], a value only the policy
//! crate makes, and turns it into the signing proof [`Approved`] here, after
//! re-checking inside the CA: the CSR's names equal the decided names, the
//! key type is one the decision allows (and strong enough), CAA (RFC 8659,
//! over the zone view the caller passes; there is no ACME account, so
//! `accounturi`-bound properties refuse, and the name counts as
//! pre-authorized by ownership) and an issuer whose name constraints cover
//! every name. Then the signing path ACME uses too ([`Ca::sign`]):
//! `reserve_serial` (flushed) -> `issue` -> `record_issued`, and a flush
//! before the certificate is returned. ACME's finalization leaves that
//! flush to its own commit of the valid order, on the same database, so
//! that one fsync covers both. [`Ca::issue`] is a future: it signs on the
//! caller's thread (tens of microseconds) and awaits the flushes without
//! parking a thread, so that an async worker can issue inline.
//! [`Ca::sign`] and [`Ca::revoke`] block; run them on a blocking thread.
//!
//! CRLs: [`Ca::crl`] serves a cached DER CRL per region, regenerated when
//! the region's revocations changed (through [`Ca::revoke`] or directly in
//! the [`CertStore`], as ACME revocation does) and when half of
//! [`CRL_VALIDITY`] has passed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use policy::{CertDecision, CertKeyType};
use zones::{GroupFlush, Name};

use crate::acme::authz::ValidationMethod;
use crate::acme::caa::{CaaView, check_caa};
use crate::pki::{
    Approved, CRL_VALIDITY, CertMeta, CertRecord, CertStore, CheckedCsr, CsrError, Hierarchy, HierarchySpec,
    IssuedCert, Issuer, KeyKind, KeyType, LeafKey, ReservedSerial, RevocationReason,
};

/// How [`CertRecord::owner`] names the team a certificate was issued to.
const TEAM_OWNER: &str = "team:";

/// The team a recorded certificate was issued to: empty for one that an
/// ACME account bound to no team ordered.
pub fn team_of(record: &CertRecord) -> &str {
    record.owner.strip_prefix(TEAM_OWNER).unwrap_or_default()
}

/// Why direct issuance, revocation or a CRL failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The PKI failed (storage, signing, files) or refused the approval.
    #[error(transparent)]
    Pki(#[from] crate::pki::Error),
    /// The CSR is malformed, badly signed or has a weak key.
    #[error("CSR rejected: {0}")]
    Csr(#[from] CsrError),
    /// The CSR names other names than the request.
    #[error("the CSR's names {csr:?} differ from the requested names {asked:?}")]
    CsrNames {
        /// The CSR's names.
        csr: Vec<String>,
        /// The decided names.
        asked: Vec<String>,
    },
    /// The key type is not allowed by policy.
    #[error("key type {0} is not allowed")]
    KeyType(String),
    /// CAA forbids issuance (or could not be checked).
    #[error("{0}")]
    Caa(String),
    /// No intermediate's name constraints cover every name.
    #[error("no issuer may sign for all of {0:?}; request names of one region per certificate")]
    NoIssuer(Vec<String>),
    /// A name the decision holds does not parse (a bug upstream).
    #[error("invalid name {0}")]
    BadName(String),
    /// No region of that name.
    #[error("no region {0}")]
    UnknownRegion(String),
    /// The data directory could not be created.
    #[error("CA directory {path}: {source}")]
    Dir {
        /// The directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("CA database: {0}")]
    Db(#[from] sled::Error),
    /// The database could not be opened (its lock still held, say); boxed,
    /// as the zones error is large and this path is rare.
    #[error("CA database: {0}")]
    Open(Box<zones::Error>),
}

/// What to certify: a CSR (DER) or a key the CA generates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeyRequest {
    /// A PKCS#10 request, DER.
    Csr(Vec<u8>),
    /// Generate a key of this type; its private key is returned once.
    Generate(KeyType),
}

/// A directly issued certificate. Its `Debug` leaves the private key out.
#[derive(Clone)]
pub struct Issued {
    /// The certificate, its serial, validity and chain.
    pub cert: IssuedCert,
    /// The private key (PKCS#8 PEM) when the CA generated it.
    pub private_key_pem: Option<String>,
    /// The region whose intermediate signed it.
    pub region: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = self.private_key_pem.as_ref().map(|_| "<redacted>");
        f.debug_struct("Issued")
            .field("serial", &self.cert.serial_hex)
            .field("private_key_pem", &key)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The running CA: hierarchy, certificate store, shared database, CRLs.
#[derive(Debug)]
pub struct Ca {
    hierarchy: Hierarchy,
    store: CertStore,
    database: Arc<GroupFlush>,
    caa_identity: String,
    crls: Mutex<BTreeMap<String, CachedCrl>>,
}

/// A region's last CRL: when it was made, over how many revocations.
#[derive(Debug)]
struct CachedCrl {
    made: SystemTime,
    revoked: usize,
    der: Vec<u8>,
}

impl Ca {
    /// Creates `dir` (0700) if needed, opens `<dir>/db` and loads or creates
    /// the hierarchy in `dir`. `caa_identity` is the issuer domain CAA
    /// `issue` properties must name (e.g. `nameplate`).
    pub fn open(dir: &Path, spec: &HierarchySpec, caa_identity: &str, now: SystemTime) -> Result<Ca, IssueError> {
        create_private_dir(dir)?;
        let db = zones::open_sled(&dir.join("db")).map_err(|e| IssueError::Open(Box::new(e)))?;
        Ca::open_in(dir, &GroupFlush::shared(&db), spec, caa_identity, now)
    }

    /// [`Ca::open`] with the records in `database` (the zone store's, in
    /// the server: [`zones::Store::database`]), so that one flush makes a
    /// certificate's record and its audit note durable.
    pub fn open_in(
        dir: &Path,
        database: &Arc<GroupFlush>,
        spec: &HierarchySpec,
        caa_identity: &str,
        now: SystemTime,
    ) -> Result<Ca, IssueError> {
        create_private_dir(dir)?;
        let hierarchy = Hierarchy::load_or_create(dir, spec, now)?;
        let database = Arc::clone(database);
        let store = CertStore::open(&database)?;
        let caa_identity = caa_identity.to_owned();
        Ok(Ca { hierarchy, store, database, caa_identity, crls: Mutex::new(BTreeMap::new()) })
    }

    /// The database and its shared flushes, for the ACME store to open its
    /// trees in.
    pub fn database(&self) -> &Arc<GroupFlush> {
        &self.database
    }

    /// The root and the intermediates.
    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    /// The certificate store.
    pub fn store(&self) -> &CertStore {
        &self.store
    }

    /// Issues a certificate for `decision` (see the module documentation),
    /// durable when it resolves. The signing runs on the caller's thread;
    /// the flushes are awaited without parking one.
    pub async fn issue(
        &self,
        decision: &CertDecision,
        key: KeyRequest,
        caa: &(dyn CaaView + Sync),
        now: SystemTime,
    ) -> Result<Issued, IssueError> {
        let issued = self.issue_recorded(decision, key, caa, now).await?;
        self.store.flush_async().await?;
        Ok(issued)
    }

    /// [`Ca::issue`] without its last flush: the record is written, not yet
    /// durable. The caller hands the certificate out only after a flush of
    /// [`Ca::database`] that began after this resolved, such as the one of
    /// its own write on the same database.
    pub async fn issue_recorded(
        &self,
        decision: &CertDecision,
        key: KeyRequest,
        caa: &(dyn CaaView + Sync),
        now: SystemTime,
    ) -> Result<Issued, IssueError> {
        let (leaf_key, private_key_pem) = checked_key(decision, key)?;
        check_caa_all(caa, decision.names(), &self.caa_identity)?;
        let serial = self.store.reserve_serial_async().await?;
        let (cert, issuer) = self.sign_with(approve(decision), leaf_key, serial, decision.team().as_str(), now)?;
        Ok(Issued { cert, private_key_pem, region: issuer.region().to_owned() })
    }

    /// The one signing path, for direct issuance and ACME alike: the issuer
    /// whose constraints cover every approved name, a serial reserved
    /// (flushed) before signing, the certificate recorded for `team` and
    /// returned with its issuer. The record is not yet durable: the caller
    /// hands the certificate out only after a flush of [`Ca::database`]
    /// that began after this call (ACME's commit of the valid order).
    /// Blocks while a batch of serials is flushed.
    pub fn sign(
        &self,
        approved: Approved,
        key: LeafKey,
        team: &str,
        now: SystemTime,
    ) -> Result<(IssuedCert, &Issuer), IssueError> {
        let serial = self.store.reserve_serial()?;
        self.sign_with(approved, key, serial, team, now)
    }

    /// [`Ca::sign`] with a serial already reserved.
    fn sign_with(
        &self,
        approved: Approved,
        key: LeafKey,
        serial: ReservedSerial,
        team: &str,
        now: SystemTime,
    ) -> Result<(IssuedCert, &Issuer), IssueError> {
        let issuer = self.issuer_for(approved.names())?;
        let names = approved.names().to_vec();
        let cert = issuer.issue(approved, key, serial, now)?;
        let owner = format!("{TEAM_OWNER}{team}");
        let meta = CertMeta { region: issuer.region().to_owned(), names, not_after: cert.not_after, owner };
        self.store.record_issued(&cert, meta)?;
        Ok((cert, issuer))
    }

    /// Revokes a certificate; the region's next CRL lists it.
    pub fn revoke(
        &self,
        serial_hex: &str,
        reason: RevocationReason,
        now: SystemTime,
    ) -> Result<CertRecord, IssueError> {
        Ok(self.store.revoke(serial_hex, reason, now)?)
    }

    /// The region's CRL, DER: cached, rebuilt when the region's revocations
    /// changed (whoever revoked: this type, or ACME through the store) or
    /// half of its validity has passed.
    pub fn crl(&self, region: &str, now: SystemTime) -> Result<Vec<u8>, IssueError> {
        let issuer = self.hierarchy.issuer(region).ok_or_else(|| IssueError::UnknownRegion(region.to_owned()))?;
        let revoked = self.store.revoked(region)?;
        let mut crls = self.crls.lock().map_err(|_| IssueError::UnknownRegion(region.to_owned()))?;
        if let Some(cached) = crls.get(region) {
            let age = now.duration_since(cached.made).unwrap_or_default();
            if cached.revoked == revoked.len() && age < CRL_VALIDITY / 2 {
                return Ok(cached.der.clone());
            }
        }
        let der = issuer.crl(&revoked, self.store.next_crl_number(region)?, now)?;
        crls.insert(region.to_owned(), CachedCrl { made: now, revoked: revoked.len(), der: der.clone() });
        Ok(der)
    }

    /// The issuer whose constraints cover every name: `default` first, then
    /// the others in name order.
    fn issuer_for(&self, names: &[String]) -> Result<&Issuer, IssueError> {
        let first = self.hierarchy.issuer("default").into_iter();
        let rest = self.hierarchy.regions().filter_map(|r| self.hierarchy.issuer(r));
        let mut candidates = first.chain(rest);
        candidates.find(|i| names.iter().all(|n| i.permits(n))).ok_or_else(|| IssueError::NoIssuer(names.to_vec()))
    }
}

/// The signing proof for a policy decision.
pub(crate) fn approve(decision: &CertDecision) -> Approved {
    Approved::new(decision.names().to_vec(), decision.lifetime(), decision.client_auth())
}

/// The leaf key, after checking CSR names and key type against `decision`.
fn checked_key(decision: &CertDecision, key: KeyRequest) -> Result<(LeafKey, Option<String>), IssueError> {
    match key {
        KeyRequest::Csr(der) => {
            let csr = CheckedCsr::parse(&der)?;
            if !csr.matches(decision.names()) {
                let (csr, asked) = (csr.names().to_vec(), decision.names().to_vec());
                return Err(IssueError::CsrNames { csr, asked });
            }
            allow_key(decision, csr.key_kind())?;
            Ok((LeafKey::from_csr(&csr)?, None))
        }
        KeyRequest::Generate(key_type) => {
            let (key, pem) = LeafKey::generate(key_type)?;
            allow_key(decision, key.kind())?;
            Ok((key, Some(pem)))
        }
    }
}

/// The `[policy.certs] key_types` entry a subject key of `kind` falls under.
pub fn policy_key_type(kind: KeyKind) -> CertKeyType {
    match kind {
        KeyKind::P256 => CertKeyType::P256,
        KeyKind::P384 => CertKeyType::P384,
        KeyKind::Ed25519 => CertKeyType::Ed25519,
        KeyKind::Rsa { .. } => CertKeyType::Rsa,
    }
}

fn allow_key(decision: &CertDecision, kind: KeyKind) -> Result<(), IssueError> {
    match decision.allows_key(policy_key_type(kind)) && kind.acceptable() {
        true => Ok(()),
        false => Err(IssueError::KeyType(format!("{kind:?}"))),
    }
}

/// CAA for every name, as a pre-authorized request with no ACME account.
fn check_caa_all(view: &dyn CaaView, names: &[String], identity: &str) -> Result<(), IssueError> {
    for text in names {
        let (base, wildcard) = match text.strip_prefix("*.") {
            Some(base) => (base, true),
            None => (text.as_str(), false),
        };
        let name = Name::from_ascii(base).map_err(|_| IssueError::BadName(text.clone()))?;
        check_caa(view, &name, wildcard, identity, "", ValidationMethod::PreAuthorized)
            .map_err(|p| IssueError::Caa(p.detail))?;
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<(), IssueError> {
    let err = |source| IssueError::Dir { path: dir.to_path_buf(), source };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use std::time::Duration;

    use policy::{CertConfig, CertRequest, Label, Principal, Profile, Role, Scheme, SchemeConfig};
    use rcgen::{CertificateParams, KeyPair};
    use x509_parser::prelude::{CertificateRevocationList, FromDer};
    use zones::ZoneSet;

    use super::*;
    use crate::pki::RegionSpec;

    fn spec() -> HierarchySpec {
        let permitted = vec!["apps.company.com".to_owned()];
        HierarchySpec {
            ca_name: "nameplate".into(),
            regions: vec![RegionSpec { name: "default".into(), permitted }],
            root: None,
            crl_base_url: "https://localhost:8443".into(),
            max_lifetime: Duration::from_secs(7 * 24 * 3600),
            service_names: Vec::new(),
        }
    }

    fn decision(names: &[&str], config: &CertConfig) -> CertDecision {
        let scheme = Scheme::new(&SchemeConfig::default()).unwrap();
        let zone = Name::from_ascii("apps.company.com.").unwrap();
        let pairs: Vec<_> = names.iter().map(|n| (Name::from_ascii(n).unwrap(), zone.clone())).collect();
        let who = Principal { role: Role::Member, team: Label::new("hr").unwrap() };
        let req = CertRequest { names: &pairs, profile: Profile::Default, ttl_seconds: None, client_auth: false };
        config.decide(&scheme, &who, &req).unwrap()
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }

    fn csr(names: &[&str]) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.serialize_request(&key).unwrap().der().to_vec()
    }

    #[test]
    fn issues_records_and_revokes_into_the_crl() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let ca = Ca::open(&dir.path().join("ca"), &spec(), "nameplate", now).unwrap();
        assert!(dir.path().join("ca/db").exists());
        let d = decision(&["web.hr.dev.apps.company.com"], &CertConfig::default());
        let issued = block_on(ca.issue(&d, KeyRequest::Generate(KeyType::P256), &ZoneSet::new(), now)).unwrap();
        assert!(issued.private_key_pem.is_some());
        assert_eq!(issued.region, "default");
        let lifetime = issued.cert.not_after.duration_since(now).unwrap().as_secs();
        assert!((24 * 3600 - 1..=24 * 3600).contains(&lifetime), "{lifetime}");
        let record = ca.store().get(&issued.cert.serial_hex).unwrap().unwrap();
        assert_eq!((team_of(&record), record.names.clone()), ("hr", d.names().to_vec()));
        let before = ca.crl("default", now).unwrap();
        assert_eq!(ca.crl("default", now).unwrap(), before, "cached until a revocation");
        ca.store().revoke(&issued.cert.serial_hex, RevocationReason::CessationOfOperation, now).unwrap();
        let after = ca.crl("default", now).unwrap();
        let (_, crl) = CertificateRevocationList::from_der(&after).unwrap();
        let serials: Vec<_> = crl.iter_revoked_certificates().map(|r| r.raw_serial().to_vec()).collect();
        assert_eq!(serials, vec![issued.cert.serial.clone()]);
    }

    /// Set in the child process of [`an_issued_certificate_survives_a_crash`]:
    /// the CA directory it issues in before it aborts.
    const CRASH_DIR: &str = "NAMEPLATE_TEST_CRASH_DIR";

    /// `issue` returns only once the record is on disk: a child process
    /// issues and aborts at once (no destructor runs, so sled flushes
    /// nothing more), and the record is there when the CA is reopened.
    #[test]
    fn an_issued_certificate_survives_a_crash() {
        let d = decision(&["web.hr.dev.apps.company.com"], &CertConfig::default());
        if let Some(dir) = std::env::var_os(CRASH_DIR) {
            let ca = Ca::open(Path::new(&dir), &spec(), "nameplate", SystemTime::now()).unwrap();
            let issued =
                block_on(ca.issue(&d, KeyRequest::Generate(KeyType::P256), &ZoneSet::new(), SystemTime::now()))
                    .unwrap();
            println!("serial={}", issued.cert.serial_hex);
            std::process::abort();
        }
        let dir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "issuance::tests::an_issued_certificate_survives_a_crash", "--nocapture"])
            .env(CRASH_DIR, dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(!child.status.success(), "the child aborts: {stdout}");
        let serial = stdout.lines().find_map(|l| l.strip_prefix("serial=")).unwrap_or_else(|| panic!("{stdout}"));
        let ca = Ca::open(dir.path(), &spec(), "nameplate", SystemTime::now()).unwrap();
        let record = ca.store().get(serial).unwrap();
        assert_eq!(record.map(|r| r.names), Some(d.names().to_vec()), "the acknowledged certificate is on disk");
    }

    #[test]
    fn the_ca_rechecks_csr_names_and_key_types() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let ca = Ca::open(dir.path(), &spec(), "nameplate", now).unwrap();
        let d = decision(&["web.hr.dev.apps.company.com"], &CertConfig::default());
        let other = KeyRequest::Csr(csr(&["api.hr.dev.apps.company.com"]));
        let mismatch = block_on(ca.issue(&d, other, &ZoneSet::new(), now));
        assert!(matches!(mismatch, Err(IssueError::CsrNames { .. })), "{mismatch:?}");
        let good = block_on(ca.issue(&d, KeyRequest::Csr(csr(&["web.hr.dev.apps.company.com"])), &ZoneSet::new(), now));
        assert!(good.unwrap().private_key_pem.is_none());
        let p256_only = CertConfig { key_types: vec![CertKeyType::P256], ..CertConfig::default() };
        let d = decision(&["web.hr.dev.apps.company.com"], &p256_only);
        let ed = block_on(ca.issue(&d, KeyRequest::Generate(KeyType::Ed25519), &ZoneSet::new(), now));
        assert!(matches!(ed, Err(IssueError::KeyType(_))));
    }
}
