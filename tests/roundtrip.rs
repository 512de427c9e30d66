//! The data directory's life cycle: `zone import`, `serve`, `zone export`,
//! restart on the same directory, seeding of an empty directory, and the
//! lock that keeps `zone` commands off a directory a server holds.

use std::fs;
use std::path::Path;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use nameplate_tests::dns::{self, Summary, Transport, rcode, type_name};
use nameplate_tests::server::{CmdOutput, ask_both, nameplate_cmd, run};
use nameplate_tests::tools::{ZoneRrsets, diff_zones, genzone, parse_zone};
use nameplate_tests::{Server, zone_export, zone_import};

const ORIGIN: &str = "apps.company.com.";
/// How long a `zone` command refused for a held data dir may take.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(15);

const SMALL_ZONE: &str = r#"$ORIGIN apps.company.com.
$TTL 300
@    3600 IN SOA ns1.apps.company.com. hostmaster.company.com. 10 3600 600 604800 120
@    3600 IN NS  ns1
ns1       IN A   192.0.2.1
www       IN A   192.0.2.80
old       IN A   192.0.2.81
"#;

/// SMALL_ZONE, one serial later: `www` moved, `old` gone, `new` added.
const SMALL_ZONE_V2: &str = r#"$ORIGIN apps.company.com.
$TTL 300
@    3600 IN SOA ns1.apps.company.com. hostmaster.company.com. 11 3600 600 604800 120
@    3600 IN NS  ns1
ns1       IN A   192.0.2.1
www       IN A   192.0.2.99
new       IN A   192.0.2.82
"#;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).expect("write zone file");
    path
}

/// The NS owners below the apex: the delegation cuts.
fn cuts(zone: &ZoneRrsets) -> Vec<String> {
    zone.keys().filter(|(o, t)| *t == RecordType::NS && o != ORIGIN).map(|(o, _)| o.clone()).collect()
}

/// Checks that `addr` serves the RRset `owner`/`rtype` from `zone` exactly:
/// as an authoritative answer, or, at or below a cut, as a referral carrying
/// the cut's NS RRset. Returns a description of the difference, if any.
fn check_rrset(
    addr: std::net::SocketAddr,
    zone: &ZoneRrsets,
    owner: &str,
    rtype: RecordType,
    transport: Transport,
) -> Option<String> {
    let set = &zone[&(owner.to_string(), rtype)];
    let query = match dns::query(owner, rtype) {
        Ok(q) => q,
        Err(e) => return Some(format!("{owner}: {e:#}")),
    };
    let s = match dns::exchange(addr, &query, transport) {
        Ok(resp) => Summary::of(&resp),
        Err(e) => return Some(format!("{owner} {} ({transport}): {e:#}", type_name(rtype))),
    };
    let cut = cuts(zone).into_iter().find(|c| owner == c || owner.ends_with(&format!(".{c}")));
    let (section, want_owner, want_set, want_aa) = match &cut {
        Some(c) => (&s.authority, c.as_str(), &zone[&(c.clone(), RecordType::NS)], false),
        None => (&s.answer, owner, set, true),
    };
    let want_type = if cut.is_some() { "NS".to_string() } else { type_name(rtype) };
    let mut want: Vec<String> =
        want_set.rdata.iter().map(|r| format!("{want_owner} {} {want_type} {r}", want_set.ttl)).collect();
    want.sort();
    let prefix = format!("{want_owner} ");
    let mut got: Vec<String> = section
        .iter()
        .filter(|r| r.starts_with(&prefix) && r.split(' ').nth(2) == Some(want_type.as_str()))
        .cloned()
        .collect();
    got.sort();
    if s.rcode != rcode::NOERROR || s.aa != want_aa || got != want {
        return Some(format!(
            "{owner} {} ({transport}){}: want rcode=NOERROR aa={}\n    {}\n  got {s}",
            type_name(rtype),
            cut.as_ref().map(|c| format!(" [referral at {c}]")).unwrap_or_default(),
            u8::from(want_aa),
            want.join("\n    ")
        ));
    }
    None
}

#[test]
fn import_serve_export_restart() {
    let work = tempfile::tempdir().expect("work dir");
    let zone_file = genzone(&work.path().join("gen"), 2000).expect("genzone.py");
    let original = parse_zone(&fs::read_to_string(&zone_file).expect("read zone"), ORIGIN).expect("parse original");
    let data = work.path().join("data");
    fs::create_dir_all(&data).expect("data dir");
    zone_import(&data, &zone_file).expect("zone import");

    // Serve and spot-check: the SOA, an app, a preview CNAME, a referral.
    let server = Server::start(&data, ORIGIN).expect("start nameplate");
    let app = original
        .keys()
        .find(|(o, t)| *t == RecordType::A && o.starts_with("app"))
        .map(|(o, _)| o.clone())
        .expect("an app name in the generated zone");
    let preview = original
        .keys()
        .find(|(o, t)| *t == RecordType::CNAME && o.starts_with("pr-"))
        .map(|(o, _)| o.clone())
        .expect("a preview name in the generated zone");
    let cut = cuts(&original).into_iter().next().expect("a delegated team");
    for (owner, rtype) in [
        (ORIGIN.to_string(), RecordType::SOA),
        (app, RecordType::A),
        (preview, RecordType::CNAME),
        (cut, RecordType::NS),
    ] {
        for transport in [Transport::Udp, Transport::Tcp] {
            if let Some(diff) = check_rrset(server.addr(), &original, &owner, rtype, transport) {
                panic!("first serve: {diff}");
            }
        }
    }
    server.stop().expect("stop nameplate");

    // Export and compare at the RRset level.
    let exported = zone_export(&data, "apps.company.com").expect("zone export");
    let parsed = parse_zone(&exported, ORIGIN).expect("parse the exported zone");
    let diffs = diff_zones(&original, &parsed);
    assert!(
        diffs.is_empty(),
        "exported zone differs from the imported file in {} RRsets:\n{}",
        diffs.len(),
        diffs.join("\n")
    );

    // Restart on the same data dir: every RRset is still served.
    let server = Server::start(&data, ORIGIN).expect("restart nameplate");
    let failures: Vec<String> = original
        .keys()
        .enumerate()
        .filter_map(|(i, (owner, rtype))| {
            let transport = if i % 10 == 0 { Transport::Tcp } else { Transport::Udp };
            check_rrset(server.addr(), &original, owner, *rtype, transport)
        })
        .collect();
    assert!(
        failures.is_empty(),
        "after restart, {} of {} RRsets are not served as imported:\n{}",
        failures.len(),
        original.len(),
        failures.join("\n")
    );
}

/// Non-zero exit, within the deadline, with a message about the data directory.
fn assert_refused(what: &str, out: &CmdOutput, data: &Path) {
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(!out.status.success(), "{what} succeeded while a server holds the data dir:\n{text}");
    let lower = text.to_ascii_lowercase();
    let mentions = lower.contains("data dir")
        || lower.contains("data-dir")
        || lower.contains("data directory")
        || text.contains(&data.display().to_string());
    assert!(mentions, "{what} failed without mentioning the data directory:\n{text}");
}

#[test]
fn zone_commands_refused_while_server_holds_data_dir() {
    let work = tempfile::tempdir().expect("work dir");
    let data = work.path().join("data");
    fs::create_dir_all(&data).expect("data dir");
    let v1 = write(work.path(), "v1.zone", SMALL_ZONE);
    let v2 = write(work.path(), "v2.zone", SMALL_ZONE_V2);
    zone_import(&data, &v1).expect("zone import");
    let mut server = Server::start(&data, ORIGIN).expect("start nameplate");
    let probes = [
        ("www.apps.company.com", RecordType::A),
        ("old.apps.company.com", RecordType::A),
        ("new.apps.company.com", RecordType::A),
        ("apps.company.com", RecordType::SOA),
    ];
    let before: Vec<Summary> = probes.iter().map(|(n, t)| ask_both(server.addr(), n, *t).expect("query")).collect();

    let mut import = nameplate_cmd(&["zone", "import"]).expect("binary");
    import.arg(&v2).arg("--data-dir").arg(&data);
    let out = run(&mut import, REFUSAL_DEADLINE).expect("zone import must fail fast, not hang");
    assert_refused("zone import", &out, &data);
    let mut export = nameplate_cmd(&["zone", "export", "apps.company.com"]).expect("binary");
    export.arg("--data-dir").arg(&data);
    let out = run(&mut export, REFUSAL_DEADLINE).expect("zone export must fail fast, not hang");
    assert_refused("zone export", &out, &data);

    server.check_running().expect("server survives the refused commands");
    let after: Vec<Summary> = probes.iter().map(|(n, t)| ask_both(server.addr(), n, *t).expect("query")).collect();
    for ((probe, b), a) in probes.iter().zip(&before).zip(&after) {
        assert_eq!(b, a, "answer to {probe:?} changed:\nbefore: {b}\nafter: {a}");
    }
    server.stop().expect("stop");

    // The refused import left the data untouched.
    let exported = zone_export(&data, "apps.company.com").expect("zone export once the server is gone");
    let diffs = diff_zones(
        &parse_zone(SMALL_ZONE, ORIGIN).expect("parse"),
        &parse_zone(&exported, ORIGIN).expect("parse export"),
    );
    assert!(diffs.is_empty(), "data changed by the refused import:\n{}", diffs.join("\n"));
}

#[test]
fn import_replaces_zone_of_the_same_name() {
    let work = tempfile::tempdir().expect("work dir");
    let data = work.path().join("data");
    fs::create_dir_all(&data).expect("data dir");
    zone_import(&data, &write(work.path(), "v1.zone", SMALL_ZONE)).expect("import v1");
    zone_import(&data, &write(work.path(), "v2.zone", SMALL_ZONE_V2)).expect("import v2");
    let server = Server::start(&data, ORIGIN).expect("start nameplate");
    let s = ask_both(server.addr(), "www.apps.company.com", RecordType::A).expect("query");
    assert_eq!(s.answer, vec!["www.apps.company.com. 300 A 192.0.2.99".to_string()], "www after re-import:\n{s}");
    let s = ask_both(server.addr(), "new.apps.company.com", RecordType::A).expect("query");
    assert_eq!(s.answer, vec!["new.apps.company.com. 300 A 192.0.2.82".to_string()], "new name:\n{s}");
    let s = ask_both(server.addr(), "old.apps.company.com", RecordType::A).expect("query");
    assert_eq!((s.rcode, s.aa), (rcode::NXDOMAIN, true), "a name only the replaced zone had:\n{s}");
    let s = ask_both(server.addr(), "apps.company.com", RecordType::SOA).expect("query");
    assert!(s.answer.iter().any(|r| r.contains(" 11 3600 600 604800 120")), "SOA serial after re-import:\n{s}");
}

#[test]
fn empty_data_dir_seeds_platform_zone() {
    let work = tempfile::tempdir().expect("work dir");
    let data = work.path().join("data");
    fs::create_dir_all(&data).expect("data dir");
    let server = Server::start(&data, ORIGIN).expect("start nameplate on an empty data dir");
    let soa = ask_both(server.addr(), "apps.company.com", RecordType::SOA).expect("SOA");
    assert!(soa.aa && soa.answer.len() == 1, "seeded SOA:\n{soa}");
    let ns = ask_both(server.addr(), "apps.company.com", RecordType::NS).expect("NS");
    assert_eq!(
        ns.answer.iter().map(|r| r.split(' ').next_back().unwrap_or_default()).collect::<Vec<_>>(),
        ["ns1.apps.company.com.", "ns2.apps.company.com."],
        "seeded apex NS:\n{ns}"
    );
    for host in ["ns1.apps.company.com", "ns2.apps.company.com"] {
        let a = ask_both(server.addr(), host, RecordType::A).expect("A");
        assert!(a.rcode == rcode::NOERROR && a.aa && a.answer.len() == 1, "{host} A:\n{a}");
        assert!(
            ns.additional.iter().any(|r| r == &a.answer[0]),
            "{host} A missing from the NS additional section:\n{ns}"
        );
    }
    server.stop().expect("stop");
    let exported = zone_export(&data, "apps.company.com").expect("export the seeded zone");
    let parsed = parse_zone(&exported, ORIGIN).expect("parse the seeded zone");
    for key in [(ORIGIN, RecordType::SOA), (ORIGIN, RecordType::NS), ("ns1.apps.company.com.", RecordType::A)] {
        assert!(
            parsed.contains_key(&(key.0.to_string(), key.1)),
            "export of the seeded zone lacks {key:?}:\n{exported}"
        );
    }
}

#[test]
fn no_seeding_when_data_dir_has_zones() {
    let work = tempfile::tempdir().expect("work dir");
    let data = work.path().join("data");
    fs::create_dir_all(&data).expect("data dir");
    let team = r#"$ORIGIN team-b.example.net.
$TTL 300
@ 3600 IN SOA ns1.team-b.example.net. hostmaster.example.net. 1 3600 600 604800 60
@ 3600 IN NS  ns1
ns1    IN A   192.0.2.53
"#;
    zone_import(&data, &write(work.path(), "team-b.zone", team)).expect("zone import");
    let server = Server::start(&data, "team-b.example.net").expect("start nameplate");
    let s = ask_both(server.addr(), "apps.company.com", RecordType::SOA).expect("query");
    assert_eq!(s.rcode, rcode::REFUSED, "apps.company.com was seeded although the data dir held a zone:\n{s}");
}
