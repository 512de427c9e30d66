//! `GET /metrics` against the real binary: DNS queries over UDP and TCP
//! counted by transport, RCODE and QTYPE (BADVERS included), a runt counted
//! as dropped, the cache counting every UDP fast-path query, API requests
//! counted by route pattern and status, and the store's change sets, zones
//! and records.

use std::collections::BTreeMap;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use nameplate_tests::api::{Api, PLATFORM_ORIGIN, admin_token, start};
use nameplate_tests::dns::{self, EdnsOpts, Summary, Transport, rcode};
use serde_json::json;

/// The samples of a scrape, by series (`name{labels}` exactly as written).
struct Scrape {
    text: String,
    samples: BTreeMap<String, u64>,
}

impl Scrape {
    fn of(api: &Api) -> Self {
        let reply = api.get("/metrics").expect("GET /metrics");
        reply.expect_status(200).expect("/metrics answers 200");
        assert_eq!(reply.content_type, "text/plain; version=0.0.4; charset=utf-8");
        let text = reply.body.as_str().expect("a text body").to_owned();
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {line:?}"));
                (series.to_owned(), value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")))
            })
            .collect();
        Self { text, samples }
    }

    /// The value of `series`, 0 when it is absent (no such event yet).
    fn get(&self, series: &str) -> u64 {
        self.samples.get(series).copied().unwrap_or(0)
    }

    fn dns(&self, transport: &str, rcode: &str, qtype: &str) -> u64 {
        self.get(&format!(
            "nameplate_dns_queries_total{{transport=\"{transport}\",rcode=\"{rcode}\",qtype=\"{qtype}\"}}"
        ))
    }

    fn api(&self, method: &str, route: &str, status: u16) -> u64 {
        self.get(&format!("nameplate_api_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"))
    }

    /// The sum of every query sample over `transport`.
    fn dns_total(&self, transport: &str) -> u64 {
        let prefix = format!("nameplate_dns_queries_total{{transport=\"{transport}\",");
        self.samples.iter().filter(|(series, _)| series.starts_with(&prefix)).map(|(_, n)| n).sum()
    }

    fn assert_family(&self, name: &str, kind: &str) {
        let help = format!("# HELP {name} ");
        let has_help = self.text.starts_with(&help) || self.text.contains(&format!("\n{help}"));
        assert!(has_help, "no HELP line for {name}:\n{}", self.text);
        assert!(self.text.contains(&format!("# TYPE {name} {kind}\n")), "no TYPE line for {name}:\n{}", self.text);
    }
}

fn ask(addr: std::net::SocketAddr, qname: &str, transport: Transport) -> u16 {
    let query = dns::query(qname, RecordType::A).expect("query");
    Summary::of(&dns::exchange(addr, &query, transport).expect("a DNS answer")).rcode
}

#[test]
fn dns_api_and_store_counters_are_exact() {
    let work = tempfile::tempdir().expect("work dir");
    let data = work.path().join("data");
    let (server, anon) = start(&data);
    let admin = anon.with_token(&admin_token(&data).expect("admin.token"));
    let addr = server.addr();

    for _ in 0..5 {
        assert_eq!(ask(addr, PLATFORM_ORIGIN, Transport::Udp), rcode::NOERROR);
    }
    for _ in 0..3 {
        assert_eq!(ask(addr, "nothing.apps.company.com.", Transport::Udp), rcode::NXDOMAIN);
    }
    for _ in 0..2 {
        assert_eq!(ask(addr, "example.org.", Transport::Udp), rcode::REFUSED);
    }
    assert_eq!(ask(addr, PLATFORM_ORIGIN, Transport::Tcp), rcode::NOERROR);
    let v1 = EdnsOpts { version: 1, ..EdnsOpts::default() };
    let badvers = dns::build_query(&dns::name(PLATFORM_ORIGIN).expect("name"), RecordType::A, Some(v1));
    assert_eq!(Summary::of(&dns::exchange(addr, &badvers, Transport::Udp).expect("answer")).rcode, rcode::BADVERS);
    let runt = dns::send_udp(addr, &[0x12, 0x34, 0, 0, 0], Duration::from_millis(300)).expect("send a runt");
    assert!(runt.is_none(), "a runt gets no answer");

    for _ in 0..2 {
        anon.get("/api/v1/teams").expect("no token").expect_problem(401, "unauthorized").expect("401");
    }
    admin.get("/api/v1/teams").expect("list").expect_status(200).expect("200");
    let rrsets = admin.get("/api/v1/zones/apps.company.com/rrsets").expect("rrsets").body;
    let platform_records: u64 = rrsets["rrsets"]
        .as_array()
        .expect("rrsets")
        .iter()
        .map(|s| s["records"].as_array().expect("records").len() as u64)
        .sum();

    let first = Scrape::of(&anon);
    for (name, kind) in [
        ("nameplate_dns_queries_total", "counter"),
        ("nameplate_dns_dropped_total", "counter"),
        ("nameplate_dns_cache_hits_total", "counter"),
        ("nameplate_dns_cache_misses_total", "counter"),
        ("nameplate_api_requests_total", "counter"),
        ("nameplate_change_sets_total", "counter"),
        ("nameplate_zones", "gauge"),
        ("nameplate_records", "gauge"),
    ] {
        first.assert_family(name, kind);
    }
    assert_eq!(first.dns("udp", "NOERROR", "A"), 5, "{}", first.text);
    assert_eq!(first.dns("udp", "NXDOMAIN", "A"), 3);
    assert_eq!(first.dns("udp", "REFUSED", "A"), 2);
    assert_eq!(first.dns("udp", "BADVERS", "A"), 1);
    assert_eq!(first.dns("tcp", "NOERROR", "A"), 1);
    assert_eq!(first.dns_total("tcp"), 1, "{}", first.text);
    assert_eq!(first.get("nameplate_dns_dropped_total"), 1);
    // Every UDP query but BADVERS took the fast path; the readiness probe's SOA queries are among them.
    let udp = first.dns_total("udp");
    assert!(udp >= 12, "11 queries and at least one start-up SOA probe: {udp}");
    let cache = first.get("nameplate_dns_cache_hits_total") + first.get("nameplate_dns_cache_misses_total");
    assert_eq!(cache, udp - 1, "{}", first.text);

    assert_eq!(first.api("GET", "/api/v1/teams", 401), 2, "{}", first.text);
    assert_eq!(first.api("GET", "/api/v1/teams", 200), 1);
    assert_eq!(first.api("GET", "/api/v1/zones/{zone}/rrsets", 200), 1);
    assert_eq!(first.api("GET", "/metrics", 200), 0, "a scrape is counted once it is answered");
    // The catalog zone (on by default) is served too: SOA, NS, version TXT,
    // and the platform zone's member PTR and group TXT.
    const CATALOG_RECORDS: u64 = 5;
    assert_eq!(first.get("nameplate_zones"), 2, "the platform zone and the catalog zone");
    assert!(platform_records >= 5, "SOA, two NS and their addresses: {rrsets}");
    assert_eq!(first.get("nameplate_records"), platform_records + CATALOG_RECORDS);

    // One change through the API: one more change set and record, one PATCH counted.
    let body = json!({"rrsets": [{"name": "probe.apps.company.com.", "type": "A", "ttl": 300,
        "changetype": "REPLACE", "records": [{"content": "192.0.2.80"}]}]});
    admin.patch("/api/v1/zones/apps.company.com/rrsets", &body).expect("patch").expect_status(204).expect("204");
    anon.get("/no/such/route").expect("unmatched").expect_problem(404, "not-found").expect("404");
    let second = Scrape::of(&anon);
    assert_eq!(second.get("nameplate_change_sets_total"), first.get("nameplate_change_sets_total") + 1);
    assert_eq!(second.get("nameplate_records"), platform_records + CATALOG_RECORDS + 1);
    assert_eq!(second.api("PATCH", "/api/v1/zones/{zone}/rrsets", 204), 1, "{}", second.text);
    assert_eq!(second.api("GET", "unmatched", 404), 1);
    assert_eq!(second.api("GET", "/metrics", 200), 1);
    assert_eq!(second.dns("udp", "NOERROR", "A"), 5, "nothing counted twice");
    server.stop().expect("stop");
}
