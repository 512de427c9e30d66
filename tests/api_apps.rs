//! Apps through the management API against the real binary, checked over
//! DNS: an internal app answered right after its `201`, an external app
//! with restricted data held in review (NXDOMAIN) until the admin approves
//! it, ci tokens refused, and apps and pending reviews surviving a restart;
//! a preview created by a ci token answered, then gone once it expires.

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use nameplate_tests::Server;
use nameplate_tests::api::{Api, admin_token, ask, mint, start};
use nameplate_tests::dns::{self, rcode};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A running nameplate with team `hr` and clients for an hr owner and an hr
/// ci token.
struct HrTeam {
    work: TempDir,
    data: PathBuf,
    server: Server,
    owner: Api,
    ci: Api,
}

impl HrTeam {
    fn start() -> Self {
        let work = tempfile::tempdir().expect("work dir");
        let data = work.path().join("data");
        let (server, anon) = start(&data);
        let admin = anon.with_token(&admin_token(&data).expect("admin.token"));
        admin.post("/api/v1/teams", &json!({"name": "hr"})).expect("team").expect_status(201).expect("201");
        let owner = anon.with_token(&mint(&admin, "hr", "owner"));
        let ci = anon.with_token(&mint(&admin, "hr", "ci"));
        Self { work, data, server, owner, ci }
    }
}

fn app(name: &str, exposure: &str, data_class: &str, address: &str) -> Value {
    json!({"name": name, "team": "hr", "env": "prod", "target": {"a": [address]},
           "owner": "hr-oncall@company.com", "exposure": exposure, "data_class": data_class})
}

const TIMESHEET: &str = "timesheet.hr.prod.apps.company.com";
const PAYROLL: &str = "payroll.hr.prod.apps.company.com";

fn assert_answered(server: &Server, qname: &str, address: &str) {
    let reply = ask(server, qname, RecordType::A);
    assert_eq!((reply.rcode, reply.aa), (rcode::NOERROR, true), "{reply}");
    dns::assert_section(&reply.answer, &[&format!("{qname}. 300 A {address}")], "A");
}

fn assert_nxdomain(server: &Server, qname: &str) {
    let reply = ask(server, qname, RecordType::A);
    assert_eq!((reply.rcode, reply.aa), (rcode::NXDOMAIN, true), "{reply}");
}

#[test]
fn apps_and_reviews_over_dns() {
    let HrTeam { work: _work, data, server, owner, ci } = HrTeam::start();

    // Internal app, internal data: auto, answered right after the 201.
    let created = owner.post("/api/v1/apps", &app("timesheet", "internal", "internal", "192.0.2.10")).expect("app");
    created.expect_status(201).expect("201");
    assert_eq!(
        (created.str("gate").expect("gate"), created.str("status").expect("status")),
        ("auto".into(), "live".into())
    );
    assert_eq!(created.str("fqdn").expect("fqdn"), TIMESHEET);
    assert_answered(&server, TIMESHEET, "192.0.2.10");

    // ci tokens may not register apps.
    let refused = ci.post("/api/v1/apps", &app("sneaky", "internal", "internal", "192.0.2.66")).expect("ci");
    refused.expect_problem(403, "forbidden").expect("403");
    assert_nxdomain(&server, "sneaky.hr.prod.apps.company.com");

    // External + restricted: review, not answered.
    let held = owner.post("/api/v1/apps", &app("payroll", "external", "restricted", "192.0.2.20")).expect("app");
    held.expect_status(201).expect("201");
    assert_eq!(
        (held.str("gate").expect("gate"), held.str("status").expect("status")),
        ("review".into(), "pending".into())
    );
    let review = held.str("review").expect("review id");
    assert_nxdomain(&server, PAYROLL);
    server.stop().expect("stop");

    // Apps and the pending review survive a restart.
    let (server, anon) = start(&data);
    let admin = anon.with_token(&admin_token(&data).expect("admin.token"));
    assert_answered(&server, TIMESHEET, "192.0.2.10");
    assert_nxdomain(&server, PAYROLL);
    let apps = admin.get("/api/v1/apps?team=hr").expect("apps").expect_status(200).expect("200").body.clone();
    let statuses: Vec<(&str, &str)> = apps["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .map(|a| (a["fqdn"].as_str().unwrap_or(""), a["status"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(statuses, [(PAYROLL, "pending"), (TIMESHEET, "live")]);
    let queue = admin.get("/api/v1/reviews").expect("reviews").expect_status(200).expect("200").body.clone();
    assert_eq!(queue["reviews"][0]["id"], review.as_str(), "{queue}");
    assert_eq!(queue["reviews"][0]["status"], "pending");

    // The admin approves: answered at once.
    let approved = admin
        .post(&format!("/api/v1/reviews/{review}"), &json!({"decision": "approve", "comment": "pen test done"}))
        .expect("approve");
    approved.expect_status(200).expect("200");
    assert_answered(&server, PAYROLL, "192.0.2.20");

    // Decommission: records gone, entry kept.
    let owner = anon.with_token(&mint(&admin, "hr", "owner"));
    let gone = owner.delete(&format!("/api/v1/apps/{TIMESHEET}")).expect("delete");
    gone.expect_status(200).expect("200");
    assert_nxdomain(&server, TIMESHEET);
    let kept = owner.get(&format!("/api/v1/apps/{TIMESHEET}")).expect("show");
    assert_eq!(kept.str("status").expect("status"), "decommissioned");
    server.stop().expect("stop");
}

/// How long a 2 s preview may take to disappear (generous: no speed test).
const EXPIRY_DEADLINE: Duration = Duration::from_secs(10);

#[test]
fn previews_expire_over_dns() {
    let HrTeam { work: _work, data: _, server, owner, ci } = HrTeam::start();
    owner
        .post("/api/v1/apps", &app("timesheet", "internal", "internal", "192.0.2.10"))
        .expect("app")
        .expect_status(201)
        .expect("201");

    let pr42 = "pr-42.timesheet.hr.preview.apps.company.com";
    let previews = format!("/api/v1/apps/{TIMESHEET}/previews");
    let body = json!({"pr": 42, "target": {"a": ["192.0.2.42"]}, "ttl_seconds": 2});
    let created = ci.post(&previews, &body).expect("preview");
    created.expect_status(201).expect("201");
    assert_eq!(created.str("fqdn").expect("fqdn"), pr42);
    assert!(created.str("expires_at").expect("expires_at").ends_with('Z'), "{}", created.body);
    assert_answered(&server, pr42, "192.0.2.42");

    let deadline = Instant::now() + EXPIRY_DEADLINE;
    loop {
        let reply = ask(&server, pr42, RecordType::A);
        if reply.rcode == rcode::NXDOMAIN {
            break;
        }
        assert!(Instant::now() < deadline, "{pr42} still answered after {EXPIRY_DEADLINE:?}: {reply}");
        thread::sleep(Duration::from_millis(100));
    }
    assert_answered(&server, TIMESHEET, "192.0.2.10");

    // Deleted early by the ci token.
    let body = json!({"pr": 43, "target": {"cname": "lb.company.com"}, "ttl_seconds": 3600});
    ci.post(&previews, &body).expect("preview").expect_status(201).expect("201");
    ci.delete(&format!("{previews}/pr-43")).expect("delete").expect_status(204).expect("204");
    assert_nxdomain(&server, "pr-43.timesheet.hr.preview.apps.company.com");
    server.stop().expect("stop");
}
