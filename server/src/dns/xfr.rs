//! Zone transfers out: AXFR (RFC 5936) and IXFR (RFC 1995), over TCP.
//!
//! This is the transfer entry point, beside [`super::Responder::answer`]:
//! the TCP listener hands it every AXFR/IXFR query ([`is_transfer`]) and
//! writes the messages [`Transfers::start`] yields, one after the other.
//!
//! - AXFR: the SOA, every other RRset of the snapshot's zone (an immutable
//!   `Arc<Zone>`, so a concurrent change does not tear the transfer), the SOA
//!   again. Records are encoded lazily, one message at a time, each at most
//!   [`BUDGET`] bytes before name compression (so below 65535 after it);
//!   every message echoes the query ID and the question, as Knot does.
//! - IXFR: the client's serial is the SOA in the authority section. A client
//!   at the current serial (or ahead) gets the SOA alone; when the journal
//!   holds an unbroken chain of entries from its serial to the current one,
//!   the differences (current SOA, then per entry: old SOA, removed, new SOA,
//!   added, and the current SOA last); otherwise the whole zone, AXFR-style
//!   (RFC 1995 §4).
//! - Rights: [`secondary_may_transfer`] (a configured secondary's IP address,
//!   and its key when one is configured); refused with REFUSED otherwise. A
//!   name that is not a zone apex here gets NOTAUTH (RFC 5936 §2.2.1).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use zones::{JournalEntry, Store, Zone};

use super::authority::{Authority, TsigKey};
use super::tsig::{self, Failure, Signer};

/// Bytes of uncompressed records per message. With the header and the
/// question a message stays below 16384 bytes, so every name in it can be
/// the target of a compression pointer (14 bits of offset): hickory-proto
/// records pointers to names past that offset and encodes them wrongly
/// (kdig reports "trailing data" and loses records). 16 KiB messages cost
/// a few more messages than Knot's 64 KiB ones and nothing else.
const BUDGET: usize = 16_000;

/// A configured secondary: NOTIFY goes to `address`, and transfers are
/// allowed from its IP address (signed with `tsig_key` when set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secondary {
    /// Where NOTIFY is sent; its IP is the one transfers are allowed from.
    pub address: SocketAddr,
    /// The key its requests must be signed with, if any (lowercase, absolute).
    pub tsig_key: Option<Name>,
}

/// Whether a request from `peer`, signed with the key named `key` (verified)
/// if any, comes from a configured secondary: the IP must match, and the key
/// too when the secondary has one.
pub fn secondary_may_transfer(secondaries: &[Secondary], peer: IpAddr, key: Option<&Name>) -> bool {
    let peer = peer.to_canonical();
    secondaries.iter().any(|s| {
        s.address.ip().to_canonical() == peer
            && s.tsig_key.as_ref().is_none_or(|wanted| key.is_some_and(|k| k == wanted))
    })
}

/// Whether `packet` is a zone transfer query (QUERY opcode, one question of
/// type AXFR or IXFR), read from the header and the question alone.
pub fn is_transfer(packet: &[u8]) -> bool {
    let Some(header) = packet.get(..12) else { return false };
    if header[2] & 0x80 != 0 || (header[2] >> 3) & 0x0f != 0 || header[4..6] != [0, 1] {
        return false;
    }
    let mut at = 12;
    loop {
        match packet.get(at) {
            Some(0) => break,
            Some(&len) if len < 0x40 => at += 1 + usize::from(len),
            _ => return false, // compressed or truncated: the responder answers it
        }
    }
    matches!(packet.get(at + 1..at + 3), Some([0, 251 | 252]))
}

/// Where transfers read from, and who may transfer.
pub struct Transfers {
    store: Arc<Store>,
    secondaries: Vec<Secondary>,
    authority: Option<Arc<dyn Authority>>,
}

impl Transfers {
    /// Transfers of the zones in `store`, allowed to `secondaries`. Without
    /// an authority, signed requests are refused (no key is known).
    pub fn new(store: Arc<Store>, secondaries: Vec<Secondary>) -> Self {
        Self { store, secondaries, authority: None }
    }

    /// Keys and further transfer rights (team keys) from `authority`.
    pub fn with_authority(self, authority: Arc<dyn Authority>) -> Self {
        Self { authority: Some(authority), ..self }
    }

    /// The response to the transfer query `packet` from `peer` at `now`
    /// (seconds since the epoch): call [`Outgoing::next_message`] until it
    /// returns `None`.
    pub(crate) fn start(&self, packet: &[u8], peer: IpAddr, now: u64) -> Outgoing {
        let Ok(message) = Message::from_vec(packet) else {
            return Outgoing::error(Head::of_bytes(packet), ResponseCode::FormErr);
        };
        let head = Head {
            id: message.metadata.id,
            recursion_desired: message.metadata.recursion_desired,
            query: message.queries.first().cloned(),
        };
        let (key, signer) = match self.verify(packet, now) {
            Ok(Some(signer)) => (Some(signer.key().clone()), Some(signer)),
            Ok(None) => (None, None),
            Err(Some(failure)) => return Outgoing::error(head, ResponseCode::NotAuth).failing(failure, now),
            Err(None) => return Outgoing::error(head, ResponseCode::FormErr),
        };
        let Some(query) = head.query.clone() else { return Outgoing::error(head, ResponseCode::FormErr) };
        let zone_name = query.name().to_lowercase();
        if query.query_class() != DNSClass::IN || !self.may_transfer(peer, key.as_ref(), &zone_name) {
            tracing::info!(%peer, zone = %query.name(), key = ?key.map(|k| k.name), "zone transfer refused");
            return Outgoing::error(head, ResponseCode::Refused).signed(signer);
        }
        let snapshot = self.store.snapshot();
        let Some(zone) = snapshot.get(&zone_name).cloned() else {
            return Outgoing::error(head, ResponseCode::NotAuth).signed(signer);
        };
        let records = match query.query_type() {
            RecordType::IXFR => match client_serial(&message) {
                Some(serial) => self.ixfr(zone, serial),
                None => return Outgoing::error(head, ResponseCode::FormErr).signed(signer),
            },
            _ => axfr(zone),
        };
        tracing::debug!(%peer, zone = %query.name(), qtype = %query.query_type(), "zone transfer");
        Outgoing { head, rcode: ResponseCode::NoError, records, peeked: None, done: false, tsig: Tsig::from(signer) }
    }

    /// The request's TSIG checked: `Ok(None)` unsigned, `Ok(Some)` verified,
    /// `Err(Some)` a TSIG error to answer, `Err(None)` malformed.
    fn verify(&self, packet: &[u8], now: u64) -> Result<Option<Signer>, Option<Failure>> {
        let Some(record) = tsig::find(packet).map_err(|_| None)? else { return Ok(None) };
        let key = self.authority.as_ref().and_then(|a| a.tsig_key(&record.key_name.to_lowercase()));
        tsig::verify(packet, record, key, now).map(Some).map_err(Some)
    }

    /// A configured secondary, or whatever else the authority allows.
    fn may_transfer(&self, peer: IpAddr, key: Option<&TsigKey>, zone: &Name) -> bool {
        secondary_may_transfer(&self.secondaries, peer, key.map(|k| &k.name))
            || self.authority.as_ref().is_some_and(|a| a.may_transfer(peer, key, zone))
    }

    /// The IXFR answer to a client at `serial`.
    fn ixfr(&self, zone: Arc<Zone>, serial: u32) -> Records {
        let current = zone.serial();
        let soa: Vec<Record> = zone.soa().records().take(1).collect();
        if (current.wrapping_sub(serial) as i32) <= 0 {
            return Box::new(soa.into_iter()); // current (or ahead): the SOA alone
        }
        let journal = match self.store.journal(zone.apex()) {
            Ok(journal) => journal,
            Err(error) => {
                tracing::warn!(%error, zone = %zone.apex(), "reading the journal for IXFR; sending AXFR");
                return axfr(zone);
            }
        };
        match chain(journal, serial, current) {
            Some(entries) => {
                let body = entries.into_iter().flat_map(|e| e.removed.into_iter().chain(e.added));
                Box::new(soa.clone().into_iter().chain(body).chain(soa))
            }
            None => axfr(zone),
        }
    }
}

/// The records of a transfer, in order.
type Records = Box<dyn Iterator<Item = Record> + Send>;

/// What every message of a response copies from the query.
#[derive(Clone, Debug)]
struct Head {
    id: u16,
    recursion_desired: bool,
    query: Option<Query>,
}

impl Head {
    /// The head of an unparseable query: its ID and RD bit.
    fn of_bytes(packet: &[u8]) -> Self {
        let id = packet.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        let recursion_desired = packet.get(2).is_some_and(|b| b & 1 != 0);
        Self { id, recursion_desired, query: None }
    }
}

/// How the messages of a transfer response are signed.
enum Tsig {
    /// Unsigned (the request was).
    None,
    /// Every message, chained (RFC 8945 §5.3.1).
    Sign(Signer),
    /// The one message is a TSIG error (RFC 8945 §5.3.2), at the time given.
    Fail(Failure, u64),
}

impl From<Option<Signer>> for Tsig {
    fn from(signer: Option<Signer>) -> Self {
        signer.map_or(Tsig::None, Tsig::Sign)
    }
}

/// A transfer response being sent, one message at a time.
pub(crate) struct Outgoing {
    head: Head,
    rcode: ResponseCode,
    records: Records,
    peeked: Option<Record>,
    done: bool,
    tsig: Tsig,
}

impl Outgoing {
    /// A one-message answer with `rcode` and no records.
    fn error(head: Head, rcode: ResponseCode) -> Self {
        Self { head, rcode, records: Box::new(std::iter::empty()), peeked: None, done: false, tsig: Tsig::None }
    }

    /// This response signed by `signer`, if any.
    fn signed(self, signer: Option<Signer>) -> Self {
        Self { tsig: Tsig::from(signer), ..self }
    }

    /// This response as the TSIG error `failure`.
    fn failing(self, failure: Failure, now: u64) -> Self {
        Self { tsig: Tsig::Fail(failure, now), ..self }
    }

    /// The response code of the transfer (NOERROR when records follow).
    pub(crate) fn rcode(&self) -> ResponseCode {
        self.rcode
    }

    /// The next message, encoded; `None` once the last one was returned (or
    /// when a message could not be encoded: the connection should close).
    pub(crate) fn next_message(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut message = Message::new(self.head.id, MessageType::Response, OpCode::Query);
        message.metadata.authoritative = self.rcode == ResponseCode::NoError;
        message.metadata.recursion_desired = self.head.recursion_desired;
        message.metadata.response_code = self.rcode;
        message.queries.extend(self.head.query.clone());
        let mut size = 0;
        while let Some(record) = self.peeked.take().or_else(|| self.records.next()) {
            let len = record.to_bytes().map_or(BUDGET, |b| b.len());
            if !message.answers.is_empty() && size + len > BUDGET {
                self.peeked = Some(record);
                break;
            }
            size += len;
            message.answers.push(record);
        }
        self.done = self.peeked.is_none();
        let mut bytes = message.to_vec().ok();
        if let Some(bytes) = bytes.as_mut() {
            match std::mem::replace(&mut self.tsig, Tsig::None) {
                Tsig::None => {}
                Tsig::Sign(mut signer) => {
                    signer.sign_next(bytes);
                    self.tsig = Tsig::Sign(signer);
                }
                Tsig::Fail(failure, now) => failure.respond(bytes, now),
            }
        }
        match bytes {
            Some(bytes) if bytes.len() <= usize::from(u16::MAX) => Some(bytes),
            _ => {
                tracing::warn!("a zone transfer message could not be encoded; closing");
                self.done = true;
                None
            }
        }
    }
}

/// The whole zone: SOA, every other RRset in canonical order, SOA.
fn axfr(zone: Arc<Zone>) -> Records {
    let soa: Vec<Record> = zone.soa().records().take(1).collect();
    let apex = zone.apex().clone();
    let keys: Vec<(Name, RecordType)> = zone
        .rrsets()
        .into_iter()
        .filter(|s| !(s.rtype() == RecordType::SOA && s.name() == &apex))
        .map(|s| (s.name().clone(), s.rtype()))
        .collect();
    let body = keys
        .into_iter()
        .flat_map(move |(name, rtype)| zone.rrset(&name, rtype).map(|s| s.records().collect::<Vec<_>>()))
        .flatten();
    Box::new(soa.clone().into_iter().chain(body).chain(soa))
}

/// The serial of the SOA in an IXFR query's authority section.
fn client_serial(message: &Message) -> Option<u32> {
    message.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// The journal entries leading from `from` to `to` without a gap, each led
/// by its SOAs (as IXFR sends them), or `None`.
fn chain(journal: Vec<JournalEntry>, from: u32, to: u32) -> Option<Vec<JournalEntry>> {
    let start = journal.iter().rposition(|e| e.from_serial == from && e.to_serial != from)?;
    let mut serial = from;
    let mut entries = Vec::new();
    for entry in journal.into_iter().skip(start) {
        let led = |records: &[Record]| records.first().is_some_and(|r| r.record_type() == RecordType::SOA);
        if entry.from_serial != serial || !led(&entry.removed) || !led(&entry.added) {
            return None;
        }
        serial = entry.to_serial;
        entries.push(entry);
        if serial == to {
            return Some(entries);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::SystemTime;
    use zones::{ChangeSet, Op, RRset};

    use super::super::authority::OneKey;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).expect("test")
    }

    fn store_with(records: usize) -> (tempfile::TempDir, Arc<Store>) {
        let dir = tempfile::tempdir().expect("test");
        let store = Arc::new(Store::open(&dir.path().join("data")).expect("test"));
        let text = format!(
            "$ORIGIN example.org.\n@ 300 IN SOA ns1 host 1 3600 600 86400 60\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\n{}",
            (0..records)
                .map(|i| match i % 2 {
                    0 => format!("host-{i} 300 IN A 10.{}.{}.{}\n", i >> 16, (i >> 8) & 255, i & 255),
                    _ => format!("host-{i} 300 IN MX 10 mail-{}\n", i % 97), // names to compress
                })
                .collect::<String>()
        );
        let zone = zones::zonefile::parse(&text, Some(&name("example.org."))).expect("test");
        store.put_zone(zone, "test", "test", SystemTime::now()).expect("test");
        (dir, store)
    }

    fn request(qtype: RecordType, serial: Option<u32>) -> Vec<u8> {
        let mut message = Message::new(0x4242, MessageType::Query, OpCode::Query);
        message.queries.push(Query::query(name("example.org."), qtype));
        if let Some(serial) = serial {
            let soa = hickory_proto::rr::rdata::SOA::new(name("a."), name("b."), serial, 1, 1, 1, 1);
            message.authorities.push(Record::from_rdata(name("example.org."), 0, RData::SOA(soa)));
        }
        message.to_vec().expect("test")
    }

    fn transfers(store: &Arc<Store>) -> Transfers {
        let secondary = Secondary { address: "127.0.0.1:53053".parse().expect("test"), tsig_key: None };
        Transfers::new(store.clone(), vec![secondary])
    }

    fn collect(mut out: Outgoing) -> Vec<Message> {
        std::iter::from_fn(|| out.next_message())
            .map(|bytes| {
                assert!(bytes.len() <= 65_535);
                Message::from_vec(&bytes).expect("test")
            })
            .collect()
    }

    fn localhost() -> IpAddr {
        "127.0.0.1".parse().expect("test")
    }

    #[test]
    fn transfer_queries_are_recognised_from_the_question() {
        assert!(is_transfer(&request(RecordType::AXFR, None)));
        assert!(is_transfer(&request(RecordType::IXFR, Some(1))));
        assert!(!is_transfer(&request(RecordType::SOA, None)));
        assert!(!is_transfer(&[0; 11]));
        assert!(!is_transfer(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0]));
    }

    #[test]
    fn axfr_of_a_large_zone_is_split_and_complete() {
        let (_dir, store) = store_with(20_000);
        let messages = collect(transfers(&store).start(&request(RecordType::AXFR, None), localhost(), 0));
        assert!(messages.len() > 1, "split across messages");
        let records: Vec<&Record> = messages.iter().flat_map(|m| m.answers.iter()).collect();
        assert_eq!(records.len(), 20_000 + 2 + 2, "SOA, NS, ns1 A, the hosts, SOA");
        assert_eq!(records.first().expect("test").record_type(), RecordType::SOA);
        assert_eq!(records.last().expect("test").record_type(), RecordType::SOA);
        let distinct: HashSet<String> = records.iter().map(|r| r.to_string()).collect();
        assert_eq!(distinct.len(), 20_000 + 3);
        for message in &messages {
            assert_eq!(message.metadata.id, 0x4242);
            assert_eq!(message.queries.len(), 1);
            assert!(message.metadata.authoritative);
        }
    }

    #[test]
    fn strangers_are_refused_and_other_names_are_notauth() {
        let (_dir, store) = store_with(1);
        let xfr = transfers(&store);
        let out = xfr.start(&request(RecordType::AXFR, None), "192.0.2.9".parse().expect("test"), 0);
        let messages = collect(out);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].metadata.response_code, ResponseCode::Refused);
        assert!(messages[0].answers.is_empty());
        let mut message = Message::from_vec(&request(RecordType::AXFR, None)).expect("test");
        message.queries[0].set_name(name("other.org."));
        let messages = collect(xfr.start(&message.to_vec().expect("test"), localhost(), 0));
        assert_eq!(messages[0].metadata.response_code, ResponseCode::NotAuth);
        assert_eq!(
            collect(xfr.start(b"\x00\x01\x00", localhost(), 0))[0].metadata.response_code,
            ResponseCode::FormErr
        );
    }

    #[test]
    fn ixfr_sends_the_journal_the_soa_or_the_whole_zone() {
        let (_dir, store) = store_with(3);
        let apex = name("example.org.");
        for i in 0..2 {
            let mut cs = ChangeSet::new(&apex, "test", "test");
            let mut set = RRset::new(&name(&format!("new-{i}.example.org.")), RecordType::A, 60);
            set.insert(RData::A("192.0.2.7".parse().expect("test")));
            cs.push(Op::ReplaceRRset(set));
            cs.push(Op::RemoveName(name(&format!("host-{i}.example.org."))));
            store.commit(&cs, SystemTime::now()).expect("test");
        }
        let current = store.snapshot().get(&apex).expect("test").serial();
        let xfr = transfers(&store);
        let answers = |serial| -> Vec<Record> {
            collect(xfr.start(&request(RecordType::IXFR, Some(serial)), localhost(), 0))
                .into_iter()
                .flat_map(|m| m.answers)
                .collect()
        };
        let diff = answers(1);
        // SOA cur; SOA 1, host-0, SOA 2, new-0; SOA 2, host-1, SOA cur, new-1; SOA cur
        assert_eq!(diff.len(), 10, "{diff:?}");
        let serials: Vec<u32> = diff
            .iter()
            .filter_map(|r| match &r.data {
                RData::SOA(soa) => Some(soa.serial),
                _ => None,
            })
            .collect();
        assert_eq!(serials, [current, 1, 2, 2, current, current]);
        assert_eq!(answers(current).len(), 1, "a current client gets the SOA alone");
        assert_eq!(answers(current.wrapping_add(5)).len(), 1, "a client ahead too");
        let full = answers(current.wrapping_sub(1000));
        assert_eq!(full.len(), 7, "not in the journal: SOA NS ns1 host-2 new-0 new-1 SOA");
        let mut no_soa = Message::from_vec(&request(RecordType::IXFR, None)).expect("test");
        no_soa.authorities.clear();
        let out = collect(xfr.start(&no_soa.to_vec().expect("test"), localhost(), 0));
        assert_eq!(out[0].metadata.response_code, ResponseCode::FormErr);
    }

    #[test]
    fn signed_transfers_are_signed_in_every_message_and_need_the_secondarys_key() {
        let (_dir, store) = store_with(5_000);
        let key = |name: &str| TsigKey {
            name: Name::from_ascii(name).expect("test"),
            algorithm: super::super::authority::Algorithm::HmacSha256,
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
            team: None,
        };
        let secondary = Secondary { address: "127.0.0.1:53053".parse().expect("test"), tsig_key: Some(name("xfr.")) };
        let xfr = Transfers::new(store.clone(), vec![secondary]).with_authority(Arc::new(OneKey(key("xfr."))));
        let now = 1_800_000_000;
        let signed = |key: TsigKey| {
            let mut packet = request(RecordType::AXFR, None);
            Signer::for_request(key, now).sign_next(&mut packet);
            packet
        };
        let mut out = xfr.start(&signed(key("xfr.")), localhost(), now);
        let messages: Vec<Vec<u8>> = std::iter::from_fn(|| out.next_message()).collect();
        assert!(messages.len() > 1);
        for bytes in &messages {
            assert!(tsig::find(bytes).expect("test").is_some(), "every message carries a TSIG");
            assert_eq!(Message::from_vec(bytes).expect("test").metadata.response_code, ResponseCode::NoError);
        }
        let unsigned = collect(xfr.start(&request(RecordType::AXFR, None), localhost(), now));
        assert_eq!(unsigned[0].metadata.response_code, ResponseCode::Refused, "the key is required");
        let mut out = xfr.start(&signed(key("other.")), localhost(), now);
        let bytes = out.next_message().expect("test");
        assert_eq!(bytes[3] & 0x0f, 9, "an unknown key: NOTAUTH (BADKEY)");
        assert!(out.next_message().is_none());
    }

    #[test]
    fn secondaries_match_by_address_and_key() {
        let keyed = Secondary { address: "192.0.2.1:53".parse().expect("test"), tsig_key: Some(name("k.")) };
        let plain = Secondary { address: "[2001:db8::1]:53".parse().expect("test"), tsig_key: None };
        let list = [keyed, plain];
        assert!(secondary_may_transfer(&list, "192.0.2.1".parse().expect("test"), Some(&name("K."))));
        assert!(!secondary_may_transfer(&list, "192.0.2.1".parse().expect("test"), None));
        assert!(!secondary_may_transfer(&list, "192.0.2.1".parse().expect("test"), Some(&name("j."))));
        assert!(secondary_may_transfer(&list, "2001:db8::1".parse().expect("test"), None));
        assert!(!secondary_may_transfer(&list, "192.0.2.2".parse().expect("test"), None));
        assert!(secondary_may_transfer(&list, "::ffff:192.0.2.1".parse().expect("test"), Some(&name("k."))));
    }
}
