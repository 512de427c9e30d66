//! RFC 1035 master files: import with hickory's parser, export as one
//! absolute-named record per line.
//!
//! [`write`] output parses back with [`parse`] to the same RRsets for every
//! type hickory's parser reads, with two exceptions that come from
//! hickory-proto 0.26: TXT and CAA strings holding control characters or
//! bytes that are not UTF-8 are written as RFC 1035 `\DDD` escapes, which
//! other servers read but hickory's lexer decodes wrongly; and types the
//! parser cannot read (DS without DNSSEC support, unknown types) are written
//! in RFC 3597 generic form (`TYPE43 \# 4 0a0b0c0d`), which it cannot read
//! either. `$INCLUDE` is refused, so importing a file never reads another.

use std::fmt::Write as _;

use hickory_proto::rr::rdata::HTTPS;
use hickory_proto::rr::rdata::svcb::{SVCB, SvcParamValue};
use hickory_proto::rr::{DNSClass, Name, RData, RecordSet, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_proto::serialize::txt::{ParseError, Parser};

use crate::change::MAX_TTL;
use crate::{Error, RRset, Zone};

/// Parses a master file into a zone. The apex is `origin` when given, else
/// the owner of the file's SOA record. Relative names are taken relative to
/// `origin` until a `$ORIGIN` line says otherwise.
pub fn parse(text: &str, origin: Option<&Name>) -> Result<Zone, Error> {
    refuse_include(text)?;
    let parsed = Parser::new(text, None, origin.cloned()).parse();
    let (_, sets) = parsed.map_err(|e| locate(text, origin, e))?;
    let rrsets = sets.into_values().map(to_rrset).collect::<Result<Vec<_>, _>>()?;
    let apex = match origin {
        Some(origin) => origin.clone(),
        None => rrsets
            .iter()
            .find(|s| s.rtype() == RecordType::SOA)
            .map(|s| s.name().clone())
            .ok_or_else(|| Error::ZoneFile("no SOA record and no origin given".into()))?,
    };
    Zone::from_rrsets(&apex, rrsets).map_err(|e| Error::ZoneFile(e.to_string()))
}

/// Writes a zone as a master file: `$ORIGIN`, the SOA, then every other
/// record in canonical order, one `owner ttl IN TYPE rdata` line each, with
/// absolute names.
pub fn write(zone: &Zone) -> String {
    let mut out = format!("$ORIGIN {}\n", zone.apex().to_ascii());
    let soa = zone.soa();
    let rest = zone.rrsets().into_iter().filter(|s| !(s.rtype() == RecordType::SOA && s.name() == zone.apex()));
    for set in std::iter::once(soa).chain(rest) {
        for rdata in set.rdatas() {
            let _ = writeln!(out, "{} {} IN {}", set.name().to_ascii(), set.ttl(), rdata_text(rdata));
        }
    }
    out
}

/// `$INCLUDE` would make hickory read a file named by the input.
fn refuse_include(text: &str) -> Result<(), Error> {
    match text.split(['\n', '\r']).position(|line| line.starts_with("$INCLUDE")) {
        Some(at) => Err(Error::ZoneFile(format!("line {}: $INCLUDE is not supported", at + 1))),
        None => Ok(()),
    }
}

/// One parsed record set as an RRset; only class IN and sane TTLs.
fn to_rrset(set: RecordSet) -> Result<RRset, Error> {
    let bad = |why: String| Err(Error::ZoneFile(format!("{} {}: {why}", set.name(), set.record_type())));
    if set.dns_class() != DNSClass::IN {
        return bad(format!("class {} is not supported", set.dns_class()));
    }
    if set.ttl() > MAX_TTL {
        return bad(format!("TTL {} is above the maximum of {MAX_TTL}", set.ttl()));
    }
    let mut rrset = RRset::new(set.name(), set.record_type(), set.ttl());
    for record in set.records_without_rrsigs() {
        rrset.insert(record.data.clone());
    }
    Ok(rrset)
}

/// The parser's error, with the line it stopped at when that can be told:
/// the fewest leading lines that fail the same way.
fn locate(text: &str, origin: Option<&Name>, error: ParseError) -> Error {
    let message = error.to_string();
    let fails_same = |lines: usize| {
        let end: usize = text.split_inclusive('\n').take(lines).map(str::len).sum();
        matches!(Parser::new(&text[..end], None, origin.cloned()).parse(), Err(e) if e.to_string() == message)
    };
    let (mut lo, mut hi) = (0, text.split_inclusive('\n').count());
    if fails_same(0) || !fails_same(hi) {
        return Error::ZoneFile(message); // not caused by any one line
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fails_same(mid) { hi = mid } else { lo = mid }
    }
    Error::ZoneFile(format!("line {hi}: {message}"))
}

/// `TYPE rdata` in presentation form that hickory's parser reads back.
fn rdata_text(rdata: &RData) -> String {
    let rtype = rdata.record_type();
    match rdata {
        RData::CNAME(n) => format!("{rtype} {}", n.0.to_ascii()),
        RData::NS(n) => format!("{rtype} {}", n.0.to_ascii()),
        RData::PTR(n) => format!("{rtype} {}", n.0.to_ascii()),
        RData::ANAME(n) => format!("{rtype} {}", n.0.to_ascii()),
        RData::MX(mx) => format!("{rtype} {} {}", mx.preference, mx.exchange.to_ascii()),
        RData::SRV(s) => format!("{rtype} {} {} {} {}", s.priority, s.weight, s.port, s.target.to_ascii()),
        RData::SOA(s) => format!(
            "{rtype} {} {} {} {} {} {} {}",
            s.mname.to_ascii(),
            s.rname.to_ascii(),
            s.serial,
            s.refresh,
            s.retry,
            s.expire,
            s.minimum
        ),
        RData::TXT(txt) => format!("{rtype} {}", strings(txt.txt_data.iter().map(|s| &s[..]))),
        RData::HINFO(h) => format!("{rtype} {}", strings([&h.cpu[..], &h.os[..]])),
        RData::CAA(caa) => format!("{rtype} {} {} {}", caa.flags(), caa.tag, quoted(&caa.value)),
        RData::CERT(c) => {
            let (kind, algorithm) = (u16::from(c.cert_type), u8::from(c.algorithm));
            format!("{rtype} {kind} {} {algorithm} {}", c.key_tag, c.cert_base64())
        }
        RData::SVCB(svcb) | RData::HTTPS(HTTPS(svcb)) => match svcb_text(svcb) {
            Some(text) => format!("{rtype} {text}"),
            None => generic(rdata),
        },
        RData::A(_) | RData::AAAA(_) | RData::CSYNC(_) | RData::NAPTR(_) | RData::OPENPGPKEY(_) => {
            format!("{rtype} {rdata}")
        }
        RData::SMIMEA(_) | RData::SSHFP(_) | RData::TLSA(_) => format!("{rtype} {rdata}"),
        _ => generic(rdata),
    }
}

/// SVCB and HTTPS data; unlike hickory's `Display`, a key without a value
/// (`no-default-alpn`) is written without `=` and an unknown key's value
/// without quotes, which the parser would keep. `None` when such a value
/// is not plain text.
fn svcb_text(svcb: &SVCB) -> Option<String> {
    let mut out = format!("{} {}", svcb.svc_priority, svcb.target_name.to_ascii());
    for (key, value) in &svcb.svc_params {
        let text = match value {
            SvcParamValue::NoDefaultAlpn => String::new(),
            SvcParamValue::Unknown(unknown) => format!("={}", plain(&unknown.0)?),
            value => format!("={value}"),
        };
        write!(out, " {key}{text}").ok()?;
    }
    Some(out)
}

/// `bytes` as text when it needs neither quotes nor escapes.
fn plain(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    let special = |c: char| c.is_whitespace() || c.is_control() || "\"\\;()".contains(c);
    (!text.is_empty() && !text.contains(special)).then_some(text)
}

/// Character-strings, each quoted.
fn strings<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> String {
    items.into_iter().map(quoted).collect::<Vec<_>>().join(" ")
}

/// RFC 3597 §5: `TYPEnn \# length hex`.
fn generic(rdata: &RData) -> String {
    let mut bytes = Vec::new();
    let mut encoder = BinEncoder::new(&mut bytes);
    let _ = rdata.emit(&mut encoder);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("TYPE{} \\# {} {hex}", u16::from(rdata.record_type()), bytes.len())
}

/// A character-string in double quotes: `"` and `\` escaped with `\`,
/// control characters and bytes that are not UTF-8 as `\DDD`.
fn quoted(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' | '\\' => out.extend(['\\', c]),
                c if c.is_control() && c.is_ascii() => {
                    let _ = write!(out, "\\{:03}", c as u8);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\{b:03}");
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports failure
mod tests {
    use std::str::FromStr;

    use hickory_proto::rr::rdata::{A, CAA, MX, SRV, TXT};

    use super::*;

    fn name(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    /// Asserts that two zones hold the same RRsets: names, types, TTLs and
    /// record data (in any order).
    fn assert_same_rrsets(a: &Zone, b: &Zone) {
        assert_eq!(a.apex(), b.apex());
        assert_eq!(a.rrsets().len(), b.rrsets().len(), "RRset count");
        for set in a.rrsets() {
            let other =
                b.rrset(set.name(), set.rtype()).unwrap_or_else(|| panic!("{} {} missing", set.name(), set.rtype()));
            assert_eq!(set.ttl(), other.ttl(), "{} {}", set.name(), set.rtype());
            assert_eq!(set.rdatas().len(), other.rdatas().len(), "{} {}", set.name(), set.rtype());
            for rdata in set.rdatas() {
                assert!(other.rdatas().contains(rdata), "{} {} lost {rdata:?}", set.name(), set.rtype());
            }
        }
    }

    fn round_trip(zone: &Zone) -> Zone {
        let text = write(zone);
        parse(&text, None).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    const ZONE: &str = r#"$ORIGIN example.com.
$TTL 300
@ 3600 IN SOA ns1 hostmaster.example.com. 2024010101 3600 600 604800 60
@ 3600 IN NS ns1
@ 3600 IN NS ns2.example.net.
ns1 IN A 192.0.2.1
ns1 IN AAAA 2001:db8::1
@ IN CAA 0 issue "ca.example.net; validationmethods=dns-01"
@ IN CAA 128 issuewild ";"
@ IN CAA 0 iodef "mailto:security@example.com"
@ IN MX 10 mail
@ IN MX 20 mail.example.net.
mail IN A 192.0.2.25
_https._tcp IN SRV 0 5 443 web
web IN A 192.0.2.80
txt1 IN TXT "owner=team1" "region=eu" "class=internal"
txt2 IN TXT "with spaces; and a semicolon" "a \"quote\" and a \\ backslash" ""
txt3 IN TXT unquoted
txt4 IN TXT "ünïcödé ✓"
www 60 IN CNAME web
*.preview 60 IN CNAME ingress-preview
ingress-preview IN A 203.0.113.10
ptr IN PTR web.example.com.
ssh IN SSHFP 1 1 dd465c09cfa51fb45020cc83316fff21b9ec74ac
_443._tcp.web IN TLSA 3 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6
host IN HINFO "PC" "Linux"
sub IN NS ns1.sub
ns1.sub IN A 198.51.100.1
svc IN HTTPS 1 . alpn=h2,h3
"#;

    #[test]
    fn parses_every_record_of_a_zone() {
        let zone = parse(ZONE, None).unwrap();
        assert_eq!(zone.apex(), &name("example.com."));
        assert_eq!(zone.serial(), 2024010101);
        assert_eq!(zone.record_count(), 27);
        let ns = zone.rrset(&name("example.com."), RecordType::NS).unwrap();
        assert_eq!(ns.ttl(), 3600);
        assert_eq!(zone.rrset(&name("ns1.example.com."), RecordType::A).unwrap().ttl(), 300);
        let txt = zone.rrset(&name("txt2.example.com."), RecordType::TXT).unwrap();
        let RData::TXT(txt) = &txt.rdatas()[0] else { panic!() };
        let strings: Vec<&[u8]> = txt.txt_data.iter().map(|s| &s[..]).collect();
        assert_eq!(strings, [&b"with spaces; and a semicolon"[..], b"a \"quote\" and a \\ backslash", b""]);
    }

    #[test]
    fn origin_argument_and_mixed_case_owners() {
        let text = "@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns\nNS 60 IN A 192.0.2.1\nWWW.Sub 60 IN A 192.0.2.2\n";
        let zone = parse(text, Some(&name("Example.ORG."))).unwrap();
        assert_eq!(zone.apex().to_ascii(), "example.org.");
        assert_eq!(
            zone.rrset(&name("www.sub.example.org."), RecordType::A).unwrap().name().to_ascii(),
            "www.sub.example.org."
        );
        assert!(zone.rrsets_at(&name("sub.example.org.")).unwrap().is_empty(), "an empty non-terminal");
    }

    #[test]
    fn written_zone_parses_back_to_the_same_rrsets() {
        let zone = parse(ZONE, None).unwrap();
        let text = write(&zone);
        assert!(text.starts_with("$ORIGIN example.com.\nexample.com. 3600 IN SOA ns1.example.com. "), "{text}");
        assert_same_rrsets(&zone, &round_trip(&zone));
        assert_eq!(write(&round_trip(&zone)), text, "writing is deterministic");
    }

    #[test]
    fn built_records_round_trip() {
        let apex = name("example.com.");
        let soa = parse(ZONE, None).unwrap();
        let mut sets: Vec<RRset> = soa.rrsets().into_iter().filter(|s| s.name() == &apex).cloned().collect();
        let mut add = |owner: &str, rdata: RData| {
            let mut set = RRset::new(&name(owner), rdata.record_type(), 120);
            set.insert(rdata);
            sets.push(set);
        };
        add("a.example.com.", RData::A(A::new(10, 0, 0, 1)));
        add("t.example.com.", RData::TXT(TXT::new(vec!["tab\there".into(), "nl;\"q\" \\".into()])));
        add("m.example.com.", RData::MX(MX::new(0, Name::from_ascii("Mail.Example.com.").unwrap())));
        add("_s._udp.example.com.", RData::SRV(SRV::new(1, 2, 3, name("."))));
        add("c.example.com.", RData::CAA(CAA::new_issue(true, Some(name("ca.example.")), vec![])));
        add("d.example.com.", RData::CAA(CAA::new_issue(false, None, vec![])));
        let zone = Zone::from_rrsets(&apex, sets).unwrap();
        let back = round_trip(&zone);
        for set in zone.rrsets() {
            let other = back.rrset(set.name(), set.rtype()).unwrap();
            if set.name() == &name("t.example.com.") {
                continue; // control characters: see the module doc
            }
            assert_eq!(set.rdatas(), other.rdatas(), "{}", write(&zone));
        }
        let text = write(&zone);
        assert!(text.contains(r#"t.example.com. 120 IN TXT "tab\009here" "nl;\"q\" \\""#), "{text}");
        assert!(text.contains("m.example.com. 120 IN MX 0 Mail.Example.com."), "{text}");
    }

    #[test]
    fn unreadable_types_are_written_in_generic_form() {
        let rdata = RData::Unknown {
            code: RecordType::Unknown(65280),
            rdata: hickory_proto::rr::rdata::NULL::with(vec![1, 2, 255]),
        };
        assert_eq!(rdata_text(&rdata), "TYPE65280 \\# 3 0102ff");
    }

    #[test]
    fn errors_name_the_line() {
        let text = "$ORIGIN example.com.\n@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns\nbad 60 IN A 300.1.1.1\nok 60 IN A 192.0.2.1\n";
        let err = parse(text, None).unwrap_err().to_string();
        assert!(err.starts_with("zone file: line 4: "), "{err}");
        let err = parse("$ORIGIN example.com.\n\nx 60 IN BOGUS 1\n", None).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn files_that_are_no_zone_are_rejected() {
        let no_soa = "$ORIGIN example.com.\n@ 60 IN NS ns\n";
        assert!(matches!(parse(no_soa, None), Err(Error::ZoneFile(_))));
        assert!(matches!(parse(no_soa, Some(&name("example.com."))), Err(Error::ZoneFile(_))));
        let no_ns = "$ORIGIN example.com.\n@ 60 IN SOA ns hm 1 2 3 4 5\n";
        assert!(matches!(parse(no_ns, None), Err(Error::ZoneFile(_))));
        let outside =
            "$ORIGIN example.com.\n@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns\nwww.example.net. 60 IN A 192.0.2.1\n";
        assert!(matches!(parse(outside, None), Err(Error::ZoneFile(_))));
        let chaos = "$ORIGIN example.com.\n@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns\nv 60 CH TXT \"x\"\n";
        assert!(matches!(parse(chaos, None), Err(Error::ZoneFile(_))));
        let big_ttl = "$ORIGIN example.com.\n@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns\nv 2147483648 IN A 192.0.2.1\n";
        assert!(matches!(parse(big_ttl, None), Err(Error::ZoneFile(_))));
    }

    #[test]
    fn include_is_refused() {
        let text = "$ORIGIN example.com.\n@ 60 IN SOA ns hm 1 2 3 4 5\n$INCLUDE /etc/passwd\n";
        let err = parse(text, None).unwrap_err().to_string();
        assert!(err.contains("line 3: $INCLUDE is not supported"), "{err}");
    }

    #[test]
    fn other_parseable_types_round_trip() {
        let base = "$ORIGIN example.com.\n@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns\n";
        for line in [
            "h IN HINFO \"Intel PC\" \"Linux 6\"",
            "n IN NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .",
            "n2 IN NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com.",
            "s IN SVCB 1 svc.example.net. alpn=h2,h3 port=8443 ipv4hint=192.0.2.1,192.0.2.2 ipv6hint=2001:db8::1 mandatory=alpn,port",
            "s2 IN HTTPS 0 alias.example.net.",
            "s3 IN HTTPS 1 . alpn=\"h2,h3\" no-default-alpn",
            "s4 IN SVCB 2 . key65000=\"abc\" ech=\"AEj+DQBEAQAgACAdd+scUi0IYFsXnUIU7ko2Nd9+F8M26pAGZVpz/KrWPgAEAAEAAWQVZWNoLXNpdGVzLmV4YW1wbGUubmV0AAA=\"",
            "o IN OPENPGPKEY AQIDBAUGBwgJ",
            "c IN CSYNC 66 3 A NS AAAA",
            "sm IN SMIMEA 3 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6",
            "ce IN CERT 1 0 0 AQIDBAUGBwgJ",
            "ca IN CAA 0 tbs \"Unknown\"",
            "ca2 IN CAA 0 issue \"ca.net; account=230123; validationmethods=http-01,dns-01\"",
            "ca3 IN CAA 0 iodef \"https://iodef.example.com/\"",
            "an IN ANAME target.example.net.",
        ] {
            let zone = parse(&format!("{base}{line}\n"), None).unwrap_or_else(|e| panic!("{line}: {e}"));
            let back = round_trip(&zone);
            let (a, b) = (zone.rrsets(), back.rrsets());
            assert_eq!(a, b, "{line}\n{}", write(&zone));
        }
    }
}
