//! Team TSIG keys through the route table, and the DNS UPDATE write path
//! ([`AppState::dns_update`]) they authorize.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use zones::{ChangeSet, Name, Op, RData, RRset, RecordType};

use super::tests::{assert_problem, seeded};

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

/// A change adding `fqdn` A 192.0.2.`last` to the platform zone.
fn add_a(fqdn: &str, last: u8) -> ChangeSet {
    let mut change = ChangeSet::new(&name("apps.company.com."), "dns", "test");
    let mut set = RRset::new(&name(fqdn), RecordType::A, 60);
    set.insert(RData::A(hickory_proto::rr::rdata::A::new(192, 0, 2, last)));
    change.push(Op::ReplaceRRset(set));
    change
}

#[tokio::test]
async fn owners_make_list_and_delete_keys_and_the_secret_is_shown_once() {
    let (f, hr, ops) = seeded().await;
    let made = f.post("/api/v1/teams/hr/tsig-keys", &hr, json!({"name": "HR-CI", "algorithm": "hmac-sha256"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!((made.body["name"].as_str(), made.body["algorithm"].as_str()), (Some("hr-ci."), Some("hmac-sha256")));
    let secret = data_encoding::BASE64.decode(made.body["secret"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(secret.len(), 32);

    let listed = f.get("/api/v1/teams/hr/tsig-keys", &hr).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let keys = listed.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["name"], "hr-ci.");
    assert!(keys[0].get("secret").is_none(), "no secret in the list: {}", listed.body);

    // Unique across teams; only the team's owners (or the admin) manage its keys.
    let taken = f.post("/api/v1/teams/ops/tsig-keys", &ops, json!({"name": "hr-ci.", "algorithm": "hmac-md5"})).await;
    assert_problem(&taken, 409, "conflict");
    assert_problem(
        &f.post("/api/v1/teams/hr/tsig-keys", &ops, json!({"name": "x", "algorithm": "hmac-md5"})).await,
        403,
        "forbidden",
    );
    assert_problem(&f.get("/api/v1/teams/hr/tsig-keys", &ops).await, 403, "forbidden");
    let bad_alg = f.post("/api/v1/teams/hr/tsig-keys", &hr, json!({"name": "x", "algorithm": "hmac-sha3"})).await;
    assert_problem(&bad_alg, 400, "invalid-request");
    let bad_name = f.post("/api/v1/teams/hr/tsig-keys", &hr, json!({"name": "a..b", "algorithm": "hmac-sha1"})).await;
    assert_problem(&bad_name, 400, "invalid-name");
    for algorithm in crate::TSIG_ALGORITHMS {
        let made = f
            .post(
                "/api/v1/teams/ops/tsig-keys",
                &f.admin,
                json!({"name": format!("ops-{algorithm}"), "algorithm": algorithm}),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{algorithm}: {}", made.body);
    }

    let path = "/api/v1/teams/hr/tsig-keys/hr-ci";
    assert_problem(&f.call(Method::DELETE, path, Some(&ops), None).await, 403, "forbidden");
    assert_eq!(f.call(Method::DELETE, path, Some(&hr), None).await.status, StatusCode::NO_CONTENT);
    assert_problem(&f.call(Method::DELETE, path, Some(&hr), None).await, 404, "not-found");
    assert_eq!(f.get("/api/v1/teams/hr/tsig-keys", &hr).await.body["keys"], json!([]));
    assert!(f.state.team_tsig_key("hr-ci.").unwrap().is_none());

    let audit = f.get("/api/v1/audit?team=hr", &f.admin).await.body["entries"].as_array().unwrap().clone();
    let actions: Vec<&str> = audit.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[actions.len() - 2..], ["tsig_key.create", "tsig_key.delete"]);
    assert_eq!(audit[audit.len() - 2]["target"], "hr-ci.");
    let log = serde_json::to_string(&audit).unwrap();
    assert!(!log.contains(made.body["secret"].as_str().unwrap()), "no secret in the audit log");
}

#[tokio::test]
async fn dns_updates_are_authorized_per_name_quota_checked_and_audited_with_the_key() {
    let (f, _hr, _ops) = seeded().await;
    let serial = f.state.dns_update("hr-ci.", "hr", add_a("web.hr.prod.apps.company.com.", 1)).unwrap();
    assert_eq!(serial, Some(2));
    let snapshot = f.store.snapshot();
    let zone = snapshot.get(&name("apps.company.com.")).unwrap();
    assert!(zone.rrset(&name("web.hr.prod.apps.company.com."), RecordType::A).is_some());
    // The same again changes nothing and writes nothing.
    assert_eq!(f.state.dns_update("hr-ci.", "hr", add_a("web.hr.prod.apps.company.com.", 1)).unwrap(), None);

    let denied = f.state.dns_update("hr-ci.", "hr", add_a("web.ops.prod.apps.company.com.", 1)).unwrap_err();
    assert!(matches!(denied, crate::ApiError::Forbidden(_)), "{denied:?}");
    let apex = f.state.dns_update("hr-ci.", "hr", add_a("apps.company.com.", 1)).unwrap_err();
    assert!(matches!(apex, crate::ApiError::Forbidden(_)), "{apex:?}");

    let qa = f.post("/api/v1/teams", &f.admin, json!({"name": "qa", "quotas": {"records": 1}})).await;
    assert_eq!(qa.status, StatusCode::CREATED, "{}", qa.body);
    let mut two = add_a("a.qa.prod.apps.company.com.", 1);
    let mut set = RRset::new(&name("b.qa.prod.apps.company.com."), RecordType::A, 60);
    set.insert(RData::A(hickory_proto::rr::rdata::A::new(192, 0, 2, 2)));
    two.push(Op::ReplaceRRset(set));
    let over = f.state.dns_update("qa-ci.", "qa", two).unwrap_err();
    assert!(matches!(over, crate::ApiError::QuotaExceeded(_)), "{over:?}");
    assert_eq!(f.store.snapshot().get(&name("apps.company.com.")).unwrap().serial(), 2, "nothing applied");

    let entries = f.get("/api/v1/audit?team=hr", &f.admin).await.body["entries"].as_array().unwrap().clone();
    let update: &Value = entries.iter().find(|e| e["action"] == "dns.update").unwrap();
    assert_eq!(update["who"], json!({"tsig_key": "hr-ci.", "team": "hr"}));
    assert_eq!(update["target"], "apps.company.com");
    assert_eq!(update["changes"][0]["author"], "tsig:hr-ci. team:hr");
    assert_eq!(entries.iter().filter(|e| e["action"] == "dns.update").count(), 1);
}
