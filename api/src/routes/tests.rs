//! The route table driven without a socket, over a temp-dir store.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;
use zones::Store;

use crate::{AppState, Clock, Config, Role, app, ensure_admin_token, issue_token, tokens};

pub(super) struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }
}

/// The API settings with the default policy (scheme zone apps.company.com).
fn config() -> Config {
    let policy = policy::Policy::new(&policy::PolicyConfig::default(), policy::RiskGate::default()).unwrap();
    Config::new(policy)
}

/// A store in a temp dir with its admin token, and the state over it.
pub(super) struct Fixture {
    pub(super) dir: TempDir,
    pub(super) store: Arc<Store>,
    pub(super) state: AppState,
    pub(super) admin: String,
}

pub(super) fn fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("data")).unwrap());
    let admin = ensure_admin_token(&store, dir.path(), FixedClock.now()).unwrap().unwrap();
    let state = AppState::with_clock(store.clone(), Arc::new(FixedClock), config());
    Fixture { dir, store, state, admin }
}

pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) content_type: String,
    pub(super) www_authenticate: Option<String>,
    pub(super) body: Value,
}

impl Fixture {
    pub(super) async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Body::from(body.unwrap_or_default().to_owned())).unwrap();
        reply(app(self.state.clone()).oneshot(req).await.unwrap()).await
    }

    pub(super) async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(&body.to_string())).await
    }

    pub(super) async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// Creates team `name` and mints a token of `role` for it.
    pub(super) async fn team_with_token(&self, name: &str, role: &str) -> (String, String) {
        let created = self.post("/api/v1/teams", &self.admin, json!({"name": name})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let path = format!("/api/v1/teams/{name}/tokens");
        let minted = self.post(&path, &self.admin, json!({"role": role, "description": "test"})).await;
        assert_eq!(minted.status, StatusCode::CREATED, "{}", minted.body);
        (minted.body["id"].as_str().unwrap().to_owned(), minted.body["token"].as_str().unwrap().to_owned())
    }
}

async fn reply(response: axum::response::Response) -> Reply {
    let status = response.status();
    let text = |name| response.headers().get(name).map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned());
    let (content_type, www_authenticate) =
        (text(header::CONTENT_TYPE).unwrap_or_default(), text(header::WWW_AUTHENTICATE));
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Reply { status, content_type, www_authenticate, body }
}

/// Asserts `reply` is a problem document with `status` and type `urn:nameplate:problem:<kind>`.
/// What a crash-test child process left: its printed `key=value` lines and
/// its fixture directory, moved to [`CrashChild::dir`].
pub(super) struct CrashChild {
    stdout: String,
    moved: TempDir,
}

impl CrashChild {
    /// Runs the test `test` (its full path) again in a child process with
    /// `env` set; the child prints `dir=<fixture dir>` and more lines, then
    /// aborts (no destructor runs, so sled flushes nothing more).
    pub(super) fn run(test: &str, env: &str) -> CrashChild {
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture"])
            .env(env, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&child.stdout).into_owned();
        assert!(!child.status.success(), "the child aborts: {stdout}");
        let child = CrashChild { stdout, moved: TempDir::new().unwrap() };
        std::fs::rename(child.line("dir="), child.dir()).unwrap();
        child
    }

    /// The rest of the child's line that starts with `prefix`.
    pub(super) fn line(&self, prefix: &str) -> &str {
        let stdout = &self.stdout;
        stdout.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("{stdout}"))
    }

    /// The child's fixture directory.
    pub(super) fn dir(&self) -> std::path::PathBuf {
        self.moved.path().join("child")
    }
}

pub(super) fn assert_problem(reply: &Reply, status: u16, kind: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.content_type, "application/problem+json");
    assert_eq!(reply.body["type"], format!("urn:nameplate:problem:{kind}"), "{}", reply.body);
    assert_eq!(reply.body["status"], status);
    assert!(reply.body["title"].is_string());
    assert!(!reply.body["detail"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn healthz_answers_without_a_token() {
    let f = fixture();
    let reply = f.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((reply.status, reply.body), (StatusCode::OK, Value::String("ok".into())));
}

#[tokio::test]
async fn missing_garbage_and_malformed_tokens_are_401_with_a_challenge() {
    let f = fixture();
    let none = f.call(Method::GET, "/api/v1/teams", None, None).await;
    assert_problem(&none, 401, "unauthorized");
    assert_eq!(none.www_authenticate.unwrap(), "Bearer realm=\"nameplate\"");
    let garbage = f.get("/api/v1/teams", "np_garbage").await;
    assert_problem(&garbage, 401, "unauthorized");
    assert_eq!(garbage.www_authenticate.unwrap(), "Bearer realm=\"nameplate\", error=\"invalid_token\"");
    let req = Request::get("/api/v1/teams").header(header::AUTHORIZATION, format!("Basic {}", f.admin));
    let basic = reply(app(f.state.clone()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap()).await;
    assert_problem(&basic, 401, "unauthorized");
}

#[tokio::test]
async fn admin_creates_and_reads_teams() {
    let f = fixture();
    let created = f.post("/api/v1/teams", &f.admin, json!({"name": "hr", "region": "eu"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body, json!({"name": "hr", "region": "eu", "created_at": "2023-11-14T22:13:20Z"}));
    let again = f.post("/api/v1/teams", &f.admin, json!({"name": "hr"})).await;
    assert_problem(&again, 409, "conflict");
    assert_eq!(f.get("/api/v1/teams/hr", &f.admin).await.body["region"], "eu");
    assert_problem(&f.get("/api/v1/teams/ops", &f.admin).await, 404, "not-found");
    let names: Vec<Value> = f.get("/api/v1/teams", &f.admin).await.body["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!("hr"), json!("platform")]);
}

#[tokio::test]
async fn bad_bodies_are_400_problems_with_a_precise_detail() {
    let f = fixture();
    let malformed = f.call(Method::POST, "/api/v1/teams", Some(&f.admin), Some("{\"name\": ")).await;
    assert_problem(&malformed, 400, "invalid-body");
    assert!(malformed.body["detail"].as_str().unwrap().contains("EOF"), "{}", malformed.body);
    let unknown = f.post("/api/v1/teams", &f.admin, json!({"name": "hr", "quota": 3})).await;
    assert_problem(&unknown, 400, "invalid-body");
    assert!(unknown.body["detail"].as_str().unwrap().contains("unknown field `quota`"), "{}", unknown.body);
    let missing = f.post("/api/v1/teams", &f.admin, json!({"region": "eu"})).await;
    assert_problem(&missing, 400, "invalid-body");
    assert!(missing.body["detail"].as_str().unwrap().contains("missing field `name`"));
    for name in ["HR", "-hr", "h_r", "", &"x".repeat(64)] {
        let bad = f.post("/api/v1/teams", &f.admin, json!({ "name": name })).await;
        assert_problem(&bad, 400, "invalid-name");
    }
    let bad_role = f.post("/api/v1/teams/platform/tokens", &f.admin, json!({"role": "root"})).await;
    assert_problem(&bad_role, 400, "invalid-body");
    let req = Request::post("/api/v1/teams").header(header::AUTHORIZATION, format!("Bearer {}", f.admin));
    let untyped =
        reply(app(f.state.clone()).oneshot(req.body(Body::from("{\"name\":\"hr\"}")).unwrap()).await.unwrap());
    assert_problem(&untyped.await, 415, "unsupported-media-type");
    assert_eq!(f.get("/api/v1/teams", &f.admin).await.body["teams"].as_array().unwrap().len(), 1, "nothing created");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let f = fixture();
    assert_problem(&f.get("/api/v1/nothing", &f.admin).await, 404, "not-found");
    let put = f.call(Method::PUT, "/api/v1/teams", Some(&f.admin), Some("{}")).await;
    assert_problem(&put, 405, "method-not-allowed");
}

#[tokio::test]
async fn owners_manage_their_own_team_only() {
    let f = fixture();
    let (_, owner) = f.team_with_token("hr", "owner").await;
    f.team_with_token("ops", "owner").await;
    assert_eq!(f.get("/api/v1/teams/hr", &owner).await.status, StatusCode::OK);
    assert_problem(&f.get("/api/v1/teams/ops", &owner).await, 403, "forbidden");
    assert_problem(&f.get("/api/v1/teams/nope", &owner).await, 403, "forbidden");
    let listed = f.get("/api/v1/teams", &owner).await;
    assert_eq!(listed.body["teams"].as_array().unwrap().len(), 1);
    assert_problem(&f.post("/api/v1/teams", &owner, json!({"name": "x"})).await, 403, "forbidden");
    let ops_token = f.post("/api/v1/teams/ops/tokens", &owner, json!({"role": "member"})).await;
    assert_problem(&ops_token, 403, "forbidden");
    let admin_token = f.post("/api/v1/teams/hr/tokens", &owner, json!({"role": "admin"})).await;
    assert_problem(&admin_token, 403, "forbidden");
    let member = f.post("/api/v1/teams/hr/tokens", &owner, json!({"role": "member", "description": "m"})).await;
    assert_eq!(member.status, StatusCode::CREATED, "{}", member.body);
    let member = member.body["token"].as_str().unwrap().to_owned();
    let by_member = f.post("/api/v1/teams/hr/tokens", &member, json!({"role": "ci"})).await;
    assert_problem(&by_member, 403, "forbidden");
    let admin_for_hr = f.post("/api/v1/teams/hr/tokens", &f.admin, json!({"role": "admin"})).await;
    assert_problem(&admin_for_hr, 400, "invalid-request");
    assert_problem(&f.post("/api/v1/teams/nope/tokens", &f.admin, json!({"role": "ci"})).await, 404, "not-found");
}

#[tokio::test]
async fn revoked_tokens_are_refused() {
    let f = fixture();
    let (id, owner) = f.team_with_token("hr", "owner").await;
    let (ops_id, _) = f.team_with_token("ops", "owner").await;
    let cross = f.call(Method::DELETE, &format!("/api/v1/teams/hr/tokens/{ops_id}"), Some(&f.admin), None).await;
    assert_problem(&cross, 404, "not-found");
    let other = f.call(Method::DELETE, &format!("/api/v1/teams/ops/tokens/{ops_id}"), Some(&owner), None).await;
    assert_problem(&other, 403, "forbidden");
    let revoked = f.call(Method::DELETE, &format!("/api/v1/teams/hr/tokens/{id}"), Some(&owner), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_problem(&f.get("/api/v1/teams/hr", &owner).await, 401, "unauthorized");
    let again = f.call(Method::DELETE, &format!("/api/v1/teams/hr/tokens/{id}"), Some(&f.admin), None).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "revoking twice is fine");
}

#[tokio::test]
async fn only_the_hash_of_a_token_is_stored() {
    let f = fixture();
    let issued = issue_token(&f.store, FixedClock.now(), "platform", Role::Ci, "ci").unwrap();
    let entries = f.store.catalog_scan(b"").unwrap();
    for (key, value) in &entries {
        for token in [&issued.token, &f.admin] {
            let secret = token.as_bytes();
            assert!(!key.windows(secret.len()).any(|w| w == secret), "token in a key");
            assert!(!value.windows(secret.len()).any(|w| w == secret), "token in a value");
        }
    }
    let key = format!("token/{}", tokens::hash(&issued.token));
    let record: tokens::TokenRecord =
        serde_json::from_slice(&f.store.catalog_get(key.as_bytes()).unwrap().unwrap()).unwrap();
    assert_eq!((record.id.as_str(), record.role, record.revoked), (issued.id.as_str(), Role::Ci, false));
    let id_key = format!("token-id/{}", issued.id);
    assert_eq!(f.store.catalog_get(id_key.as_bytes()).unwrap().unwrap(), tokens::hash(&issued.token).into_bytes());
    assert!(issued.token.len() >= 3 + 43, "256 bits in base64url");
}

#[tokio::test]
async fn the_admin_token_is_created_once_in_a_private_file() {
    let f = fixture();
    let path = f.dir.path().join(tokens::ADMIN_TOKEN_FILE);
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), f.admin);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(ensure_admin_token(&f.store, f.dir.path(), FixedClock.now()).unwrap(), None);
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), f.admin, "file untouched");
    assert_eq!(f.get("/api/v1/teams/platform", &f.admin).await.status, StatusCode::OK);
}

#[tokio::test]
async fn oversized_bodies_are_413_problems() {
    let f = fixture();
    let big = json!({"name": "x".repeat(config().body_limit)}).to_string();
    let reply = f.call(Method::POST, "/api/v1/teams", Some(&f.admin), Some(&big)).await;
    assert_problem(&reply, 413, "body-too-large");
}

/// The platform zone the route tests serve.
pub(super) const PLATFORM: &str = "$ORIGIN apps.company.com.
@ 3600 IN SOA ns1 hostmaster.company.com. 1 3600 600 604800 60
@ 3600 IN NS ns1
@ 3600 IN NS ns2
ns1 3600 IN A 127.0.0.1
ns2 3600 IN A 127.0.0.2
";

/// The fixture with the platform zone, and owner tokens of hr and ops.
pub(super) async fn seeded() -> (Fixture, String, String) {
    let f = fixture();
    let zone = zones::zonefile::parse(PLATFORM, None).unwrap();
    f.store.put_zone(zone, "test", "seed", FixedClock.now()).unwrap();
    let (_, hr) = f.team_with_token("hr", "owner").await;
    let (_, ops) = f.team_with_token("ops", "owner").await;
    (f, hr, ops)
}
