//! A resource record set: every record of one type at one owner name.

use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// All records of one type at one owner name, sharing one TTL (RFC 2181 §5).
/// Owner names are stored lowercase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RRset {
    name: Name,
    rtype: RecordType,
    ttl: u32,
    rdatas: Vec<RData>,
}

impl RRset {
    /// An empty RRset of `rtype` at `name`, with `ttl`.
    pub fn new(name: &Name, rtype: RecordType, ttl: u32) -> Self {
        let mut name = name.to_lowercase();
        name.set_fqdn(true);
        Self { name, rtype, ttl, rdatas: Vec::new() }
    }

    /// An RRset holding one record's data.
    pub fn from_record(record: &Record) -> Self {
        let mut set = Self::new(&record.name, record.record_type(), record.ttl);
        set.insert(record.data.clone());
        set
    }

    /// The owner name (lowercase, fully qualified).
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The record type.
    pub fn rtype(&self) -> RecordType {
        self.rtype
    }

    /// The TTL shared by every record of the set.
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// Sets the TTL of the whole set.
    pub fn set_ttl(&mut self, ttl: u32) {
        self.ttl = ttl;
    }

    /// The record data, in insertion order.
    pub fn rdatas(&self) -> &[RData] {
        &self.rdatas
    }

    /// Whether the set holds no record.
    pub fn is_empty(&self) -> bool {
        self.rdatas.is_empty()
    }

    /// Adds `rdata` unless an equal record is present; returns whether it was added.
    pub fn insert(&mut self, rdata: RData) -> bool {
        if self.rdatas.contains(&rdata) {
            return false;
        }
        self.rdatas.push(rdata);
        true
    }

    /// Removes the record equal to `rdata`; returns whether one was removed.
    pub fn remove(&mut self, rdata: &RData) -> bool {
        let before = self.rdatas.len();
        self.rdatas.retain(|r| r != rdata);
        before != self.rdatas.len()
    }

    /// The set as records owned by its own name.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.records_as(&self.name, self.ttl)
    }

    /// The set as records owned by `owner` with `ttl`: wildcard synthesis
    /// (RFC 4592 §3.4.1) and negative-answer SOA TTLs use this.
    pub fn records_as<'a>(&'a self, owner: &'a Name, ttl: u32) -> impl Iterator<Item = Record> + 'a {
        self.rdatas.iter().map(move |rdata| {
            let mut record = Record::from_rdata(owner.clone(), ttl, rdata.clone());
            record.dns_class = DNSClass::IN;
            record
        })
    }
}
