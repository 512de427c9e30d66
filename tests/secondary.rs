//! Knot DNS and BIND as real secondaries of nameplate: each a catalog zone
//! consumer (RFC 9432) configured once, fed by NOTIFY + AXFR/IXFR signed
//! with TSIG (hmac-sha256), following a team zone's creation, an API change,
//! an nsupdate UPDATE and its deletion; and `kdig AXFR` of a 100k-record
//! zone.
//!
//! Every wait polls with a deadline; nothing asserts how fast it went.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nameplate_tests::api::{Api, admin_token, tsig_key};
use nameplate_tests::server::CmdOutput;
use nameplate_tests::tools::{ZoneRrsets, diff_zones, kdig, parse_zone, update_tool};
use nameplate_tests::{Server, free_port, zone_import};
use serde_json::json;

/// How long a secondary gets to pick up a change (it takes milliseconds).
const DEADLINE: Duration = Duration::from_secs(10);
const PLATFORM: &str = "apps.company.com";
const CATALOG: &str = "catalog.nameplate.invalid";
const KEY: &str = "knot-secondary";
/// The TSIG secret both sides share (32 bytes, base64).
const SECRET: &str = "c2VjcmV0LXNoYXJlZC1ieS1rbm90LWFuZC1uYW1lcGw=";

/// nameplate's config overlay: the secondary at `secondary`, with its key.
fn nameplate_config(dir: &Path, secondary: SocketAddr, key: Option<&str>) -> PathBuf {
    let mut text = format!("[[dns.secondaries]]\naddress = \"{secondary}\"\n");
    if let Some(key) = key {
        writeln!(text, "tsig_key = \"{key}\"\n\n[[dns.tsig_keys]]\nname = \"{key}\"").expect("test");
        writeln!(text, "algorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"").expect("test");
    }
    let path = dir.join("nameplate.toml");
    fs::write(&path, text).expect("write nameplate config");
    path
}

/// Knot's configuration: a consumer of nameplate's catalog zone, every
/// member zone transferred from nameplate with the shared key. This is the
/// snippet the README shows.
fn knot_config(dir: &Path, listen: SocketAddr, primary: SocketAddr) -> String {
    let dir = dir.display();
    let (ip, port) = (listen.ip(), listen.port());
    let (pip, pport) = (primary.ip(), primary.port());
    format!(
        r#"server:
    rundir: "{dir}"
    listen: {ip}@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{dir}"
log:
  - target: stderr
    any: info
key:
  - id: {KEY}
    algorithm: hmac-sha256
    secret: {SECRET}
remote:
  - id: nameplate
    address: {pip}@{pport}
    key: {KEY}
acl:
  - id: nameplate-notify
    address: {pip}
    key: {KEY}
    action: notify
template:
  - id: default
    storage: "{dir}/zones"
    zonefile-sync: -1
    zonefile-load: none
    journal-content: changes
  - id: nameplate-member
    storage: "{dir}/zones"
    master: nameplate
    acl: nameplate-notify
    zonefile-sync: -1
    zonefile-load: none
    journal-content: changes
zone:
  - domain: {CATALOG}
    master: nameplate
    acl: nameplate-notify
    catalog-role: interpret
    catalog-template: nameplate-member
"#
    )
}

/// BIND's configuration: a catalog zone consumer (`catalog-zones`, BIND
/// 9.18) transferring every member from nameplate with the shared key. This
/// is the snippet the README shows.
fn bind_config(dir: &Path, listen: SocketAddr, primary: SocketAddr) -> String {
    let dir = dir.display();
    let (ip, port) = (listen.ip(), listen.port());
    let primaries = format!("{} port {} key {KEY};", primary.ip(), primary.port());
    format!(
        r#"options {{
    directory "{dir}";
    listen-on port {port} {{ {ip}; }};
    listen-on-v6 {{ none; }};
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    recursion no;
    allow-new-zones yes;
    catalog-zones {{
        zone "{CATALOG}" default-primaries {{ {primaries} }} zone-directory "{dir}/zones";
    }};
}};
controls {{ }};
key "{KEY}" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
zone "{CATALOG}" {{ type secondary; file "{dir}/catalog.db"; primaries {{ {primaries} }}; }};
"#
    )
}

/// A secondary server (knotd or named) running on loopback as this user,
/// logging to a file; killed on drop.
struct Secondary {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    name: &'static str,
}

impl Secondary {
    /// Knot at `addr`, consuming the catalog of the primary at `primary`.
    fn knot(dir: &Path, addr: SocketAddr, primary: SocketAddr) -> Self {
        let conf = dir.join("knot.conf");
        fs::create_dir_all(dir.join("zones")).expect("knot dir");
        fs::write(&conf, knot_config(dir, addr, primary)).expect("write knot.conf");
        let mut command = Command::new("knotd");
        command.arg("-c").arg(&conf);
        Self::spawn(command, dir, addr, "Knot (apt-get install knot)")
    }

    /// BIND at `addr`, consuming the catalog of the primary at `primary`.
    fn bind(dir: &Path, addr: SocketAddr, primary: SocketAddr) -> Self {
        let conf = dir.join("named.conf");
        fs::create_dir_all(dir.join("zones")).expect("bind dir");
        fs::write(&conf, bind_config(dir, addr, primary)).expect("write named.conf");
        let mut command = Command::new("named");
        command.arg("-g").arg("-c").arg(&conf);
        Self::spawn(command, dir, addr, "BIND (apt-get install bind9)")
    }

    fn spawn(mut command: Command, dir: &Path, addr: SocketAddr, name: &'static str) -> Self {
        let log = dir.join("server.log");
        let out = fs::File::create(&log).expect("secondary log");
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Self { child, addr, log, name }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Secondary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kdig +short` of `qname qtype` at `addr`, or "" when it fails.
fn short(addr: SocketAddr, qname: &str, qtype: &str) -> String {
    kdig(addr, &[qname, qtype, "+short"]).unwrap_or_default().trim().to_owned()
}

/// Polls `probe` every 100 ms until it holds or `DEADLINE` passes.
fn wait_until(what: &str, secondary: &Secondary, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        if probe() {
            return;
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not seen on {} within {DEADLINE:?}; its log:\n{}", secondary.name, secondary.log());
}

/// nameplate with `secondary` (started by `start` at the address it is
/// given) configured as its secondary, once the secondary has the platform
/// zone from the catalog.
fn primary_with(dir: &Path, start: fn(&Path, SocketAddr, SocketAddr) -> Secondary) -> (Server, Secondary, Api) {
    let data = dir.join("data");
    let secondary_addr = SocketAddr::from(([127, 0, 0, 1], free_port().expect("port")));
    let config = nameplate_config(dir, secondary_addr, Some(KEY));
    let server = Server::start_with_args(&data, "apps.company.com.", &["--config", config.to_str().expect("utf-8")])
        .expect("start nameplate");
    let secondary = start(&dir.join("secondary"), secondary_addr, server.addr());
    // Configured with nothing but the catalog zone, it finds the platform zone.
    let platform_soa = short(server.addr(), PLATFORM, "SOA");
    assert!(!platform_soa.is_empty());
    wait_until("the platform zone", &secondary, || short(secondary.addr, PLATFORM, "SOA") == platform_soa);
    let api = Api::connect(server.http_addr()).expect("api").with_token(&admin_token(&data).expect("token"));
    (server, secondary, api)
}

/// A hosted team zone created through the API appears on `secondary`; a
/// record change through the API and an RFC 2136 UPDATE signed with a key
/// of the team's (nsupdate) reach it; deleting the zone removes it.
fn secondary_follows_a_team_zone(server: &Server, secondary: &Secondary, api: &Api) {
    api.post("/api/v1/teams", &json!({"name": "hr"})).expect("team").expect_status(201).expect("201");
    let zone = json!({"name": "hr.apps.company.com", "team": "hr", "kind": "hosted"});
    api.post("/api/v1/zones", &zone).expect("zone").expect_status(201).expect("201");
    let hr_soa = short(server.addr(), "hr.apps.company.com", "SOA");
    wait_until("hr.apps.company.com", secondary, || short(secondary.addr, "hr.apps.company.com", "SOA") == hr_soa);
    let catalog = kdig(server.addr(), &["-y", &format!("hmac-sha256:{KEY}:{SECRET}"), CATALOG, "AXFR"]).expect("AXFR");
    assert!(catalog.contains("TXT\t\"hr\""), "the group property is the team: {catalog}");

    let body = json!({"rrsets": [{"name": "www.hr.apps.company.com.", "type": "A", "ttl": 300,
        "changetype": "REPLACE", "records": [{"content": "192.0.2.10"}]}]});
    api.patch("/api/v1/zones/hr.apps.company.com/rrsets", &body).expect("patch").expect_status(204).expect("204");
    wait_until("www.hr", secondary, || short(secondary.addr, "www.hr.apps.company.com", "A") == "192.0.2.10");

    let (key, secret) = tsig_key(api, "hr", "hr-ci", "hmac-sha256");
    let spec = format!("hmac-sha256:{key}:{secret}");
    let txt = "_acme-challenge.www.hr.apps.company.com. 60 TXT \"from-nsupdate\"";
    let sent =
        update_tool("nsupdate", server.addr(), &spec, false, "hr.apps.company.com", &[format!("update add {txt}")]);
    assert!(sent.as_ref().is_ok_and(CmdOutput::ok), "nsupdate failed: {sent:?}");
    let challenge = "_acme-challenge.www.hr.apps.company.com";
    wait_until("the UPDATE", secondary, || short(secondary.addr, challenge, "TXT") == "\"from-nsupdate\"");

    api.delete("/api/v1/zones/hr.apps.company.com").expect("delete").expect_status(204).expect("204");
    wait_until("hr.apps.company.com gone", secondary, || {
        kdig(secondary.addr, &["hr.apps.company.com", "SOA"]).is_ok_and(|out| !out.contains("status: NOERROR"))
    });
}

#[test]
fn knot_follows_the_catalog_zone_and_every_api_change_with_tsig() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, knot, api) = primary_with(dir.path(), Secondary::knot);

    // Unsigned transfers are refused: the secondary's key is required.
    let refused = kdig(server.addr(), &[CATALOG, "AXFR"]).unwrap_or_else(|e| e.to_string());
    assert!(refused.contains("REFUSED"), "{refused}");
    let signed = kdig(server.addr(), &["-y", &format!("hmac-sha256:{KEY}:{SECRET}"), CATALOG, "AXFR"]).expect("AXFR");
    assert!(signed.contains(&format!("zones.{CATALOG}.")) && signed.contains("PTR\tapps.company.com."), "{signed}");

    secondary_follows_a_team_zone(&server, &knot, &api);

    // The PATCH and the UPDATE each came by NOTIFY and IXFR.
    let log = knot.log();
    assert!(log.matches("[hr.apps.company.com.] notify, incoming").count() >= 2, "{log}");
    assert!(log.matches("[hr.apps.company.com.] IXFR, incoming").count() >= 2, "{log}");
}

#[test]
fn bind_follows_the_catalog_zone_and_every_api_change_with_tsig() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, bind, api) = primary_with(dir.path(), Secondary::bind);
    secondary_follows_a_team_zone(&server, &bind, &api);
    let log = bind.log();
    assert!(log.contains("adding zone 'hr.apps.company.com' from catalog"), "{log}");
    assert!(log.contains("TSIG 'knot-secondary'"), "transfers were signed: {log}");
}

/// A master file of `records` records (A, AAAA, TXT, MX) below `origin`.
fn big_zone(origin: &str, records: usize) -> String {
    let mut text = format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ 3600 IN SOA ns1 hostmaster 7 3600 600 604800 60\n@ 3600 IN NS ns1\nns1 IN A 192.0.2.1\n"
    );
    for i in 0..records - 3 {
        match i % 4 {
            0 => writeln!(text, "h{i} IN A 10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255),
            1 => writeln!(text, "h{i} IN AAAA 2001:db8::{:x}:{:x}", i >> 16, i & 0xffff),
            2 => writeln!(text, "t{i}.svc IN TXT \"v=app{i}\""),
            _ => writeln!(text, "m{i} IN MX 10 mail{}", i % 97),
        }
        .expect("write");
    }
    text
}

#[test]
fn kdig_axfr_of_a_100k_record_zone_returns_every_record() {
    const ORIGIN: &str = "big.example";
    const RECORDS: usize = 100_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let file = dir.path().join("big.zone");
    let text = big_zone(ORIGIN, RECORDS);
    fs::write(&file, &text).expect("write zone");
    zone_import(&data, &file).expect("import");
    // kdig connects from 127.0.0.1: a secondary there without a key may transfer.
    let config = nameplate_config(dir.path(), "127.0.0.1:9".parse().expect("addr"), None);
    let server = Server::start_with_args(&data, "big.example.", &["--config", config.to_str().expect("utf-8")])
        .expect("start nameplate");

    let started = Instant::now();
    let out = kdig(server.addr(), &[ORIGIN, "AXFR", "+nocomments", "+nostats", "+noquestion"]).expect("kdig AXFR");
    let took = started.elapsed();
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty() && !l.starts_with(';')).collect();
    assert_eq!(lines.len(), RECORDS + 1, "every record, the SOA twice");
    assert!(lines[0].contains("SOA") && lines[lines.len() - 1].contains("SOA"));
    let want: ZoneRrsets = parse_zone(&text, ORIGIN).expect("parse the file");
    let got: ZoneRrsets =
        parse_zone(&format!("$ORIGIN {ORIGIN}.\n{}\n", lines[1..].join("\n")), ORIGIN).expect("parse AXFR");
    let diff = diff_zones(&want, &got);
    assert!(diff.is_empty(), "{} differences, first: {:?}", diff.len(), &diff[..diff.len().min(5)]);
    let messages = kdig(server.addr(), &[ORIGIN, "AXFR"]).expect("kdig AXFR");
    let stats = messages.lines().find(|l| l.starts_with(";; Received")).unwrap_or_default().to_owned();
    eprintln!("AXFR of {RECORDS} records in {took:?}: {stats}");
    assert!(!stats.contains("(1 messages"), "split across messages: {stats}");

    // The import put big.example into the catalog zone too.
    let catalog = kdig(server.addr(), &[CATALOG, "AXFR"]).expect("catalog AXFR");
    assert!(catalog.contains("PTR\tbig.example."), "{catalog}");
    let serials: BTreeMap<&str, usize> = [("SOA", lines.iter().filter(|l| l.contains("\tSOA\t")).count())].into();
    assert_eq!(serials["SOA"], 2);
}
