//! acme-dns compatibility against the real binary: a team owner registers
//! (`POST /register`), publishes dns-01 values (`POST /update` with
//! `X-Api-User`/`X-Api-Key`, the bodies lego's and cert-manager's client
//! library goacmedns sends) and the values are answered over DNS at once,
//! the two newest kept; `allowfrom` is checked against the real client
//! address; the credentials and values survive a restart.

use hickory_proto::rr::RecordType;
use nameplate_tests::api::{admin_token, ask, mint, start};
use nameplate_tests::dns::rcode;
use nameplate_tests::{Server, Summary};
use reqwest::blocking::Client;
use serde_json::{Value, json};

/// A dns-01 value: 43 base64url characters, distinct per `n`.
fn value(n: u8) -> String {
    format!("{}{}", char::from(b'a' + n), "_".repeat(42))
}

/// An acme-dns answer: status, content type, raw body.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// `POST base/path` with `headers` and `body`, as goacmedns sends it
/// (`Content-Type: application/json`).
fn post(base: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut request = Client::new().post(format!("{base}{path}")).header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body.to_owned()).send().expect("acme-dns request");
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    Answer { status, content_type, body: response.text().expect("body") }
}

/// Registers with `token` (goacmedns's body, `AllowFrom` capitalized) and
/// returns the credentials.
fn register(base: &str, token: &str, allow_from: &[&str]) -> Value {
    let body = if allow_from.is_empty() { String::new() } else { json!({ "AllowFrom": allow_from }).to_string() };
    let answer = post(base, "/register", &[("Authorization", &format!("Bearer {token}"))], &body);
    assert_eq!((answer.status, answer.content_type.as_str()), (201, "application/json"), "{}", answer.body);
    answer.json()
}

/// Publishes `txt` with goacmedns's update body (`SubDomain`, `Txt`).
fn update(base: &str, creds: &Value, txt: &str) -> Answer {
    let text = |name: &str| creds[name].as_str().expect(name).to_owned();
    let body = json!({"SubDomain": text("subdomain"), "Txt": txt}).to_string();
    post(base, "/update", &[("X-Api-User", &text("username")), ("X-Api-Key", &text("password"))], &body)
}

fn published(base: &str, creds: &Value, txt: &str) {
    let answer = update(base, creds, txt);
    assert_eq!((answer.status, answer.body.as_str()), (200, &*format!("{{\"txt\": \"{txt}\"}}")));
}

/// The TXT answer at `fqdn` over UDP: NOERROR, authoritative, each value
/// with TTL 1, sorted.
fn txt(server: &Server, fqdn: &str) -> Vec<String> {
    let summary: Summary = ask(server, fqdn, RecordType::TXT);
    assert_eq!((summary.rcode, summary.aa), (rcode::NOERROR, true), "{summary}");
    summary
        .answer
        .iter()
        .map(|rr| {
            let prefix = format!("{fqdn}. 1 TXT ");
            rr.strip_prefix(&prefix).unwrap_or_else(|| panic!("{rr} is not {prefix}...")).trim_matches('"').to_owned()
        })
        .collect()
}

#[test]
fn register_update_and_answer_over_dns_across_a_restart() {
    let work = tempfile::tempdir().expect("work dir");
    let data = work.path().join("data");
    let (server, anon) = start(&data);
    let base = format!("http://{}", server.http_addr());
    let admin = anon.with_token(&admin_token(&data).expect("admin token"));
    admin.post("/api/v1/teams", &json!({"name": "hr"})).expect("team").expect_status(201).expect("hr");
    let owner = mint(&admin, "hr", "owner");

    let creds = register(&base, &owner, &[]);
    let fqdn = creds["fulldomain"].as_str().expect("fulldomain").to_owned();
    let sub = creds["subdomain"].as_str().expect("subdomain");
    assert_eq!(fqdn, format!("{sub}.acme.apps.company.com"));
    assert_eq!(creds["password"].as_str().map(str::len), Some(40));
    assert_eq!(creds["allowfrom"], json!([]));
    let nothing = ask(&server, &fqdn, RecordType::TXT);
    assert!(nothing.answer.is_empty(), "no value before the first update: {nothing}");

    published(&base, &creds, &value(1));
    published(&base, &creds, &value(2));
    assert_eq!(txt(&server, &fqdn), [value(1), value(2)], "both values, for x and *.x");
    published(&base, &creds, &value(3));
    assert_eq!(txt(&server, &fqdn), [value(2), value(3)], "the oldest replaced");

    let anonymous = post(&base, "/register", &[], "");
    assert_eq!((anonymous.status, anonymous.content_type.as_str()), (401, "application/problem+json"));
    let wrong =
        update(&base, &json!({"username": creds["username"], "password": "x".repeat(40), "subdomain": sub}), "");
    assert_eq!((wrong.status, wrong.body.as_str()), (401, "{\"error\": \"forbidden\"}"));
    let short = update(&base, &creds, &value(4)[..42]);
    assert_eq!((short.status, short.body.as_str()), (400, "{\"error\": \"bad_txt\"}"));

    // allowfrom is checked against the connection's address (127.0.0.1 here).
    let elsewhere = register(&base, &owner, &["192.0.2.0/24"]);
    let refused = update(&base, &elsewhere, &value(5));
    assert_eq!((refused.status, refused.body.as_str()), (401, "{\"error\": \"forbidden\"}"));
    let loopback = register(&base, &owner, &["127.0.0.0/8", "[::1]/128"]);
    assert_eq!(loopback["allowfrom"], json!(["127.0.0.0/8", "::1/128"]));
    published(&base, &loopback, &value(6));

    let audit = admin.get("/api/v1/audit?team=hr&limit=100").expect("audit").body;
    let actions: Vec<&str> =
        audit["entries"].as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "acmedns.register").count(), 3, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "acmedns.update").count(), 4, "{actions:?}");
    server.stop().expect("stop");

    let (server, _) = start(&data);
    let base = format!("http://{}", server.http_addr());
    assert_eq!(txt(&server, &fqdn), [value(2), value(3)], "the values survive a restart");
    published(&base, &creds, &value(7));
    assert_eq!(txt(&server, &fqdn), [value(3), value(7)], "the credentials and the rotation survive it");
    server.stop().expect("stop");
}
