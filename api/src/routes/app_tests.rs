//! Apps and reviews through the route table, over a store seeded with the
//! platform zone apps.company.com.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use zones::{Name, RecordType};

use super::tests::{FixedClock, Fixture, assert_problem, seeded};
use crate::{AppState, Clock, Config};

fn app(name: &str, exposure: &str, data_class: &str, capabilities: &[&str]) -> Value {
    json!({"name": name, "team": "hr", "env": "prod", "target": {"a": ["192.0.2.10"]},
           "owner": "hr-oncall@company.com", "exposure": exposure, "data_class": data_class,
           "capabilities": capabilities})
}

/// The A records published at `fqdn` (absolute).
fn published(f: &Fixture, fqdn: &str) -> Vec<String> {
    let apex = Name::from_ascii("apps.company.com.").unwrap();
    let snapshot = f.store.snapshot();
    let zone = snapshot.get(&apex).unwrap();
    let name = Name::from_ascii(fqdn).unwrap();
    zone.rrset(&name, RecordType::A).map(|s| s.rdatas().iter().map(ToString::to_string).collect()).unwrap_or_default()
}

fn serial(f: &Fixture) -> u32 {
    f.store.snapshot().get(&Name::from_ascii("apps.company.com.").unwrap()).unwrap().serial()
}

const TIMESHEET: &str = "timesheet.hr.prod.apps.company.com.";

#[tokio::test]
async fn an_internal_app_goes_live_at_once() {
    let (f, hr, _) = seeded().await;
    let created = f.post("/api/v1/apps", &hr, app("timesheet", "internal", "internal", &[])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body,
        json!({"fqdn": "timesheet.hr.prod.apps.company.com", "gate": "auto", "findings": [], "status": "live"})
    );
    assert_eq!(published(&f, TIMESHEET), ["192.0.2.10"]);
    let shown = f.get("/api/v1/apps/timesheet.hr.prod.apps.company.com", &hr).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["owner"], "hr-oncall@company.com");
    assert_eq!(shown.body["created_at"], "2023-11-14T22:13:20Z");
    assert_eq!(shown.body["target"], json!({"a": ["192.0.2.10"]}));
    let again = f.post("/api/v1/apps", &hr, app("timesheet", "internal", "internal", &[])).await;
    assert_problem(&again, 409, "conflict");
}

#[tokio::test]
async fn minor_findings_are_annotated_and_live() {
    let (f, hr, _) = seeded().await;
    let created = f.post("/api/v1/apps", &hr, app("chat", "internal", "internal", &["websocket"])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!((created.body["gate"].as_str(), created.body["status"].as_str()), (Some("annotated"), Some("live")));
    assert_eq!(created.body["remediation_days"], 7);
    assert!(!created.body["findings"].as_array().unwrap().is_empty());
    assert_eq!(published(&f, "chat.hr.prod.apps.company.com."), ["192.0.2.10"]);
}

#[tokio::test]
async fn review_holds_the_records_until_approved() {
    let (f, hr, _) = seeded().await;
    let before = serial(&f);
    let created = f.post("/api/v1/apps", &hr, app("payroll", "external", "restricted", &[])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!((created.body["gate"].as_str(), created.body["status"].as_str()), (Some("review"), Some("pending")));
    let fqdn = "payroll.hr.prod.apps.company.com.";
    assert!(published(&f, fqdn).is_empty());
    assert_eq!(serial(&f), before, "no zone change for a pending app");

    assert_problem(&f.get("/api/v1/reviews", &hr).await, 403, "forbidden");
    let queue = f.get("/api/v1/reviews", &f.admin).await;
    assert_eq!(queue.status, StatusCode::OK);
    let id = queue.body["reviews"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["review"], id.as_str());
    assert_eq!(queue.body["reviews"][0]["status"], "pending");

    let path = format!("/api/v1/reviews/{id}");
    let by_owner = f.post(&path, &hr, json!({"decision": "approve", "comment": "mine"})).await;
    assert_problem(&by_owner, 403, "forbidden");
    let approved = f.post(&path, &f.admin, json!({"decision": "approve", "comment": "pen test done"})).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(published(&f, fqdn), ["192.0.2.10"]);
    let shown = f.get("/api/v1/apps/payroll.hr.prod.apps.company.com", &hr).await;
    assert_eq!(shown.body["status"], "live");
    let twice = f.post(&path, &f.admin, json!({"decision": "deny", "comment": ""})).await;
    assert_problem(&twice, 409, "conflict");
    assert_problem(&f.post("/api/v1/reviews/00ff", &f.admin, json!({"decision": "deny"})).await, 404, "not-found");
}

#[tokio::test]
async fn a_denied_app_is_never_published() {
    let (f, hr, _) = seeded().await;
    let created = f.post("/api/v1/apps", &hr, app("root", "internal", "public", &["host-network"])).await;
    assert_eq!(created.body["gate"], "review", "{}", created.body);
    let id = created.body["review"].as_str().unwrap().to_owned();
    let denied = f.post(&format!("/api/v1/reviews/{id}"), &f.admin, json!({"decision": "deny", "comment": "no"})).await;
    assert_eq!((denied.status, denied.body["comment"].as_str()), (StatusCode::OK, Some("no")));
    assert!(published(&f, "root.hr.prod.apps.company.com.").is_empty());
    let shown = f.get("/api/v1/apps/root.hr.prod.apps.company.com", &hr).await;
    assert_eq!(shown.body["status"], "denied");
    let bad = f.post(&format!("/api/v1/reviews/{id}"), &f.admin, json!({"decision": "maybe"})).await;
    assert_problem(&bad, 400, "invalid-body");
}

#[tokio::test]
async fn a_failing_policy_sends_everything_to_review() {
    let (f, hr, _) = seeded().await;
    let policy = policy::Policy::new(&policy::PolicyConfig::default(), policy::RiskGate::closed("test: broken"));
    let state = AppState::with_clock(f.store.clone(), Arc::new(FixedClock), Config::new(policy.unwrap()));
    let closed = Fixture { state, ..f };
    let created = closed.post("/api/v1/apps", &hr, app("timesheet", "internal", "public", &[])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!((created.body["gate"].as_str(), created.body["status"].as_str()), (Some("review"), Some("pending")));
    assert_eq!(created.body["findings"][0]["code"], "policy-error");
    assert!(published(&closed, TIMESHEET).is_empty());
}

#[tokio::test]
async fn other_teams_and_ci_may_not_register_or_read() {
    let (f, hr, ops) = seeded().await;
    let before = serial(&f);
    let foreign = f.post("/api/v1/apps", &ops, app("timesheet", "internal", "internal", &[])).await;
    assert_problem(&foreign, 403, "forbidden");
    let minted = f.post("/api/v1/teams/hr/tokens", &f.admin, json!({"role": "ci"})).await;
    let ci = minted.body["token"].as_str().unwrap().to_owned();
    assert_problem(&f.post("/api/v1/apps", &ci, app("timesheet", "internal", "internal", &[])).await, 403, "forbidden");
    assert_eq!(serial(&f), before);
    assert!(f.get("/api/v1/apps", &f.admin).await.body["apps"].as_array().unwrap().is_empty());

    f.post("/api/v1/apps", &hr, app("timesheet", "internal", "internal", &[])).await;
    let path = "/api/v1/apps/timesheet.hr.prod.apps.company.com";
    assert_problem(&f.get(path, &ops).await, 403, "forbidden");
    assert_problem(&f.call(Method::DELETE, path, Some(&ops), None).await, 403, "forbidden");
    assert_problem(&f.call(Method::DELETE, path, Some(&ci), None).await, 403, "forbidden");
    assert_problem(&f.get("/api/v1/apps?team=hr", &ops).await, 403, "forbidden");
    assert!(f.get("/api/v1/apps", &ops).await.body["apps"].as_array().unwrap().is_empty());
    assert_eq!(f.get("/api/v1/apps", &hr).await.body["apps"].as_array().unwrap().len(), 1);
    assert_eq!(f.get("/api/v1/apps?team=hr", &f.admin).await.body["apps"].as_array().unwrap().len(), 1);
    assert_eq!(published(&f, TIMESHEET), ["192.0.2.10"]);
}

#[tokio::test]
async fn the_apps_quota_counts_live_and_pending_apps() {
    let (f, _, _) = seeded().await;
    let created = f.post("/api/v1/teams", &f.admin, json!({"name": "fin", "quotas": {"apps": 2}})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let fin = f.post("/api/v1/teams/fin/tokens", &f.admin, json!({"role": "member"})).await;
    let fin = fin.body["token"].as_str().unwrap().to_owned();
    let register = |name: &str, data_class: &str| {
        json!({"name": name, "team": "fin", "env": "dev", "target": {"cname": "lb.company.com"},
               "owner": "fin", "exposure": "external", "data_class": data_class})
    };
    assert_eq!(f.post("/api/v1/apps", &fin, register("a", "public")).await.body["status"], "live");
    assert_eq!(f.post("/api/v1/apps", &fin, register("b", "restricted")).await.body["status"], "pending");
    let over = f.post("/api/v1/apps", &fin, register("c", "public")).await;
    assert_problem(&over, 400, "quota-exceeded");
    let gone = f.call(Method::DELETE, "/api/v1/apps/a.fin.dev.apps.company.com", Some(&fin), None).await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
    assert_eq!(f.post("/api/v1/apps", &fin, register("c", "public")).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn decommission_removes_the_records_and_keeps_the_entry() {
    let (f, hr, _) = seeded().await;
    f.post("/api/v1/apps", &hr, app("timesheet", "internal", "internal", &[])).await;
    let path = "/api/v1/apps/timesheet.hr.prod.apps.company.com";
    let gone = f.call(Method::DELETE, path, Some(&hr), None).await;
    assert_eq!((gone.status, gone.body["status"].as_str()), (StatusCode::OK, Some("decommissioned")));
    assert!(published(&f, TIMESHEET).is_empty());
    assert_eq!(f.get(path, &hr).await.body["status"], "decommissioned");
    assert_problem(&f.call(Method::DELETE, path, Some(&hr), None).await, 409, "conflict");
    let back = f.post("/api/v1/apps", &hr, app("timesheet", "internal", "internal", &[])).await;
    assert_eq!(back.status, StatusCode::CREATED, "re-registering a decommissioned name: {}", back.body);
}

#[tokio::test]
async fn bad_registrations_are_400_with_nothing_applied() {
    let (f, hr, _) = seeded().await;
    let before = serial(&f);
    let mut bad_env = app("timesheet", "internal", "internal", &[]);
    bad_env["env"] = json!("qa");
    let mut reserved = app("www", "internal", "internal", &[]);
    reserved["team"] = json!("hr");
    let mut empty = app("timesheet", "internal", "internal", &[]);
    empty["target"] = json!({"a": []});
    let mut unknown = app("timesheet", "internal", "internal", &[]);
    unknown["colour"] = json!("blue");
    let mut bad_ip = app("timesheet", "internal", "internal", &[]);
    bad_ip["target"] = json!({"a": ["300.1.1.1"]});
    for (body, status, kind) in [
        (bad_env, 400, "invalid-request"),
        (reserved, 400, "invalid-name"),
        (empty, 400, "invalid-request"),
        (unknown, 400, "invalid-body"),
        (bad_ip, 400, "invalid-body"),
    ] {
        let reply = f.post("/api/v1/apps", &hr, body.clone()).await;
        assert_problem(&reply, status, kind);
    }
    assert_eq!(serial(&f), before);
    assert!(f.get("/api/v1/apps", &hr).await.body["apps"].as_array().unwrap().is_empty());
}

fn preview(pr: u32, ttl_seconds: u64) -> Value {
    json!({"pr": pr, "target": {"a": ["192.0.2.42"]}, "ttl_seconds": ttl_seconds})
}

const PREVIEWS: &str = "/api/v1/apps/timesheet.hr.prod.apps.company.com/previews";
const PR_42: &str = "pr-42.timesheet.hr.preview.apps.company.com.";

/// The seeded fixture with timesheet registered, and a ci token of hr.
async fn with_app() -> (Fixture, String, String, String) {
    let (f, hr, ops) = seeded().await;
    let created = f.post("/api/v1/apps", &hr, app("timesheet", "internal", "internal", &[])).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let minted = f.post("/api/v1/teams/hr/tokens", &f.admin, json!({"role": "ci"})).await;
    let ci = minted.body["token"].as_str().unwrap().to_owned();
    (f, hr, ops, ci)
}

#[tokio::test]
async fn ci_creates_and_deletes_previews_of_its_team_only() {
    let (f, _, ops, ci) = with_app().await;
    let created = f.post(PREVIEWS, &ci, preview(42, 3600)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body,
        json!({"fqdn": "pr-42.timesheet.hr.preview.apps.company.com", "expires_at": "2023-11-14T23:13:20Z"})
    );
    assert_eq!(published(&f, PR_42), ["192.0.2.42"]);
    assert_problem(&f.post(PREVIEWS, &ci, preview(42, 3600)).await, 409, "conflict");
    assert_problem(&f.post(PREVIEWS, &ops, preview(43, 3600)).await, 403, "forbidden");
    let path = format!("{PREVIEWS}/pr-42");
    assert_problem(&f.call(Method::DELETE, &path, Some(&ops), None).await, 403, "forbidden");
    assert_eq!(f.call(Method::DELETE, &path, Some(&ci), None).await.status, StatusCode::NO_CONTENT);
    assert!(published(&f, PR_42).is_empty());
    assert_problem(&f.call(Method::DELETE, &path, Some(&ci), None).await, 404, "not-found");
}

#[tokio::test]
async fn preview_ttl_bounds_quota_and_missing_app() {
    let (f, hr, _, _) = with_app().await;
    let before = serial(&f);
    assert_problem(&f.post(PREVIEWS, &hr, preview(1, 0)).await, 400, "invalid-request");
    assert_problem(&f.post(PREVIEWS, &hr, preview(1, 25 * 3600)).await, 400, "invalid-request");
    let missing = "/api/v1/apps/nothing.hr.prod.apps.company.com/previews";
    assert_problem(&f.post(missing, &hr, preview(1, 60)).await, 404, "not-found");
    assert_eq!(serial(&f), before);
    let default = f.post(PREVIEWS, &hr, json!({"pr": 7, "target": {"cname": "lb.company.com"}})).await;
    assert_eq!(default.body["expires_at"], "2023-11-15T04:13:20Z", "6 h default: {}", default.body);

    f.post("/api/v1/teams", &f.admin, json!({"name": "fin", "quotas": {"previews": 1}})).await;
    let fin = f.post("/api/v1/teams/fin/tokens", &f.admin, json!({"role": "owner"})).await;
    let fin = fin.body["token"].as_str().unwrap().to_owned();
    let web = json!({"name": "web", "team": "fin", "env": "dev", "target": {"cname": "lb.company.com"},
                     "owner": "fin", "exposure": "internal", "data_class": "public"});
    assert_eq!(f.post("/api/v1/apps", &fin, web).await.status, StatusCode::CREATED);
    let path = "/api/v1/apps/web.fin.dev.apps.company.com/previews";
    assert_eq!(f.post(path, &fin, preview(1, 60)).await.status, StatusCode::CREATED);
    assert_problem(&f.post(path, &fin, preview(2, 60)).await, 400, "quota-exceeded");
}

#[tokio::test]
async fn the_reaper_removes_expired_previews_with_reason_expired() {
    let (f, hr, _, _) = with_app().await;
    f.post(PREVIEWS, &hr, preview(42, 2)).await;
    f.post(PREVIEWS, &hr, preview(43, 60)).await;
    let policy = f.state.config.policy.clone();
    let start = FixedClock.now();
    let early = crate::reaper::reap(&f.store, &policy, start + std::time::Duration::from_millis(1999)).unwrap();
    assert!(early.is_empty());
    assert_eq!(published(&f, PR_42), ["192.0.2.42"]);
    let reaped = crate::reaper::reap(&f.store, &policy, start + std::time::Duration::from_secs(2)).unwrap();
    assert_eq!(reaped, ["pr-42.timesheet.hr.preview.apps.company.com"]);
    assert!(published(&f, PR_42).is_empty());
    assert_eq!(published(&f, "pr-43.timesheet.hr.preview.apps.company.com."), ["192.0.2.42"]);
    let journal = f.store.journal(&Name::from_ascii("apps.company.com.").unwrap()).unwrap();
    let last = journal.last().unwrap();
    assert_eq!((last.author.as_str(), last.reason.as_str()), ("reaper", "expired"));
    // The entry went with the records: a second pass finds nothing.
    assert!(crate::reaper::reap(&f.store, &policy, start + std::time::Duration::from_secs(3)).unwrap().is_empty());
}
