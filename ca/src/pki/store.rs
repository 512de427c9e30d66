//! The certificate store on sled: reserved serials, issued certificates,
//! revocations and CRL numbers.
//!
//! Trees: `ca.serials` (serial -> empty, reserved before signing),
//! `ca.certs` (serial -> JSON [`CertRecord`]), `ca.names` (`<name, labels
//! reversed>/<serial hex>` -> empty, one per certified name), `ca.revoked`
//! (`region 0x00 serial` -> JSON [`RevokedEntry`]) and `ca.crl_numbers`
//! (region -> big-endian u64). Every write is flushed before the call
//! returns, except a certificate's record ([`CertStore::record_issued`]);
//! concurrent calls share their flushes ([`zones::GroupFlush`]).
//!
//! The reversed names (`com.company.apps.preview.hr.web.pr-1`) let
//! [`CertStore::serials_at_or_below`] find every certificate at or below a
//! name (a preview's) with two prefix scans.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use data_encoding::{BASE64, HEXLOWER};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zones::Ticket;

use super::Error;
use super::leaf::IssuedCert;

/// Length of a serial: 16 octets, of which 126 bits are random.
const SERIAL_LEN: usize = 16;

/// How many serials [`CertStore::reserve_serial`] reserves with one flush.
const SERIAL_BATCH: usize = 128;

/// A serial number that is durably reserved and not yet used. Only
/// [`CertStore::reserve_serial`] makes one, and signing consumes it.
#[derive(Debug, PartialEq, Eq)]
pub struct ReservedSerial([u8; SERIAL_LEN]);

impl ReservedSerial {
    /// The serial's big-endian bytes (positive, minimal DER integer).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The serial as lowercase hex.
    pub fn hex(&self) -> String {
        HEXLOWER.encode(&self.0)
    }

    /// A made-up serial for measurements that bypass the store.
    #[cfg(test)]
    pub(crate) fn for_bench(i: u32) -> Self {
        let mut serial = [0x41; SERIAL_LEN];
        serial[12..].copy_from_slice(&i.to_be_bytes());
        ReservedSerial(serial)
    }
}

/// What the caller knows about an issued certificate.
#[derive(Debug, Clone)]
pub struct CertMeta {
    /// The issuing region.
    pub region: String,
    /// The certified names.
    pub names: Vec<String>,
    /// Expiry of the certificate.
    pub not_after: SystemTime,
    /// Team or account id; opaque to the PKI.
    pub owner: String,
}

/// An issued certificate as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertRecord {
    /// Serial, lowercase hex.
    pub serial: String,
    /// The issuing region.
    pub region: String,
    /// The certified names.
    pub names: Vec<String>,
    /// Team or account id.
    pub owner: String,
    /// Expiry, seconds since the Unix epoch.
    pub not_after: u64,
    /// The certificate, base64 DER.
    pub der_b64: String,
    /// The revocation, if any.
    pub revoked: Option<RevokedEntry>,
}

/// A revocation, as listed in an issuer's CRL.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial, lowercase hex.
    pub serial: String,
    /// When it was revoked, seconds since the Unix epoch.
    pub revoked_at: u64,
    /// Why it was revoked.
    pub reason: RevocationReason,
    /// Expiry of the revoked certificate, seconds since the Unix epoch (so
    /// a CRL may drop it once expired).
    pub not_after: u64,
}

/// RFC 5280 5.3.1 reason codes that ACME (RFC 8555 7.6) lets a client use.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationReason {
    /// 0
    Unspecified,
    /// 1
    KeyCompromise,
    /// 3
    AffiliationChanged,
    /// 4
    Superseded,
    /// 5
    CessationOfOperation,
    /// 9
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// Maps an RFC 5280 reason code; codes a subscriber may not use give
    /// `None`.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Unspecified,
            1 => Self::KeyCompromise,
            3 => Self::AffiliationChanged,
            4 => Self::Superseded,
            5 => Self::CessationOfOperation,
            9 => Self::PrivilegeWithdrawn,
            _ => return None,
        })
    }

    pub(crate) fn to_rcgen(self) -> rcgen::RevocationReason {
        use rcgen::RevocationReason as R;
        match self {
            Self::Unspecified => R::Unspecified,
            Self::KeyCompromise => R::KeyCompromise,
            Self::AffiliationChanged => R::AffiliationChanged,
            Self::Superseded => R::Superseded,
            Self::CessationOfOperation => R::CessationOfOperation,
            Self::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
        }
    }
}

/// The CA's durable state on a sled database the caller opened.
#[derive(Debug, Clone)]
pub struct CertStore {
    /// Flushes shared by concurrent writers (group commit).
    flushes: Arc<zones::GroupFlush>,
    serials: sled::Tree,
    certs: sled::Tree,
    names: sled::Tree,
    revoked: sled::Tree,
    crl_numbers: sled::Tree,
    rng: SystemRandom,
    /// Serials reserved ahead, handed out one at a time.
    pool: Arc<Mutex<SerialPool>>,
}

/// Serials recorded as used, and the flush that makes them durable (each
/// is handed out only once that flush is done).
#[derive(Debug, Default)]
struct SerialPool {
    serials: Vec<ReservedSerial>,
    durable: Option<Ticket>,
}

impl CertStore {
    /// Opens the CA's trees in the database of `flushes`, sharing its
    /// flushes with the other stores there. A database whose certificates
    /// have no name index yet (written before there was one) gets it.
    pub fn open(flushes: &Arc<zones::GroupFlush>) -> Result<CertStore, Error> {
        let db = flushes.db();
        let store = CertStore {
            flushes: Arc::clone(flushes),
            serials: db.open_tree("ca.serials")?,
            certs: db.open_tree("ca.certs")?,
            names: db.open_tree("ca.names")?,
            revoked: db.open_tree("ca.revoked")?,
            crl_numbers: db.open_tree("ca.crl_numbers")?,
            rng: SystemRandom::new(),
            pool: Arc::default(),
        };
        if store.names.is_empty() && !store.certs.is_empty() {
            store.index_names()?;
        }
        Ok(store)
    }

    /// Indexes the names of every recorded certificate, flushed.
    fn index_names(&self) -> Result<(), Error> {
        for kv in self.certs.iter() {
            let record: CertRecord = decode(&kv?.1)?;
            for name in &record.names {
                self.names.insert(name_key(name, &record.serial), &[])?;
            }
        }
        self.flush()
    }

    /// A fresh random serial that is already recorded as used and flushed,
    /// so it is never handed out again even if signing or the process
    /// fails. Serials are reserved [`SERIAL_BATCH`] at a time with one
    /// flush and handed out from memory; those left when the process ends
    /// are never used (and, being recorded, never reused).
    pub fn reserve_serial(&self) -> Result<ReservedSerial, Error> {
        let (serial, durable) = self.take_serial()?;
        self.flushes.wait(durable)?;
        Ok(serial)
    }

    /// [`CertStore::reserve_serial`] as a future, which parks no thread
    /// while the reservation is flushed.
    pub async fn reserve_serial_async(&self) -> Result<ReservedSerial, Error> {
        let (serial, durable) = self.take_serial()?;
        self.flushes.wait_async(durable).await?;
        Ok(serial)
    }

    /// Reserves `n` serials with a single flush (for batch issuance).
    pub fn reserve_serials(&self, n: usize) -> Result<Vec<ReservedSerial>, Error> {
        let serials = self.record_serials(n)?;
        self.flushes.flush()?;
        Ok(serials)
    }

    /// A serial from the pool, refilled (not yet flushed) when empty, and
    /// the ticket that makes its reservation durable.
    fn take_serial(&self) -> Result<(ReservedSerial, Ticket), Error> {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.serials.is_empty() {
            pool.serials = self.record_serials(SERIAL_BATCH)?;
            pool.durable = Some(self.flushes.ticket());
        }
        match (pool.serials.pop(), pool.durable) {
            (Some(serial), Some(durable)) => Ok((serial, durable)),
            _ => Err(Error::Rng),
        }
    }

    /// Records `n` fresh random serials as used, without flushing.
    fn record_serials(&self, n: usize) -> Result<Vec<ReservedSerial>, Error> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let serial = fill_serial(&self.rng)?;
            if self.serials.compare_and_swap(serial, None::<&[u8]>, Some(&[][..]))?.is_ok() {
                out.push(ReservedSerial(serial));
            }
        }
        Ok(out)
    }

    /// Whether a serial has been reserved (used or about to be).
    pub fn is_reserved(&self, serial: &[u8]) -> Result<bool, Error> {
        Ok(self.serials.contains_key(serial)?)
    }

    /// Records an issued certificate and indexes its names, without waiting
    /// for the disk: it is durable once [`CertStore::flush`] (or any flush
    /// of the same database that began after this call) returns, and must
    /// not be handed out before. The names go first: sled recovers a prefix
    /// of its log, so a record that survives a crash has its names.
    pub fn record_issued(&self, cert: &IssuedCert, meta: CertMeta) -> Result<(), Error> {
        for name in &meta.names {
            self.names.insert(name_key(name, &cert.serial_hex), &[])?;
        }
        let record = CertRecord {
            serial: cert.serial_hex.clone(),
            region: meta.region,
            names: meta.names,
            owner: meta.owner,
            not_after: unix(meta.not_after),
            der_b64: BASE64.encode(&cert.der),
            revoked: None,
        };
        self.certs.insert(&cert.serial, encode(&record)?)?;
        Ok(())
    }

    /// Returns once everything written to the database before the call
    /// is on disk (shared with concurrent callers).
    pub fn flush(&self) -> Result<(), Error> {
        Ok(self.flushes.flush()?)
    }

    /// [`CertStore::flush`] as a future, which parks no thread.
    pub async fn flush_async(&self) -> Result<(), Error> {
        Ok(self.flushes.flush_async().await?)
    }

    /// The stored record of a serial (hex), with its revocation if any.
    pub fn get(&self, serial_hex: &str) -> Result<Option<CertRecord>, Error> {
        match parse_hex(serial_hex) {
            Some(key) => self.get_key(&key),
            None => Ok(None),
        }
    }

    /// [`CertStore::get`] by the serial's bytes.
    fn get_key(&self, key: &[u8]) -> Result<Option<CertRecord>, Error> {
        let Some(raw) = self.certs.get(key)? else { return Ok(None) };
        let mut record: CertRecord = decode(&raw)?;
        if let Some(entry) = self.revoked.get(revoked_key(&record.region, key))? {
            record.revoked = Some(decode(&entry)?);
        }
        Ok(Some(record))
    }

    /// The serials (hex) of every certificate with a name equal to `name`
    /// or below it, revoked or not.
    pub fn serials_at_or_below(&self, name: &str) -> Result<BTreeSet<String>, Error> {
        let mut serials = BTreeSet::new();
        for prefix in subtree_prefixes(name) {
            for key in self.names.scan_prefix(prefix).keys() {
                let key = key?;
                let serial = key.rsplit(|b| *b == b'/').next().unwrap_or_default();
                serials.insert(String::from_utf8_lossy(serial).into_owned());
            }
        }
        Ok(serials)
    }

    /// Revokes a certificate. A second revocation gives
    /// [`Error::AlreadyRevoked`]; the caller then regenerates the CRL.
    pub fn revoke(&self, serial_hex: &str, reason: RevocationReason, now: SystemTime) -> Result<CertRecord, Error> {
        let unknown = || Error::UnknownSerial(serial_hex.to_string());
        let key = parse_hex(serial_hex).ok_or_else(unknown)?;
        let record = self.get_key(&key)?.ok_or_else(unknown)?;
        let entry =
            RevokedEntry { serial: record.serial.clone(), revoked_at: unix(now), reason, not_after: record.not_after };
        let cas =
            self.revoked.compare_and_swap(revoked_key(&record.region, &key), None::<&[u8]>, Some(encode(&entry)?))?;
        if cas.is_err() {
            return Err(Error::AlreadyRevoked(record.serial));
        }
        self.flushes.flush()?;
        Ok(CertRecord { revoked: Some(entry), ..record })
    }

    /// All revocations of a region's issuer.
    pub fn revoked(&self, region: &str) -> Result<Vec<RevokedEntry>, Error> {
        let prefix = revoked_key(region, &[]);
        self.revoked.scan_prefix(prefix).map(|kv| decode(&kv?.1)).collect()
    }

    /// The next CRL number of a region's issuer (1, 2, ...), flushed.
    pub fn next_crl_number(&self, region: &str) -> Result<u64, Error> {
        let new = self.crl_numbers.update_and_fetch(region, |old| {
            let n = old.and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_be_bytes);
            Some(n.saturating_add(1).to_be_bytes().to_vec())
        })?;
        self.flushes.flush()?;
        let bytes = new.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok());
        bytes.map(u64::from_be_bytes).ok_or_else(|| Error::Corrupt("crl number".into()))
    }
}

/// 16 random bytes, first byte in 0x40..=0x7f: positive, exactly 16 octets
/// in DER, 126 bits of entropy.
pub(crate) fn random_serial() -> Result<[u8; SERIAL_LEN], Error> {
    fill_serial(&SystemRandom::new())
}

fn fill_serial(rng: &SystemRandom) -> Result<[u8; SERIAL_LEN], Error> {
    let mut serial = [0u8; SERIAL_LEN];
    rng.fill(&mut serial).map_err(|_| Error::Rng)?;
    serial[0] = (serial[0] & 0x7f) | 0x40;
    Ok(serial)
}

/// `<name, labels reversed>/<serial hex>`.
fn name_key(name: &str, serial_hex: &str) -> Vec<u8> {
    format!("{}/{serial_hex}", reversed(name)).into_bytes()
}

/// The prefixes of the [`name_key`]s of `name` itself and of every name
/// below it.
fn subtree_prefixes(name: &str) -> [Vec<u8>; 2] {
    let name = reversed(name);
    [format!("{name}/").into_bytes(), format!("{name}.").into_bytes()]
}

/// `a.b.c` -> `c.b.a`, lowercase.
fn reversed(name: &str) -> String {
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    lower.rsplit('.').collect::<Vec<_>>().join(".")
}

fn revoked_key(region: &str, serial: &[u8]) -> Vec<u8> {
    [region.as_bytes(), &[0], serial].concat()
}

fn parse_hex(hex: &str) -> Option<Vec<u8>> {
    HEXLOWER.decode(hex.to_ascii_lowercase().as_bytes()).ok()
}

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(crate) fn from_unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::Corrupt(e.to_string()))
}

fn decode<T: for<'de> Deserialize<'de>>(raw: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(raw).map_err(|e| Error::Corrupt(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::pki::testutil::reopen;

    fn issued(serial: &ReservedSerial) -> IssuedCert {
        IssuedCert {
            serial: serial.bytes().to_vec(),
            serial_hex: serial.hex(),
            der: vec![0x30, 0x00],
            pem: String::new(),
            not_before: UNIX_EPOCH,
            not_after: from_unix(2_000_000_000),
            chain_pem: String::new(),
        }
    }

    fn meta(region: &str) -> CertMeta {
        CertMeta {
            region: region.into(),
            names: vec!["a.apps.company.com".into()],
            not_after: from_unix(2_000_000_000),
            owner: "team-a".into(),
        }
    }

    #[test]
    fn serials_are_unique_positive_16_octets() {
        let dir = tempfile::tempdir().unwrap();
        let store = CertStore::open(&zones::GroupFlush::shared(&sled::open(dir.path()).unwrap())).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let serial = store.reserve_serial().unwrap();
            assert_eq!(serial.bytes().len(), 16);
            assert!((0x40..=0x7f).contains(&serial.bytes()[0]));
            assert!(seen.insert(serial.hex()));
        }
    }

    #[test]
    fn batch_reservation_is_distinct_and_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = CertStore::open(&zones::GroupFlush::shared(&sled::open(dir.path()).unwrap())).unwrap();
        let batch = store.reserve_serials(50).unwrap();
        let distinct: HashSet<_> = batch.iter().map(ReservedSerial::hex).collect();
        assert_eq!(distinct.len(), 50);
        assert!(batch.iter().all(|s| store.is_reserved(s.bytes()).unwrap()));
    }

    #[test]
    fn serials_come_from_a_recorded_batch_shared_by_clones() {
        let dir = tempfile::tempdir().unwrap();
        let store = CertStore::open(&zones::GroupFlush::shared(&sled::open(dir.path()).unwrap())).unwrap();
        let first = store.reserve_serial().unwrap();
        assert!(store.is_reserved(first.bytes()).unwrap(), "recorded before it is handed out");
        assert_eq!(store.serials.len(), SERIAL_BATCH, "one batch, reserved together");
        let clone = store.clone();
        let mut seen: HashSet<String> = HashSet::from([first.hex()]);
        for _ in 1..SERIAL_BATCH {
            assert!(seen.insert(clone.reserve_serial().unwrap().hex()));
        }
        assert_eq!(store.serials.len(), SERIAL_BATCH, "the clone drew from the same batch");
        assert!(seen.insert(store.reserve_serial().unwrap().hex()));
        assert_eq!(store.serials.len(), 2 * SERIAL_BATCH, "an empty pool reserves the next batch");
    }

    #[test]
    fn reserved_serial_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let hex = {
            let store = CertStore::open(&zones::GroupFlush::shared(&sled::open(dir.path()).unwrap())).unwrap();
            store.reserve_serial().unwrap().hex()
        };
        let store = CertStore::open(&zones::GroupFlush::shared(&reopen(dir.path()))).unwrap();
        assert!(store.is_reserved(&HEXLOWER.decode(hex.as_bytes()).unwrap()).unwrap());
        assert!(!store.is_reserved(&[0x41; 16]).unwrap());
    }

    #[test]
    fn record_get_revoke_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = CertStore::open(&zones::GroupFlush::shared(&sled::open(dir.path()).unwrap())).unwrap();
        let serial = store.reserve_serial().unwrap();
        store.record_issued(&issued(&serial), meta("eu")).unwrap();
        let record = store.get(&serial.hex()).unwrap().unwrap();
        assert_eq!((record.owner.as_str(), record.revoked.is_none()), ("team-a", true));
        let now = from_unix(1_800_000_000);
        store.revoke(&serial.hex().to_uppercase(), RevocationReason::KeyCompromise, now).unwrap();
        let again = store.revoke(&serial.hex(), RevocationReason::Superseded, now);
        assert!(matches!(again, Err(Error::AlreadyRevoked(_))));
        let entry = store.get(&serial.hex()).unwrap().unwrap().revoked.unwrap();
        assert_eq!((entry.reason, entry.revoked_at), (RevocationReason::KeyCompromise, 1_800_000_000));
        assert_eq!(store.revoked("eu").unwrap(), vec![entry]);
        assert!(store.revoked("e").unwrap().is_empty());
        assert!(store.revoked("default").unwrap().is_empty());
    }

    #[test]
    fn names_reverse_for_subtree_scans() {
        assert_eq!(reversed("pr-1.web.hr.preview.apps.company.com."), "com.company.apps.preview.hr.web.pr-1");
        assert_eq!(reversed("*.x.Apps.com"), "com.apps.x.*");
        assert_eq!(name_key("a.b", "ff"), b"b.a/ff".to_vec());
    }

    #[test]
    fn a_subtree_scan_finds_the_name_and_below_but_not_siblings() {
        let dir = tempfile::tempdir().unwrap();
        let store = CertStore::open(&zones::GroupFlush::shared(&sled::open(dir.path()).unwrap())).unwrap();
        let preview = "pr-7.web.hr.preview.apps.company.com";
        let mut expected = BTreeSet::new();
        let names = [
            (preview, true),
            ("*.pr-7.web.hr.preview.apps.company.com", true),
            ("a.b.PR-7.web.hr.preview.apps.company.com.", true),
            ("pr-70.web.hr.preview.apps.company.com", false),
            ("web.hr.preview.apps.company.com", false),
        ];
        for (name, below) in names {
            let serial = store.reserve_serial().unwrap();
            let meta = CertMeta { names: vec![name.to_owned()], ..meta("eu") };
            store.record_issued(&issued(&serial), meta).unwrap();
            if below {
                expected.insert(serial.hex());
            }
        }
        assert_eq!(store.serials_at_or_below(preview).unwrap(), expected);
        assert!(store.serials_at_or_below("other.apps.company.com").unwrap().is_empty());
    }

    #[test]
    fn certificates_recorded_without_a_name_index_get_one_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let serial = {
            let store = CertStore::open(&zones::GroupFlush::shared(&sled::open(dir.path()).unwrap())).unwrap();
            let serial = store.reserve_serial().unwrap();
            store.record_issued(&issued(&serial), meta("eu")).unwrap();
            store.names.clear().unwrap();
            store.flush().unwrap();
            serial.hex()
        };
        let store = CertStore::open(&zones::GroupFlush::shared(&reopen(dir.path()))).unwrap();
        assert_eq!(store.serials_at_or_below("a.apps.company.com").unwrap(), BTreeSet::from([serial]));
    }

    #[test]
    fn unknown_serial_cannot_be_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = CertStore::open(&zones::GroupFlush::shared(&sled::open(dir.path()).unwrap())).unwrap();
        let err = store.revoke("abcd", RevocationReason::Unspecified, UNIX_EPOCH).unwrap_err();
        assert!(matches!(err, Error::UnknownSerial(_)));
        assert!(store.get("not hex").unwrap().is_none());
    }

    #[test]
    fn crl_numbers_count_per_region_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = CertStore::open(&zones::GroupFlush::shared(&sled::open(dir.path()).unwrap())).unwrap();
            assert_eq!(store.next_crl_number("eu").unwrap(), 1);
            assert_eq!(store.next_crl_number("eu").unwrap(), 2);
            assert_eq!(store.next_crl_number("default").unwrap(), 1);
        }
        let store = CertStore::open(&zones::GroupFlush::shared(&reopen(dir.path()))).unwrap();
        assert_eq!(store.next_crl_number("eu").unwrap(), 3);
    }

    #[test]
    fn reason_codes_map() {
        assert_eq!(RevocationReason::from_code(1), Some(RevocationReason::KeyCompromise));
        assert_eq!(RevocationReason::from_code(2), None);
        assert_eq!(RevocationReason::from_code(9).map(|r| r.to_rcgen() as u8), Some(9));
    }
}
