//! One test per lookup case, against two small hand-written zones imported
//! with `nameplate zone import`: the platform zone `apps.company.com` and
//! the hosted team zone `team-a.apps.company.com` (delegated from the parent
//! by an NS cut, and served here as its own zone).
//!
//! Every expected value below was first observed from Knot DNS 3.2 serving
//! the same two files (and cross-checked with NSD 4.6); they are the spec.
//! Where Knot and NSD legitimately differ (NSD adds the apex NS RRset to the
//! authority section of positive answers, Knot does not) the test does not
//! look at that section.

use std::fs;
use std::net::SocketAddr;

use hickory_proto::op::{MessageType, OpCode};
use hickory_proto::rr::RecordType;
use nameplate_tests::dns::{self, EdnsOpts, RawHeader, Summary, Transport, assert_section, check_header, rcode};
use nameplate_tests::tools::{dig, kdig};
use nameplate_tests::{Server, zone_import};
use tempfile::TempDir;

/// The platform zone. SOA TTL 3600 and MINIMUM 120, so negative answers
/// carry the SOA with TTL 120. `big` has 40 TXT records: about 1.1 KB, more
/// than 512 bytes and less than 1232.
const PARENT_ZONE: &str = r#"$ORIGIN apps.company.com.
$TTL 300
@        3600 IN SOA  ns1.apps.company.com. hostmaster.company.com. 2024010101 3600 600 604800 120
@        3600 IN NS   ns1
@        3600 IN NS   ns2
@             IN MX   10 mail
ns1           IN A    192.0.2.1
ns1           IN AAAA 2001:db8::1
ns2           IN A    192.0.2.2
ns2           IN AAAA 2001:db8::2
mail          IN A    192.0.2.25
mail          IN AAAA 2001:db8::25
www           IN A    192.0.2.80
alias         IN CNAME www
chain1        IN CNAME chain2
chain2        IN CNAME chain3
chain3        IN CNAME www
loop1         IN CNAME loop2
loop2         IN CNAME loop1
dangling      IN CNAME nowhere
*.wild        IN A    192.0.2.99
*.wild        IN TXT  "wildcard"
*.wc          IN CNAME www
leaf.b.ent    IN A    192.0.2.50
ext      3600 IN NS   ns1.ext
ext      3600 IN NS   ns2.ext
ns1.ext  3600 IN A    198.51.100.1
ns2.ext  3600 IN A    198.51.100.2
team-a   3600 IN NS   ns1
team-a   3600 IN NS   ns2
big           IN TXT  "txt-01-padding"
big           IN TXT  "txt-02-padding"
big           IN TXT  "txt-03-padding"
big           IN TXT  "txt-04-padding"
big           IN TXT  "txt-05-padding"
big           IN TXT  "txt-06-padding"
big           IN TXT  "txt-07-padding"
big           IN TXT  "txt-08-padding"
big           IN TXT  "txt-09-padding"
big           IN TXT  "txt-10-padding"
big           IN TXT  "txt-11-padding"
big           IN TXT  "txt-12-padding"
big           IN TXT  "txt-13-padding"
big           IN TXT  "txt-14-padding"
big           IN TXT  "txt-15-padding"
big           IN TXT  "txt-16-padding"
big           IN TXT  "txt-17-padding"
big           IN TXT  "txt-18-padding"
big           IN TXT  "txt-19-padding"
big           IN TXT  "txt-20-padding"
big           IN TXT  "txt-21-padding"
big           IN TXT  "txt-22-padding"
big           IN TXT  "txt-23-padding"
big           IN TXT  "txt-24-padding"
big           IN TXT  "txt-25-padding"
big           IN TXT  "txt-26-padding"
big           IN TXT  "txt-27-padding"
big           IN TXT  "txt-28-padding"
big           IN TXT  "txt-29-padding"
big           IN TXT  "txt-30-padding"
big           IN TXT  "txt-31-padding"
big           IN TXT  "txt-32-padding"
big           IN TXT  "txt-33-padding"
big           IN TXT  "txt-34-padding"
big           IN TXT  "txt-35-padding"
big           IN TXT  "txt-36-padding"
big           IN TXT  "txt-37-padding"
big           IN TXT  "txt-38-padding"
big           IN TXT  "txt-39-padding"
big           IN TXT  "txt-40-padding"
"#;

/// The hosted team zone, below the `team-a` cut of the parent.
const TEAM_ZONE: &str = r#"$ORIGIN team-a.apps.company.com.
$TTL 300
@    3600 IN SOA ns1.apps.company.com. hostmaster.company.com. 7 3600 600 604800 60
@    3600 IN NS  ns1.apps.company.com.
@    3600 IN NS  ns2.apps.company.com.
web       IN A   192.0.2.130
"#;

/// The parent's SOA as it appears in negative answers: TTL = min(3600, 120).
const PARENT_NEG_SOA: &str =
    "apps.company.com. 120 SOA ns1.apps.company.com. hostmaster.company.com. 2024010101 3600 600 604800 120";
const WWW_A: &str = "www.apps.company.com. 300 A 192.0.2.80";
const EXT_NS: [&str; 2] = [
    "ext.apps.company.com. 3600 NS ns1.ext.apps.company.com.",
    "ext.apps.company.com. 3600 NS ns2.ext.apps.company.com.",
];
const EXT_GLUE: [&str; 2] =
    ["ns1.ext.apps.company.com. 3600 A 198.51.100.1", "ns2.ext.apps.company.com. 3600 A 198.51.100.2"];

/// A server on a data dir holding exactly the two zones above.
///
/// With `LOOKUP_REFERENCE_ADDR=IP:PORT` set, the tests run against that
/// server instead (for example Knot serving `PARENT_ZONE` and `TEAM_ZONE`),
/// which is how the expectations were checked.
struct Fixture {
    addr: SocketAddr,
    _server: Option<(Server, TempDir)>,
}

impl Fixture {
    fn start() -> Self {
        if let Ok(addr) = std::env::var("LOOKUP_REFERENCE_ADDR") {
            let addr = addr.parse().expect("LOOKUP_REFERENCE_ADDR is IP:PORT");
            return Self { addr, _server: None };
        }
        let data = tempfile::tempdir().expect("data dir");
        let files = tempfile::tempdir().expect("zone file dir");
        for (file, text) in [("apps.company.com.zone", PARENT_ZONE), ("team-a.apps.company.com.zone", TEAM_ZONE)] {
            let path = files.path().join(file);
            fs::write(&path, text).expect("write zone file");
            zone_import(data.path(), &path).expect("zone import");
        }
        let server = Server::start(data.path(), "apps.company.com").expect("start nameplate serve");
        Self { addr: server.addr(), _server: Some((server, data)) }
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Asks over UDP with EDNS and checks the header; returns the summary.
    fn ask(&self, qname: &str, qtype: RecordType, rcode: u16, aa: bool) -> Summary {
        let resp = dns::ask(self.addr(), qname, qtype).expect("query");
        check_header(&resp, qname, qtype, rcode, aa)
    }
}

#[test]
fn exact_match() {
    let f = Fixture::start();
    let s = f.ask("www.apps.company.com", RecordType::A, rcode::NOERROR, true);
    assert_section(&s.answer, &[WWW_A], "answer");
}

#[test]
fn cname_followed_in_zone() {
    let f = Fixture::start();
    let s = f.ask("alias.apps.company.com", RecordType::A, rcode::NOERROR, true);
    assert_section(&s.answer, &["alias.apps.company.com. 300 CNAME www.apps.company.com.", WWW_A], "answer");
}

#[test]
fn cname_query_type_returns_only_the_cname() {
    let f = Fixture::start();
    let s = f.ask("alias.apps.company.com", RecordType::CNAME, rcode::NOERROR, true);
    assert_section(&s.answer, &["alias.apps.company.com. 300 CNAME www.apps.company.com."], "answer");
}

#[test]
fn cname_chain() {
    let f = Fixture::start();
    let s = f.ask("chain1.apps.company.com", RecordType::A, rcode::NOERROR, true);
    assert_section(
        &s.answer,
        &[
            "chain1.apps.company.com. 300 CNAME chain2.apps.company.com.",
            "chain2.apps.company.com. 300 CNAME chain3.apps.company.com.",
            "chain3.apps.company.com. 300 CNAME www.apps.company.com.",
            WWW_A,
        ],
        "answer",
    );
}

#[test]
fn cname_loop_stopped() {
    let f = Fixture::start();
    // Knot and NSD both answer NOERROR with each CNAME once and stop.
    let s = f.ask("loop1.apps.company.com", RecordType::A, rcode::NOERROR, true);
    assert_section(
        &s.answer,
        &[
            "loop1.apps.company.com. 300 CNAME loop2.apps.company.com.",
            "loop2.apps.company.com. 300 CNAME loop1.apps.company.com.",
        ],
        "answer",
    );
    // Still serving afterwards.
    f.ask("www.apps.company.com", RecordType::A, rcode::NOERROR, true);
}

#[test]
fn cname_to_missing_name_is_nxdomain() {
    let f = Fixture::start();
    let s = f.ask("dangling.apps.company.com", RecordType::A, rcode::NXDOMAIN, true);
    assert_section(&s.answer, &["dangling.apps.company.com. 300 CNAME nowhere.apps.company.com."], "answer");
    assert_section(&s.authority, &[PARENT_NEG_SOA], "authority");
}

#[test]
fn wildcard_synthesis() {
    let f = Fixture::start();
    let s = f.ask("foo.wild.apps.company.com", RecordType::A, rcode::NOERROR, true);
    assert_section(&s.answer, &["foo.wild.apps.company.com. 300 A 192.0.2.99"], "answer (owner = qname)");
    let s = f.ask("a.b.wild.apps.company.com", RecordType::TXT, rcode::NOERROR, true);
    assert_section(&s.answer, &[r#"a.b.wild.apps.company.com. 300 TXT "wildcard""#], "answer, two labels below");
    // The wildcard owner itself, asked literally, is an ordinary match.
    let s = f.ask("*.wild.apps.company.com", RecordType::A, rcode::NOERROR, true);
    assert_section(&s.answer, &["*.wild.apps.company.com. 300 A 192.0.2.99"], "answer for the literal *");
}

#[test]
fn wildcard_cname() {
    let f = Fixture::start();
    let s = f.ask("foo.wc.apps.company.com", RecordType::A, rcode::NOERROR, true);
    assert_section(&s.answer, &["foo.wc.apps.company.com. 300 CNAME www.apps.company.com.", WWW_A], "answer");
}

#[test]
fn wildcard_nodata() {
    let f = Fixture::start();
    let s = f.ask("foo.wild.apps.company.com", RecordType::MX, rcode::NOERROR, true);
    assert_section(&s.answer, &[], "answer");
    assert_section(&s.authority, &[PARENT_NEG_SOA], "authority");
}

#[test]
fn empty_non_terminal_is_nodata() {
    let f = Fixture::start();
    for qname in ["b.ent.apps.company.com", "ent.apps.company.com", "wild.apps.company.com"] {
        let s = f.ask(qname, RecordType::A, rcode::NOERROR, true);
        assert_section(&s.answer, &[], &format!("{qname} answer"));
        assert_section(&s.authority, &[PARENT_NEG_SOA], &format!("{qname} authority"));
    }
}

#[test]
fn nxdomain_carries_soa_with_minimum_ttl() {
    let f = Fixture::start();
    for qname in ["nx.apps.company.com", "deep.nx.apps.company.com", "nx.leaf.b.ent.apps.company.com"] {
        let s = f.ask(qname, RecordType::A, rcode::NXDOMAIN, true);
        assert_section(&s.answer, &[], &format!("{qname} answer"));
        assert_section(&s.authority, &[PARENT_NEG_SOA], &format!("{qname} authority"));
        assert_section(&s.additional, &[], &format!("{qname} additional"));
    }
}

#[test]
fn referral_at_delegation_cut() {
    let f = Fixture::start();
    for (qname, qtype) in [("www.ext.apps.company.com", RecordType::A), ("ext.apps.company.com", RecordType::NS)] {
        let s = f.ask(qname, qtype, rcode::NOERROR, false);
        assert_section(&s.answer, &[], &format!("{qname} answer"));
        assert_section(&s.authority, &EXT_NS, &format!("{qname} authority"));
        assert_section(&s.additional, &EXT_GLUE, &format!("{qname} additional (glue)"));
    }
}

#[test]
fn names_below_cut_are_referred() {
    let f = Fixture::start();
    // The glue name itself is below the cut too: it is not answered from the parent.
    for (qname, qtype) in [
        ("deep.below.ext.apps.company.com", RecordType::AAAA),
        ("ns1.ext.apps.company.com", RecordType::A),
        ("ext.apps.company.com", RecordType::A),
    ] {
        let s = f.ask(qname, qtype, rcode::NOERROR, false);
        assert_section(&s.answer, &[], &format!("{qname} answer"));
        assert_section(&s.authority, &EXT_NS, &format!("{qname} authority"));
        assert_section(&s.additional, &EXT_GLUE, &format!("{qname} additional (glue)"));
    }
}

#[test]
fn ds_at_cut_answered_from_parent_side() {
    let f = Fixture::start();
    // External delegation, and the cut above the hosted team zone: both NODATA from the parent.
    for qname in ["ext.apps.company.com", "team-a.apps.company.com"] {
        let s = f.ask(qname, RecordType::DS, rcode::NOERROR, true);
        assert_section(&s.answer, &[], &format!("{qname} DS answer"));
        assert_section(&s.authority, &[PARENT_NEG_SOA], &format!("{qname} DS authority"));
    }
}

#[test]
fn apex_ns_with_addresses_in_additional() {
    let f = Fixture::start();
    let s = f.ask("apps.company.com", RecordType::NS, rcode::NOERROR, true);
    assert_section(
        &s.answer,
        &["apps.company.com. 3600 NS ns1.apps.company.com.", "apps.company.com. 3600 NS ns2.apps.company.com."],
        "answer",
    );
    assert_section(&s.authority, &[], "authority");
    assert_section(
        &s.additional,
        &[
            "ns1.apps.company.com. 300 A 192.0.2.1",
            "ns1.apps.company.com. 300 AAAA 2001:db8::1",
            "ns2.apps.company.com. 300 A 192.0.2.2",
            "ns2.apps.company.com. 300 AAAA 2001:db8::2",
        ],
        "additional",
    );
}

#[test]
fn apex_soa() {
    let f = Fixture::start();
    let s = f.ask("apps.company.com", RecordType::SOA, rcode::NOERROR, true);
    assert_section(
        &s.answer,
        &["apps.company.com. 3600 SOA ns1.apps.company.com. hostmaster.company.com. 2024010101 3600 600 604800 120"],
        "answer",
    );
}

#[test]
fn mx_with_addresses_in_additional() {
    let f = Fixture::start();
    let s = f.ask("apps.company.com", RecordType::MX, rcode::NOERROR, true);
    assert_section(&s.answer, &["apps.company.com. 300 MX 10 mail.apps.company.com."], "answer");
    // Knot adds exactly these two; NSD also adds the apex NS addresses, so only require these.
    for want in ["mail.apps.company.com. 300 A 192.0.2.25", "mail.apps.company.com. 300 AAAA 2001:db8::25"] {
        assert!(s.additional.iter().any(|r| r == want), "additional lacks {want}:\n{s}");
    }
}

#[test]
fn refused_outside_every_zone() {
    let f = Fixture::start();
    for qname in ["example.org", "company.com", "www.company.com"] {
        let s = f.ask(qname, RecordType::A, rcode::REFUSED, false);
        assert_section(&s.answer, &[], &format!("{qname} answer"));
        assert_section(&s.authority, &[], &format!("{qname} authority"));
    }
}

#[test]
fn mixed_case_qname() {
    let f = Fixture::start();
    let qname = "WwW.ApPs.CoMpAnY.CoM";
    let resp = dns::ask(f.addr(), qname, RecordType::A).expect("query");
    let s = check_header(&resp, qname, RecordType::A, rcode::NOERROR, true);
    assert_section(&s.answer, &[WWW_A], "answer (names compared case-insensitively)");
    // Knot and NSD copy the question byte for byte (resolvers using 0x20 rely on it).
    assert_eq!(resp.queries[0].name().to_ascii(), "WwW.ApPs.CoMpAnY.CoM.", "question case not preserved");
}

#[test]
fn unknown_type_is_nodata() {
    let f = Fixture::start();
    let s = f.ask("www.apps.company.com", RecordType::Unknown(65000), rcode::NOERROR, true);
    assert_section(&s.answer, &[], "answer");
    assert_section(&s.authority, &[PARENT_NEG_SOA], "authority");
}

#[test]
fn query_without_edns() {
    let f = Fixture::start();
    let q = dns::query_no_edns("www.apps.company.com", RecordType::A).expect("query");
    let resp = dns::exchange(f.addr(), &q, Transport::Udp).expect("exchange");
    let s = check_header(&resp, "www.apps.company.com", RecordType::A, rcode::NOERROR, true);
    assert_section(&s.answer, &[WWW_A], "answer");
    assert!(resp.edns.is_none(), "OPT in the response to a query without one:\n{s}");
}

#[test]
fn tcp_query() {
    let f = Fixture::start();
    for q in [
        dns::query("www.apps.company.com", RecordType::A).expect("query"),
        dns::query_no_edns("www.apps.company.com", RecordType::A).expect("query"),
    ] {
        let resp = dns::exchange(f.addr(), &q, Transport::Tcp).expect("tcp exchange");
        let s = check_header(&resp, "www.apps.company.com", RecordType::A, rcode::NOERROR, true);
        assert_section(&s.answer, &[WWW_A], "answer over TCP");
        assert_eq!(s.edns, q.edns.is_some(), "OPT presence over TCP:\n{s}");
    }
    let resp = dns::ask_tcp(f.addr(), "nx.apps.company.com", RecordType::A).expect("tcp exchange");
    let s = check_header(&resp, "nx.apps.company.com", RecordType::A, rcode::NXDOMAIN, true);
    assert_section(&s.authority, &[PARENT_NEG_SOA], "authority over TCP");
}

#[test]
fn edns_do_bit_echoed() {
    let f = Fixture::start();
    for dnssec_ok in [true, false] {
        let qname = dns::name("www.apps.company.com").expect("name");
        let edns = EdnsOpts { dnssec_ok, ..EdnsOpts::default() };
        let q = dns::build_query(&qname, RecordType::A, Some(edns));
        let resp = dns::exchange(f.addr(), &q, Transport::Udp).expect("exchange");
        let s = check_header(&resp, "www.apps.company.com", RecordType::A, rcode::NOERROR, true);
        assert_section(&s.answer, &[WWW_A], "answer");
        let opt = resp.edns.as_ref().expect("response to an EDNS query carries OPT");
        assert_eq!(opt.flags().dnssec_ok, dnssec_ok, "DO bit not echoed");
        assert_eq!(opt.version(), 0, "EDNS version in response");
    }
}

#[test]
fn edns_version_1_is_badvers() {
    let f = Fixture::start();
    let qname = dns::name("www.apps.company.com").expect("name");
    let q = dns::build_query(&qname, RecordType::A, Some(EdnsOpts { version: 1, ..EdnsOpts::default() }));
    let resp = dns::exchange(f.addr(), &q, Transport::Udp).expect("exchange");
    // Knot and NSD: BADVERS (16, so the OPT carries the upper bits), AA clear, no answer, OPT version 0.
    let s = check_header(&resp, "www.apps.company.com", RecordType::A, rcode::BADVERS, false);
    assert_section(&s.answer, &[], "answer");
    let opt = resp.edns.as_ref().expect("BADVERS needs an OPT record");
    assert_eq!(opt.version(), 0, "the response OPT must carry the version we support");
}

#[test]
fn two_opt_records_is_formerr() {
    let f = Fixture::start();
    let mut bytes = dns::raw_query(0x4242, 0, 1, "www.apps.company.com", 1);
    dns::push_additional(&mut bytes, &dns::raw_opt(1232, 0, false));
    dns::push_additional(&mut bytes, &dns::raw_opt(1232, 0, false));
    let resp = dns::exchange_bytes(f.addr(), &bytes, Transport::Udp).expect("FORMERR response");
    let h = RawHeader::parse(&resp).expect("response header");
    assert!(h.qr && h.id == 0x4242, "not a response to our query: {h:?}");
    assert_eq!(u16::from(h.rcode), rcode::FORMERR, "rcode for two OPT records: {h:?}");
    assert_eq!(h.ancount, 0, "answer to a FORMERR query: {h:?}");
}

#[test]
fn truncation_over_udp_and_full_answer_over_tcp() {
    let f = Fixture::start();
    let qname = "big.apps.company.com";
    let all: Vec<String> = (1..=40).map(|i| format!("big.apps.company.com. 300 TXT \"txt-{i:02}-padding\"")).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();

    // 40 TXT records do not fit in 512 bytes: TC, and whatever is there must fit.
    let q = dns::query_no_edns(qname, RecordType::TXT).expect("query");
    let bytes = dns::exchange_bytes(f.addr(), &dns::encode(&q).expect("encode"), Transport::Udp).expect("udp");
    assert!(bytes.len() <= 512, "UDP response without EDNS is {} bytes", bytes.len());
    let resp = dns::parse_response(&bytes).expect("parse");
    let s = check_header(&resp, qname, RecordType::TXT, rcode::NOERROR, true);
    assert!(s.tc, "TC not set on a 40-TXT answer without EDNS:\n{s}");
    assert!(s.answer.len() < 40, "TC set but the full answer is there");

    // They do fit in the 1232 bytes EDNS offers (about 1.1 KB): no TC.
    let resp = dns::ask(f.addr(), qname, RecordType::TXT).expect("udp with EDNS");
    let s = check_header(&resp, qname, RecordType::TXT, rcode::NOERROR, true);
    assert!(!s.tc, "TC set although the answer fits the EDNS payload");
    assert_section(&s.answer, &all, "answer over UDP with EDNS 1232");

    // An EDNS payload of 512 is no better than none; 4096 is capped by the
    // server (1232 by default), which still holds the answer.
    for (payload, truncated) in [(512, true), (4096, false)] {
        let edns = EdnsOpts { payload, ..EdnsOpts::default() };
        let q = dns::build_query(&dns::name(qname).expect("name"), RecordType::TXT, Some(edns));
        let resp = dns::exchange(f.addr(), &q, Transport::Udp).expect("udp with EDNS");
        let s = check_header(&resp, qname, RecordType::TXT, rcode::NOERROR, true);
        assert_eq!(s.tc, truncated, "TC with EDNS payload {payload}:\n{s}");
        assert!(s.edns, "no OPT in the response with EDNS payload {payload}");
        if !truncated {
            assert_section(&s.answer, &all, &format!("answer with EDNS payload {payload}"));
        }
    }

    // Over TCP, without EDNS: everything.
    let resp = dns::exchange(f.addr(), &q, Transport::Tcp).expect("tcp");
    let s = check_header(&resp, qname, RecordType::TXT, rcode::NOERROR, true);
    assert!(!s.tc, "TC set over TCP");
    assert_section(&s.answer, &all, "answer over TCP");
}

#[test]
fn status_opcode_is_notimp() {
    let f = Fixture::start();
    let mut q = dns::query_no_edns("www.apps.company.com", RecordType::A).expect("query");
    q.metadata.op_code = OpCode::Status; // opcode 2
    let bytes = dns::encode(&q).expect("encode");
    let resp = dns::exchange_bytes(f.addr(), &bytes, Transport::Udp).expect("NOTIMP response");
    let h = RawHeader::parse(&resp).expect("response header");
    assert!(h.qr && h.id == q.metadata.id, "not a response to our query: {h:?}");
    assert_eq!(h.opcode, 2, "opcode not echoed: {h:?}");
    assert_eq!(u16::from(h.rcode), rcode::NOTIMP, "rcode for opcode STATUS: {h:?}");
    assert_eq!(h.ancount, 0, "answer to an unsupported opcode: {h:?}");
}

#[test]
fn hosted_team_zone_is_authoritative() {
    let f = Fixture::start();
    let s = f.ask("web.team-a.apps.company.com", RecordType::A, rcode::NOERROR, true);
    assert_section(&s.answer, &["web.team-a.apps.company.com. 300 A 192.0.2.130"], "answer from the child zone");
    let s = f.ask("team-a.apps.company.com", RecordType::SOA, rcode::NOERROR, true);
    assert_section(
        &s.answer,
        &["team-a.apps.company.com. 3600 SOA ns1.apps.company.com. hostmaster.company.com. 7 3600 600 604800 60"],
        "the child's own SOA",
    );
    // The child apex NS is an authoritative answer, not a referral.
    let s = f.ask("team-a.apps.company.com", RecordType::NS, rcode::NOERROR, true);
    assert_section(
        &s.answer,
        &[
            "team-a.apps.company.com. 3600 NS ns1.apps.company.com.",
            "team-a.apps.company.com. 3600 NS ns2.apps.company.com.",
        ],
        "child apex NS",
    );
    let s = f.ask("nx.team-a.apps.company.com", RecordType::A, rcode::NXDOMAIN, true);
    assert_section(
        &s.authority,
        &["team-a.apps.company.com. 60 SOA ns1.apps.company.com. hostmaster.company.com. 7 3600 600 604800 60"],
        "NXDOMAIN in the child carries the child's SOA",
    );
}

#[test]
fn real_clients_dig_and_kdig() {
    let f = Fixture::start();
    let out = dig(f.addr(), &["+short", "www.apps.company.com", "A"]).expect("dig");
    assert_eq!(out.trim(), "192.0.2.80", "dig +short");
    let out = dig(f.addr(), &["nx.apps.company.com", "A"]).expect("dig");
    assert!(out.contains("status: NXDOMAIN") && out.contains("flags: qr aa"), "dig NXDOMAIN:\n{out}");
    let out = kdig(f.addr(), &["+tcp", "+short", "alias.apps.company.com", "A"]).expect("kdig +tcp");
    assert_eq!(out.trim(), "www.apps.company.com.\n192.0.2.80", "kdig +tcp +short");
    let out = kdig(f.addr(), &["+dnssec", "www.apps.company.com", "A"]).expect("kdig +dnssec");
    assert!(out.contains("EDNS PSEUDOSECTION") && out.contains("flags: do"), "kdig +dnssec:\n{out}");
    // +ignore: show the truncated UDP answer instead of retrying over TCP.
    let out = dig(f.addr(), &["+noedns", "+ignore", "big.apps.company.com", "TXT"]).expect("dig");
    assert!(out.contains(" tc"), "dig sees no TC on the big answer:\n{out}");
}

/// The response header of a plain query is a well-formed response: QR set,
/// ID and opcode echoed, RD copied, RA clear (authoritative only).
#[test]
fn response_header_flags() {
    let f = Fixture::start();
    let mut q = dns::query("www.apps.company.com", RecordType::A).expect("query");
    q.metadata.recursion_desired = true;
    let resp = dns::exchange(f.addr(), &q, Transport::Udp).expect("exchange");
    assert_eq!(resp.metadata.message_type, MessageType::Response);
    assert_eq!(resp.metadata.op_code, OpCode::Query);
    assert!(resp.metadata.recursion_desired, "RD not copied from the query");
    assert!(!resp.metadata.recursion_available, "RA set by an authoritative-only server");
    assert!(!resp.metadata.truncation, "TC set on a small answer");
}

/// The same name asked in different ways, one after another and twice
/// over, so that any cached response gets reused: each response must still
/// reflect its own query (ID, question spelling, RD, OPT and DO).
#[test]
fn each_response_reflects_its_own_query() {
    let f = Fixture::start();
    let edns = Some(EdnsOpts::default());
    let edns_do = Some(EdnsOpts { dnssec_ok: true, ..EdnsOpts::default() });
    let variants = [
        ("www.apps.company.com", None, false),
        ("WWW.APPS.COMPANY.COM", None, true),
        ("www.apps.company.com", edns, false),
        ("wWw.aPpS.cOmPaNy.CoM", edns_do, true),
        ("www.apps.company.com", edns_do, false),
        ("Www.Apps.Company.Com", edns, true),
    ];
    for round in 0..2 {
        for transport in [Transport::Udp, Transport::Tcp] {
            for (qname, edns, rd) in variants {
                let what = format!("round {round} {transport} {qname} edns={edns:?} rd={rd}");
                let mut q = dns::build_query(&dns::name(qname).expect("name"), RecordType::A, edns);
                q.metadata.recursion_desired = rd;
                let resp = dns::exchange(f.addr(), &q, transport).expect("exchange checks the ID");
                let s = check_header(&resp, qname, RecordType::A, rcode::NOERROR, true);
                assert_section(&s.answer, &[WWW_A], &what);
                assert_eq!(resp.queries[0].name().to_ascii(), format!("{qname}."), "question spelling, {what}");
                assert_eq!(resp.metadata.recursion_desired, rd, "RD, {what}");
                assert_eq!(s.edns, edns.is_some(), "OPT presence, {what}");
                assert_eq!(s.dnssec_ok, edns.is_some_and(|e| e.dnssec_ok), "DO bit, {what}");
            }
        }
    }
}
