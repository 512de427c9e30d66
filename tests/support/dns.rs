//! DNS on the wire: build queries, send them over UDP or TCP, parse the
//! responses with hickory-proto, and reduce them to a comparable [`Summary`].

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// How long one attempt waits for a response.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// How many times a UDP query is sent before giving up.
const UDP_ATTEMPTS: usize = 3;
/// EDNS payload size advertised by default (DNS flag day 2020).
pub const EDNS_PAYLOAD: u16 = 1232;

/// The transport a query travels over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// One datagram each way.
    Udp,
    /// RFC 1035 4.2.2 framing: a 2-byte length, then the message.
    Tcp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
        })
    }
}

/// The EDNS(0) OPT record a query carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdnsOpts {
    /// Advertised UDP payload size.
    pub payload: u16,
    /// The DNSSEC OK bit.
    pub dnssec_ok: bool,
    /// The EDNS version (0 is the only defined one).
    pub version: u8,
}

impl Default for EdnsOpts {
    fn default() -> Self {
        Self { payload: EDNS_PAYLOAD, dnssec_ok: false, version: 0 }
    }
}

/// Parses a domain name, keeping the case as written.
pub fn name(text: &str) -> Result<Name> {
    let mut name = Name::from_ascii(text).with_context(|| format!("bad name {text:?}"))?;
    name.set_fqdn(true);
    Ok(name)
}

/// A QUERY message for `qname`/`qtype`, class IN, RD clear, with `edns` if given.
pub fn build_query(qname: &Name, qtype: RecordType, edns: Option<EdnsOpts>) -> Message {
    let mut msg = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = false;
    msg.add_query(Query::query(qname.clone(), qtype));
    if let Some(opts) = edns {
        let mut e = Edns::new();
        e.set_max_payload(opts.payload).set_version(opts.version).set_dnssec_ok(opts.dnssec_ok);
        msg.set_edns(e);
    }
    msg
}

/// A query for `qname`/`qtype` with default EDNS (payload 1232, DO clear).
pub fn query(qname: &str, qtype: RecordType) -> Result<Message> {
    Ok(build_query(&name(qname)?, qtype, Some(EdnsOpts::default())))
}

/// A query for `qname`/`qtype` without an OPT record.
pub fn query_no_edns(qname: &str, qtype: RecordType) -> Result<Message> {
    Ok(build_query(&name(qname)?, qtype, None))
}

/// Encodes a message to wire format.
pub fn encode(msg: &Message) -> Result<Vec<u8>> {
    msg.to_vec().context("encoding query")
}

/// Sends `bytes` in one datagram and waits up to `timeout` for a datagram
/// whose first two bytes equal the query's ID (any datagram if the query is
/// shorter than 2 bytes). `Ok(None)` means nothing came back in time.
pub fn send_udp(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> io::Result<Option<Vec<u8>>> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.connect(addr)?;
    sock.send(bytes)?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        sock.set_read_timeout(Some(left))?;
        match sock.recv(&mut buf) {
            Ok(n) if bytes.len() < 2 || (n >= 2 && buf[..2] == bytes[..2]) => {
                return Ok(Some(buf[..n].to_vec()));
            }
            Ok(_) => continue,
            Err(e) if is_timeout(&e) => return Ok(None),
            // A previous ICMP port unreachable shows up here; the server is not (yet) there.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// Sends `bytes` as one length-prefixed frame on a new TCP connection and
/// reads one framed response. `Ok(None)` means the server closed the
/// connection or sent nothing within `timeout`.
pub fn send_tcp(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> io::Result<Option<Vec<u8>>> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message longer than 65535"))?;
    let mut frame = len.to_be_bytes().to_vec();
    frame.extend_from_slice(bytes);
    send_tcp_raw(addr, &frame, timeout)
}

/// Writes `frame` (already length-prefixed, or deliberately not) on a new TCP
/// connection and reads one framed response, as [`send_tcp`].
pub fn send_tcp_raw(addr: SocketAddr, frame: &[u8], timeout: Duration) -> io::Result<Option<Vec<u8>>> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_write_timeout(Some(timeout))?;
    match stream.write_all(frame) {
        Ok(()) => {}
        // The server may close a connection it does not like before we finish writing.
        Err(e) if is_closed(&e) => return Ok(None),
        Err(e) => return Err(e),
    }
    read_frame(&mut stream, timeout)
}

/// Reads one length-prefixed message from `stream`; `Ok(None)` on EOF,
/// reset or timeout.
pub fn read_frame(stream: &mut TcpStream, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
    stream.set_read_timeout(Some(timeout))?;
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if is_timeout(&e) || is_closed(&e) => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    match stream.read_exact(&mut buf) {
        Ok(()) => Ok(Some(buf)),
        Err(e) if is_timeout(&e) || is_closed(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sends raw bytes over `transport`; see [`send_udp`] and [`send_tcp`].
pub fn send(addr: SocketAddr, bytes: &[u8], transport: Transport, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
    match transport {
        Transport::Udp => send_udp(addr, bytes, timeout),
        Transport::Tcp => send_tcp(addr, bytes, timeout),
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Sends `bytes` (retrying UDP up to three times) and returns the raw
/// response, or an error naming the server and transport if none came.
pub fn exchange_bytes(addr: SocketAddr, bytes: &[u8], transport: Transport) -> Result<Vec<u8>> {
    let attempts = if transport == Transport::Udp { UDP_ATTEMPTS } else { 1 };
    for _ in 0..attempts {
        if let Some(resp) =
            send(addr, bytes, transport, TIMEOUT).with_context(|| format!("{transport} exchange with {addr}"))?
        {
            return Ok(resp);
        }
    }
    bail!("no {transport} response from {addr} after {attempts} attempt(s) of {TIMEOUT:?}")
}

/// Sends `msg` over `transport` and parses the response, checking that it is
/// a response with the query's ID.
pub fn exchange(addr: SocketAddr, msg: &Message, transport: Transport) -> Result<Message> {
    let resp = exchange_bytes(addr, &encode(msg)?, transport)?;
    let parsed = parse_response(&resp)?;
    ensure!(
        parsed.metadata.id == msg.metadata.id,
        "response ID {} != query ID {}",
        parsed.metadata.id,
        msg.metadata.id
    );
    Ok(parsed)
}

/// Parses a response and checks that QR is set.
pub fn parse_response(bytes: &[u8]) -> Result<Message> {
    let msg =
        Message::from_vec(bytes).map_err(|e| anyhow::anyhow!("unparseable response ({e}): {}", hex(bytes, 64)))?;
    ensure!(msg.metadata.message_type == MessageType::Response, "QR bit not set in response");
    Ok(msg)
}

/// Asks `addr` for `qname`/`qtype` over UDP with default EDNS.
pub fn ask(addr: SocketAddr, qname: &str, qtype: RecordType) -> Result<Message> {
    exchange(addr, &query(qname, qtype)?, Transport::Udp)
}

/// Asks `addr` for `qname`/`qtype` over TCP with default EDNS.
pub fn ask_tcp(addr: SocketAddr, qname: &str, qtype: RecordType) -> Result<Message> {
    exchange(addr, &query(qname, qtype)?, Transport::Tcp)
}

/// The first `max` bytes of `bytes` in hex, for error messages.
pub fn hex(bytes: &[u8], max: usize) -> String {
    let shown: String = bytes.iter().take(max).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > max { format!("{shown}... ({} bytes)", bytes.len()) } else { shown }
}

/// The header fields of a raw message, read without a full parse, so that
/// responses to malformed queries can be checked even when hickory would
/// reject them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawHeader {
    /// Message ID.
    pub id: u16,
    /// QR: set in responses.
    pub qr: bool,
    /// OPCODE (4 bits).
    pub opcode: u8,
    /// AA.
    pub aa: bool,
    /// TC.
    pub tc: bool,
    /// The low 4 bits of RCODE (no EDNS extension).
    pub rcode: u8,
    /// QDCOUNT.
    pub qdcount: u16,
    /// ANCOUNT.
    pub ancount: u16,
    /// NSCOUNT.
    pub nscount: u16,
    /// ARCOUNT.
    pub arcount: u16,
}

impl RawHeader {
    /// Reads the 12-byte header, or `None` if `bytes` is shorter than that.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let word = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        if bytes.len() < 12 {
            return None;
        }
        let flags = word(2);
        Some(Self {
            id: word(0),
            qr: flags & 0x8000 != 0,
            opcode: ((flags >> 11) & 0xf) as u8,
            aa: flags & 0x0400 != 0,
            tc: flags & 0x0200 != 0,
            rcode: (flags & 0xf) as u8,
            qdcount: word(4),
            ancount: word(6),
            nscount: word(8),
            arcount: word(10),
        })
    }
}

/// Wire bytes of an owner name given as dot-separated labels (no escapes).
pub fn wire_name(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in text.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A hand-built query: header with `id`, `flags`, QDCOUNT `qdcount` and the
/// other counts zero, then one question for `qname`/`qtype`/IN.
pub fn raw_query(id: u16, flags: u16, qdcount: u16, qname: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [id, flags, qdcount, 0, 0, 0] {
        out.extend_from_slice(&word.to_be_bytes());
    }
    out.extend_from_slice(&wire_name(qname));
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out
}

/// The wire bytes of an OPT pseudo-record (root owner, no options).
pub fn raw_opt(payload: u16, version: u8, dnssec_ok: bool) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&41u16.to_be_bytes());
    out.extend_from_slice(&payload.to_be_bytes());
    out.extend_from_slice(&[0, version, if dnssec_ok { 0x80 } else { 0 }, 0]);
    out.extend_from_slice(&0u16.to_be_bytes());
    out
}

/// Appends `record` to the additional section of `msg` (wire bytes), bumping ARCOUNT.
pub fn push_additional(msg: &mut Vec<u8>, record: &[u8]) {
    let count = u16::from_be_bytes([msg[10], msg[11]]) + 1;
    msg[10..12].copy_from_slice(&count.to_be_bytes());
    msg.extend_from_slice(record);
}

/// A response reduced to what two correct servers must agree on: RCODE
/// (with the EDNS extension), AA, TC, whether an OPT record came back, and
/// each section as a sorted list of records in text form with names
/// lowercased (see [`rr_text`]). Section order is ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The full RCODE (12 bits with EDNS).
    pub rcode: u16,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated.
    pub tc: bool,
    /// The response carried an OPT record.
    pub edns: bool,
    /// The DO bit of the response's OPT record.
    pub dnssec_ok: bool,
    /// Answer section.
    pub answer: Vec<String>,
    /// Authority section.
    pub authority: Vec<String>,
    /// Additional section, without OPT.
    pub additional: Vec<String>,
}

impl Summary {
    /// Summarizes a parsed response.
    pub fn of(msg: &Message) -> Self {
        let section = |records: &[Record]| {
            let mut out: Vec<String> = records.iter().map(rr_text).collect();
            out.sort();
            out
        };
        Self {
            rcode: u16::from(msg.metadata.response_code),
            aa: msg.metadata.authoritative,
            tc: msg.metadata.truncation,
            edns: msg.edns.is_some(),
            dnssec_ok: msg.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
            answer: section(&msg.answers),
            authority: section(&msg.authorities),
            additional: section(&msg.additionals),
        }
    }

    /// The header part: (rcode, AA, TC, OPT present).
    pub fn header(&self) -> (u16, bool, bool, bool) {
        (self.rcode, self.aa, self.tc, self.edns)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rcode={} aa={} tc={} opt={}",
            rcode_name(self.rcode),
            u8::from(self.aa),
            u8::from(self.tc),
            u8::from(self.edns)
        )?;
        for (tag, records) in [("an", &self.answer), ("ns", &self.authority), ("ar", &self.additional)] {
            for r in records {
                write!(f, "\n    {tag}: {r}")?;
            }
        }
        Ok(())
    }
}

/// The mnemonic of an RCODE value.
pub fn rcode_name(rcode: u16) -> String {
    let known = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
        "NOTZONE",
    ];
    match rcode {
        16 => "BADVERS".to_string(),
        n => known.get(usize::from(n)).map_or_else(|| format!("RCODE{n}"), |s| (*s).to_string()),
    }
}

/// A record as `owner TTL TYPE RDATA`, class omitted, owner and names in
/// RDATA lowercased (TXT and CAA values keep their case).
pub fn rr_text(record: &Record) -> String {
    let rdata = match &record.data {
        RData::TXT(txt) => txt.txt_data.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(" "),
        RData::CAA(_) => record.data.to_string(),
        other => other.to_string().to_ascii_lowercase(),
    };
    format!(
        "{} {} {} {}",
        record.name.to_ascii().to_ascii_lowercase(),
        record.ttl,
        type_name(record.record_type()),
        rdata
    )
}

/// A character-string in master-file form: quoted, with `"`, `\\` and
/// non-printable bytes escaped.
fn quoted(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

/// The mnemonic of a record type, `TYPEnnn` for unknown ones.
pub fn type_name(rtype: RecordType) -> String {
    match rtype {
        RecordType::Unknown(n) => format!("TYPE{n}"),
        t => t.to_string(),
    }
}

/// Asserts that a response has QR set, echoes the question (compared
/// case-insensitively), and has the expected RCODE and AA; returns its summary.
pub fn check_header(resp: &Message, qname: &str, qtype: RecordType, rcode: u16, aa: bool) -> Summary {
    let summary = Summary::of(resp);
    let context = format!("response to {qname} {}:\n{summary}", type_name(qtype));
    assert_eq!(resp.metadata.message_type, MessageType::Response, "QR not set in {context}");
    assert_eq!(resp.queries.len(), 1, "question not echoed in {context}");
    let want = format!("{}.", qname.trim_end_matches('.')).to_ascii_lowercase();
    assert_eq!(resp.queries[0].name().to_ascii().to_ascii_lowercase(), want, "question name in {context}");
    assert_eq!(resp.queries[0].query_type(), qtype, "question type in {context}");
    assert_eq!(rcode_name(summary.rcode), rcode_name(rcode), "RCODE in {context}");
    assert_eq!(summary.aa, aa, "AA bit in {context}");
    summary
}

/// Asserts that `actual` (a sorted section from a [`Summary`]) holds exactly
/// the records in `expected`, in any order.
pub fn assert_section(actual: &[String], expected: &[&str], what: &str) {
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(actual, want.as_slice(), "{what}: got\n  {}\nwant\n  {}", actual.join("\n  "), want.join("\n  "));
}

/// RCODE values used by the tests.
pub mod rcode {
    /// No error.
    pub const NOERROR: u16 = 0;
    /// Format error.
    pub const FORMERR: u16 = 1;
    /// Server failure.
    pub const SERVFAIL: u16 = 2;
    /// Name does not exist.
    pub const NXDOMAIN: u16 = 3;
    /// Not implemented.
    pub const NOTIMP: u16 = 4;
    /// Refused.
    pub const REFUSED: u16 = 5;
    /// Bad OPT version (RFC 6891), needs EDNS.
    pub const BADVERS: u16 = 16;
}
