//! Byte encodings of what the store keeps: RRsets, journal entries, zone
//! metadata and audit records.
//!
//! Records are in DNS wire form (RFC 1035 §4.1.3), written by hickory's
//! `BinEncoder` with name compression off, so every encoded item stands
//! alone; counts, numbers and strings are plain big-endian fields. Each value
//! starts with a version byte, and decoders ignore bytes after the fields they
//! know, so fields can be appended later.
//!
//! ```text
//! rrset  = v:u8=1 owner:name type:u16 ttl:u32 count:u32 (len:u16 rdata)*
//! entry  = v:u8=1 zone:name from:u32 to:u32 at_unix:u64 author:str reason:str
//!          removed:u32 record* added:u32 record*
//! meta   = v:u8=1 serial:u32 first_seq:u64 next_seq:u64
//! audit  = v:u8=1 at_unix_ms:u64 note:bytes entries:u32 (entry:bytes)*
//!          deleted:u32 name*
//! bytes  = len:u32 bytes
//! record = owner:name type:u16 class:u16 ttl:u32 rdlength:u16 rdata
//! name   = uncompressed wire form, case kept
//! str    = len:u32 utf-8 bytes
//! ```

use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder, DecodeError, NameEncoding, Restrict,
};

use crate::{AuditRecord, Error, JournalEntry, RRset};

/// The format version written at the start of every value.
const VERSION: u8 = 1;

/// What the store keeps per zone besides its records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    /// The zone's SOA serial, to check against the stored SOA.
    pub(crate) serial: u32,
    /// The sequence number of the oldest journal entry kept.
    pub(crate) first_seq: u64,
    /// The sequence number the next journal entry gets.
    pub(crate) next_seq: u64,
}

/// Encodes an RRset: owner, type, TTL and each record's data.
pub(crate) fn encode_rrset(set: &RRset) -> Result<Vec<u8>, Error> {
    let mut out = vec![VERSION];
    put_wire(&mut out, set.name())?;
    out.extend_from_slice(&u16::from(set.rtype()).to_be_bytes());
    out.extend_from_slice(&set.ttl().to_be_bytes());
    put_u32(&mut out, set.rdatas().len())?;
    for rdata in set.rdatas() {
        let bytes = wire(rdata)?;
        put_u16(&mut out, bytes.len())?;
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

/// Decodes what [`encode_rrset`] wrote.
pub(crate) fn decode_rrset(bytes: &[u8]) -> Result<RRset, Error> {
    let mut r = Reader::new(bytes, "RRset")?;
    let name: Name = r.hickory(Name::read)?;
    let rtype = RecordType::from(r.u16()?);
    let ttl = r.u32()?;
    let mut set = RRset::new(&name, rtype, ttl);
    for _ in 0..r.u32()? {
        let len = r.u16()?;
        let rdata = r.hickory(|d| RData::read(d, rtype, Restrict::new(len)))?;
        set.insert(rdata);
    }
    Ok(set)
}

/// Encodes a journal entry.
pub(crate) fn encode_entry(entry: &JournalEntry) -> Result<Vec<u8>, Error> {
    let mut out = vec![VERSION];
    put_wire(&mut out, &entry.zone)?;
    out.extend_from_slice(&entry.from_serial.to_be_bytes());
    out.extend_from_slice(&entry.to_serial.to_be_bytes());
    out.extend_from_slice(&entry.at_unix.to_be_bytes());
    put_str(&mut out, &entry.author)?;
    put_str(&mut out, &entry.reason)?;
    put_records(&mut out, &entry.removed)?;
    put_records(&mut out, &entry.added)?;
    Ok(out)
}

/// Decodes what [`encode_entry`] wrote.
pub(crate) fn decode_entry(bytes: &[u8]) -> Result<JournalEntry, Error> {
    let mut r = Reader::new(bytes, "journal entry")?;
    Ok(JournalEntry {
        zone: r.hickory(Name::read)?,
        from_serial: r.u32()?,
        to_serial: r.u32()?,
        at_unix: r.u64()?,
        author: r.string()?,
        reason: r.string()?,
        removed: r.records()?,
        added: r.records()?,
    })
}

/// Encodes an audit record (its sequence number is its key).
pub(crate) fn encode_audit(record: &AuditRecord) -> Result<Vec<u8>, Error> {
    let mut out = vec![VERSION];
    out.extend_from_slice(&record.at_unix_ms.to_be_bytes());
    put_bytes(&mut out, &record.note)?;
    put_u32(&mut out, record.changes.len())?;
    for entry in &record.changes {
        put_bytes(&mut out, &encode_entry(entry)?)?;
    }
    put_u32(&mut out, record.deleted_zones.len())?;
    record.deleted_zones.iter().try_for_each(|apex| put_wire(&mut out, apex))?;
    Ok(out)
}

/// Decodes what [`encode_audit`] wrote, as the record numbered `seq`.
pub(crate) fn decode_audit(seq: u64, bytes: &[u8]) -> Result<AuditRecord, Error> {
    let mut r = Reader::new(bytes, "audit record")?;
    let at_unix_ms = r.u64()?;
    let note = r.bytes()?.to_vec();
    let changes = (0..r.u32()?).map(|_| decode_entry(r.bytes()?)).collect::<Result<_, _>>()?;
    let deleted_zones = (0..r.u32()?).map(|_| r.hickory(Name::read)).collect::<Result<_, _>>()?;
    Ok(AuditRecord { seq, at_unix_ms, note, changes, deleted_zones })
}

/// Encodes zone metadata.
pub(crate) fn encode_meta(meta: &Meta) -> Vec<u8> {
    let mut out = vec![VERSION];
    out.extend_from_slice(&meta.serial.to_be_bytes());
    out.extend_from_slice(&meta.first_seq.to_be_bytes());
    out.extend_from_slice(&meta.next_seq.to_be_bytes());
    out
}

/// Decodes what [`encode_meta`] wrote.
pub(crate) fn decode_meta(bytes: &[u8]) -> Result<Meta, Error> {
    let mut r = Reader::new(bytes, "zone meta")?;
    Ok(Meta { serial: r.u32()?, first_seq: r.u64()?, next_seq: r.u64()? })
}

/// `item` in wire form, names uncompressed.
fn wire(item: &impl BinEncodable) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    let mut encoder = BinEncoder::new(&mut buf);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    item.emit(&mut encoder).map_err(|e| Error::Storage(format!("cannot encode: {e}")))?;
    Ok(buf)
}

fn put_wire(out: &mut Vec<u8>, item: &impl BinEncodable) -> Result<(), Error> {
    out.extend_from_slice(&wire(item)?);
    Ok(())
}

fn put_records(out: &mut Vec<u8>, records: &[Record]) -> Result<(), Error> {
    put_u32(out, records.len())?;
    records.iter().try_for_each(|record| put_wire(out, record))
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    put_bytes(out, s.as_bytes())
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Error> {
    put_u32(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_u16(out: &mut Vec<u8>, n: usize) -> Result<(), Error> {
    let n = u16::try_from(n).map_err(|_| Error::Storage("record data too long".into()))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, n: usize) -> Result<(), Error> {
    let n = u32::try_from(n).map_err(|_| Error::Storage("too many items to encode".into()))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

/// Reads the fields of one stored value; every failure is [`Error::Corrupt`].
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader past the version byte, which must be one this code writes.
    fn new(bytes: &'a [u8], what: &'static str) -> Result<Self, Error> {
        let mut reader = Self { bytes, pos: 0, what };
        match reader.take(1)?[0] {
            VERSION => Ok(reader),
            v => Err(reader.corrupt(format!("unknown version {v}"))),
        }
    }

    fn corrupt(&self, why: impl std::fmt::Display) -> Error {
        Error::Corrupt(format!("{} at byte {}: {why}", self.what, self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| self.corrupt("truncated"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16, Error> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, Error> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, Error> {
        self.array().map(u64::from_be_bytes)
    }

    fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn string(&mut self) -> Result<String, Error> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|e| self.corrupt(e))
    }

    /// Runs a hickory decoder on the rest of the value and moves past what it read.
    fn hickory<T>(&mut self, read: impl FnOnce(&mut BinDecoder<'a>) -> Result<T, DecodeError>) -> Result<T, Error> {
        let rest = &self.bytes[self.pos..];
        let mut decoder = BinDecoder::new(rest);
        let value = read(&mut decoder).map_err(|e| self.corrupt(e))?;
        self.pos += decoder.index();
        Ok(value)
    }

    fn records(&mut self) -> Result<Vec<Record>, Error> {
        let count = self.u32()?;
        (0..count).map(|_| self.record()).collect()
    }

    /// One record in wire form. Unlike `Record::read`, empty data stays data
    /// of its type rather than becoming an UPDATE placeholder.
    fn record(&mut self) -> Result<Record, Error> {
        let name: Name = self.hickory(Name::read)?;
        let rtype = RecordType::from(self.u16()?);
        let class = DNSClass::from(self.u16()?);
        let ttl = self.u32()?;
        let len = self.u16()?;
        let data = self.hickory(|d| RData::read(d, rtype, Restrict::new(len)))?;
        let mut record = Record::from_rdata(name, ttl, data);
        record.dns_class = class;
        Ok(record)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use std::str::FromStr;

    use hickory_proto::rr::rdata::{A, AAAA, CAA, CNAME, MX, NS, SOA, SRV, TXT};

    use super::*;

    fn name(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    /// One RData of every type the genzone zone uses, plus MX and SRV.
    fn samples() -> Vec<RData> {
        let soa = SOA::new(name("ns1.example."), name("hostmaster.example."), 7, 3600, 600, 604800, 60);
        vec![
            RData::A(A::new(192, 0, 2, 1)),
            RData::AAAA(AAAA::from_str("2001:db8::1").unwrap()),
            RData::TXT(TXT::new(vec!["owner=team1".into(), "a \"quoted\"; value".into(), String::new()])),
            RData::CNAME(CNAME(name("Ingress-Preview.example."))),
            RData::NS(NS(name("ns1.sub.example."))),
            RData::SOA(soa),
            RData::CAA(CAA::new_issue(false, Some(name("ca.example.")), vec![])),
            RData::MX(MX::new(10, name("mail.example."))),
            RData::SRV(SRV::new(0, 5, 443, name("host.example."))),
        ]
    }

    #[test]
    fn rrsets_round_trip_for_every_sample_type() {
        for rdata in samples() {
            let mut set = RRset::new(&name("Www.Example."), rdata.record_type(), 300);
            set.insert(rdata.clone());
            let back = decode_rrset(&encode_rrset(&set).unwrap()).unwrap();
            assert_eq!(back, set, "{}", rdata.record_type());
        }
    }

    #[test]
    fn rrsets_keep_several_records_in_order() {
        let mut set = RRset::new(&name("a.example."), RecordType::TXT, 60);
        for i in 0..50 {
            set.insert(RData::TXT(TXT::new(vec![format!("value {i}")])));
        }
        assert_eq!(decode_rrset(&encode_rrset(&set).unwrap()).unwrap(), set);
    }

    fn entry() -> JournalEntry {
        let records: Vec<Record> =
            samples().into_iter().map(|d| Record::from_rdata(name("x.example."), 60, d)).collect();
        JournalEntry {
            zone: name("example."),
            from_serial: u32::MAX,
            to_serial: 0,
            removed: records[..4].to_vec(),
            added: records[4..].to_vec(),
            author: "tsig:ci-key".into(),
            reason: "déploiement ü".into(),
            at_unix: 1_700_000_000,
        }
    }

    /// Records compare without TTL, so compare them field by field.
    fn same_records(a: &[Record], b: &[Record]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!((x, x.ttl, x.dns_class, x.name.to_string()), (y, y.ttl, y.dns_class, y.name.to_string()));
        }
    }

    #[test]
    fn journal_entries_round_trip() {
        let entry = entry();
        let back = decode_entry(&encode_entry(&entry).unwrap()).unwrap();
        assert_eq!(back, entry);
        same_records(&back.removed, &entry.removed);
        same_records(&back.added, &entry.added);
    }

    #[test]
    fn large_entries_are_not_limited_to_64k() {
        let mut entry = entry();
        let txt = RData::TXT(TXT::new(vec!["x".repeat(200)]));
        entry.added = (0..1000).map(|i| Record::from_rdata(name(&format!("n{i}.example.")), 1, txt.clone())).collect();
        let bytes = encode_entry(&entry).unwrap();
        assert!(bytes.len() > 200_000);
        assert_eq!(decode_entry(&bytes).unwrap(), entry);
    }

    #[test]
    fn audit_records_round_trip_and_truncations_are_corrupt() {
        let record = AuditRecord {
            seq: 7,
            at_unix_ms: 1_700_000_000_250,
            note: br#"{"who":"x"}"#.to_vec(),
            changes: vec![entry(), entry()],
            deleted_zones: vec![name("gone.example.")],
        };
        let bytes = encode_audit(&record).unwrap();
        assert_eq!(decode_audit(7, &bytes).unwrap(), record);
        for cut in 0..bytes.len() {
            assert!(matches!(decode_audit(7, &bytes[..cut]), Err(Error::Corrupt(_))), "cut at {cut}");
        }
    }

    #[test]
    fn meta_round_trips_and_ignores_later_fields() {
        let meta = Meta { serial: 9, first_seq: 3, next_seq: 12 };
        let mut bytes = encode_meta(&meta);
        assert_eq!(decode_meta(&bytes).unwrap(), meta);
        bytes.extend_from_slice(b"future field");
        assert_eq!(decode_meta(&bytes).unwrap(), meta);
    }

    #[test]
    fn corrupt_values_are_errors_not_panics() {
        let mut set = RRset::new(&name("a.example."), RecordType::A, 60);
        set.insert(RData::A(A::new(10, 0, 0, 1)));
        let good = encode_rrset(&set).unwrap();
        for cut in 0..good.len() {
            assert!(matches!(decode_rrset(&good[..cut]), Err(Error::Corrupt(_))), "cut at {cut}");
        }
        let good = encode_entry(&entry()).unwrap();
        for cut in 0..good.len() {
            assert!(matches!(decode_entry(&good[..cut]), Err(Error::Corrupt(_))), "cut at {cut}");
        }
        assert!(matches!(decode_meta(&[2, 0, 0, 0, 0]), Err(Error::Corrupt(_))));
        let mut bad_len = encode_rrset(&set).unwrap();
        let at = bad_len.len() - 6; // the rdata length of the one A record
        bad_len[at..at + 2].copy_from_slice(&5u16.to_be_bytes());
        assert!(matches!(decode_rrset(&bad_len), Err(Error::Corrupt(_))));
    }
}
