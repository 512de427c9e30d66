//! Direct issuance, revocation and the CA's files through the route table,
//! over a real CA in the fixture's temp dir. Chains are verified with
//! `openssl verify` at the fixed clock's time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ca::issuance::Ca;
use ca::pki::{HierarchySpec, RegionSpec};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::tests::{CrashChild, FixedClock, Fixture, assert_problem, seeded};
use crate::{AppState, Clock, Config, app};

const NOW: u64 = 1_700_000_000;
const HOUR: u64 = 3600;

/// The seeded fixture (platform zone, owners of hr and ops) with a CA whose
/// records are in the zone store's database, as the server opens it.
async fn with_ca() -> (Fixture, String, String) {
    let (mut f, hr, ops) = seeded().await;
    let ca = Ca::open_in(&f.dir.path().join("ca"), f.store.database(), &spec(), "nameplate", FixedClock.now()).unwrap();
    let policy = policy::Policy::new(&policy::PolicyConfig::default(), policy::RiskGate::default()).unwrap();
    let config = Config::new(policy).with_ca(Arc::new(ca));
    f.state = AppState::with_clock(f.store.clone(), Arc::new(FixedClock), config);
    (f, hr, ops)
}

fn spec() -> HierarchySpec {
    HierarchySpec {
        ca_name: "nameplate".into(),
        regions: vec![RegionSpec { name: "default".into(), permitted: vec!["apps.company.com".into()] }],
        root: None,
        crl_base_url: "https://localhost:8443".into(),
        max_lifetime: Duration::from_secs(7 * 24 * HOUR),
        service_names: Vec::new(),
    }
}

/// Set in the child process of [`an_issued_certificate_survives_a_crash`].
const CRASH_CHILD: &str = "NAMEPLATE_TEST_CERT_CRASH";

/// `POST /api/v1/certs` answers only once the CA's record and the catalog
/// entry are on disk, with the one flush of the shared database: a child
/// process issues and aborts at once (no destructor runs, so sled flushes
/// nothing more), and the reopened store and CA have both.
#[tokio::test]
async fn an_issued_certificate_survives_a_crash() {
    if std::env::var_os(CRASH_CHILD).is_some() {
        let (f, _, _) = with_ca().await;
        let (_, member) = f.team_with_token("web", "member").await;
        let reply = issue(&f, &member, json!({"names": ["shop.web.dev.apps.company.com"]})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        println!("dir={}", f.dir.path().display());
        println!("serial={}", reply.body["serial"].as_str().unwrap());
        std::process::abort();
    }
    let child = CrashChild::run("routes::cert_tests::an_issued_certificate_survives_a_crash", CRASH_CHILD);
    let serial = child.line("serial=");
    let store = zones::Store::open(&child.dir().join("data")).unwrap();
    let ca = Ca::open_in(&child.dir().join("ca"), store.database(), &spec(), "nameplate", FixedClock.now()).unwrap();
    let record = ca.store().get(serial).unwrap();
    assert_eq!(record.map(|r| r.names), Some(vec!["shop.web.dev.apps.company.com".to_owned()]), "the CA's record");
    let name = "shop.web.dev.apps.company.com";
    assert!(ca.store().serials_at_or_below(name).unwrap().contains(serial), "its name is indexed");
    let notes: Vec<_> = store.audit_log(0).map(|r| String::from_utf8(r.unwrap().note).unwrap()).collect();
    assert!(notes.iter().any(|n| n.contains("cert.issue") && n.contains(serial)), "audited: {notes:?}");
}

/// `POST /api/v1/certs` with `body`.
async fn issue(f: &Fixture, token: &str, body: Value) -> super::tests::Reply {
    f.post("/api/v1/certs", token, body).await
}

/// The raw body and content type of an unauthenticated GET.
async fn raw_get(f: &Fixture, path: &str) -> (StatusCode, String, Vec<u8>) {
    let req = Request::builder().method(Method::GET).uri(path).body(Body::empty()).unwrap();
    let response = app(f.state.clone()).oneshot(req).await.unwrap();
    let status = response.status();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec())
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `openssl verify` of the leaf against the served root and intermediate.
async fn verify(f: &Fixture, leaf_pem: &str) -> (bool, String) {
    let (_, _, root) = raw_get(f, "/ca/root.pem").await;
    let (_, _, chain) = raw_get(f, "/ca/chain/default.pem").await;
    let dir = f.dir.path();
    let (root, chain, leaf) =
        (write(dir, "root.pem", root), write(dir, "chain.pem", chain), write(dir, "leaf.pem", leaf_pem));
    let s = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let at = NOW.to_string();
    openssl(&["verify", "-attime", &at, "-CAfile", &s(&root), "-untrusted", &s(&chain), &s(&leaf)])
}

/// A CSR made by `openssl req` with `newkey` (e.g. `ec`, `rsa:1024`) for `names`.
fn openssl_csr(dir: &Path, newkey: &[&str], names: &[&str]) -> String {
    let (key, csr) = (dir.join("csr.key"), dir.join("csr.pem"));
    let san = format!("subjectAltName={}", names.iter().map(|n| format!("DNS:{n}")).collect::<Vec<_>>().join(","));
    let mut args = vec!["req", "-new", "-nodes", "-subj", "/", "-addext", &san, "-keyout"];
    args.extend([key.to_str().unwrap(), "-out", csr.to_str().unwrap(), "-newkey"]);
    args.extend(newkey);
    let (ok, out) = openssl(&args);
    assert!(ok, "{out}");
    std::fs::read_to_string(csr).unwrap()
}

/// Seconds from the fixed clock to the reply's `not_after`.
fn lifetime(reply: &super::tests::Reply) -> u64 {
    let not_after = crate::parse_rfc3339(reply.body["not_after"].as_str().unwrap()).unwrap();
    not_after.duration_since(UNIX_EPOCH + Duration::from_secs(NOW)).unwrap().as_secs()
}

#[tokio::test]
async fn a_member_gets_a_generated_key_and_a_chain_that_verifies() {
    let (f, _, _) = with_ca().await;
    let (_, member) = f.team_with_token("web", "member").await;
    let reply = issue(&f, &member, json!({"names": ["shop.web.dev.apps.company.com"], "key_type": "p384"})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let key = reply.body["private_key_pem"].as_str().unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    let leaf = reply.body["certificate_pem"].as_str().unwrap();
    assert!(reply.body["chain_pem"].as_str().unwrap().starts_with(leaf));
    let (ok, out) = verify(&f, leaf).await;
    assert!(ok, "{out}");
    assert_eq!(lifetime(&reply), 24 * HOUR, "dev lifetime");
    let serial = reply.body["serial"].as_str().unwrap();
    assert_eq!(serial.len(), 32, "128-bit serial: {serial}");
    let dir = f.dir.path();
    let text = openssl(&["x509", "-noout", "-text", "-in", write(dir, "l.pem", leaf).to_str().unwrap()]).1;
    assert!(text.contains("DNS:shop.web.dev.apps.company.com"), "{text}");
    assert!(text.contains("TLS Web Server Authentication") && !text.contains("Client Authentication"), "{text}");
}

#[tokio::test]
async fn a_csr_is_certified_without_returning_a_key_and_lifetimes_follow_policy() {
    let (f, hr, _) = with_ca().await;
    let names = ["api.hr.prod.apps.company.com", "*.api.hr.prod.apps.company.com"];
    let csr = openssl_csr(f.dir.path(), &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], &names);
    let reply = issue(&f, &hr, json!({"names": names, "csr_pem": csr, "client_auth": true})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert!(reply.body.get("private_key_pem").is_none(), "{}", reply.body);
    assert_eq!(lifetime(&reply), 7 * 24 * HOUR, "prod lifetime");
    let leaf = reply.body["certificate_pem"].as_str().unwrap();
    assert!(verify(&f, leaf).await.0);
    let text = openssl(&["x509", "-noout", "-text", "-in", write(f.dir.path(), "l.pem", leaf).to_str().unwrap()]).1;
    assert!(text.contains("TLS Web Client Authentication"), "{text}");

    let prod = json!(["api.hr.prod.apps.company.com"]);
    let short = issue(&f, &hr, json!({"names": prod, "profile": "shortlived"})).await;
    assert_eq!(lifetime(&short), 6 * HOUR);
    let ttl = issue(&f, &hr, json!({"names": prod, "ttl_seconds": 900})).await;
    assert_eq!(lifetime(&ttl), 900);
    let preview = issue(&f, &hr, json!({"names": ["pr-4.api.hr.preview.apps.company.com"]})).await;
    assert_eq!(lifetime(&preview), 6 * HOUR);
    assert_problem(&issue(&f, &hr, json!({"names": prod, "ttl_seconds": 10})).await, 400, "invalid-request");
}

#[tokio::test]
async fn names_of_others_outside_names_and_bad_csrs_are_problems() {
    let (f, hr, _) = with_ca().await;
    let ops_name = json!({"names": ["db.ops.prod.apps.company.com"]});
    assert_problem(&issue(&f, &hr, ops_name).await, 403, "forbidden");
    let outside = issue(&f, &hr, json!({"names": ["www.example.com"]})).await;
    assert_problem(&outside, 400, "invalid-request");
    assert!(outside.body["detail"].as_str().unwrap().contains("outside every platform zone"), "{}", outside.body);
    let admin_outside = issue(&f, &f.admin, json!({"names": ["www.example.com"]})).await;
    assert_problem(&admin_outside, 400, "invalid-request");

    let csr = openssl_csr(f.dir.path(), &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], &["a.hr.dev.apps.company.com"]);
    let mismatch = issue(&f, &hr, json!({"names": ["b.hr.dev.apps.company.com"], "csr_pem": csr})).await;
    assert_problem(&mismatch, 400, "invalid-request");
    assert!(mismatch.body["detail"].as_str().unwrap().contains("differ"), "{}", mismatch.body);
    let weak = openssl_csr(f.dir.path(), &["rsa:1024"], &["a.hr.dev.apps.company.com"]);
    let weak = issue(&f, &hr, json!({"names": ["a.hr.dev.apps.company.com"], "csr_pem": weak})).await;
    assert_problem(&weak, 400, "invalid-request");
    assert!(weak.body["detail"].as_str().unwrap().contains("weak"), "{}", weak.body);
    assert_problem(&issue(&f, &hr, json!({"names": []})).await, 400, "invalid-request");
    let (_, ci) = f.team_with_token("qa", "ci").await;
    assert_problem(&issue(&f, &ci, json!({"names": ["x.qa.dev.apps.company.com"]})).await, 403, "forbidden");
    let ci_preview = issue(&f, &ci, json!({"names": ["pr-1.x.qa.preview.apps.company.com"]})).await;
    assert_eq!(ci_preview.status, StatusCode::CREATED, "{}", ci_preview.body);
}

#[tokio::test]
async fn issuance_is_audited_and_revocation_lands_in_the_crl() {
    let (f, hr, ops) = with_ca().await;
    let reply = issue(&f, &hr, json!({"names": ["web.hr.dev.apps.company.com"]})).await;
    let serial = reply.body["serial"].as_str().unwrap().to_owned();
    let audit = f.get("/api/v1/audit?team=hr", &hr).await;
    let entries = audit.body["entries"].as_array().unwrap();
    let entry = entries.iter().find(|e| e["action"] == "cert.issue").unwrap();
    assert_eq!(
        (entry["target"].as_str(), entry["why"]["serial"].as_str()),
        (Some("web.hr.dev.apps.company.com"), Some(serial.as_str()))
    );
    assert_eq!(entry["who"]["team"], "hr");

    let path = format!("/api/v1/certs/{serial}/revoke");
    assert_problem(&f.post(&path, &ops, json!({})).await, 403, "forbidden");
    let (status, kind, before) = raw_get(&f, "/ca/crl/default.crl").await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/pkix-crl"));
    let revoked = f.post(&path, &hr, json!({"reason": 4})).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
    assert_problem(&f.post(&path, &hr, json!({"reason": 2})).await, 400, "invalid-request");
    assert_problem(&f.post(&path, &hr, json!({})).await, 409, "conflict");
    assert_problem(&f.post("/api/v1/certs/00ff/revoke", &hr, json!({})).await, 404, "not-found");
    let (_, _, after) = raw_get(&f, "/ca/crl/default.crl").await;
    let crl = |der: &[u8]| {
        let p = write(f.dir.path(), "crl.der", der);
        let (ok, text) = openssl(&["crl", "-inform", "DER", "-noout", "-text", "-in", p.to_str().unwrap()]);
        assert!(ok, "not a DER CRL: {text}");
        text
    };
    assert!(!crl(&before).to_lowercase().contains(&serial), "not yet revoked");
    let text = crl(&after);
    assert!(text.to_lowercase().contains(&serial), "{text}");
    assert!(text.contains("Superseded"), "{text}");
    assert_problem(&raw_problem(&f, "/ca/chain/nowhere.pem").await, 404, "not-found");
}

/// An unauthenticated GET as a problem reply.
async fn raw_problem(f: &Fixture, path: &str) -> super::tests::Reply {
    f.call(Method::GET, path, None, None).await
}

#[tokio::test]
async fn without_a_ca_the_routes_are_404() {
    let (f, hr, _) = seeded().await;
    assert_problem(&issue(&f, &hr, json!({"names": ["web.hr.dev.apps.company.com"]})).await, 404, "not-found");
    assert_problem(&raw_problem(&f, "/ca/root.pem").await, 404, "not-found");
}

#[tokio::test]
async fn a_previews_certificates_are_revoked_when_it_is_deleted_or_expires() {
    let (f, hr, _) = with_ca().await;
    let web = json!({"name": "web", "team": "hr", "env": "dev", "target": {"cname": "lb.company.com"},
                     "owner": "hr", "exposure": "internal", "data_class": "public"});
    assert_eq!(f.post("/api/v1/apps", &hr, web).await.status, StatusCode::CREATED);
    let previews = "/api/v1/apps/web.hr.dev.apps.company.com/previews";
    for (pr, ttl) in [(7, 60), (8, 3600)] {
        let made = f.post(previews, &hr, json!({"pr": pr, "target": {"a": ["192.0.2.1"]}, "ttl_seconds": ttl})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    }
    let serial = |reply: super::tests::Reply| reply.body["serial"].as_str().unwrap().to_owned();
    let pr7 = ["pr-7.web.hr.preview.apps.company.com", "*.pr-7.web.hr.preview.apps.company.com"];
    let seven = serial(issue(&f, &hr, json!({"names": pr7})).await);
    let eight = serial(issue(&f, &hr, json!({"names": ["pr-8.web.hr.preview.apps.company.com"]})).await);
    let stable = serial(issue(&f, &hr, json!({"names": ["web.hr.dev.apps.company.com"]})).await);
    let ca = f.state.config.ca.clone().unwrap();
    let revoked = |s: &str| ca.store().get(s).unwrap().unwrap().revoked.map(|r| r.reason);
    let cessation = Some(ca::pki::RevocationReason::CessationOfOperation);

    let deleted = f.call(Method::DELETE, &format!("{previews}/pr-8"), Some(&hr), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!((revoked(&eight), revoked(&seven)), (cessation, None));

    let policy = f.state.config.policy.clone();
    let later = FixedClock.now() + Duration::from_secs(61);
    let reaped = crate::reaper::reap_with(&f.store, &policy, Some(&*ca), later).unwrap();
    assert_eq!(reaped, ["pr-7.web.hr.preview.apps.company.com"]);
    assert_eq!((revoked(&seven), revoked(&stable)), (cessation, None));
    let audit = f.get("/api/v1/audit?team=hr", &hr).await;
    let revocations: Vec<_> =
        audit.body["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "cert.revoke").collect();
    assert_eq!(revocations.len(), 2, "{revocations:?}");
    let mut notes: Vec<_> = revocations
        .iter()
        .map(|e| (e["target"].as_str(), e["why"]["reason"].as_str(), e["why"]["preview"].as_str()))
        .collect();
    notes.sort();
    let cessation = Some("CessationOfOperation");
    let mut expected = [
        (Some(eight.as_str()), cessation, Some("pr-8.web.hr.preview.apps.company.com")),
        (Some(seven.as_str()), cessation, Some("pr-7.web.hr.preview.apps.company.com")),
    ];
    expected.sort();
    assert_eq!(notes, expected, "one note per certificate, its target the serial, its reason naming the preview");
}

/// Sets the CAA RRset at `owner` (in the platform zone) to one `issue` property for `issuer`.
fn set_caa(f: &Fixture, owner: &str, issuer: &str) {
    use hickory_proto::rr::rdata::CAA;
    use zones::{ChangeSet, Name, Op, RData, RRset, RecordType};
    let mut change = ChangeSet::new(&Name::from_ascii("apps.company.com.").unwrap(), "test", "caa");
    let mut set = RRset::new(&Name::from_ascii(owner).unwrap(), RecordType::CAA, 60);
    set.insert(RData::CAA(CAA::new_issue(false, Some(Name::from_ascii(issuer).unwrap()), vec![])));
    change.push(Op::ReplaceRRset(set));
    f.store.commit(&change, FixedClock.now()).unwrap();
}

#[tokio::test]
async fn caa_in_the_zone_data_decides_issuance() {
    let (f, hr, _) = with_ca().await;
    set_caa(&f, "hr.dev.apps.company.com.", "letsencrypt.org.");
    let refused = issue(&f, &hr, json!({"names": ["web.hr.dev.apps.company.com"]})).await;
    assert_problem(&refused, 403, "forbidden");
    assert!(refused.body["detail"].as_str().unwrap().contains("CAA"), "{}", refused.body);
    let elsewhere = issue(&f, &hr, json!({"names": ["web.hr.prod.apps.company.com"]})).await;
    assert_eq!(elsewhere.status, StatusCode::CREATED, "no CAA above it: {}", elsewhere.body);
    set_caa(&f, "web.hr.dev.apps.company.com.", "nameplate.");
    let allowed = issue(&f, &hr, json!({"names": ["web.hr.dev.apps.company.com"]})).await;
    assert_eq!(allowed.status, StatusCode::CREATED, "the closest CAA names this CA: {}", allowed.body);
}
