//! The one entry point for answering a DNS message: bytes in, bytes out.
//!
//! UDP workers, TCP connections and the fuzz target all call
//! [`Responder::answer`]. Plain queries take the fast path (parse the
//! question in place, answer from the per-worker cache, build and cache on a
//! miss); everything else takes the slow path through hickory's full parser.

use std::sync::Arc;

use arc_swap::Guard;
use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable};
use zones::{Answer, Outcome, ZoneSet};

use super::authority::{Authority, Refusal};
use super::cache::{ResponseCache, patch};
use super::metrics::{BADVERS, Counters};
use super::question::{HEADER_LEN, Question};
use super::response::{Echo, encode_answer, encode_error};
use super::{tsig, update};

/// The largest response over UDP to a query without EDNS0 (RFC 1035 §4.2.1).
const CLASSIC_UDP_LIMIT: usize = 512;
/// The largest DNS message over TCP (RFC 1035 §4.2.2).
const TCP_LIMIT: usize = 65_535;

/// Where the published zone snapshots come from.
pub trait Snapshots: Send + Sync {
    /// The current snapshot, cheaply (no lock, no reference-count traffic
    /// for the common case).
    fn load(&self) -> Guard<Arc<ZoneSet>>;
}

impl Snapshots for zones::Store {
    fn load(&self) -> Guard<Arc<ZoneSet>> {
        self.snapshots().load()
    }
}

impl Snapshots for arc_swap::ArcSwap<ZoneSet> {
    fn load(&self) -> Guard<Arc<ZoneSet>> {
        arc_swap::ArcSwap::load(self)
    }
}

/// The transport a message came over; it bounds the response size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP: 512 bytes, or the EDNS0 payload size up to our own.
    Udp,
    /// TCP or TLS: 65535 bytes.
    Tcp,
}

/// Answers DNS messages from the current zone snapshot. One per worker: it
/// owns that worker's response cache, and counts into that worker's
/// [`Counters`].
pub struct Responder {
    snapshots: Arc<dyn Snapshots>,
    cache: ResponseCache,
    payload: u16,
    counters: Arc<Counters>,
    authority: Option<Arc<dyn Authority>>,
}

/// What the slow path answered, for the counters.
struct Answered {
    /// The question's type; 0 (counted as `other`) without a question.
    qtype: u16,
    /// The responder decided BADVERS, an extended RCODE the header does not show.
    badvers: bool,
}

impl Responder {
    /// A responder over `snapshots` that advertises (and sends at most)
    /// `udp_payload` bytes to EDNS0 clients, with a response cache.
    pub fn new(snapshots: Arc<dyn Snapshots>, udp_payload: u16) -> Self {
        Self {
            snapshots,
            cache: ResponseCache::with_default_capacity(),
            payload: udp_payload.max(512),
            counters: Counters::unregistered(),
            authority: None,
        }
    }

    /// The same without a response cache (for low-rate paths such as TCP).
    pub fn uncached(snapshots: Arc<dyn Snapshots>, udp_payload: u16) -> Self {
        Self { cache: ResponseCache::new(0), ..Self::new(snapshots, udp_payload) }
    }

    /// The same, counting every query into `counters` (a block from
    /// [`super::metrics::Registry::register`]).
    pub fn counting(self, counters: Arc<Counters>) -> Self {
        Self { counters, ..self }
    }

    /// The same, taking dynamic UPDATE (TSIG-signed, RFC 2136) to
    /// `authority`; without one, UPDATE gets NOTIMP. An UPDATE blocks until
    /// its change is durable.
    pub fn with_authority(self, authority: Option<Arc<dyn Authority>>) -> Self {
        Self { authority, ..self }
    }

    /// Answers `packet` into `out`. Returns `false` when nothing must be sent
    /// (a response, or fewer bytes than a header). Either way the packet is
    /// counted: by transport, RCODE and QTYPE, or as dropped.
    pub fn answer(&mut self, packet: &[u8], transport: Transport, out: &mut Vec<u8>) -> bool {
        out.clear();
        let snapshot = self.snapshots.load();
        self.cache.validate(snapshot.generation());
        if let Some(question) = Question::parse(packet) {
            self.answer_question(&snapshot, &question, transport, out);
            self.counters.answered(transport, question.qtype, header_rcode(out));
            return true;
        }
        match self.answer_message(&snapshot, packet, transport, out) {
            Some(answered) => {
                let rcode = match header_rcode(out) {
                    0 if answered.badvers => BADVERS,
                    rcode => rcode,
                };
                self.counters.answered(transport, answered.qtype, rcode);
                true
            }
            None => {
                self.counters.dropped();
                false
            }
        }
    }

    /// The fast path: a plain query, from the cache when possible.
    fn answer_question(&mut self, zones: &ZoneSet, question: &Question<'_>, transport: Transport, out: &mut Vec<u8>) {
        let limit = self.limit(transport, question.edns.map(|e| e.payload));
        let counted = self.cache.is_enabled();
        if let Some(cached) = self.cache.get(question).filter(|c| c.len() <= limit) {
            out.extend_from_slice(cached);
            patch(out, question);
            if counted {
                self.counters.cache(true);
            }
            return;
        }
        if counted {
            self.counters.cache(false);
        }
        let Some(qname) = lowercase_name(question.qname) else {
            return out.extend(encode_error(&Echo::of(question, None), ResponseCode::FormErr, self.payload));
        };
        let qtype = RecordType::from(question.qtype);
        let answer = zones.lookup(&qname, qtype);
        let echo = Echo::of(question, Some(Query::query(qname, qtype)));
        let full = encode_answer(&echo, &answer, TCP_LIMIT, self.payload);
        if is_cacheable(&answer) {
            self.cache.insert(question, &full);
        }
        *out = if full.len() <= limit { full } else { encode_answer(&echo, &answer, limit, self.payload) };
        patch(out, question);
    }

    /// The slow path: anything the question parser did not take. `None`:
    /// nothing to send.
    fn answer_message(
        &self,
        zones: &ZoneSet,
        packet: &[u8],
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> Option<Answered> {
        let header = packet.get(..HEADER_LEN)?;
        if header[2] & 0x80 != 0 {
            return None; // a response: never answer one (RFC 1035 §7.3 loops)
        }
        let mut echo = Echo {
            id: u16::from_be_bytes([header[0], header[1]]),
            op_code: OpCode::from_u8((header[2] >> 3) & 0x0f),
            recursion_desired: header[2] & 0x01 != 0,
            query: None,
            edns_do: None,
        };
        if let Some(authority) = self.authority.as_deref() {
            let found = tsig::find(packet);
            if echo.op_code == OpCode::Update {
                *out = self.update(zones, packet, found, echo, authority);
                return Some(Answered { qtype: u16::from(RecordType::SOA), badvers: false });
            }
            if echo.op_code == OpCode::Query && !matches!(found, Ok(None)) {
                let (response, answered) = self.signed_query(zones, packet, found, echo, transport, authority);
                *out = response;
                return Some(answered);
            }
        }
        let message = match Message::from_vec(packet) {
            Ok(message) => message,
            Err(_) => {
                *out = encode_error(&echo, ResponseCode::FormErr, self.payload);
                return Some(Answered { qtype: 0, badvers: false });
            }
        };
        echo.edns_do = message.edns.as_ref().map(|e| e.flags().dnssec_ok);
        if message.queries.len() == 1 {
            echo.query = message.queries.first().cloned();
        }
        let qtype = echo.query.as_ref().map_or(0, |q| u16::from(q.query_type()));
        let (response, rcode) = self.respond(zones, &message, echo, transport, 0);
        *out = response;
        Some(Answered { qtype, badvers: u16::from(rcode) == BADVERS })
    }

    /// Decides the response to a fully parsed message, and the RCODE it
    /// decided (an answer's own RCODE reads as NOERROR here); an answer
    /// leaves `reserve` bytes of the size limit free (for a TSIG).
    fn respond(
        &self,
        zones: &ZoneSet,
        message: &Message,
        mut echo: Echo,
        transport: Transport,
        reserve: usize,
    ) -> (Vec<u8>, ResponseCode) {
        let rcode = match (&echo.query, message.edns.as_ref()) {
            _ if echo.op_code != OpCode::Query => opcode_error(echo.op_code),
            (None, _) => ResponseCode::FormErr,
            (_, Some(edns)) if edns.version() > 0 => ResponseCode::BADVERS,
            (Some(query), _) => match query_error(query, transport) {
                Some(rcode) => rcode,
                None => return (self.lookup(zones, message, &mut echo, transport, reserve), ResponseCode::NoError),
            },
        };
        (encode_error(&echo, rcode, self.payload), rcode)
    }

    /// Answers an UPDATE: TSIG first (unsigned, or a key without a team:
    /// REFUSED; a bad signature: the TSIG error response), then the
    /// prerequisites and the plan (`update.rs`), then the authority's
    /// durable write; the response is signed with the request's key.
    fn update(&self, zones: &ZoneSet, packet: &[u8], found: Found, echo: Echo, authority: &dyn Authority) -> Vec<u8> {
        self.with_tsig(packet, found, echo, authority, |message, echo, key| match key {
            None => encode_error(echo, ResponseCode::Refused, self.payload),
            Some(key) => encode_error(echo, self.apply_update(zones, message, authority, key), self.payload),
        })
    }

    /// Answers a TSIG-signed QUERY (a secondary's SOA check, say): verified
    /// like an UPDATE, answered as usual with room left for the signature,
    /// and signed with the request's key (RFC 8945 §5.3).
    fn signed_query(
        &self,
        zones: &ZoneSet,
        packet: &[u8],
        found: Found,
        echo: Echo,
        transport: Transport,
        authority: &dyn Authority,
    ) -> (Vec<u8>, Answered) {
        let mut answered = Answered { qtype: 0, badvers: false };
        let out = self.with_tsig(packet, found, echo, authority, |message, echo, key| {
            let reserve = key.map_or(0, tsig::Signer::overhead);
            let (out, rcode) = self.respond(zones, message, echo.clone(), transport, reserve);
            let qtype = echo.query.as_ref().map_or(0, |q| u16::from(q.query_type()));
            answered = Answered { qtype, badvers: u16::from(rcode) == BADVERS };
            out
        });
        (out, answered)
    }

    /// Verifies the TSIG of `packet` (`found` is [`tsig::find`] of it) and
    /// signs what `answer` makes of the message without its TSIG (given the
    /// verified key, or `None` when the message is unsigned). A malformed
    /// message gets FORMERR; a bad signature gets the TSIG error response
    /// (RFC 8945 §5.3.2).
    fn with_tsig(
        &self,
        packet: &[u8],
        found: Found,
        mut echo: Echo,
        authority: &dyn Authority,
        answer: impl FnOnce(&Message, &Echo, Option<&super::authority::TsigKey>) -> Vec<u8>,
    ) -> Vec<u8> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let Ok(record) = found else {
            return encode_error(&echo, ResponseCode::FormErr, self.payload);
        };
        let body = match &record {
            Some(record) => tsig::unsigned_message(packet, record),
            None => Some(packet.to_vec()),
        };
        let Some(message) = body.and_then(|body| Message::from_vec(&body).ok()) else {
            return encode_error(&echo, ResponseCode::FormErr, self.payload);
        };
        echo.edns_do = message.edns.as_ref().map(|e| e.flags().dnssec_ok);
        if let [question] = message.queries.as_slice() {
            echo.query = Some(question.clone());
        }
        let Some(record) = record else {
            return answer(&message, &echo, None);
        };
        let key = authority.tsig_key(&record.key_name.to_lowercase());
        let mut signer = match tsig::verify(packet, record, key, now) {
            Ok(signer) => signer,
            Err(failure) => {
                tracing::info!(error = failure.code(), opcode = ?echo.op_code, "request with a bad TSIG");
                let mut out = encode_error(&echo, ResponseCode::NoError, self.payload);
                failure.respond(&mut out, now);
                return out;
            }
        };
        let mut out = answer(&message, &echo, Some(signer.key()));
        signer.sign_next(&mut out);
        out
    }

    /// The RCODE of a verified UPDATE signed with `key`, after applying it.
    fn apply_update(
        &self,
        zones: &ZoneSet,
        message: &Message,
        authority: &dyn Authority,
        key: &super::authority::TsigKey,
    ) -> ResponseCode {
        if key.team.is_none() {
            return ResponseCode::Refused; // configured keys transfer; they do not write
        }
        let change = match update::plan(zones, message, &format!("tsig:{}", key.name.to_ascii())) {
            Ok(change) => change,
            Err(rcode) => return rcode,
        };
        match authority.update(key, change) {
            Ok(()) => ResponseCode::NoError,
            Err(Refusal::Refused(reason) | Refusal::Invalid(reason)) => {
                tracing::info!(key = %key.name, %reason, "update refused");
                ResponseCode::Refused
            }
            Err(Refusal::Failed(reason)) => {
                tracing::error!(key = %key.name, %reason, "update failed");
                ResponseCode::ServFail
            }
        }
    }

    /// Answers a well-formed question found by the slow path.
    fn lookup(
        &self,
        zones: &ZoneSet,
        message: &Message,
        echo: &mut Echo,
        transport: Transport,
        reserve: usize,
    ) -> Vec<u8> {
        let Some(query) = echo.query.as_mut() else { return Vec::new() };
        let original = query.name().to_bytes().unwrap_or_default();
        let qname = query.name().to_lowercase();
        let answer = zones.lookup(&qname, query.query_type());
        query.set_name(qname);
        let limit = self.limit(transport, message.edns.as_ref().map(|e| e.max_payload())).saturating_sub(reserve);
        let mut out = encode_answer(echo, &answer, limit, self.payload);
        if let Some(slot) = out.get_mut(HEADER_LEN..HEADER_LEN + original.len()) {
            slot.copy_from_slice(&original); // the question as the client spelt it
        }
        out
    }

    /// The response size limit for a query.
    fn limit(&self, transport: Transport, edns_payload: Option<u16>) -> usize {
        match (transport, edns_payload) {
            (Transport::Tcp, _) => TCP_LIMIT,
            (Transport::Udp, None) => CLASSIC_UDP_LIMIT,
            (Transport::Udp, Some(payload)) => usize::from(payload.min(self.payload)).max(CLASSIC_UDP_LIMIT),
        }
    }
}

impl Echo {
    /// What a response to the fast path's `question` echoes, with `query` as
    /// its question section.
    fn of(question: &Question<'_>, query: Option<Query>) -> Self {
        Echo {
            id: u16::from_be_bytes(question.id),
            op_code: OpCode::Query,
            recursion_desired: question.flags[0] & 0x01 != 0,
            query,
            edns_do: question.edns.map(|e| e.dnssec_ok),
        }
    }
}

/// A message's TSIG RR as [`tsig::find`] found it: none, one, or too broken
/// to tell (which the TSIG path answers with FORMERR).
type Found = Result<Option<tsig::TsigRecord>, tsig::Malformed>;

/// The RCODE for an opcode other than QUERY and UPDATE. A NOTIFY to the
/// primary is refused, as NSD does (Knot answers NOTAUTH): nameplate is
/// implemented for NOTIFY, it just takes no zone from anyone. IQUERY,
/// STATUS, DSO and unassigned opcodes are not implemented (Knot and NSD
/// agree).
fn opcode_error(op_code: OpCode) -> ResponseCode {
    match op_code {
        OpCode::Notify => ResponseCode::Refused,
        _ => ResponseCode::NotImp,
    }
}

/// The RCODE for a question we do not look up, if any. Transfers that reach
/// the responder are the ones the TCP listener did not take: AXFR over UDP
/// is not implemented (RFC 5936 §4.2; Knot and NSD answer NOTIMP), and IXFR
/// over UDP, or a transfer where transfers are off, is refused (as NSD;
/// Knot answers NOTAUTH for IXFR from a client without transfer rights).
fn query_error(query: &Query, transport: Transport) -> Option<ResponseCode> {
    match (query.query_class(), query.query_type()) {
        (DNSClass::IN, RecordType::OPT | RecordType::TSIG) => Some(ResponseCode::FormErr),
        (DNSClass::IN, RecordType::AXFR) if transport == Transport::Udp => Some(ResponseCode::NotImp),
        (DNSClass::IN, RecordType::AXFR | RecordType::IXFR) => Some(ResponseCode::Refused),
        (DNSClass::IN, RecordType::Unknown(253 | 254)) => Some(ResponseCode::NotImp),
        (DNSClass::IN, _) => None,
        _ => Some(ResponseCode::Refused),
    }
}

/// The RCODE in a response's header (its low 4 bits; extended RCODEs live in
/// OPT). An empty response would be a bug; it counts as SERVFAIL.
#[inline]
fn header_rcode(response: &[u8]) -> u16 {
    response.get(3).map_or(u16::from(ResponseCode::ServFail), |flags| u16::from(flags & 0x0f))
}

/// Wildcard-synthesized answers depend on the query name; caching them would
/// let random names push out the real working set.
fn is_cacheable(answer: &Answer) -> bool {
    !answer.synthesized && answer.outcome != Outcome::Refused
}

/// Decodes a wire name (as validated by the question parser) in lowercase.
fn lowercase_name(wire: &[u8]) -> Option<Name> {
    let mut lower = [0u8; 256];
    let lower = lower.get_mut(..wire.len())?;
    for (l, w) in lower.iter_mut().zip(wire) {
        *l = w.to_ascii_lowercase();
    }
    Name::read(&mut BinDecoder::new(lower)).ok()
}

#[cfg(test)]
mod tests {
    use arc_swap::ArcSwap;
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{Name, RecordType};

    use super::*;

    fn responder() -> Responder {
        Responder::new(Arc::new(ArcSwap::from_pointee(crate::seed::fuzz_zones())), 1232)
    }

    fn query(name: &str, qtype: RecordType, edns: Option<Edns>) -> Vec<u8> {
        let mut message = Message::new(0x1234, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        message.queries.push(Query::query(Name::from_ascii(name).expect("name"), qtype));
        message.edns = edns;
        message.to_vec().expect("encode")
    }

    fn ask(responder: &mut Responder, packet: &[u8], transport: Transport) -> Message {
        let mut out = Vec::new();
        assert!(responder.answer(packet, transport, &mut out), "no response");
        Message::from_vec(&out).expect("response parses")
    }

    #[test]
    fn cached_answer_keeps_id_rd_and_question_case() {
        let mut responder = responder();
        let first = ask(&mut responder, &query("app.team.prod.apps.company.com.", RecordType::A, None), Transport::Udp);
        let mut second_query = query("APP.Team.prod.apps.company.com.", RecordType::A, None);
        second_query[..2].copy_from_slice(&[0xbe, 0xef]);
        second_query[2] &= !0x01; // RD off
        let second = ask(&mut responder, &second_query, Transport::Udp);
        assert_eq!(first.answers.len(), 1);
        assert_eq!(second.metadata.id, 0xbeef);
        assert!(!second.metadata.recursion_desired && first.metadata.recursion_desired);
        assert!(second.metadata.authoritative);
        assert_eq!(second.queries[0].name().to_ascii(), "APP.Team.prod.apps.company.com.");
        assert_eq!(
            second.answers,
            first
                .answers
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r.name = Name::from_ascii("APP.Team.prod.apps.company.com.").expect("name");
                    r
                })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn cd_is_not_copied_like_knot_and_nsd() {
        let mut packet = query("apps.company.com.", RecordType::SOA, None);
        packet[3] |= 0x10;
        let mut responder = responder();
        for _ in 0..2 {
            assert!(!ask(&mut responder, &packet, Transport::Udp).metadata.checking_disabled);
        }
    }

    #[test]
    fn wildcard_answers_own_the_query_name() {
        let mut responder = responder();
        let reply =
            ask(&mut responder, &query("pr-7.team.preview.apps.company.com.", RecordType::A, None), Transport::Udp);
        assert_eq!(reply.answers[0].name.to_ascii(), "pr-7.team.preview.apps.company.com.");
        assert_eq!(reply.answers[0].record_type(), RecordType::CNAME);
        assert_eq!(reply.answers[1].record_type(), RecordType::A);
    }

    #[test]
    fn edns_version_1_gets_badvers_with_opt() {
        let mut edns = Edns::new();
        edns.set_version(1);
        let reply = ask(&mut responder(), &query("apps.company.com.", RecordType::SOA, Some(edns)), Transport::Udp);
        // BADVERS and BADSIG share code 16; hickory decodes it as BADSIG.
        assert_eq!(u16::from(reply.metadata.response_code), u16::from(ResponseCode::BADVERS));
        assert!(reply.edns.is_some() && reply.answers.is_empty());
    }

    #[test]
    fn do_bit_is_echoed() {
        let mut edns = Edns::new();
        edns.set_dnssec_ok(true).set_max_payload(4096);
        let reply = ask(&mut responder(), &query("apps.company.com.", RecordType::SOA, Some(edns)), Transport::Udp);
        let echoed = reply.edns.expect("OPT in response");
        assert!(echoed.flags().dnssec_ok);
        assert_eq!(echoed.max_payload(), 1232);
    }

    #[test]
    fn other_opcodes_get_notimp_and_garbage_formerr() {
        let mut packet = query("apps.company.com.", RecordType::SOA, None);
        packet[2] = (packet[2] & 0x87) | (2 << 3); // STATUS
        assert_eq!(ask(&mut responder(), &packet, Transport::Udp).metadata.response_code, ResponseCode::NotImp);
        let mut garbage = query("apps.company.com.", RecordType::SOA, None);
        garbage.truncate(15);
        assert_eq!(ask(&mut responder(), &garbage, Transport::Tcp).metadata.response_code, ResponseCode::FormErr);
    }

    #[test]
    fn transfers_and_notify_that_reach_the_responder_get_what_knot_and_nsd_answer() {
        let rcode = |name, qtype, transport| ask(&mut responder(), &query(name, qtype, None), transport).metadata;
        assert_eq!(rcode("apps.company.com.", RecordType::AXFR, Transport::Udp).response_code, ResponseCode::NotImp);
        assert_eq!(rcode("apps.company.com.", RecordType::AXFR, Transport::Tcp).response_code, ResponseCode::Refused);
        assert_eq!(rcode("apps.company.com.", RecordType::IXFR, Transport::Udp).response_code, ResponseCode::Refused);
        let mut notify = query("apps.company.com.", RecordType::SOA, None);
        notify[2] = (notify[2] & 0x87) | (4 << 3);
        let reply = ask(&mut responder(), &notify, Transport::Udp).metadata;
        assert_eq!((reply.op_code, reply.response_code), (OpCode::Notify, ResponseCode::Refused));
    }

    #[test]
    fn signed_queries_get_signed_answers_and_bad_signatures_tsig_errors() {
        use super::super::authority::{Algorithm, OneKey, TsigKey};
        let key = |name: &str, secret: &[u8]| TsigKey {
            name: Name::from_ascii(name).expect("test"),
            algorithm: Algorithm::HmacSha256,
            secret: secret.to_vec(),
            team: None,
        };
        let authority: Arc<dyn Authority> = Arc::new(OneKey(key("secondary.", b"0123456789abcdef")));
        let mut responder = responder().with_authority(Some(authority));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("test").as_secs();
        let signed = |key: TsigKey| {
            let mut packet = query("apps.company.com.", RecordType::SOA, None);
            tsig::Signer::for_request(key, now).sign_next(&mut packet);
            packet
        };
        let mut out = Vec::new();
        assert!(responder.answer(&signed(key("secondary.", b"0123456789abcdef")), Transport::Udp, &mut out));
        let record = tsig::find(&out).expect("parses").expect("the answer is signed");
        assert_eq!(record.key_name, Name::from_ascii("secondary.").expect("test"));
        let reply = Message::from_vec(&out).expect("test");
        assert_eq!((reply.metadata.response_code, reply.answers.len()), (ResponseCode::NoError, 1));
        // BADSIG (16) and BADKEY (17), with NOTAUTH and no answer.
        for (bad, error) in [(key("secondary.", b"another secret!!"), 16), (key("stranger.", b"x"), 17)] {
            let mut out = Vec::new();
            assert!(responder.answer(&signed(bad), Transport::Udp, &mut out));
            assert_eq!(tsig::find(&out).expect("parses").expect("a TSIG with the error").error, error);
            let reply = Message::from_vec(&out).expect("test");
            assert_eq!(reply.metadata.response_code, ResponseCode::NotAuth);
            assert!(reply.answers.is_empty());
        }
    }

    #[test]
    fn responses_and_runts_get_nothing() {
        let mut packet = query("apps.company.com.", RecordType::SOA, None);
        packet[2] |= 0x80;
        let mut out = Vec::new();
        assert!(!responder().answer(&packet, Transport::Udp, &mut out));
        assert!(!responder().answer(&packet[..11], Transport::Udp, &mut out));
    }

    #[test]
    fn outside_every_zone_is_refused() {
        let reply = ask(&mut responder(), &query("example.org.", RecordType::A, None), Transport::Udp);
        assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
        assert!(!reply.metadata.authoritative);
    }

    #[test]
    fn every_packet_is_counted_by_transport_rcode_and_qtype_or_as_dropped() {
        use crate::dns::metrics::{Registry, qtype_index, rcode_index};
        let registry = Registry::default();
        let zones = Arc::new(ArcSwap::from_pointee(crate::seed::fuzz_zones()));
        let mut udp = Responder::new(zones.clone(), 1232).counting(registry.register());
        let mut tcp = Responder::uncached(zones, 1232).counting(registry.register());
        let soa = query("apps.company.com.", RecordType::SOA, None);
        for _ in 0..3 {
            ask(&mut udp, &soa, Transport::Udp); // a miss, then two hits
        }
        ask(&mut udp, &query("nothing.apps.company.com.", RecordType::A, None), Transport::Udp);
        ask(&mut udp, &query("example.org.", RecordType::AAAA, None), Transport::Udp);
        let mut edns = Edns::new();
        edns.set_version(1);
        ask(&mut udp, &query("apps.company.com.", RecordType::SOA, Some(edns)), Transport::Udp);
        let mut status = soa.clone();
        status[2] = (status[2] & 0x87) | (2 << 3);
        ask(&mut udp, &status, Transport::Udp);
        ask(&mut tcp, &soa, Transport::Tcp);
        ask(&mut tcp, &soa[..15], Transport::Tcp); // FORMERR, no question: `other`
        ask(&mut tcp, &query("x.apps.company.com.", RecordType::AXFR, None), Transport::Tcp);
        let mut response = soa.clone();
        response[2] |= 0x80;
        assert!(!udp.answer(&response, Transport::Udp, &mut Vec::new()));
        assert!(!udp.answer(&soa[..11], Transport::Udp, &mut Vec::new()));

        let totals = registry.totals();
        let count = |t, rcode: u16, qtype: RecordType| totals.queries(t, rcode_index(rcode), qtype_index(qtype.into()));
        assert_eq!(count(Transport::Udp, 0, RecordType::SOA), 3);
        assert_eq!(count(Transport::Udp, 3, RecordType::A), 1);
        assert_eq!(count(Transport::Udp, 5, RecordType::AAAA), 1);
        assert_eq!(count(Transport::Udp, 16, RecordType::SOA), 1, "BADVERS from the responder's decision");
        assert_eq!(count(Transport::Udp, 4, RecordType::SOA), 1);
        assert_eq!(count(Transport::Tcp, 0, RecordType::SOA), 1);
        assert_eq!(count(Transport::Tcp, 1, RecordType::Unknown(0)), 1);
        assert_eq!(count(Transport::Tcp, 5, RecordType::AXFR), 1);
        assert_eq!(totals.query_samples().map(|(_, n)| n).sum::<u64>(), 10);
        assert_eq!(totals.dropped, 2);
        // Only the cached (UDP) responder counts the cache: 5 fast-path queries.
        assert_eq!((totals.cache_hits, totals.cache_misses), (2, 3));
    }

    #[test]
    fn size_limits_per_transport_and_a_referral_without_aa() {
        // Truncation itself is checked end to end in tests/lookup.rs (40 TXT records).
        let mut responder = responder();
        assert_eq!(responder.limit(Transport::Udp, None), 512);
        assert_eq!(responder.limit(Transport::Udp, Some(100)), 512);
        assert_eq!(responder.limit(Transport::Udp, Some(4096)), 1232);
        assert_eq!(responder.limit(Transport::Tcp, None), 65_535);
        let reply = ask(&mut responder, &query("ext.apps.company.com.", RecordType::A, None), Transport::Udp);
        assert!(!reply.metadata.authoritative && !reply.metadata.truncation);
        assert_eq!(reply.authorities[0].record_type(), RecordType::NS);
        assert_eq!(reply.additionals.len(), 1);
    }
}
