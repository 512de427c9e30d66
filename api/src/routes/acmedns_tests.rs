//! acme-dns's `/register` and `/update` through the route table: the
//! answers byte for byte as acme-dns gives them, the TXT values in the zone,
//! ownership, `allowfrom` and the audit log.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use zones::{Name, RData, RecordType};

use super::tests::{FixedClock, Fixture, assert_problem, seeded};
use crate::{AppState, Clock, Config, app};

/// A valid dns-01 value: 43 base64url characters, distinct per `n`.
fn value(n: u8) -> String {
    format!("{}{}", char::from(b'A' + n), "x".repeat(42))
}

/// What acme-dns answers: status, content type and the raw body.
#[derive(Debug)]
struct Raw {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Asserts this is acme-dns's refusal `{"error": "<code>"}` with `status`.
    fn assert_refused(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.content_type, "application/json");
        assert_eq!(self.body, format!("{{\"error\": \"{code}\"}}"));
    }
}

/// Sends `method path` with `headers`, `body` (no Content-Type, as a bare
/// client may) and the client address `from`.
async fn send(f: &Fixture, path: &str, headers: &[(&str, &str)], body: &str, from: &str) -> Raw {
    let mut req = Request::builder().method(Method::POST).uri(path);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut req = req.body(Body::from(body.to_owned())).unwrap();
    req.extensions_mut().insert(ConnectInfo(from.parse::<SocketAddr>().unwrap()));
    let response = app(f.state.clone()).oneshot(req).await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    Raw { status, content_type, body: String::from_utf8(bytes.to_vec()).unwrap() }
}

const CLIENT: &str = "192.0.2.7:40000";

async fn register(f: &Fixture, token: Option<&str>, body: &str) -> Raw {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("authorization", b.as_str())).collect();
    send(f, "/register", &headers, body, CLIENT).await
}

/// Registers with `token` and returns the credentials.
async fn registered(f: &Fixture, token: &str, body: &str) -> Value {
    let reply = register(f, Some(token), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.json()
}

async fn update_from(f: &Fixture, user: &str, key: &str, subdomain: &str, txt: &str, from: &str) -> Raw {
    let body = json!({"subdomain": subdomain, "txt": txt}).to_string();
    send(f, "/update", &[("X-Api-User", user), ("X-Api-Key", key)], &body, from).await
}

async fn update(f: &Fixture, creds: &Value, txt: &str) -> Raw {
    let (user, key, sub) = (field(creds, "username"), field(creds, "password"), field(creds, "subdomain"));
    update_from(f, &user, &key, &sub, txt, CLIENT).await
}

fn field(creds: &Value, name: &str) -> String {
    creds[name].as_str().unwrap().to_owned()
}

/// The TXT values at `fqdn` in the platform zone, sorted, and their TTL.
fn txt_at(f: &Fixture, fqdn: &str) -> (Vec<String>, Option<u32>) {
    let snapshot = f.store.snapshot();
    let zone = snapshot.get(&Name::from_ascii("apps.company.com.").unwrap()).unwrap();
    let Some(set) = zone.rrset(&Name::from_ascii(format!("{fqdn}.")).unwrap(), RecordType::TXT) else {
        return (Vec::new(), None);
    };
    let mut values: Vec<String> = set
        .rdatas()
        .iter()
        .map(|r| match r {
            RData::TXT(txt) => txt.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect(),
            other => panic!("not TXT: {other:?}"),
        })
        .collect();
    values.sort();
    (values, Some(set.ttl()))
}

fn is_uuid_v4(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok_and(|u| u.get_version_num() == 4 && u.to_string() == text)
}

#[tokio::test]
async fn a_team_token_registers_and_gets_acme_dns_credentials() {
    let (f, hr, _) = seeded().await;
    let reply = register(&f, Some(&hr), "").await;
    assert_eq!((reply.status, reply.content_type.as_str()), (StatusCode::CREATED, "application/json"));
    let creds = reply.json();
    let keys: Vec<&str> = creds.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 5, "{creds}");
    assert!(reply.body.starts_with("{\"username\":\""), "acme-dns's field order: {}", reply.body);
    let (user, password, sub) = (field(&creds, "username"), field(&creds, "password"), field(&creds, "subdomain"));
    assert!(is_uuid_v4(&user) && is_uuid_v4(&sub) && user != sub, "{creds}");
    assert_eq!(password.len(), 40);
    assert!(password.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{password}");
    assert_eq!(creds["fulldomain"], format!("{sub}.acme.apps.company.com"));
    assert_eq!(creds["allowfrom"], json!([]));

    let with = registered(&f, &hr, r#"{"allowfrom": ["192.0.2.0/24", "[2001:db8::]/32"]}"#).await;
    assert_eq!(with["allowfrom"], json!(["192.0.2.0/24", "2001:db8::/32"]), "brackets dropped, as acme-dns");
    assert_ne!(with["username"], creds["username"]);
    // goacmedns (lego, cert-manager) sends Go's field name, capitalized.
    let goacmedns = registered(&f, &hr, r#"{"AllowFrom":["10.0.0.0/8"]}"#).await;
    assert_eq!(goacmedns["allowfrom"], json!(["10.0.0.0/8"]));

    // Stored: the registration under its username with a hash, and the subdomain index.
    let record = crate::acmedns::get(&f.store, &user).unwrap().unwrap();
    assert_eq!((record.team.as_str(), record.subdomain.as_str()), ("hr", sub.as_str()));
    assert!(record.password_hash.starts_with("hmac-sha256:"));
    for (key, value) in f.store.catalog_scan(b"").unwrap() {
        let secret = password.as_bytes();
        assert!(!key.windows(40).any(|w| w == secret) && !value.windows(40).any(|w| w == secret), "password stored");
    }
    let index = f.store.catalog_get(format!("acmedns-sub/{sub}").as_bytes()).unwrap().unwrap();
    assert_eq!(index, user.as_bytes());
}

#[tokio::test]
async fn anonymous_registration_needs_the_config() {
    let (mut f, _, _) = seeded().await;
    let refused = register(&f, None, "").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert_eq!(refused.content_type, "application/problem+json");
    assert_eq!(refused.json()["type"], "urn:nameplate:problem:unauthorized");
    assert_problem_text(&register(&f, Some("np_garbage"), "").await, 401, "unauthorized");
    let ci = f.post("/api/v1/teams/hr/tokens", &f.admin, json!({"role": "ci"})).await;
    let ci = ci.body["token"].as_str().unwrap().to_owned();
    assert_problem_text(&register(&f, Some(&ci), "").await, 403, "forbidden");

    let mut policy_config = policy::PolicyConfig::default();
    policy_config.scheme.reserved.retain(|label| label != "acme");
    let policy = policy::Policy::new(&policy_config, policy::RiskGate::default()).unwrap();
    let config = Config::new(policy).with_acme_dns(true, "acme.apps.company.com", true);
    assert!(config.is_err(), "a team could take the label acme");
    let policy = policy::Policy::new(&policy::PolicyConfig::default(), policy::RiskGate::default()).unwrap();
    let config = Config::new(policy).with_acme_dns(true, "", true).unwrap();
    f.state = AppState::with_clock(f.store.clone(), Arc::new(FixedClock), config);
    let creds = register(&f, None, "").await;
    assert_eq!(creds.status, StatusCode::CREATED, "{}", creds.body);
    let creds = creds.json();
    let record = crate::acmedns::get(&f.store, &field(&creds, "username")).unwrap().unwrap();
    assert_eq!(record.team, "platform");
    assert_eq!(update(&f, &creds, &value(1)).await.status, StatusCode::OK);
    let audit = f.get("/api/v1/audit?limit=2", &f.admin).await.body["entries"].clone();
    assert_eq!(audit[0]["action"], "acmedns.register");
    assert_eq!((audit[0]["who"].clone(), audit[0]["team"].clone()), (json!({"system": "acme-dns"}), json!("platform")));
    assert_eq!(audit[1]["team"], "platform");
}

/// Asserts `raw` is a problem document with `status` and type `kind`.
fn assert_problem_text(raw: &Raw, status: u16, kind: &str) {
    assert_eq!((raw.status.as_u16(), raw.content_type.as_str()), (status, "application/problem+json"), "{}", raw.body);
    assert_eq!(raw.json()["type"], format!("urn:nameplate:problem:{kind}"));
}

#[tokio::test]
async fn updates_publish_the_two_newest_values() {
    let (f, hr, _) = seeded().await;
    let creds = registered(&f, &hr, "").await;
    let fqdn = field(&creds, "fulldomain");
    assert_eq!(txt_at(&f, &fqdn), (vec![], None), "nothing before the first update");
    let first = update(&f, &creds, &value(1)).await;
    assert_eq!((first.status, first.content_type.as_str()), (StatusCode::OK, "application/json"));
    assert_eq!(first.body, format!("{{\"txt\": \"{}\"}}", value(1)), "acme-dns's body, byte for byte");
    assert_eq!(txt_at(&f, &fqdn), (vec![value(1)], Some(1)));
    assert_eq!(update(&f, &creds, &value(2)).await.status, StatusCode::OK);
    assert_eq!(txt_at(&f, &fqdn), (vec![value(1), value(2)], Some(1)));
    assert_eq!(update(&f, &creds, &value(3)).await.status, StatusCode::OK);
    assert_eq!(txt_at(&f, &fqdn).0, [value(2), value(3)], "the oldest replaced");
    assert_eq!(update(&f, &creds, &value(3)).await.status, StatusCode::OK);
    assert_eq!(txt_at(&f, &fqdn).0, [value(3)], "the same value twice: one record");
    assert_eq!(update(&f, &creds, &value(4)).await.status, StatusCode::OK);
    assert_eq!(txt_at(&f, &fqdn).0, [value(3), value(4)]);
    let upper = uuid::Uuid::parse_str(&field(&creds, "username")).unwrap().simple().to_string().to_uppercase();
    let (key, sub) = (field(&creds, "password"), field(&creds, "subdomain"));
    let any_form = update_from(&f, &upper, &key, &sub, &value(5), CLIENT).await;
    assert_eq!(any_form.status, StatusCode::OK, "acme-dns parses any form of UUID: {}", any_form.body);
    // goacmedns's body: Go's field names, matched case-insensitively as Go does.
    let body = json!({"SubDomain": sub, "Txt": value(6)}).to_string();
    let user = field(&creds, "username");
    let go = send(&f, "/update", &[("X-Api-User", &user), ("X-Api-Key", &key)], &body, CLIENT).await;
    assert_eq!(go.status, StatusCode::OK, "{}", go.body);
    assert_eq!(txt_at(&f, &fqdn).0, [value(5), value(6)]);
}

#[tokio::test]
async fn wrong_credentials_and_other_subdomains_are_forbidden() {
    let (f, hr, ops) = seeded().await;
    let mine = registered(&f, &hr, "").await;
    let theirs = registered(&f, &ops, "").await;
    let (user, key, sub) = (field(&mine, "username"), field(&mine, "password"), field(&mine, "subdomain"));
    let txt = value(1);
    let other_key = field(&theirs, "password");
    let unknown_user = "6f1c3e9a-7d2b-4c1e-9a55-0e5d8f3b2a10";
    let cases = [
        (unknown_user, key.as_str(), sub.as_str(), "unknown user"),
        ("not-a-uuid", key.as_str(), sub.as_str(), "user not a UUID"),
        (user.as_str(), other_key.as_str(), sub.as_str(), "another user's key"),
        (user.as_str(), &key[..39], sub.as_str(), "key too short"),
        (user.as_str(), "", sub.as_str(), "no key"),
        ("", "", sub.as_str(), "no headers"),
    ];
    for (u, k, s, what) in cases {
        let raw = update_from(&f, u, k, s, &txt, CLIENT).await;
        assert_eq!(raw.status, StatusCode::UNAUTHORIZED, "{what}");
        raw.assert_refused(401, "forbidden");
    }
    let other_sub = field(&theirs, "subdomain");
    update_from(&f, &user, &key, &other_sub, &txt, CLIENT).await.assert_refused(401, "forbidden");
    // A subdomain that is no label is not the user's either: acme-dns checks ownership first.
    update_from(&f, &user, &key, "bad_sub!", &txt, CLIENT).await.assert_refused(401, "forbidden");
    for body in ["{\"subdomain\": ", "not json", ""] {
        let raw = send(&f, "/update", &[("X-Api-User", &user), ("X-Api-Key", &key)], body, CLIENT).await;
        raw.assert_refused(401, "forbidden");
    }
    assert_eq!(txt_at(&f, &field(&mine, "fulldomain")).0, Vec::<String>::new(), "nothing published");
    assert_eq!(txt_at(&f, &field(&theirs, "fulldomain")).0, Vec::<String>::new());
}

#[tokio::test]
async fn values_and_cidrs_of_the_wrong_shape_are_refused() {
    let (f, hr, _) = seeded().await;
    let creds = registered(&f, &hr, "").await;
    for bad in
        ["a".repeat(42), "a".repeat(44), format!("{}=", "a".repeat(42)), format!("{}.", "a".repeat(42)), String::new()]
    {
        update(&f, &creds, &bad).await.assert_refused(400, "bad_txt");
    }
    // A TXT value of another type than string is left empty by Go's decoder.
    let (user, key, sub) = (field(&creds, "username"), field(&creds, "password"), field(&creds, "subdomain"));
    let body = json!({"subdomain": sub, "txt": 5}).to_string();
    send(&f, "/update", &[("X-Api-User", &user), ("X-Api-Key", &key)], &body, CLIENT)
        .await
        .assert_refused(400, "bad_txt");
    assert!(txt_at(&f, &field(&creds, "fulldomain")).0.is_empty());

    for bad in
        [r#"{"allowfrom": ["192.0.2.1"]}"#, r#"{"allowfrom": ["192.0.2.0/24", "nope/8"]}"#, r#"{"allowfrom": [""]}"#]
    {
        register(&f, Some(&hr), bad).await.assert_refused(400, "invalid_allowfrom_cidr");
    }
    for bad in ["{", "[]", r#"{"allowfrom": "192.0.2.0/24"}"#] {
        register(&f, Some(&hr), bad).await.assert_refused(400, "malformed_json_payload");
    }
    assert_eq!(f.store.catalog_scan(b"acmedns/").unwrap().len(), 1, "refused registrations store nothing");
}

#[tokio::test]
async fn the_subdomain_shape_check_answers_bad_subdomain() {
    // Reachable only through a registration whose stored subdomain is no
    // label (acme-dns checks ownership first); here one is planted.
    let (f, hr, _) = seeded().await;
    let creds = registered(&f, &hr, "").await;
    let user = field(&creds, "username");
    let mut record = crate::acmedns::get(&f.store, &user).unwrap().unwrap();
    record.subdomain = "bad_sub".to_owned();
    let mut tx = zones::Transaction::new();
    tx.catalog_put(format!("acmedns/{user}").as_bytes(), serde_json::to_vec(&record).unwrap());
    f.store.apply(tx, FixedClock.now()).unwrap();
    let raw = update_from(&f, &user, &field(&creds, "password"), "bad_sub", &value(1), CLIENT).await;
    raw.assert_refused(400, "bad_subdomain");
}

#[tokio::test]
async fn allowfrom_limits_where_updates_come_from() {
    let (f, hr, _) = seeded().await;
    let creds = registered(&f, &hr, r#"{"allowfrom": ["192.0.2.0/24", "2001:db8::/32"]}"#).await;
    let (user, key, sub) = (field(&creds, "username"), field(&creds, "password"), field(&creds, "subdomain"));
    for from in ["198.51.100.7:5000", "[2001:db9::1]:5000", "127.0.0.1:5000"] {
        update_from(&f, &user, &key, &sub, &value(1), from).await.assert_refused(401, "forbidden");
    }
    assert!(txt_at(&f, &field(&creds, "fulldomain")).0.is_empty());
    for (n, from) in [(1, "192.0.2.200:5000"), (2, "[2001:db8:5::1]:5000"), (3, "[::ffff:192.0.2.9]:5000")] {
        let ok = update_from(&f, &user, &key, &sub, &value(n), from).await;
        assert_eq!(ok.status, StatusCode::OK, "{from}: {}", ok.body);
    }
}

#[tokio::test]
async fn registrations_and_updates_are_audited() {
    let (f, hr, _) = seeded().await;
    let creds = registered(&f, &hr, r#"{"allowfrom": ["192.0.2.0/24"]}"#).await;
    assert_eq!(update(&f, &creds, &value(1)).await.status, StatusCode::OK);
    let entries = f.get("/api/v1/audit?limit=2", &f.admin).await;
    assert_eq!(entries.status, StatusCode::OK, "{}", entries.body);
    let entries = entries.body["entries"].as_array().unwrap().clone();
    let (user, fqdn) = (field(&creds, "username"), field(&creds, "fulldomain"));
    let registration = &entries[0];
    assert_eq!(registration["action"], "acmedns.register");
    assert_eq!((registration["team"].as_str(), registration["who"]["team"].as_str()), (Some("hr"), Some("hr")));
    assert!(registration["who"]["token_id"].is_string());
    assert_eq!(registration["target"], user.as_str());
    assert_eq!(registration["why"], json!({"fulldomain": fqdn, "allowfrom": ["192.0.2.0/24"]}));
    let updated = &entries[1];
    assert_eq!(updated["action"], "acmedns.update");
    assert_eq!(updated["who"], json!({"system": format!("acme-dns:{user}")}));
    assert_eq!((updated["team"].as_str(), updated["target"].as_str()), (Some("hr"), Some(fqdn.as_str())));
    let change = &updated["changes"][0];
    assert_eq!(change["zone"], "apps.company.com.");
    assert_eq!(change["author"], format!("acme-dns:{user}"));
    assert_eq!(change["added"][1], format!("{fqdn}. 1 IN TXT {}", value(1)));
    // The team reads its own registration's entries.
    let hr_entries = f.get("/api/v1/audit?limit=2", &hr).await.body["entries"].clone();
    assert_eq!(hr_entries.as_array().unwrap().len(), 2);
    assert_problem(&f.get("/api/v1/audit?team=ops", &hr).await, 403, "forbidden");
}

#[tokio::test]
async fn disabled_acme_dns_is_not_there() {
    let (mut f, hr, _) = seeded().await;
    let policy = policy::Policy::new(&policy::PolicyConfig::default(), policy::RiskGate::default()).unwrap();
    let config = Config::new(policy).with_acme_dns(false, "", false).unwrap();
    f.state = AppState::with_clock(f.store.clone(), Arc::new(FixedClock), config);
    assert_problem_text(&register(&f, Some(&hr), "").await, 404, "not-found");
    let raw = send(&f, "/update", &[], "{}", CLIENT).await;
    assert_problem_text(&raw, 404, "not-found");
}
