//! Malformed input: truncated, oversized, random, compression-loop and
//! forward-pointer packets, bad section counts and responses sent as
//! queries, over UDP and TCP.
//!
//! The rule, checked against Knot DNS 3.2 and NSD 4.6: a malformed query is
//! answered with FORMERR or dropped; a response (QR=1) is never answered.
//! Packets that Knot and NSD disagree on (one answers normally, the other
//! says FORMERR) are only required not to hurt the server. After each
//! barrage the server must still be running and answer a normal query
//! correctly over UDP and TCP.
//!
//! With `MALFORMED_REFERENCE_ADDR=IP:PORT` the tests run against that server
//! instead (one serving the lookup test's zone, for example Knot), which is
//! how the rules were checked.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::RecordType;
use nameplate_tests::dns::{self, RawHeader, Transport, assert_section, check_header, rcode};
use nameplate_tests::{Server, zone_import};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use tempfile::TempDir;

const ZONE: &str = r#"$ORIGIN apps.company.com.
$TTL 300
@    3600 IN SOA ns1.apps.company.com. hostmaster.company.com. 2024010101 3600 600 604800 120
@    3600 IN NS  ns1
ns1       IN A   192.0.2.1
www       IN A   192.0.2.80
"#;
const QNAME: &str = "www.apps.company.com";
/// How long to wait for an answer that should not come.
const SILENCE: Duration = Duration::from_millis(400);
/// Largest UDP payload over IPv4.
const MAX_UDP: usize = 65507;

/// What a correct server does with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// FORMERR, or no answer at all.
    Reject,
    /// No answer: the packet is a response.
    Silent,
    /// Anything that is a well-formed response, or no answer (Knot and NSD disagree).
    Tolerate,
}

struct Target {
    addr: SocketAddr,
    server: Option<(Server, TempDir)>,
}

impl Target {
    fn start() -> Self {
        if let Ok(addr) = std::env::var("MALFORMED_REFERENCE_ADDR") {
            return Self { addr: addr.parse().expect("MALFORMED_REFERENCE_ADDR is IP:PORT"), server: None };
        }
        let files = tempfile::tempdir().expect("zone file dir");
        let file = files.path().join("apps.company.com.zone");
        fs::write(&file, ZONE).expect("write zone");
        let data = tempfile::tempdir().expect("data dir");
        zone_import(data.path(), &file).expect("zone import");
        let server = Server::start(data.path(), "apps.company.com").expect("start nameplate");
        Self { addr: server.addr(), server: Some((server, data)) }
    }

    /// The server still runs and answers `www A` correctly over UDP and TCP.
    fn assert_healthy(&mut self) {
        if let Some((server, _)) = self.server.as_mut() {
            server.check_running().expect("nameplate still running");
        }
        for transport in [Transport::Udp, Transport::Tcp] {
            let q = dns::query(QNAME, RecordType::A).expect("query");
            let resp = dns::exchange(self.addr, &q, transport).expect("normal query after malformed input");
            let s = check_header(&resp, QNAME, RecordType::A, rcode::NOERROR, true);
            assert_section(&s.answer, &["www.apps.company.com. 300 A 192.0.2.80"], &format!("answer over {transport}"));
        }
    }
}

/// A valid query for www A with an OPT record.
fn valid_query(id: u16) -> Vec<u8> {
    let mut q = dns::raw_query(id, 0, 1, QNAME, 1);
    dns::push_additional(&mut q, &dns::raw_opt(1232, 0, false));
    q
}

/// A header with the given ID, flags and counts.
fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [id, flags, counts[0], counts[1], counts[2], counts[3]] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out
}

/// The hand-made malformed packets, each with its name and what a correct server does.
fn structural_cases() -> Vec<(String, Vec<u8>, Expect)> {
    let mut cases = Vec::new();
    let valid = valid_query(0x0101);
    for len in [0, 1, 2, 11] {
        cases.push((format!("{len}-byte packet"), valid[..len].to_vec(), Expect::Reject));
    }
    for len in 12..valid.len() {
        cases.push((format!("query truncated to {len} bytes"), valid[..len].to_vec(), Expect::Reject));
    }
    let no_question = header(0x0102, 0, [0, 0, 0, 0]);
    cases.push(("QDCOUNT 0".into(), no_question, Expect::Reject));
    let mut two = dns::raw_query(0x0103, 0, 2, QNAME, 1);
    two.extend_from_slice(&dns::wire_name("ns1.apps.company.com"));
    two.extend_from_slice(&[0, 1, 0, 1]);
    cases.push(("QDCOUNT 2, two questions".into(), two, Expect::Reject));
    cases.push(("QDCOUNT 2, one question".into(), dns::raw_query(0x0104, 0, 2, QNAME, 1), Expect::Reject));
    let mut ancount = dns::raw_query(0x0105, 0, 1, QNAME, 1);
    ancount[7] = 1;
    cases.push(("ANCOUNT 1, no answer".into(), ancount, Expect::Reject));
    let mut nscount = dns::raw_query(0x0106, 0, 1, QNAME, 1);
    nscount[8] = 0xff;
    cases.push(("NSCOUNT 65280, no records".into(), nscount, Expect::Reject));
    let mut bad_opt = dns::raw_query(0x0107, 0, 1, QNAME, 1);
    dns::push_additional(&mut bad_opt, &[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 50]);
    cases.push(("OPT RDLENGTH past the end".into(), bad_opt, Expect::Reject));
    let mut opt_in_answer = dns::raw_query(0x0108, 0, 1, QNAME, 1);
    opt_in_answer[7] = 1;
    opt_in_answer.extend_from_slice(&dns::raw_opt(1232, 0, false));
    cases.push(("OPT in the answer section".into(), opt_in_answer, Expect::Reject));

    let q = |id, name: &[u8]| {
        let mut p = header(id, 0, [1, 0, 0, 0]);
        p.extend_from_slice(name);
        p.extend_from_slice(&[0, 1, 0, 1]);
        p
    };
    cases.push(("compression pointer to itself".into(), q(0x0110, &[0xc0, 12]), Expect::Reject));
    cases.push(("two-pointer compression loop".into(), q(0x0111, &[0xc0, 14, 0xc0, 12]), Expect::Reject));
    let mut forward = q(0x0112, &[0xc0, 18]);
    forward.extend_from_slice(&dns::wire_name(QNAME));
    cases.push(("forward compression pointer".into(), forward, Expect::Reject));
    cases.push(("pointer past the end".into(), q(0x0113, &[0xc0, 0xff]), Expect::Reject));
    cases.push(("label then pointer back to it".into(), q(0x0114, &[1, b'a', 0xc0, 12]), Expect::Reject));
    let mut long_label = vec![0x40];
    long_label.extend_from_slice(&[b'a'; 64]);
    long_label.push(0);
    cases.push(("64-byte label (extended label type)".into(), q(0x0115, &long_label), Expect::Reject));
    cases.push(("label type 0x80".into(), q(0x0116, &[0x80, b'a', b'b', b'c', 0]), Expect::Reject));
    let mut long_name = Vec::new();
    for _ in 0..5 {
        long_name.push(63);
        long_name.extend_from_slice(&[b'a'; 63]);
    }
    long_name.push(0);
    cases.push(("name longer than 255 bytes".into(), q(0x0117, &long_name), Expect::Reject));
    cases.push((
        "name without terminating root".into(),
        header(0x0118, 0, [1, 0, 0, 0]).into_iter().chain([3, b'w', b'w', b'w']).collect(),
        Expect::Reject,
    ));

    let mut response = valid_query(0x0120);
    response[2] |= 0x80;
    cases.push(("response (QR=1)".into(), response, Expect::Silent));
    let mut response_aa = dns::raw_query(0x0121, 0x8400, 1, QNAME, 1);
    response_aa.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
    response_aa[7] = 1;
    cases.push(("response with an answer (QR=1 AA=1)".into(), response_aa, Expect::Silent));
    let notify_response = dns::raw_query(0x0122, 0x8000 | (4 << 11), 1, QNAME, 6);
    cases.push(("NOTIFY response (QR=1)".into(), notify_response, Expect::Silent));

    // Knot answers these normally, NSD says FORMERR.
    let mut trailing = valid_query(0x0130);
    trailing.extend_from_slice(&[0u8; 20]);
    cases.push(("valid query + 20 bytes of trailing garbage".into(), trailing, Expect::Tolerate));
    let mut answer_in_query = dns::raw_query(0x0131, 0, 1, QNAME, 1);
    answer_in_query[7] = 1;
    answer_in_query.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
    cases.push(("query with a record in the answer section".into(), answer_in_query, Expect::Tolerate));
    cases
}

/// Two 65507-byte datagrams: a name of 63-byte labels running on and on, and
/// a valid query followed by zeros.
fn oversized_udp_cases() -> Vec<(String, Vec<u8>, Expect)> {
    let mut huge_name = header(0x0140, 0, [1, 0, 0, 0]);
    while huge_name.len() < MAX_UDP {
        huge_name.push(63);
        huge_name.extend_from_slice(&[b'a'; 63]);
    }
    huge_name.truncate(MAX_UDP);
    let mut padded = valid_query(0x0141);
    padded.resize(MAX_UDP, 0);
    vec![
        ("65507-byte datagram: endless name".into(), huge_name, Expect::Reject),
        ("65507-byte datagram: valid query + zeros".into(), padded, Expect::Tolerate),
    ]
}

/// Checks one reply (or its absence) against the expectation; returns a
/// violation, if any.
fn judge(name: &str, sent: &[u8], reply: Option<&[u8]>, expect: Expect) -> Option<String> {
    let reply = reply?;
    let Some(h) = RawHeader::parse(reply) else {
        return Some(format!("{name}: reply shorter than a header: {}", dns::hex(reply, 32)));
    };
    if !h.qr {
        return Some(format!("{name}: reply without QR: {h:?}"));
    }
    if sent.len() >= 2 && reply[..2] != sent[..2] {
        return Some(format!("{name}: reply ID {:#06x} does not echo the query's", h.id));
    }
    match expect {
        Expect::Silent => Some(format!("{name}: a response was answered: {h:?}")),
        Expect::Reject if u16::from(h.rcode) != rcode::FORMERR => Some(format!(
            "{name}: answered with rcode {} instead of FORMERR or silence: {h:?}",
            dns::rcode_name(h.rcode.into())
        )),
        Expect::Reject | Expect::Tolerate => None,
    }
}

/// Sends each case over UDP from its own socket, all at once, then reads
/// each socket against a shared deadline, and collects violations.
fn udp_barrage(addr: SocketAddr, cases: &[(String, Vec<u8>, Expect)]) -> Vec<String> {
    let mut violations = Vec::new();
    let mut sent = Vec::new();
    for (name, bytes, expect) in cases {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.connect(addr).expect("connect");
        match sock.send(bytes) {
            Ok(_) => sent.push((name, bytes, *expect, sock)),
            // A 65507-byte datagram may be refused locally (EMSGSIZE); nothing reached the server.
            Err(e) if bytes.len() > 60000 => eprintln!("{name}: not sent over UDP: {e}"),
            Err(e) => violations.push(format!("{name}: UDP send failed: {e}")),
        }
    }
    let deadline = Instant::now() + SILENCE * 2;
    let mut buf = vec![0u8; 65535];
    for (name, bytes, expect, sock) in sent {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        sock.set_read_timeout(Some(left)).expect("timeout");
        let reply = sock.recv(&mut buf).ok().map(|n| buf[..n].to_vec());
        violations.extend(judge(name, bytes, reply.as_deref(), expect));
    }
    violations
}

/// Sends each packet as one TCP frame on its own connection, 30 connections
/// at a time, and reads one reply from each against a shared deadline
/// (`None`: closed or silent).
fn tcp_batch(addr: SocketAddr, packets: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
    let mut replies = Vec::new();
    for batch in packets.chunks(30) {
        let mut streams = Vec::new();
        for p in batch {
            let mut s = TcpStream::connect(addr).expect("connect");
            let mut frame = (p.len() as u16).to_be_bytes().to_vec();
            frame.extend_from_slice(p);
            // The server may close on us mid-write; that counts as silence.
            let _ = s.write_all(&frame);
            streams.push(s);
        }
        let deadline = Instant::now() + SILENCE;
        for mut s in streams {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            replies.push(dns::read_frame(&mut s, left).ok().flatten());
        }
    }
    replies
}

/// Sends each case as one TCP frame on its own connection and collects violations.
fn tcp_barrage(addr: SocketAddr, cases: &[(String, Vec<u8>, Expect)]) -> Vec<String> {
    let packets: Vec<&[u8]> = cases.iter().map(|(_, b, _)| b.as_slice()).collect();
    let replies = tcp_batch(addr, &packets);
    cases
        .iter()
        .zip(replies)
        .filter_map(|((name, bytes, expect), reply)| judge(&format!("{name} (tcp)"), bytes, reply.as_deref(), *expect))
        .collect()
}

fn assert_no_violations(violations: &[String]) {
    assert!(violations.is_empty(), "{} violation(s):\n{}", violations.len(), violations.join("\n"));
}

#[test]
fn structural_garbage_over_udp() {
    let mut target = Target::start();
    let mut cases = structural_cases();
    cases.extend(oversized_udp_cases());
    let violations = udp_barrage(target.addr, &cases);
    target.assert_healthy();
    assert_no_violations(&violations);
}

#[test]
fn structural_garbage_over_tcp() {
    let mut target = Target::start();
    let cases: Vec<_> = structural_cases().into_iter().filter(|(_, b, _)| b.len() >= 2).collect();
    let mut violations = tcp_barrage(target.addr, &cases);

    // A zero-length frame.
    let reply = dns::send_tcp_raw(target.addr, &[0, 0], SILENCE).expect("tcp");
    violations.extend(judge("zero-length TCP frame", &[], reply.as_deref(), Expect::Reject));
    // 65535-byte frames: an endless name, and a valid query padded with zeros.
    let mut endless = header(0x0150, 0, [1, 0, 0, 0]);
    while endless.len() < 65535 {
        endless.push(63);
        endless.extend_from_slice(&[b'a'; 63]);
    }
    endless.truncate(65535);
    let mut padded = valid_query(0x0151);
    padded.resize(65535, 0);
    for (name, bytes, expect) in [
        ("65535-byte frame: endless name", endless, Expect::Reject),
        ("65535-byte frame: query + zeros", padded, Expect::Tolerate),
    ] {
        let reply = dns::send_tcp(target.addr, &bytes, dns::TIMEOUT).expect("tcp");
        violations.extend(judge(name, &bytes, reply.as_deref(), expect));
    }
    // Frames that end early: a lone length byte; a length of 65535 with 100 bytes behind it.
    for (name, frame) in [
        ("lone length byte", vec![0u8]),
        ("frame cut short", {
            let mut f = vec![0xff, 0xff];
            f.extend_from_slice(&valid_query(0x0152));
            f.resize(102, 0);
            f
        }),
    ] {
        let mut stream = TcpStream::connect(target.addr).expect("connect");
        stream.write_all(&frame).expect("write");
        let _ = stream.shutdown(Shutdown::Write);
        let reply = dns::read_frame(&mut stream, SILENCE).expect("read");
        violations.extend(judge(name, &[], reply.as_deref(), Expect::Silent));
    }
    target.assert_healthy();
    assert_no_violations(&violations);
}

#[test]
fn pipelined_tcp_with_garbage_in_the_middle() {
    let mut target = Target::start();
    let mut stream = TcpStream::connect(target.addr).expect("connect");
    let mut frames = Vec::new();
    for bytes in [valid_query(0x0201), vec![0xde, 0xad, 0xbe], valid_query(0x0203)] {
        frames.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        frames.extend_from_slice(&bytes);
    }
    stream.write_all(&frames).expect("write");
    // The first query was well-formed and must be answered; after the garbage the
    // server may answer FORMERR, answer the third, or close the connection.
    let first = dns::read_frame(&mut stream, dns::TIMEOUT).expect("read").expect("answer to the first query");
    let msg = Message::from_vec(&first).expect("parse");
    assert_eq!(msg.metadata.id, 0x0201, "first reply is not for the first query");
    assert_eq!(msg.metadata.message_type, MessageType::Response);
    assert_eq!(msg.answers.len(), 1, "first query answered wrongly:\n{msg}");
    while let Some(reply) = dns::read_frame(&mut stream, SILENCE).expect("read") {
        let h = RawHeader::parse(&reply).expect("reply header");
        if h.id != 0x0203 {
            assert_eq!(u16::from(h.rcode), rcode::FORMERR, "reply to the garbage frame: {h:?}");
        }
    }
    target.assert_healthy();
}

#[test]
fn idle_tcp_connections_do_not_block_service() {
    let mut target = Target::start();
    let idle: Vec<TcpStream> = (0..32).map(|_| TcpStream::connect(target.addr).expect("connect")).collect();
    let mut half = TcpStream::connect(target.addr).expect("connect");
    half.write_all(&[0x00, 0x40, 0x12]).expect("write a partial frame");
    target.assert_healthy();
    drop((idle, half));
}

/// Random packets of three shapes: raw bytes; a plausible query header
/// (QR=0, QUERY, QDCOUNT 1) followed by random bytes; a valid query with a
/// few bytes overwritten. IDs are a counter so replies can be matched.
/// Returns each packet with whether it is a mutated valid query.
fn random_packets(rng: &mut StdRng, count: usize) -> Vec<(Vec<u8>, bool)> {
    (0..count)
        .map(|i| {
            let mutated = i % 3 == 2;
            let mut p = match i % 3 {
                0 => {
                    let mut p = vec![0u8; rng.random_range(0..600)];
                    rng.fill_bytes(&mut p);
                    p
                }
                1 => {
                    let mut p = header(0, 0, [1, 0, 0, 0]);
                    let mut tail = vec![0u8; rng.random_range(0..300)];
                    rng.fill_bytes(&mut tail);
                    p.extend_from_slice(&tail);
                    p
                }
                _ => {
                    let mut p = valid_query(0);
                    for _ in 0..rng.random_range(1..4) {
                        let at = rng.random_range(2..p.len());
                        p[at] = rng.random();
                    }
                    p
                }
            };
            if p.len() >= 2 {
                p[..2].copy_from_slice(&(i as u16).to_be_bytes());
            }
            (p, mutated)
        })
        .collect()
}

/// The expectation for a random packet: silence for responses; anything for
/// a mutated valid query (Knot and NSD accept many that hickory rejects, such
/// as odd OPT fields) and for packets hickory parses as a one-question query
/// (they may well be valid); otherwise FORMERR, NOTIMP for a non-QUERY
/// opcode, or silence.
fn random_expect(p: &[u8], mutated: bool) -> (Expect, bool) {
    let Some(h) = RawHeader::parse(p) else { return (Expect::Reject, false) };
    if h.qr {
        return (Expect::Silent, false);
    }
    if mutated {
        return (Expect::Tolerate, false);
    }
    match Message::from_vec(p) {
        Ok(m) if m.queries.len() == 1 => (Expect::Tolerate, false),
        _ => (Expect::Reject, h.opcode != 0),
    }
}

fn judge_random(i: usize, (p, mutated): &(Vec<u8>, bool), reply: &[u8]) -> Option<String> {
    let (expect, notimp_ok) = random_expect(p, *mutated);
    let name = format!("random packet #{i} ({})", dns::hex(p, 24));
    if notimp_ok && RawHeader::parse(reply).is_some_and(|h| h.qr && u16::from(h.rcode) == rcode::NOTIMP) {
        return None;
    }
    judge(&name, p, Some(reply), expect)
}

#[test]
fn random_packets_over_udp() {
    let mut target = Target::start();
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    let packets = random_packets(&mut rng, 3000);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(target.addr).expect("connect");
    let mut replies: HashMap<u16, Vec<Vec<u8>>> = HashMap::new();
    let mut unmatched = Vec::new();
    let mut buf = vec![0u8; 65535];
    let mut drain = |quiet: Duration, replies: &mut HashMap<u16, Vec<Vec<u8>>>| {
        sock.set_read_timeout(Some(quiet)).expect("timeout");
        while let Ok(n) = sock.recv(&mut buf) {
            if n < 2 {
                unmatched.push(buf[..n].to_vec());
            } else {
                replies.entry(u16::from_be_bytes([buf[0], buf[1]])).or_default().push(buf[..n].to_vec());
            }
        }
    };
    for batch in packets.chunks(50) {
        for (p, _) in batch {
            // Connection refused from an earlier ICMP error is not interesting here.
            let _ = sock.send(p);
        }
        drain(Duration::from_millis(30), &mut replies);
    }
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        drain(Duration::from_millis(100), &mut replies);
    }
    let mut violations: Vec<String> =
        unmatched.iter().map(|r| format!("reply too short to carry an ID: {}", dns::hex(r, 16))).collect();
    for (id, rs) in &replies {
        let i = usize::from(*id);
        match packets.get(i) {
            Some(p) if p.0.len() >= 2 => violations.extend(rs.iter().filter_map(|r| judge_random(i, p, r))),
            _ => violations.push(format!("reply with ID {id:#06x} matches no packet sent")),
        }
        if rs.len() > 1 {
            violations.push(format!("random packet #{i}: {} replies to one datagram", rs.len()));
        }
    }
    let answered = replies.len();
    println!("{} random datagrams sent, {answered} answered, {} violations", packets.len(), violations.len());
    target.assert_healthy();
    assert_no_violations(&violations);
}

#[test]
fn random_frames_over_tcp() {
    let mut target = Target::start();
    let mut rng = StdRng::seed_from_u64(0x5eed_0002);
    let packets = random_packets(&mut rng, 300);
    let frames: Vec<&[u8]> = packets.iter().map(|(p, _)| p.as_slice()).collect();
    let replies = tcp_batch(target.addr, &frames);
    let violations: Vec<String> = replies
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().and_then(|r| judge_random(i, &packets[i], r)).map(|v| format!("{v} (tcp)")))
        .collect();
    target.assert_healthy();
    assert_no_violations(&violations);
}
