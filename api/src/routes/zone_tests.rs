//! Zones and RRsets through the route table, over a store seeded with the
//! platform zone apps.company.com.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::tests::{Fixture, Reply, assert_problem, seeded};

impl Fixture {
    async fn patch(&self, zone: &str, token: &str, body: Value) -> Reply {
        let path = format!("/api/v1/zones/{zone}/rrsets");
        self.call(Method::PATCH, &path, Some(token), Some(&body.to_string())).await
    }

    async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    async fn mint(&self, team: &str, role: &str) -> String {
        let minted = self.post(&format!("/api/v1/teams/{team}/tokens"), &self.admin, json!({"role": role})).await;
        minted.body["token"].as_str().unwrap().to_owned()
    }

    /// The RRsets and serial of `zone`, as the admin reads them.
    async fn state_of(&self, zone: &str) -> (Value, Value) {
        let rrsets = self.get(&format!("/api/v1/zones/{zone}/rrsets"), &self.admin).await.body;
        let serial = self.get(&format!("/api/v1/zones/{zone}"), &self.admin).await.body["serial"].clone();
        (rrsets, serial)
    }
}

fn rrset(name: &str, rtype: &str, ttl: u32, contents: &[&str]) -> Value {
    let records: Vec<Value> = contents.iter().map(|c| json!({"content": c})).collect();
    json!({"name": name, "type": rtype, "ttl": ttl, "changetype": "REPLACE", "records": records})
}

fn find<'a>(rrsets: &'a Value, name: &str, rtype: &str) -> Option<&'a Value> {
    rrsets["rrsets"].as_array().unwrap().iter().find(|s| s["name"] == name && s["type"] == rtype)
}

#[tokio::test]
async fn an_owner_delegates_its_hosted_zone_in_one_transaction() {
    let (f, hr, ops) = seeded().await;
    let body = json!({"name": "hr.apps.company.com", "team": "hr", "kind": "hosted"});
    let member = f.mint("hr", "member").await;
    assert_problem(&f.post("/api/v1/zones", &member, body.clone()).await, 403, "forbidden");
    let stolen = f.post("/api/v1/zones", &ops, body.clone()).await;
    assert_problem(&stolen, 403, "forbidden");
    assert!(stolen.body["detail"].as_str().unwrap().contains("team ops"), "{}", stolen.body);

    let created = f.post("/api/v1/zones", &hr, body.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        (created.body["name"].as_str(), created.body["kind"].as_str(), created.body["serial"].as_u64()),
        (Some("hr.apps.company.com"), Some("hosted"), Some(1))
    );
    assert_problem(&f.post("/api/v1/zones", &hr, body).await, 409, "conflict");

    let (child, _) = f.state_of("hr.apps.company.com").await;
    assert!(find(&child, "hr.apps.company.com.", "SOA").is_some(), "{child}");
    let ns = find(&child, "hr.apps.company.com.", "NS").unwrap();
    assert_eq!(
        ns["records"],
        json!([{"content": "ns1.apps.company.com.", "disabled": false}, {"content": "ns2.apps.company.com.", "disabled": false}])
    );
    let (parent, serial) = f.state_of("apps.company.com").await;
    assert_eq!(find(&parent, "hr.apps.company.com.", "NS").unwrap()["records"], ns["records"]);
    assert_eq!(serial, 2, "one change set in the parent");

    let listed = f.get("/api/v1/zones", &hr).await.body;
    assert_eq!(listed["zones"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(f.get("/api/v1/zones", &ops).await.body["zones"], json!([]));
    assert_eq!(f.get("/api/v1/zones", &f.admin).await.body["zones"].as_array().unwrap().len(), 2);
    assert_problem(&f.get("/api/v1/zones/hr.apps.company.com", &ops).await, 403, "forbidden");
    assert_problem(&f.get("/api/v1/zones/nope.apps.company.com", &ops).await, 404, "not-found");

    // The owner writes its own zone; ops may not.
    let own = f
        .patch(
            "hr.apps.company.com",
            &hr,
            json!({"rrsets": [rrset("www.hr.apps.company.com", "A", 60, &["192.0.2.8"])]}),
        )
        .await;
    assert_eq!(own.status, StatusCode::NO_CONTENT, "{}", own.body);
    let theirs = f
        .patch(
            "hr.apps.company.com",
            &ops,
            json!({"rrsets": [rrset("x.hr.apps.company.com", "A", 60, &["192.0.2.9"])]}),
        )
        .await;
    assert_problem(&theirs, 403, "forbidden");

    assert_problem(&f.delete("/api/v1/zones/hr.apps.company.com", &ops).await, 403, "forbidden");
    assert_eq!(f.delete("/api/v1/zones/hr.apps.company.com", &hr).await.status, StatusCode::NO_CONTENT);
    assert!(f.store.snapshot().get(&zones::Name::from_ascii("hr.apps.company.com.").unwrap()).is_none());
    let (parent, _) = f.state_of("apps.company.com").await;
    assert!(find(&parent, "hr.apps.company.com.", "NS").is_none(), "{parent}");
    assert_problem(&f.get("/api/v1/zones/hr.apps.company.com", &hr).await, 404, "not-found");
}

#[tokio::test]
async fn the_scheme_and_quotas_bound_delegations() {
    let (f, hr, _) = seeded().await;
    let wrong_team = json!({"name": "ops.apps.company.com", "team": "hr", "kind": "hosted"});
    assert_problem(&f.post("/api/v1/zones", &f.admin, wrong_team).await, 400, "invalid-request");
    let deep = json!({"name": "x.hr.apps.company.com", "team": "hr", "kind": "hosted"});
    assert_problem(&f.post("/api/v1/zones", &hr, deep).await, 400, "invalid-request");
    let outside = json!({"name": "hr.example.com", "team": "hr", "kind": "hosted"});
    assert_problem(&f.post("/api/v1/zones", &f.admin, outside).await, 400, "invalid-request");
    let kind = json!({"name": "hr.apps.company.com", "team": "hr", "kind": "secondary"});
    assert_problem(&f.post("/api/v1/zones", &hr, kind).await, 400, "invalid-body");

    let capped = f.post("/api/v1/teams", &f.admin, json!({"name": "fin", "quotas": {"hosted_zones": 0}})).await;
    assert_eq!(capped.status, StatusCode::CREATED, "{}", capped.body);
    assert_eq!(capped.body["quotas"]["hosted_zones"], 0);
    let over = f
        .post("/api/v1/zones", &f.admin, json!({"name": "fin.apps.company.com", "team": "fin", "kind": "hosted"}))
        .await;
    assert_problem(&over, 400, "quota-exceeded");
    let (_, serial) = f.state_of("apps.company.com").await;
    assert_eq!(serial, 1, "nothing applied");
    let reserved = f.post("/api/v1/teams", &f.admin, json!({"name": "prod"})).await;
    assert_problem(&reserved, 400, "invalid-name");
    assert!(reserved.body["detail"].as_str().unwrap().contains("environment"), "{}", reserved.body);
    assert_problem(&f.post("/api/v1/teams", &f.admin, json!({"name": "ns1"})).await, 400, "invalid-name");
}

#[tokio::test]
async fn an_external_delegation_is_a_cut_with_glue() {
    let (f, _, ops) = seeded().await;
    let no_glue = json!({"name": "ops.apps.company.com", "team": "ops", "kind": "external",
        "nameservers": [{"name": "ns1.ops.apps.company.com"}]});
    assert_problem(&f.post("/api/v1/zones", &f.admin, no_glue).await, 400, "invalid-request");
    let body = json!({"name": "ops.apps.company.com", "team": "ops", "kind": "external",
        "nameservers": [{"name": "ns1.ops.apps.company.com", "addresses": ["192.0.2.53", "2001:db8::53"]},
                        {"name": "ns.example.net."}]});
    let created = f.post("/api/v1/zones", &f.admin, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["kind"], "external");
    let (parent, _) = f.state_of("apps.company.com").await;
    assert_eq!(find(&parent, "ops.apps.company.com.", "NS").unwrap()["records"].as_array().unwrap().len(), 2);
    assert_eq!(find(&parent, "ns1.ops.apps.company.com.", "A").unwrap()["records"][0]["content"], "192.0.2.53");
    assert!(find(&parent, "ns1.ops.apps.company.com.", "AAAA").is_some());
    assert!(f.store.snapshot().get(&zones::Name::from_ascii("ops.apps.company.com.").unwrap()).is_none());
    // External zones' names belong to the platform zone's cut: the team may not write there.
    let write = f
        .patch("apps.company.com", &ops, json!({"rrsets": [rrset("x.ops.apps.company.com", "A", 60, &["192.0.2.1"])]}))
        .await;
    assert_problem(&write, 403, "forbidden");
    assert_eq!(f.delete("/api/v1/zones/ops.apps.company.com", &ops).await.status, StatusCode::NO_CONTENT);
    let (parent, _) = f.state_of("apps.company.com").await;
    assert!(find(&parent, "ns1.ops.apps.company.com.", "A").is_none(), "{parent}");
    assert!(find(&parent, "ops.apps.company.com.", "NS").is_none(), "{parent}");
}

#[tokio::test]
async fn patches_are_authorized_validated_and_atomic() {
    let (f, hr, ops) = seeded().await;
    let a = rrset("timesheet.hr.prod.apps.company.com", "A", 300, &["192.0.2.10", "192.0.2.11"]);
    let done = f.patch("apps.company.com", &hr, json!({"rrsets": [a]})).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    let (before, serial) = f.state_of("apps.company.com").await;
    let set = find(&before, "timesheet.hr.prod.apps.company.com.", "A").unwrap();
    assert_eq!((set["ttl"].as_u64(), set["records"].as_array().unwrap().len()), (Some(300), 2));
    assert_eq!(serial, 2);
    let journal = f.store.journal(&zones::Name::from_ascii("apps.company.com.").unwrap()).unwrap();
    let last = journal.last().unwrap();
    assert!(last.author.starts_with("token:") && last.author.ends_with("team:hr"), "{}", last.author);
    assert_eq!(last.reason, "api");

    let member = f.mint("hr", "member").await;
    let ci = f.mint("hr", "ci").await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            &ops,
            json!({"rrsets": [rrset("timesheet.hr.prod.apps.company.com", "A", 60, &["192.0.2.1"])]}),
            403,
            "forbidden",
        ),
        (&hr, json!({"rrsets": [rrset("x.ops.prod.apps.company.com", "A", 60, &["192.0.2.1"])]}), 403, "forbidden"),
        (&member, json!({"rrsets": [rrset("x.ops.prod.apps.company.com", "A", 60, &["192.0.2.1"])]}), 403, "forbidden"),
        (&ci, json!({"rrsets": [rrset("x.hr.prod.apps.company.com", "A", 60, &["192.0.2.1"])]}), 403, "forbidden"),
        (&hr, json!({"rrsets": [rrset("apps.company.com", "NS", 60, &["ns9.example.com."])]}), 403, "forbidden"),
        (&hr, json!({"rrsets": [rrset("x.example.com", "A", 60, &["192.0.2.1"])]}), 403, "forbidden"),
        (
            &hr,
            json!({"rrsets": [rrset("x.hr.prod.apps.company.com", "A", 60, &["999.1.1.1"])]}),
            400,
            "invalid-records",
        ),
        (
            &hr,
            json!({"rrsets": [rrset("x.hr.prod.apps.company.com", "A", 4_294_967_295, &["192.0.2.1"])]}),
            400,
            "invalid-records",
        ),
        (
            &hr,
            json!({"rrsets": [{"name": "x.hr.prod.apps.company.com", "type": "A", "ttl": 60, "changetype": "MERGE", "records": []}]}),
            400,
            "invalid-body",
        ),
        (&hr, json!({"rrsets": [rrset("x.hr.prod.apps.company.com", "BOGUS", 60, &["1"])]}), 400, "invalid-request"),
        (
            &hr,
            json!({"rrsets": [rrset("timesheet.hr.prod.apps.company.com", "CNAME", 60, &["other.example.com."])]}),
            400,
            "invalid-records",
        ),
        (
            &hr,
            json!({"rrsets": [{"name": "x.hr.prod.apps.company.com", "type": "A", "changetype": "REPLACE", "records": [{"content": "192.0.2.1"}]}]}),
            400,
            "invalid-request",
        ),
        (
            &hr,
            json!({"rrsets": [
            rrset("ok.hr.prod.apps.company.com", "A", 60, &["192.0.2.1"]),
            rrset("bad.hr.prod.apps.company.com", "AAAA", 60, &["192.0.2.1"])]}),
            400,
            "invalid-records",
        ),
        (
            &hr,
            json!({"rrsets": [
            rrset("ok.hr.prod.apps.company.com", "A", 60, &["192.0.2.1"]),
            rrset("ok.hr.prod.apps.company.com", "A", 60, &["192.0.2.2"])]}),
            400,
            "invalid-request",
        ),
    ];
    for (token, body, status, kind) in cases {
        let reply = f.patch("apps.company.com", token, body.clone()).await;
        assert_problem(&reply, status, kind);
        assert_eq!(f.state_of("apps.company.com").await, (before.clone(), serial.clone()), "changed by {body}");
    }
    let detail = f
        .patch(
            "apps.company.com",
            &hr,
            json!({"rrsets": [rrset("x.hr.prod.apps.company.com", "A", 60, &["999.1.1.1"])]}),
        )
        .await;
    assert!(detail.body["detail"].as_str().unwrap().contains("999.1.1.1"), "{}", detail.body);
    let cname = f
        .patch(
            "apps.company.com",
            &hr,
            json!({"rrsets": [rrset("timesheet.hr.prod.apps.company.com", "CNAME", 60, &["o.example.com."])]}),
        )
        .await;
    assert!(cname.body["detail"].as_str().unwrap().contains("CNAME"), "{}", cname.body);

    let member_write = f
        .patch(
            "apps.company.com",
            &member,
            json!({"rrsets": [
        {"name": "timesheet.hr.prod.apps.company.com.", "type": "A", "changetype": "DELETE"}]}),
        )
        .await;
    assert_eq!(member_write.status, StatusCode::NO_CONTENT, "{}", member_write.body);
    let (after, _) = f.state_of("apps.company.com").await;
    assert!(find(&after, "timesheet.hr.prod.apps.company.com.", "A").is_none());
    assert_problem(&f.patch("nope.apps.company.com", &hr, json!({"rrsets": []})).await, 404, "not-found");
}

#[tokio::test]
async fn the_records_quota_counts_the_team_s_records() {
    let (f, _, _) = seeded().await;
    let capped = f.post("/api/v1/teams", &f.admin, json!({"name": "fin", "quotas": {"records": 2}})).await;
    assert_eq!(capped.status, StatusCode::CREATED, "{}", capped.body);
    let fin = f.mint("fin", "owner").await;
    let two = rrset("a.fin.dev.apps.company.com", "A", 60, &["192.0.2.1", "192.0.2.2"]);
    assert_eq!(f.patch("apps.company.com", &fin, json!({"rrsets": [two]})).await.status, StatusCode::NO_CONTENT);
    let third = rrset("b.fin.dev.apps.company.com", "A", 60, &["192.0.2.3"]);
    let over = f.patch("apps.company.com", &fin, json!({"rrsets": [third.clone()]})).await;
    assert_problem(&over, 400, "quota-exceeded");
    let swap = json!({"rrsets": [third, {"name": "a.fin.dev.apps.company.com", "type": "A", "changetype": "DELETE"}]});
    assert_eq!(
        f.patch("apps.company.com", &fin, swap).await.status,
        StatusCode::NO_CONTENT,
        "a delta within the quota"
    );
}
