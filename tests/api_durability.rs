//! Durability of API writes against the real binary: two client threads
//! send a stream of writes (PATCH rrsets, app registrations, token mints,
//! previews), the server is killed with SIGKILL after a random number of
//! acknowledged writes while requests are in flight, and restarted on the
//! same data directory. Every acknowledged write must be there (over DNS, in
//! `GET rrsets`, as a live app, as a token that authenticates); a write that
//! was in flight may be there or not, but whole (an app's records with its
//! catalog entry); nothing else may be. Three kill cycles on one directory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use nameplate_tests::Server;
use nameplate_tests::api::{Api, admin_token, ask, mint, start};
use nameplate_tests::dns::rcode;
use serde_json::json;

/// The app the previews belong to.
const BASE_APP: &str = "base.hr.prod.apps.company.com";
const RRSETS: &str = "/api/v1/zones/apps.company.com/rrsets";
/// The TTL of the PATCHed records and of apps' and previews' records.
const TTL: u32 = 300;
/// Client threads writing at once.
const WRITERS: u64 = 2;
/// Kill cycles on one data directory.
const CYCLES: u64 = 3;
/// How long the writers may take to reach the kill point (a deadline for
/// waiting, not a speed test).
const ACK_DEADLINE: Duration = Duration::from_secs(120);

/// One API write and what it must leave behind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Write {
    /// `PATCH rrsets` REPLACE of `name` A `address`.
    Record { name: String, address: String },
    /// `POST /apps`: the app `fqdn` live with A `address`.
    App { fqdn: String, address: String },
    /// `POST /teams/hr/tokens`: the minted token (unknown while in flight).
    Token { token: Option<String> },
    /// `POST /apps/{base}/previews`: `fqdn` with A `address`.
    Preview { fqdn: String, address: String },
}

impl Write {
    /// The name whose A RRset the write publishes, if any.
    fn published(&self) -> Option<(&str, &str)> {
        match self {
            Write::Record { name, address } => Some((name, address)),
            Write::App { fqdn, address } | Write::Preview { fqdn, address } => Some((fqdn, address)),
            Write::Token { .. } => None,
        }
    }
}

/// What one writer thread saw.
#[derive(Debug, Default)]
struct Log {
    /// Writes answered with a 2xx.
    acked: Vec<Write>,
    /// Writes sent without an answer (the kill): present or not.
    in_flight: Vec<Write>,
    /// Anything else: a non-2xx answer, or a failure before the kill.
    errors: Vec<String>,
}

fn address(prefix: &str, i: u64) -> String {
    format!("{prefix}.{}", i % 254 + 1)
}

/// Sends write number `i` (its kind is `i % 4`) and returns what it must
/// leave behind, with the reply (`Err` if none came).
fn send(api: &Api, i: u64) -> (Write, anyhow::Result<nameplate_tests::api::Reply>) {
    match i % 4 {
        0 => {
            let (name, address) = (format!("w{i}.hr.prod.apps.company.com"), address("192.0.2", i));
            let body = json!({"rrsets": [{"name": name, "type": "A", "ttl": TTL, "changetype": "REPLACE",
                                          "records": [{"content": address}]}]});
            (Write::Record { name: format!("{name}."), address }, api.patch(RRSETS, &body))
        }
        1 => {
            let address = address("198.51.100", i);
            let body = json!({"name": format!("a{i}"), "team": "hr", "env": "prod", "target": {"a": [address]},
                              "owner": "hr-oncall@company.com", "exposure": "internal", "data_class": "internal"});
            let fqdn = format!("a{i}.hr.prod.apps.company.com.");
            (Write::App { fqdn, address }, api.post("/api/v1/apps", &body))
        }
        2 => (Write::Token { token: None }, api.post("/api/v1/teams/hr/tokens", &json!({"role": "member"}))),
        _ => {
            let address = address("203.0.113", i);
            let body = json!({"pr": i, "target": {"a": [address]}, "ttl_seconds": 72_000});
            let fqdn = format!("pr-{i}.base.hr.preview.apps.company.com.");
            (Write::Preview { fqdn, address }, api.post(&format!("/api/v1/apps/{BASE_APP}/previews"), &body))
        }
    }
}

/// Writes `first`, `first + 1`, ... until a request gets no answer (the
/// kill); counts acknowledgements in `acked`.
fn writer(api: Api, first: u64, acked: Arc<AtomicUsize>, killing: Arc<AtomicBool>) -> Log {
    let mut log = Log::default();
    for i in first.. {
        let (write, reply) = send(&api, i);
        match reply {
            Ok(reply) if (200..300).contains(&reply.status) => {
                let write = match write {
                    Write::Token { .. } => match reply.str("token") {
                        Ok(token) => Write::Token { token: Some(token) },
                        Err(e) => {
                            log.errors.push(format!("write {i}: {e:#}"));
                            return log;
                        }
                    },
                    other => other,
                };
                log.acked.push(write);
                acked.fetch_add(1, Ordering::SeqCst);
            }
            Ok(reply) => {
                log.errors.push(format!("write {i} {write:?}: {} {}", reply.status, reply.body));
                return log;
            }
            Err(e) => {
                if !killing.load(Ordering::SeqCst) {
                    log.errors.push(format!("write {i} {write:?} failed before the kill: {e:#}"));
                }
                log.in_flight.push(write);
                return log;
            }
        }
    }
    log
}

/// Runs the writers against `api` until `count` writes are acknowledged,
/// then SIGKILLs the server; returns every writer's log.
fn write_then_kill(server: &mut Server, api: &Api, cycle: u64, count: usize) -> Vec<Log> {
    let (acked, killing) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let handles: Vec<_> = (0..WRITERS)
        .map(|t| {
            let (api, acked, killing) = (api.clone(), acked.clone(), killing.clone());
            thread::spawn(move || writer(api, (cycle * WRITERS + t) * 100_000 + 1, acked, killing))
        })
        .collect();
    let deadline = Instant::now() + ACK_DEADLINE;
    while acked.load(Ordering::SeqCst) < count && handles.iter().any(|h| !h.is_finished()) {
        assert!(Instant::now() < deadline, "cycle {cycle}: {} of {count} writes acked", acked.load(Ordering::SeqCst));
        thread::sleep(Duration::from_millis(1));
    }
    server.check_running().expect("the server is up at the kill");
    killing.store(true, Ordering::SeqCst);
    let status = server.sigkill().expect("SIGKILL");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "cycle {cycle}: the server was killed by SIGKILL: {status}");
    }
    let logs: Vec<Log> = handles.into_iter().map(|h| h.join().expect("writer thread")).collect();
    let errors: Vec<&String> = logs.iter().flat_map(|l| &l.errors).collect();
    assert!(errors.is_empty(), "cycle {cycle}: writes failed:\n{errors:#?}\n{}", server.log_tail());
    logs
}

/// The platform zone's A RRsets at hr's names, by owner: their contents.
fn hr_rrsets(admin: &Api) -> BTreeMap<String, Vec<String>> {
    let reply = admin.get(RRSETS).expect("rrsets");
    reply.expect_status(200).expect("200");
    let mut found = BTreeMap::new();
    for set in reply.body["rrsets"].as_array().expect("rrsets") {
        let name = set["name"].as_str().expect("name");
        if !(name.ends_with(".hr.prod.apps.company.com.") || name.ends_with(".hr.preview.apps.company.com.")) {
            continue;
        }
        assert_eq!((set["type"].as_str(), set["ttl"].as_u64()), (Some("A"), Some(u64::from(TTL))), "{set}");
        let records = set["records"].as_array().expect("records").iter();
        let contents = records.map(|r| r["content"].as_str().expect("content").to_owned()).collect();
        assert!(found.insert(name.to_owned(), contents).is_none(), "{name} listed twice");
    }
    found
}

/// hr's apps in the catalog, by FQDN (with the trailing dot): their status.
fn hr_apps(admin: &Api) -> BTreeMap<String, String> {
    let reply = admin.get("/api/v1/apps?team=hr").expect("apps");
    reply.expect_status(200).expect("200");
    let apps = reply.body["apps"].as_array().expect("apps").iter();
    apps.map(|a| (format!("{}.", a["fqdn"].as_str().expect("fqdn")), a["status"].as_str().expect("status").to_owned()))
        .collect()
}

/// Checks the restarted server against every write known present and the
/// last cycle's in-flight writes; returns the in-flight writes it found.
fn check_after_restart(server: &Server, anon: &Api, admin: &Api, present: &[Write], in_flight: &[Write]) -> Vec<Write> {
    let rrsets = hr_rrsets(admin);
    let apps = hr_apps(admin);
    for write in present {
        if let Some((name, address)) = write.published() {
            assert_eq!(rrsets.get(name), Some(&vec![address.to_owned()]), "{write:?} in GET rrsets");
            let reply = ask(server, name, RecordType::A);
            assert_eq!((reply.rcode, reply.aa), (rcode::NOERROR, true), "{write:?}: {reply}");
            assert_eq!(reply.answer, [format!("{name} {TTL} A {address}")], "{write:?} over DNS");
        }
        match write {
            Write::App { fqdn, .. } => {
                let shown = admin.get(&format!("/api/v1/apps/{}", fqdn.trim_end_matches('.'))).expect("show app");
                shown.expect_status(200).expect("200");
                assert_eq!(shown.str("status").expect("status"), "live", "{write:?}");
            }
            Write::Token { token: Some(token) } => {
                let reply = anon.with_token(token).get("/api/v1/teams/hr").expect("GET /teams/hr");
                reply.expect_status(200).unwrap_or_else(|e| panic!("an acknowledged token: {e}"));
            }
            _ => {}
        }
    }

    // Nothing but known and in-flight writes, and those whole.
    let base = format!("{BASE_APP}.");
    let mut allowed: BTreeSet<&str> = present.iter().chain(in_flight).filter_map(|w| Some(w.published()?.0)).collect();
    allowed.insert(&base);
    let strays: Vec<&String> = rrsets.keys().chain(apps.keys()).filter(|n| !allowed.contains(n.as_str())).collect();
    assert!(strays.is_empty(), "names that no write made: {strays:?}");
    let mut found = Vec::new();
    for write in in_flight {
        let Some((name, address)) = write.published() else { continue };
        let published = rrsets.get(name);
        if let Write::App { fqdn, .. } = write {
            let live = apps.get(fqdn).map(String::as_str);
            assert_eq!(published.is_some(), live == Some("live"), "{write:?}: records {published:?}, catalog {live:?}");
        }
        if let Some(contents) = published {
            assert_eq!(contents, &vec![address.to_owned()], "in-flight {write:?}");
            found.push(write.clone());
        }
    }
    found
}

#[test]
fn acknowledged_api_writes_survive_sigkill() {
    let work = tempfile::tempdir().expect("work dir");
    let data = work.path().join("data");
    let (mut server, anon) = start(&data);
    let admin = anon.with_token(&admin_token(&data).expect("admin.token"));
    let quotas = json!({"apps": 100_000, "previews": 100_000, "records": 1_000_000});
    let team = admin.post("/api/v1/teams", &json!({"name": "hr", "quotas": quotas})).expect("team");
    team.expect_status(201).expect("201");
    let owner_token = mint(&admin, "hr", "owner");
    let mut owner = anon.with_token(&owner_token);
    let base = json!({"name": "base", "team": "hr", "env": "prod", "target": {"a": ["192.0.2.1"]},
                      "owner": "hr-oncall@company.com", "exposure": "internal", "data_class": "internal"});
    owner.post("/api/v1/apps", &base).expect("base app").expect_status(201).expect("201");

    let mut present = vec![Write::App { fqdn: format!("{BASE_APP}."), address: "192.0.2.1".to_owned() }];
    for cycle in 0..CYCLES {
        let count = rand::random_range(150..300);
        let logs = write_then_kill(&mut server, &owner, cycle, count);
        let acked: Vec<Write> = logs.iter().flat_map(|l| l.acked.clone()).collect();
        let in_flight: Vec<Write> = logs.iter().flat_map(|l| l.in_flight.clone()).collect();
        assert!(acked.len() >= count, "cycle {cycle}: {} acked, {count} wanted", acked.len());
        present.extend(acked);

        let (restarted, anon) = start(&data);
        server = restarted;
        let admin = anon.with_token(&admin_token(&data).expect("admin.token"));
        let found = check_after_restart(&server, &anon, &admin, &present, &in_flight);
        eprintln!(
            "cycle {cycle}: killed after {count}+ acks; {} writes known present, {} in flight ({} found)",
            present.len(),
            in_flight.len(),
            found.len()
        );
        present.extend(found);
        owner = anon.with_token(&owner_token);
    }
    server.stop().expect("stop");
}
