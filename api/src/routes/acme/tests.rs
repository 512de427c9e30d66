//! The ACME endpoints driven through the route table with raw JWS signed
//! by ring keys, over a real CA in the fixture's temp dir.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use ca::acme::AcmeConfig;
use ca::issuance::Ca;
use ca::pki::{HierarchySpec, RegionSpec};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::acme::testkeys::{TestKey, b64, jws};
use crate::acme::{AcmeEdge, PublicJwk};
use crate::routes::tests::{CrashChild, Fixture, PLATFORM, fixture};
use crate::{AppState, Clock, Config, app};

pub(super) const BASE: &str = "https://ca.test";
const NOW: u64 = 1_700_000_000;
pub(super) const NAME: &str = "web.hr.dev.apps.company.com";

/// A clock tests can move forward.
pub(super) struct TestClock(AtomicU64);

impl TestClock {
    /// Moves the clock `seconds` forward.
    pub(super) fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

/// The fixture with the platform zone (plus `extra` records), teams hr and
/// ops with owner tokens, a CA and ACME with `config`.
pub(super) struct Acme {
    pub(super) f: Fixture,
    pub(super) hr: String,
    pub(super) clock: Arc<TestClock>,
    pub(super) edge: Arc<AcmeEdge>,
}

pub(super) async fn setup(config: AcmeConfig, extra: &str) -> Acme {
    setup_with_policy(config, extra, policy::PolicyConfig::default()).await
}

/// [`setup`] with the policy `policy_config` instead of the default.
pub(super) async fn setup_with_policy(config: AcmeConfig, extra: &str, policy_config: policy::PolicyConfig) -> Acme {
    let mut f = fixture();
    let clock = Arc::new(TestClock(AtomicU64::new(NOW)));
    publish(&f, extra, clock.now());
    let (_, hr) = f.team_with_token("hr", "owner").await;
    let _ = f.team_with_token("ops", "owner").await;
    let ca = Arc::new(Ca::open(&f.dir.path().join("ca"), &spec(), "nameplate", clock.now()).unwrap());
    let edge = Arc::new(AcmeEdge::open(ca.clone(), config, BASE).unwrap());
    let policy = policy::Policy::new(&policy_config, policy::RiskGate::default()).unwrap();
    let config = Config::new(policy).with_ca(ca).with_acme(edge.clone());
    f.state = AppState::with_clock(f.store.clone(), clock.clone(), config);
    Acme { f, hr, clock, edge }
}

/// The CA's hierarchy: one region, the platform zone.
fn spec() -> HierarchySpec {
    HierarchySpec {
        ca_name: "nameplate".into(),
        regions: vec![RegionSpec { name: "default".into(), permitted: vec!["apps.company.com".into()] }],
        root: None,
        crl_base_url: BASE.into(),
        max_lifetime: Duration::from_secs(7 * 24 * 3600),
        service_names: Vec::new(),
    }
}

/// Replaces the platform zone with its base records plus `extra`.
pub(super) fn publish(f: &Fixture, extra: &str, now: SystemTime) {
    let zone = zones::zonefile::parse(&format!("{PLATFORM}{extra}"), None).unwrap();
    f.store.put_zone(zone, "test", "seed", now).unwrap();
}

/// A response, its body read.
pub(super) struct Resp {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

impl Resp {
    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub(super) fn links(&self) -> Vec<String> {
        self.headers.get_all("link").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    }

    pub(super) fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }

    /// Asserts a problem document of `kind` with `status`.
    pub(super) fn problem(&self, status: u16, kind: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.json());
        assert_eq!(self.header("content-type"), "application/problem+json");
        assert_eq!(self.json()["type"], format!("urn:ietf:params:acme:error:{kind}"), "{}", self.json());
    }
}

/// The path of an absolute URL of this server.
pub(super) fn path(url: &str) -> &str {
    url.strip_prefix(BASE).unwrap()
}

impl Acme {
    pub(super) fn clock_now(&self) -> SystemTime {
        self.clock.now()
    }

    pub(super) async fn send(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        let req = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, content_type);
        let response = app(self.f.state.clone()).oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec();
        Resp { status, headers, body }
    }

    pub(super) async fn nonce(&self) -> String {
        self.send(Method::HEAD, "/acme/new-nonce", "", vec![]).await.header("replay-nonce")
    }

    /// A JWS POST to `path` by `key`, as account `kid` (or with its jwk);
    /// `None` payload is POST-as-GET.
    pub(super) async fn post(&self, key: &TestKey, kid: Option<&str>, path: &str, payload: Option<Value>) -> Resp {
        let nonce = self.nonce().await;
        let mut header = json!({"alg": key.alg(), "nonce": nonce, "url": format!("{BASE}{path}")});
        match kid {
            Some(kid) => header["kid"] = json!(kid),
            None => header["jwk"] = key.jwk(),
        }
        self.post_raw(path, jws(key, &header, &payload_bytes(payload))).await
    }

    pub(super) async fn post_raw(&self, path: &str, body: Vec<u8>) -> Resp {
        self.send(Method::POST, path, "application/jose+json", body).await
    }

    /// A fresh EAB key of team hr: (key id, HMAC key).
    pub(super) async fn eab(&self) -> (String, Vec<u8>) {
        let made = self.f.post("/api/v1/teams/hr/eab", &self.hr, json!({})).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let hmac = data_encoding::BASE64URL_NOPAD.decode(made.body["hmac_key"].as_str().unwrap().as_bytes()).unwrap();
        (made.body["key_id"].as_str().unwrap().to_owned(), hmac)
    }

    /// A new account of team hr for `key`: its URL.
    pub(super) async fn account(&self, key: &TestKey) -> String {
        let (kid, hmac) = self.eab().await;
        let reply = self.post(key, None, "/acme/new-account", Some(account_payload(key, &kid, &hmac))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json());
        reply.header("location")
    }

    /// An order for `names` by account `kid`.
    pub(super) async fn order(&self, key: &TestKey, kid: &str, names: &[&str]) -> Resp {
        let ids: Vec<Value> = names.iter().map(|n| json!({"type": "dns", "value": n})).collect();
        self.post(key, Some(kid), "/acme/new-order", Some(json!({"identifiers": ids}))).await
    }

    pub(super) async fn finalize(&self, key: &TestKey, kid: &str, order: &Value, csr: &[u8]) -> Resp {
        let url = order["finalize"].as_str().unwrap();
        self.post(key, Some(kid), path(url), Some(json!({"csr": b64(csr)}))).await
    }

    pub(super) fn count(&self, tree: &str) -> usize {
        self.edge.ca().database().db().open_tree(tree).unwrap().len()
    }
}

fn payload_bytes(payload: Option<Value>) -> Vec<u8> {
    payload.map(|p| p.to_string().into_bytes()).unwrap_or_default()
}

/// A newAccount payload with an EAB binding made with `hmac`.
pub(super) fn account_payload(key: &TestKey, kid: &str, hmac: &[u8]) -> Value {
    let protected =
        b64(json!({"alg": "HS256", "kid": kid, "url": format!("{BASE}/acme/new-account")}).to_string().as_bytes());
    let payload = b64(key.jwk().to_string().as_bytes());
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, hmac),
        format!("{protected}.{payload}").as_bytes(),
    );
    let binding = json!({"protected": protected, "payload": payload, "signature": b64(mac.as_ref())});
    json!({"termsOfServiceAgreed": true, "contact": ["mailto:hr@company.com"], "externalAccountBinding": binding})
}

/// A DER CSR made by `openssl req` with `newkey` for `names`.
pub(super) fn csr(dir: &Path, newkey: &[&str], names: &[&str]) -> Vec<u8> {
    let (key, out) = (dir.join("acme-csr.key"), dir.join("acme-csr.der"));
    let san = format!("subjectAltName={}", names.iter().map(|n| format!("DNS:{n}")).collect::<Vec<_>>().join(","));
    let mut args = vec!["req", "-new", "-nodes", "-outform", "DER", "-subj", "/"];
    args.extend(["-newkey"]);
    args.extend(newkey);
    args.extend(["-keyout", key.to_str().unwrap(), "-out", out.to_str().unwrap(), "-addext", &san]);
    let status = Command::new("openssl").args(&args).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    std::fs::read(out).unwrap()
}

pub(super) const P256: &[&str] = &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// An account of hr with a ready order for `NAME` (pre-authorized).
pub(super) async fn ready(acme: &Acme) -> (TestKey, String, Value) {
    let key = TestKey::es256();
    let kid = acme.account(&key).await;
    let order = acme.order(&key, &kid, &[NAME]).await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.json());
    assert_eq!(order.json()["status"], "ready");
    (key, kid, order.json())
}

#[tokio::test]
async fn directory_and_nonces() {
    let acme = setup(AcmeConfig::default(), "").await;
    let dir = acme.send(Method::GET, "/acme/directory", "", vec![]).await;
    assert_eq!(dir.status, StatusCode::OK);
    let doc = dir.json();
    assert_eq!(doc["newAccount"], format!("{BASE}/acme/new-account"));
    assert_eq!(doc["renewalInfo"], format!("{BASE}/acme/renewal-info"));
    assert_eq!(doc["meta"]["externalAccountRequired"], true);
    assert_eq!(doc["meta"]["caaIdentities"], json!(["nameplate"]));
    assert!(doc["meta"]["profiles"]["shortlived"].is_string());
    let head = acme.send(Method::HEAD, "/acme/new-nonce", "", vec![]).await;
    assert_eq!((head.status, head.header("cache-control").as_str()), (StatusCode::OK, "no-store"));
    let get = acme.send(Method::GET, "/acme/new-nonce", "", vec![]).await;
    assert_eq!(get.status, StatusCode::NO_CONTENT);
    assert_ne!(head.header("replay-nonce"), get.header("replay-nonce"));
    assert_eq!(get.header("link"), format!("<{BASE}/acme/directory>;rel=\"index\""));
}

#[tokio::test]
async fn pre_authorized_flow_issues_a_verifiable_chain_and_revokes() {
    let acme = setup(AcmeConfig::default(), "").await;
    let (key, kid, order) = ready(&acme).await;
    assert!(kid.starts_with(&format!("{BASE}/acme/acct/")), "{kid}");
    let authz = acme.post(&key, Some(&kid), path(order["authorizations"][0].as_str().unwrap()), None).await;
    assert_eq!(authz.json()["status"], "valid");
    let der = csr(acme.f.dir.path(), P256, &[NAME]);
    let done = acme.finalize(&key, &kid, &order, &der).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.json());
    assert_eq!(done.json()["status"], "valid");
    assert!(done.header("location").starts_with(&format!("{BASE}/acme/order/")));
    assert!(done.header("replay-nonce").len() > 10);
    let cert_url = done.json()["certificate"].as_str().unwrap().to_owned();
    let chain = acme.post(&key, Some(&kid), path(&cert_url), None).await;
    assert_eq!(chain.status, StatusCode::OK);
    assert_eq!(chain.header("content-type"), "application/pem-certificate-chain");
    let pem = String::from_utf8(chain.body.clone()).unwrap();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(verify(&acme, &pem), "openssl verify failed");
    check_renewal_info(&acme, &cert_url).await;
    let cert_der = first_der(&pem);
    let revoke = json!({"certificate": b64(&cert_der), "reason": 4});
    let revoked = acme.post(&key, Some(&kid), "/acme/revoke-cert", Some(revoke.clone())).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.json());
    acme.post(&key, Some(&kid), "/acme/revoke-cert", Some(revoke)).await.problem(400, "alreadyRevoked");
}

#[tokio::test]
async fn a_previews_acme_certificate_is_revoked_when_it_is_deleted() {
    let acme = setup(AcmeConfig::default(), "").await;
    let (f, hr) = (&acme.f, &acme.hr);
    let web = json!({"name": "web", "team": "hr", "env": "dev", "target": {"cname": "lb.company.com"},
                     "owner": "hr", "exposure": "internal", "data_class": "public"});
    assert_eq!(f.post("/api/v1/apps", hr, web).await.status, StatusCode::CREATED);
    let preview = "/api/v1/apps/web.hr.dev.apps.company.com/previews";
    let made = f.post(preview, hr, json!({"pr": 3, "target": {"a": ["192.0.2.1"]}})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let name = "pr-3.web.hr.preview.apps.company.com";
    let key = TestKey::es256();
    let kid = acme.account(&key).await;
    let order = acme.order(&key, &kid, &[name]).await;
    assert_eq!(order.json()["status"], "ready", "{}", order.json());
    let done = acme.finalize(&key, &kid, &order.json(), &csr(f.dir.path(), P256, &[name])).await;
    let cert_url = done.json()["certificate"].as_str().unwrap().to_owned();
    let serial = cert_url.rsplit('/').next().unwrap();
    let ca = f.state.config.ca.clone().unwrap();
    let revoked = || ca.store().get(serial).unwrap().unwrap().revoked.map(|r| r.reason);
    assert_eq!(revoked(), None);
    let deleted = f.call(Method::DELETE, &format!("{preview}/pr-3"), Some(hr), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(revoked(), Some(ca::pki::RevocationReason::CessationOfOperation));
}

/// Set in the child process of [`a_finalized_certificate_survives_a_crash`].
const CRASH_CHILD: &str = "NAMEPLATE_TEST_ACME_CRASH";

/// finalize answers `valid` only once the certificate is on disk, both in
/// the CA's store and in ACME's: a child process finalizes and aborts at
/// once (no destructor runs, so sled flushes nothing more), and the
/// reopened CA knows the serial and has its renewal information.
#[tokio::test]
async fn a_finalized_certificate_survives_a_crash() {
    if std::env::var_os(CRASH_CHILD).is_some() {
        let acme = setup(AcmeConfig::default(), "").await;
        let (key, kid, order) = ready(&acme).await;
        let der = csr(acme.f.dir.path(), P256, &[NAME]);
        let done = acme.finalize(&key, &kid, &order, &der).await;
        assert_eq!(done.json()["status"], "valid", "{}", done.json());
        println!("dir={}", acme.f.dir.path().display());
        println!("cert={}", done.json()["certificate"].as_str().unwrap());
        std::process::abort();
    }
    let child = CrashChild::run("routes::acme::tests::a_finalized_certificate_survives_a_crash", CRASH_CHILD);
    let ca = Ca::open(&child.dir().join("ca"), &spec(), "nameplate", SystemTime::now()).unwrap();
    let serial_hex = child.line("cert=").rsplit('/').next().unwrap();
    assert!(ca.store().get(serial_hex).unwrap().is_some(), "the CA's record of {serial_hex} is on disk");
    let serial = data_encoding::HEXLOWER.decode(serial_hex.as_bytes()).unwrap();
    let id = ca::acme::ari::CertId::new(ca.hierarchy().issuer("default").unwrap().key_id(), &serial).encode();
    let edge = AcmeEdge::open(Arc::new(ca), AcmeConfig::default(), BASE).unwrap();
    assert!(edge.acme().renewal_info(&id).is_ok(), "ACME's record of {serial_hex} is on disk");
}

async fn check_renewal_info(acme: &Acme, cert_url: &str) {
    let serial = data_encoding::HEXLOWER.decode(cert_url.rsplit('/').next().unwrap().as_bytes()).unwrap();
    let issuer = acme.edge.ca().hierarchy().issuer("default").unwrap();
    let id = ca::acme::ari::CertId::new(issuer.key_id(), &serial).encode();
    let info = acme.send(Method::GET, &format!("/acme/renewal-info/{id}"), "", vec![]).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.json());
    assert_eq!(info.header("retry-after"), "21600");
    let window = &info.json()["suggestedWindow"];
    assert!(window["start"].as_str().unwrap() < window["end"].as_str().unwrap());
    let unknown = ca::acme::ari::CertId::new(issuer.key_id(), &[1, 2, 3]).encode();
    let missing = acme.send(Method::GET, &format!("/acme/renewal-info/{unknown}"), "", vec![]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    missing.problem(404, "malformed");
    acme.send(Method::GET, "/acme/renewal-info/not-an-id", "", vec![]).await.problem(400, "malformed");
}

/// `openssl verify` of the leaf against the root, the intermediate untrusted.
pub(super) fn verify(acme: &Acme, chain: &str) -> bool {
    let dir = acme.f.dir.path();
    let split = chain.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----\n".len();
    let (leaf, root, untrusted) = (dir.join("leaf.pem"), dir.join("root.pem"), dir.join("chain.pem"));
    std::fs::write(&leaf, &chain[..split]).unwrap();
    std::fs::write(&untrusted, chain).unwrap();
    std::fs::write(&root, acme.edge.ca().hierarchy().root_pem()).unwrap();
    let s = |p: &std::path::PathBuf| p.to_str().unwrap().to_owned();
    let at = (NOW + 60).to_string();
    let args = ["verify", "-attime", &at, "-CAfile", &s(&root), "-untrusted", &s(&untrusted), &s(&leaf)];
    let out = Command::new("openssl").args(args).output().unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("OK")
}

pub(super) fn first_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().skip(1).take_while(|l| !l.starts_with("-----")).collect();
    data_encoding::BASE64.decode(body.as_bytes()).unwrap()
}

#[tokio::test]
async fn dns01_validates_a_published_txt_record() {
    let config = AcmeConfig { pre_authorize: false, ..AcmeConfig::default() };
    let acme = setup(config, "").await;
    let key = TestKey::es256();
    let kid = acme.account(&key).await;
    let order = acme.order(&key, &kid, &[NAME]).await.json();
    assert_eq!(order["status"], "pending");
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let authz = acme.post(&key, Some(&kid), path(&authz_url), None).await.json();
    let challenge = authz["challenges"].as_array().unwrap().iter().find(|c| c["type"] == "dns-01").unwrap().clone();
    let thumbprint = PublicJwk::from_value(&key.jwk()).unwrap().thumbprint();
    let value = ca::acme::types::dns01_txt_value(challenge["token"].as_str().unwrap(), &thumbprint);
    publish(&acme.f, &format!("_acme-challenge.web.hr.dev 60 IN TXT \"{value}\"\n"), acme.clock.now());
    let answered = acme.post(&key, Some(&kid), path(challenge["url"].as_str().unwrap()), Some(json!({}))).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.json());
    assert_eq!(answered.json()["status"], "valid");
    let up = format!("<{authz_url}>;rel=\"up\"");
    assert_eq!(answered.links(), vec![up, format!("<{BASE}/acme/directory>;rel=\"index\"")]);
    let order = acme.post(&key, Some(&kid), path(&answered_order(&order)), None).await;
    assert_eq!(order.json()["status"], "ready");
}

pub(super) fn answered_order(order: &Value) -> String {
    order["finalize"].as_str().unwrap().trim_end_matches("/finalize").to_owned()
}

#[tokio::test]
async fn accounts_are_found_updated_rolled_over_and_deactivated() {
    let acme = setup(AcmeConfig::default(), "").await;
    let key = TestKey::es256();
    let kid = acme.account(&key).await;
    let again = acme.post(&key, None, "/acme/new-account", Some(json!({"onlyReturnExisting": true}))).await;
    assert_eq!((again.status, again.header("location")), (StatusCode::OK, kid.clone()));
    let stranger = TestKey::es256();
    acme.post(&stranger, None, "/acme/new-account", Some(json!({"onlyReturnExisting": true})))
        .await
        .problem(400, "accountDoesNotExist");
    let updated = acme.post(&key, Some(&kid), path(&kid), Some(json!({"contact": ["mailto:x@company.com"]}))).await;
    assert_eq!(updated.json()["contact"], json!(["mailto:x@company.com"]));
    let new_key = TestKey::es256();
    let inner_header = json!({"alg": "ES256", "jwk": new_key.jwk(), "url": format!("{BASE}/acme/key-change")});
    let inner = jws(&new_key, &inner_header, json!({"account": kid, "oldKey": key.jwk()}).to_string().as_bytes());
    let inner: Value = serde_json::from_slice(&inner).unwrap();
    let rolled = acme.post(&key, Some(&kid), "/acme/key-change", Some(inner)).await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.json());
    acme.post(&key, Some(&kid), path(&kid), None).await.problem(400, "malformed");
    let gone = acme.post(&new_key, Some(&kid), path(&kid), Some(json!({"status": "deactivated"}))).await;
    assert_eq!(gone.json()["status"], "deactivated");
    acme.post(&new_key, Some(&kid), path(&kid), None).await.problem(403, "unauthorized");
}

#[tokio::test]
async fn key_change_to_a_key_in_use_is_a_conflict_naming_the_other_account() {
    let acme = setup(AcmeConfig::default(), "").await;
    let (key, other_key) = (TestKey::es256(), TestKey::es256());
    let (kid, other) = (acme.account(&key).await, acme.account(&other_key).await);
    let inner_header = json!({"alg": "ES256", "jwk": other_key.jwk(), "url": format!("{BASE}/acme/key-change")});
    let inner = jws(&other_key, &inner_header, json!({"account": kid, "oldKey": key.jwk()}).to_string().as_bytes());
    let inner: Value = serde_json::from_slice(&inner).unwrap();
    let refused = acme.post(&key, Some(&kid), "/acme/key-change", Some(inner)).await;
    assert_eq!((refused.status, refused.header("location")), (StatusCode::CONFLICT, other));
    refused.problem(409, "malformed");
    assert!(acme.post(&key, Some(&kid), path(&kid), None).await.status.is_success(), "old key still works");
}

#[tokio::test]
async fn orders_are_listed_and_deactivating_an_authz_invalidates_its_order() {
    let acme = setup(AcmeConfig { pre_authorize: false, ..AcmeConfig::default() }, "").await;
    let key = TestKey::es256();
    let kid = acme.account(&key).await;
    let order = acme.order(&key, &kid, &[NAME]).await;
    let order_url = order.header("location");
    let account = acme.post(&key, Some(&kid), path(&kid), None).await.json();
    let listed = acme.post(&key, Some(&kid), path(account["orders"].as_str().unwrap()), None).await.json();
    assert_eq!(listed["orders"], json!([order_url]));
    let authz_url = order.json()["authorizations"][0].as_str().unwrap().to_owned();
    let off = acme.post(&key, Some(&kid), path(&authz_url), Some(json!({"status": "deactivated"}))).await;
    assert_eq!(off.json()["status"], "deactivated", "{}", off.json());
    let order = acme.post(&key, Some(&kid), path(&order_url), None).await.json();
    assert_eq!(order["status"], "invalid");
    let bad = acme.post(&key, Some(&kid), path(&authz_url), Some(json!({"status": "valid"}))).await;
    bad.problem(400, "malformed");
}
