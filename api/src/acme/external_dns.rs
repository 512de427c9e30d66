//! [`DelegatedDns`]: the [`ExternalDns`] seam, filled by asking an external
//! delegation's nameservers directly.
//!
//! A name at or below an NS cut to a team's own nameservers is not answered
//! from the zone data here; `ca::acme::Resolver` hands it to this module
//! with the cut's nameservers and glue. Each lookup:
//!
//! - builds one non-recursive (RD=0) QUERY with EDNS (payload 1232) and a
//!   random ID, and sends it over UDP to each candidate address in turn,
//!   each bounded by [`SERVER_TIMEOUT`]; a truncated (TC) answer is asked
//!   again over TCP, on the same server, with the same bound;
//! - takes the first server whose response is a usable answer: NOERROR with
//!   the data (or none: NODATA), or NXDOMAIN (no data). SERVFAIL, REFUSED,
//!   any other rcode, a response that is not authoritative (a referral),
//!   a timeout or an unreachable server moves on to the next address; when
//!   none is left the lookup is a `dns` problem that names each server
//!   tried and what went wrong there.
//!
//! Candidate addresses: the glue the parent zone holds, then, for the
//! nameservers whose names are in zones served here (out-of-bailiwick
//! nameservers such as `ns1.<platform zone>`), their addresses from the
//! same zone data. A nameserver in neither is skipped: there is no
//! recursive resolver behind the CA, so a name only the wider DNS knows
//! cannot be resolved. At most [`MAX_SERVERS`] addresses are tried, so a
//! lookup takes roughly `MAX_SERVERS` × 2 × [`SERVER_TIMEOUT`] at most (UDP,
//! then TCP after a truncated answer).
//!
//! CNAMEs: a chain in the answer section is followed as far as the
//! server's own answer goes (the server is authoritative and chases inside
//! its zones). A chain that ends at a name with no data is an empty answer
//! when the response proves that name's emptiness (NXDOMAIN, or an SOA in
//! the authority section for a zone holding it); otherwise the chain left
//! what that server answers for, and the lookup is a `dns` problem. No
//! second lookup elsewhere is started: keep CNAMEs inside the team zone.
//!
//! Blocking: the ACME routes run their handlers on a blocking thread
//! (`routes::acme::blocking`), and validation runs inside them.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use ca::acme::{Delegation, DnsView, ExternalDns, Lookup, Problem, ProblemType, address, txt_string};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::CAA;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use ring::rand::{SecureRandom, SystemRandom};

/// How long one server gets for one UDP exchange (and again for TCP).
pub(crate) const SERVER_TIMEOUT: Duration = Duration::from_secs(3);
/// The most nameserver addresses one lookup tries.
pub(crate) const MAX_SERVERS: usize = 4;
/// The EDNS payload size advertised (DNS flag day 2020).
const EDNS_PAYLOAD: u16 = 1232;
/// The most CNAME links followed inside one response.
const MAX_CNAMES: usize = 8;

/// Lookups at the nameservers of an external delegation, on `port`;
/// nameservers without glue are found through `view` (the zones served).
#[derive(Clone, Copy)]
pub struct DelegatedDns<'a> {
    view: &'a dyn DnsView,
    port: u16,
}

impl std::fmt::Debug for DelegatedDns<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelegatedDns").field("port", &self.port).finish_non_exhaustive()
    }
}

impl<'a> DelegatedDns<'a> {
    /// Asks delegated nameservers on `port` (53 in production), finding
    /// the addresses of nameservers without glue in `view`.
    pub fn new(view: &'a dyn DnsView, port: u16) -> Self {
        Self { view, port }
    }

    /// The addresses to ask about `delegation`: glue first, then the
    /// nameservers' addresses in the zones served here, at most
    /// [`MAX_SERVERS`], each once.
    fn servers(&self, delegation: &Delegation) -> Vec<SocketAddr> {
        let served = delegation.nameservers.iter().flat_map(|ns| match self.view.addresses(ns) {
            Lookup::Found(addrs) => addrs,
            _ => Vec::new(),
        });
        let mut out: Vec<SocketAddr> = Vec::new();
        for ip in delegation.glue.iter().copied().chain(served) {
            let addr = SocketAddr::new(ip, self.port);
            if !out.contains(&addr) && out.len() < MAX_SERVERS {
                out.push(addr);
            }
        }
        out
    }

    /// The `rtype` data at `delegation.qname`, from the first server that
    /// answers it; a `dns` problem naming every server tried otherwise.
    fn lookup(&self, delegation: &Delegation, rtype: RecordType) -> Result<Vec<RData>, Problem> {
        let qname = &delegation.qname;
        let servers = self.servers(delegation);
        if servers.is_empty() {
            return Err(dns_problem(format!(
                "no nameserver of the delegation holding {qname} has an address known here (glue, or a zone served here)"
            )));
        }
        let mut failures = Vec::new();
        for server in servers {
            match ask(server, qname, rtype).and_then(|response| answer(&response, qname, rtype)) {
                Ok(data) => return Ok(data),
                Err(why) => failures.push(format!("{server}: {why}")),
            }
        }
        Err(dns_problem(format!("no delegated nameserver answered {rtype} {qname}: {}", failures.join("; "))))
    }
}

impl ExternalDns for DelegatedDns<'_> {
    fn txt(&self, delegation: &Delegation) -> Result<Vec<String>, Problem> {
        let data = self.lookup(delegation, RecordType::TXT)?;
        Ok(data.iter().filter_map(txt_string).collect())
    }

    /// IPv6 first, then IPv4, as the zones served here answer.
    fn addresses(&self, delegation: &Delegation) -> Result<Vec<IpAddr>, Problem> {
        let mut out: Vec<IpAddr> = self.lookup(delegation, RecordType::AAAA)?.iter().filter_map(address).collect();
        out.extend(self.lookup(delegation, RecordType::A)?.iter().filter_map(address));
        Ok(out)
    }

    fn caa(&self, delegation: &Delegation) -> Result<Vec<CAA>, Problem> {
        let data = self.lookup(delegation, RecordType::CAA)?;
        Ok(data
            .into_iter()
            .filter_map(|r| match r {
                RData::CAA(caa) => Some(caa),
                _ => None,
            })
            .collect())
    }
}

fn dns_problem(detail: String) -> Problem {
    Problem::new(ProblemType::Dns, detail)
}

/// One exchange with `server`: UDP, then TCP if the answer is truncated.
/// The error says what went wrong, for the problem detail.
fn ask(server: SocketAddr, qname: &Name, rtype: RecordType) -> Result<Message, String> {
    let id = query_id()?;
    let query = query(id, qname, rtype).to_vec().map_err(|e| format!("cannot encode the query: {e}"))?;
    let response = udp_exchange(server, &query, |m| matches_query(m, id, qname, rtype))?;
    if !response.metadata.truncation {
        return Ok(response);
    }
    let response = tcp_exchange(server, &query)?;
    if matches_query(&response, id, qname, rtype) {
        Ok(response)
    } else {
        Err("the TCP response does not match the query".to_owned())
    }
}

fn query_id() -> Result<u16, String> {
    let mut id = [0u8; 2];
    SystemRandom::new().fill(&mut id).map_err(|_| "no random query id".to_owned())?;
    Ok(u16::from_be_bytes(id))
}

/// A QUERY for `qname`/`rtype`, class IN, RD clear, with EDNS.
fn query(id: u16, qname: &Name, rtype: RecordType) -> Message {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = false;
    message.add_query(Query::query(qname.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    message.set_edns(edns);
    message
}

/// Whether `response` answers the query `id` for `qname`/`rtype`, class IN.
fn matches_query(response: &Message, id: u16, qname: &Name, rtype: RecordType) -> bool {
    let meta = &response.metadata;
    let question = |q: &Query| q.name() == qname && q.query_type() == rtype && q.query_class() == DNSClass::IN;
    meta.id == id
        && meta.message_type == MessageType::Response
        && meta.op_code == OpCode::Query
        && response.queries.len() == 1
        && response.queries.iter().all(question)
}

/// Sends `query` in one datagram and waits, until [`SERVER_TIMEOUT`], for
/// a datagram from `server` that parses and passes `accept` (others are
/// dropped: late or forged answers).
fn udp_exchange(server: SocketAddr, query: &[u8], accept: impl Fn(&Message) -> bool) -> Result<Message, String> {
    let io = |e: io::Error| io_detail("udp", &e);
    let local: IpAddr = if server.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    let socket = UdpSocket::bind(SocketAddr::new(local, 0)).map_err(io)?;
    socket.connect(server).map_err(io)?;
    socket.send(query).map_err(io)?;
    let deadline = Instant::now() + SERVER_TIMEOUT;
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("udp: no response within {SERVER_TIMEOUT:?}"));
        }
        socket.set_read_timeout(Some(left)).map_err(io)?;
        let n = socket.recv(&mut buf).map_err(io)?;
        if let Ok(message) = Message::from_vec(&buf[..n])
            && accept(&message)
        {
            return Ok(message);
        }
    }
}

/// Sends `query` as one RFC 1035 §4.2.2 frame and reads one framed response.
fn tcp_exchange(server: SocketAddr, query: &[u8]) -> Result<Message, String> {
    let io = |e: io::Error| io_detail("tcp", &e);
    let len = u16::try_from(query.len()).map_err(|_| "the query is too long for TCP".to_owned())?;
    let mut stream = TcpStream::connect_timeout(&server, SERVER_TIMEOUT).map_err(io)?;
    stream.set_read_timeout(Some(SERVER_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(SERVER_TIMEOUT)).map_err(io)?;
    let mut frame = len.to_be_bytes().to_vec();
    frame.extend_from_slice(query);
    stream.write_all(&frame).map_err(io)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).map_err(io)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).map_err(io)?;
    Message::from_vec(&buf).map_err(|e| format!("tcp: unparseable response: {e}"))
}

/// An I/O error as a problem detail: timeouts and refusals said plainly.
fn io_detail(transport: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("{transport}: no response within {SERVER_TIMEOUT:?}")
        }
        io::ErrorKind::ConnectionRefused => format!("{transport}: unreachable (connection refused)"),
        _ => format!("{transport}: {e}"),
    }
}

/// The `rtype` data a matching response gives for `qname`, CNAMEs in the
/// answer section followed; `Err` with the reason when it is no usable
/// answer (see the module documentation).
fn answer(response: &Message, qname: &Name, rtype: RecordType) -> Result<Vec<RData>, String> {
    let rcode = response.metadata.response_code;
    match rcode {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        other => return Err(format!("answered {other}")),
    }
    if !response.metadata.authoritative {
        return Err("the answer is not authoritative (a referral, or not a server for this zone)".to_owned());
    }
    let mut current = qname.clone();
    for _ in 0..=MAX_CNAMES {
        let here = response.answers.iter().filter(|r| r.name == current);
        let data: Vec<RData> = here.clone().filter(|r| r.record_type() == rtype).map(|r| r.data.clone()).collect();
        if !data.is_empty() {
            return Ok(data);
        }
        let next = here.clone().find_map(|r| match &r.data {
            RData::CNAME(c) if rtype != RecordType::CNAME => Some(c.0.clone()),
            _ => None,
        });
        match next {
            Some(target) => current = target,
            None if current == *qname || proves_empty(response, &current) => return Ok(Vec::new()),
            None => {
                return Err(format!(
                    "the CNAME chain from {qname} leads to {current}, which this server does not answer"
                ));
            }
        }
    }
    Err(format!("the CNAME chain from {qname} is longer than {MAX_CNAMES} links"))
}

/// Whether `response` shows that `name` has no data: NXDOMAIN, or an SOA
/// in the authority section of a zone that holds `name` (NODATA).
fn proves_empty(response: &Message, name: &Name) -> bool {
    response.metadata.response_code == ResponseCode::NXDomain
        || response.authorities.iter().any(|r| r.record_type() == RecordType::SOA && r.name.zone_of(name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA, TXT};

    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    const QNAME: &str = "_acme-challenge.www.hr.apps.company.com.";

    /// The response a server would send to our query: round-tripped
    /// through the wire format, so the tests see what `ask` sees.
    fn response(rcode: ResponseCode, aa: bool, answers: Vec<Record>, authorities: Vec<Record>) -> Message {
        let mut m = query(7, &name(QNAME), RecordType::TXT);
        m.metadata.message_type = MessageType::Response;
        m.metadata.authoritative = aa;
        m.metadata.response_code = rcode;
        m.answers = answers;
        m.authorities = authorities;
        Message::from_vec(&m.to_vec().unwrap()).unwrap()
    }

    fn txt(owner: &str, value: &str) -> Record {
        Record::from_rdata(name(owner), 60, RData::TXT(TXT::new(vec![value.to_owned()])))
    }

    fn cname(owner: &str, target: &str) -> Record {
        Record::from_rdata(name(owner), 60, RData::CNAME(CNAME(name(target))))
    }

    fn soa(zone: &str) -> Record {
        let soa = SOA::new(name(&format!("ns.{zone}")), name(&format!("hostmaster.{zone}")), 1, 3600, 600, 86400, 30);
        Record::from_rdata(name(zone), 30, RData::SOA(soa))
    }

    fn txts(m: &Message) -> Result<Vec<String>, String> {
        answer(m, &name(QNAME), RecordType::TXT).map(|d| d.iter().filter_map(txt_string).collect())
    }

    #[test]
    fn queries_are_non_recursive_with_edns_and_match_only_their_answer() {
        let q = Message::from_vec(&query(7, &name(QNAME), RecordType::TXT).to_vec().unwrap()).unwrap();
        assert!(!q.metadata.recursion_desired);
        assert_eq!(q.edns.as_ref().map(Edns::max_payload), Some(EDNS_PAYLOAD));
        let r = response(ResponseCode::NoError, true, vec![], vec![]);
        assert!(matches_query(&r, 7, &name(QNAME), RecordType::TXT));
        assert!(matches_query(&r, 7, &name("_ACME-challenge.WWW.hr.apps.company.com."), RecordType::TXT));
        assert!(!matches_query(&r, 8, &name(QNAME), RecordType::TXT), "another id");
        assert!(!matches_query(&r, 7, &name(QNAME), RecordType::CAA), "another type");
        assert!(!matches_query(&r, 7, &name("x.hr.apps.company.com."), RecordType::TXT), "another name");
        assert!(!matches_query(&q, 7, &name(QNAME), RecordType::TXT), "a query is no response");
    }

    #[test]
    fn data_nodata_and_nxdomain() {
        let hit = response(ResponseCode::NoError, true, vec![txt(QNAME, "a"), txt(QNAME, "b")], vec![]);
        assert_eq!(txts(&hit).unwrap(), ["a", "b"]);
        let nodata = response(ResponseCode::NoError, true, vec![], vec![soa("hr.apps.company.com.")]);
        assert_eq!(txts(&nodata).unwrap(), Vec::<String>::new());
        let nxdomain = response(ResponseCode::NXDomain, true, vec![], vec![soa("hr.apps.company.com.")]);
        assert_eq!(txts(&nxdomain).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn failures_name_the_rcode_and_referrals_are_refused() {
        for rcode in [ResponseCode::ServFail, ResponseCode::Refused] {
            let err = txts(&response(rcode, true, vec![], vec![])).unwrap_err();
            assert!(err.contains(&rcode.to_string()), "{err}");
        }
        let referral = response(ResponseCode::NoError, false, vec![txt(QNAME, "a")], vec![]);
        assert!(txts(&referral).unwrap_err().contains("not authoritative"));
    }

    #[test]
    fn cnames_are_followed_within_the_answer() {
        let target = "_acme-challenge.www.elsewhere.hr.apps.company.com.";
        let chased = response(ResponseCode::NoError, true, vec![cname(QNAME, target), txt(target, "v")], vec![]);
        assert_eq!(txts(&chased).unwrap(), ["v"]);
        // The target is in the server's zone and has no TXT: proven empty.
        let empty =
            response(ResponseCode::NoError, true, vec![cname(QNAME, target)], vec![soa("hr.apps.company.com.")]);
        assert_eq!(txts(&empty).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_cname_leaving_the_server_or_looping_is_a_failure() {
        let away = response(ResponseCode::NoError, true, vec![cname(QNAME, "v.example.net.")], vec![]);
        assert!(txts(&away).unwrap_err().contains("leads to v.example.net."));
        let other_soa = vec![soa("apps.company.net.")];
        let away = response(ResponseCode::NoError, true, vec![cname(QNAME, "v.example.net.")], other_soa);
        assert!(txts(&away).is_err(), "an SOA of another zone proves nothing about the target");
        let looped = response(ResponseCode::NoError, true, vec![cname(QNAME, QNAME)], vec![]);
        assert!(txts(&looped).unwrap_err().contains("longer than"));
    }

    #[test]
    fn addresses_and_rdata_extraction() {
        assert_eq!(address(&RData::A(A::new(192, 0, 2, 1))), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(address(&RData::AAAA(AAAA("2001:db8::1".parse().unwrap()))), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(txt_string(&RData::TXT(TXT::new(vec!["ab".into(), "cd".into()]))), Some("abcd".to_owned()));
    }

    /// The zones served here: one platform zone with an external cut whose
    /// nameservers are one in-bailiwick (glue) and one in the platform zone.
    fn zoneset() -> zones::ZoneSet {
        let text = r#"$ORIGIN apps.company.com.
@ 3600 IN SOA ns1 hostmaster 1 3600 600 604800 30
@ 3600 IN NS ns1
ns1 300 IN A 192.0.2.1
ns2 300 IN AAAA 2001:db8::2
hr 3600 IN NS ns.hr
hr 3600 IN NS ns2
hr 3600 IN NS ns.other.example.
ns.hr 3600 IN A 127.0.0.1
"#;
        let zone = zones::zonefile::parse(text, None).unwrap();
        zones::ZoneSet::new().with_zone(std::sync::Arc::new(zone))
    }

    #[test]
    fn servers_are_glue_then_served_nameservers_and_unknown_ones_are_skipped() {
        let zs = zoneset();
        let Lookup::Delegated(d) = DnsView::txt(&zs, &name(QNAME)) else { panic!("a delegation") };
        let dns = DelegatedDns::new(&zs, 5300);
        let want: Vec<SocketAddr> = ["127.0.0.1:5300", "[2001:db8::2]:5300"].map(|a| a.parse().unwrap()).to_vec();
        assert_eq!(dns.servers(&d), want);
        let none = Delegation { qname: d.qname.clone(), nameservers: vec![name("ns.other.example.")], glue: vec![] };
        assert!(dns.servers(&none).is_empty());
        let err = dns.txt(&none).unwrap_err();
        assert_eq!(err.kind, ProblemType::Dns);
    }

    /// A real exchange with a loopback port nobody listens on: the ICMP
    /// refusal comes back at once, and the problem names the server.
    #[test]
    fn an_unreachable_server_is_a_dns_problem_naming_it() {
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let zs = zoneset();
        let d = Delegation { qname: name(QNAME), nameservers: vec![name("ns.hr.apps.company.com.")], glue: vec![] };
        let d = Delegation { glue: vec!["127.0.0.1".parse().unwrap()], ..d };
        let err = DelegatedDns::new(&zs, port).txt(&d).unwrap_err();
        assert_eq!(err.kind, ProblemType::Dns);
        assert!(err.detail.contains(&format!("127.0.0.1:{port}")), "{}", err.detail);
    }
}
