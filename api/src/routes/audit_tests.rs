//! The audit log, loose ends of apps (decommission takes the previews,
//! approval re-checks the records quota) and team regions, through the
//! route table.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use zones::{Name, RecordType};

use super::tests::{Fixture, assert_problem, seeded};

fn app(name: &str, exposure: &str, data_class: &str) -> Value {
    json!({"name": name, "team": "hr", "env": "prod", "target": {"a": ["192.0.2.10"]},
           "owner": "hr-oncall@company.com", "exposure": exposure, "data_class": data_class})
}

/// The audit entries `token` reads with `query`.
async fn audit(f: &Fixture, token: &str, query: &str) -> Vec<Value> {
    let reply = f.get(&format!("/api/v1/audit{query}"), token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["entries"].as_array().unwrap().clone()
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

fn replace_a(name: &str, content: &str) -> Value {
    json!({"rrsets": [{"name": name, "type": "A", "ttl": 60, "changetype": "REPLACE",
                       "records": [{"content": content}]}]})
}

fn delete_a(name: &str) -> Value {
    json!({"rrsets": [{"name": name, "type": "A", "changetype": "DELETE", "records": []}]})
}

async fn patch(f: &Fixture, token: &str, body: Value) -> super::tests::Reply {
    let path = "/api/v1/zones/apps.company.com/rrsets";
    f.call(Method::PATCH, path, Some(token), Some(&body.to_string())).await
}

fn has_record(f: &Fixture, fqdn: &str, rtype: RecordType) -> bool {
    let snapshot = f.store.snapshot();
    let zone = snapshot.get(&Name::from_ascii("apps.company.com.").unwrap()).unwrap();
    zone.rrset(&Name::from_ascii(fqdn).unwrap(), rtype).is_some()
}

#[tokio::test]
async fn every_change_is_audited_with_who_what_why_and_serials() {
    let (f, hr, ops) = seeded().await;
    let created = f.post("/api/v1/apps", &hr, app("timesheet", "internal", "internal")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let hr_id = f.get("/api/v1/audit?team=hr", &f.admin).await.body["entries"][1]["target"].clone();

    let all = audit(&f, &f.admin, "").await;
    // The first start's admin token (with team platform), then hr's and ops's team and owner token.
    assert_eq!(
        actions(&all),
        ["token.create", "team.create", "token.create", "team.create", "token.create", "app.register"]
    );
    assert_eq!(all[0]["who"], json!({"system": "bootstrap"}));
    let ids: Vec<u64> = all.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=6).collect::<Vec<_>>());
    let register = &all[5];
    assert_eq!((register["team"].as_str(), register["who"]["team"].as_str()), (Some("hr"), Some("hr")));
    assert_eq!(register["target"], "timesheet.hr.prod.apps.company.com");
    assert_eq!(register["why"]["gate"], "auto");
    assert_eq!(register["at"], "2023-11-14T22:13:20.000Z");
    let change = &register["changes"][0];
    assert_eq!((change["zone"].as_str(), change["serial_before"].as_u64()), (Some("apps.company.com."), Some(1)));
    assert_eq!(change["serial_after"], 2);
    let added: Vec<&str> = change["added"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(added.contains(&"timesheet.hr.prod.apps.company.com. 300 IN A 192.0.2.10"), "{added:?}");
    assert!(added[0].contains(" SOA "), "the new SOA first: {added:?}");
    assert_eq!(register["who"]["token_id"], hr_id, "the hr owner token minted for the fixture");

    // Teams read their own entries only.
    assert_eq!(actions(&audit(&f, &hr, "").await), ["team.create", "token.create", "app.register"]);
    assert_eq!(actions(&audit(&f, &ops, "").await), ["team.create", "token.create"]);
    assert_problem(&f.get("/api/v1/audit?team=hr", &ops).await, 403, "forbidden");
    assert_problem(&f.call(Method::GET, "/api/v1/audit", None, None).await, 401, "unauthorized");

    // Paging: the newest `limit` without a cursor, forward from `after` or `since`.
    assert_eq!(audit(&f, &f.admin, "?limit=2").await.iter().map(|e| &e["id"]).collect::<Vec<_>>(), [5, 6]);
    assert_eq!(audit(&f, &f.admin, "?after=4&limit=1").await[0]["id"], 5);
    assert_eq!(audit(&f, &f.admin, "?since=2023-11-14T22:13:20Z&limit=1").await[0]["id"], 1);
    assert!(audit(&f, &f.admin, "?since=2023-11-14T22:13:21Z").await.is_empty());
    for bad in ["?limit=0", "?limit=1001", "?since=yesterday", "?after=x", "?colour=red"] {
        assert_problem(&f.get(&format!("/api/v1/audit{bad}"), &f.admin).await, 400, "invalid-request");
    }
}

#[tokio::test]
async fn refused_writes_leave_no_audit_entry() {
    let (f, _hr, ops) = seeded().await;
    let before = audit(&f, &f.admin, "").await.len();
    let denied = f.post("/api/v1/apps", &ops, app("timesheet", "internal", "internal")).await;
    assert_problem(&denied, 403, "forbidden");
    let bad = patch(&f, &f.admin, replace_a("x.hr.prod.apps.company.com.", "not an address")).await;
    assert_problem(&bad, 400, "invalid-records");
    assert_eq!(audit(&f, &f.admin, "").await.len(), before);
}

#[tokio::test]
async fn decommissioning_an_app_removes_its_previews() {
    let (f, hr, _) = seeded().await;
    f.post("/api/v1/apps", &hr, app("web", "internal", "internal")).await;
    for pr in [1, 2] {
        let body = json!({"pr": pr, "target": {"cname": "lb.company.com."}, "ttl_seconds": 3600});
        let made = f.post("/api/v1/apps/web.hr.prod.apps.company.com/previews", &hr, body).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    }
    assert!(has_record(&f, "pr-1.web.hr.preview.apps.company.com.", RecordType::CNAME));
    let gone = f.call(Method::DELETE, "/api/v1/apps/web.hr.prod.apps.company.com", Some(&hr), None).await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
    for pr in [1, 2] {
        assert!(!has_record(&f, &format!("pr-{pr}.web.hr.preview.apps.company.com."), RecordType::CNAME));
    }
    assert!(crate::previews_catalog::list(&f.store).unwrap().is_empty(), "catalog entries removed too");
    let last = audit(&f, &hr, "?limit=1").await;
    assert_eq!(last[0]["action"], "app.decommission");
    assert_eq!(
        last[0]["why"]["previews_removed"],
        json!(["pr-1.web.hr.preview.apps.company.com", "pr-2.web.hr.preview.apps.company.com"])
    );
    assert_eq!(last[0]["changes"].as_array().unwrap().len(), 3, "the app's and both previews' change sets");
}

#[tokio::test]
async fn approval_rechecks_the_records_quota_and_the_name() {
    let (f, _, _) = seeded().await;
    let team = f.post("/api/v1/teams", &f.admin, json!({"name": "fin", "quotas": {"records": 1}})).await;
    assert_eq!(team.status, StatusCode::CREATED, "{}", team.body);
    let fin = f.post("/api/v1/teams/fin/tokens", &f.admin, json!({"role": "owner"})).await;
    let fin = fin.body["token"].as_str().unwrap().to_owned();
    let mut held = app("ledger", "external", "restricted");
    held["team"] = json!("fin");
    let created = f.post("/api/v1/apps", &fin, held).await;
    assert_eq!(created.body["status"], "pending", "{}", created.body);
    let review = created.body["review"].as_str().unwrap().to_owned();
    // While it waits, the team fills its one-record quota.
    let (other, ledger) = ("other.fin.prod.apps.company.com.", "ledger.fin.prod.apps.company.com.");
    assert_eq!(patch(&f, &fin, replace_a(other, "192.0.2.1")).await.status, StatusCode::NO_CONTENT);
    let approve = json!({"decision": "approve"});
    let over = f.post(&format!("/api/v1/reviews/{review}"), &f.admin, approve.clone()).await;
    assert_problem(&over, 400, "quota-exceeded");
    assert!(!has_record(&f, ledger, RecordType::A));
    // With room again, a record written at the app's own name meanwhile is a conflict.
    assert_eq!(patch(&f, &fin, delete_a(other)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(patch(&f, &fin, replace_a(ledger, "192.0.2.1")).await.status, StatusCode::NO_CONTENT);
    let taken = f.post(&format!("/api/v1/reviews/{review}"), &f.admin, approve.clone()).await;
    assert_problem(&taken, 409, "conflict");
    assert_eq!(patch(&f, &fin, delete_a(ledger)).await.status, StatusCode::NO_CONTENT);
    let approved = f.post(&format!("/api/v1/reviews/{review}"), &f.admin, approve).await;
    assert_eq!((approved.status, approved.body["status"].as_str()), (StatusCode::OK, Some("approved")));
    assert!(has_record(&f, "ledger.fin.prod.apps.company.com.", RecordType::A));
}
