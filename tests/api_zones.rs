//! Zone delegation and RRset changes through the management API against the
//! real binary, checked over DNS: a hosted team zone answered by its child
//! zone, an external zone answered with a referral and glue, a PATCHed record
//! answered at once, cross-team writes and bad input refused with nothing
//! changed, and all of it surviving a restart.

use std::path::Path;

use hickory_proto::rr::RecordType;
use nameplate_tests::Server;
use nameplate_tests::api::{Api, admin_token, ask, mint, start};
use nameplate_tests::dns::{self, rcode};
use serde_json::{Value, json};

const RRSETS: &str = "/api/v1/zones/apps.company.com/rrsets";

fn replace(name: &str, rtype: &str, ttl: u64, contents: &[&str]) -> Value {
    let records: Vec<Value> = contents.iter().map(|c| json!({"content": c})).collect();
    json!({"rrsets": [{"name": name, "type": rtype, "ttl": ttl, "changetype": "REPLACE", "records": records}]})
}

/// The platform zone's RRsets and serial, as the admin reads them.
fn platform_state(admin: &Api) -> (Value, Value) {
    let rrsets = admin.get(RRSETS).expect("rrsets").expect_status(200).expect("200").body.clone();
    let serial = admin.get("/api/v1/zones/apps.company.com").expect("zone").body["serial"].clone();
    assert!(serial.is_u64(), "{serial}");
    (rrsets, serial)
}

/// The checks that must hold before and after a restart.
fn check_dns(server: &Server) {
    let soa = ask(server, "hr.apps.company.com", RecordType::SOA);
    assert_eq!((soa.rcode, soa.aa), (rcode::NOERROR, true), "{soa}");
    assert!(soa.answer.iter().any(|r| r.starts_with("hr.apps.company.com. 3600 SOA ")), "{soa}");
    let ns = ask(server, "hr.apps.company.com", RecordType::NS);
    assert_eq!((ns.rcode, ns.aa), (rcode::NOERROR, true), "the child answers for its apex: {ns}");
    dns::assert_section(
        &ns.answer,
        &["hr.apps.company.com. 3600 NS ns1.apps.company.com.", "hr.apps.company.com. 3600 NS ns2.apps.company.com."],
        "hosted NS",
    );
    let missing = ask(server, "nothing.hr.apps.company.com", RecordType::A);
    assert_eq!((missing.rcode, missing.aa), (rcode::NXDOMAIN, true), "{missing}");
    assert!(missing.authority.iter().any(|r| r.starts_with("hr.apps.company.com. ")), "child SOA: {missing}");

    let referral = ask(server, "x.ops.apps.company.com", RecordType::A);
    assert_eq!((referral.rcode, referral.aa), (rcode::NOERROR, false), "{referral}");
    assert!(referral.answer.is_empty(), "{referral}");
    dns::assert_section(&referral.authority, &["ops.apps.company.com. 3600 NS ns1.ops.apps.company.com."], "cut");
    dns::assert_section(&referral.additional, &["ns1.ops.apps.company.com. 3600 A 192.0.2.53"], "glue");

    let timesheet = ask(server, "timesheet.hr.prod.apps.company.com", RecordType::A);
    assert_eq!((timesheet.rcode, timesheet.aa), (rcode::NOERROR, true), "{timesheet}");
    dns::assert_section(&timesheet.answer, &["timesheet.hr.prod.apps.company.com. 300 A 192.0.2.10"], "A");
}

#[test]
fn delegations_and_patches_over_dns() {
    let work = tempfile::tempdir().expect("work dir");
    let data = work.path().join("data");
    let (server, anon) = start(&data);
    let admin = anon.with_token(&admin_token(&data).expect("admin.token"));
    for team in ["hr", "ops"] {
        admin.post("/api/v1/teams", &json!({"name": team})).expect("team").expect_status(201).expect("201");
    }
    let hr = anon.with_token(&mint(&admin, "hr", "owner"));
    let hr_member = anon.with_token(&mint(&admin, "hr", "member"));
    let hr_ci = anon.with_token(&mint(&admin, "hr", "ci"));

    // hr's owner delegates its zone, hosted here.
    let hosted = hr.post("/api/v1/zones", &json!({"name": "hr.apps.company.com", "team": "hr", "kind": "hosted"}));
    let hosted = hosted.expect("delegate hr");
    hosted.expect_status(201).expect("201");
    assert_eq!((hosted.body["kind"].as_str(), hosted.body["serial"].as_u64()), (Some("hosted"), Some(1)));
    // The admin delegates ops's zone to ops's own nameserver, inside the cut.
    let external = json!({"name": "ops.apps.company.com", "team": "ops", "kind": "external",
        "nameservers": [{"name": "ns1.ops.apps.company.com", "addresses": ["192.0.2.53"]}]});
    admin.post("/api/v1/zones", &external).expect("delegate ops").expect_status(201).expect("201");

    // A record PATCHed by hr's owner is answered right after the 204.
    let patched = hr.patch(RRSETS, &replace("timesheet.hr.prod.apps.company.com", "A", 300, &["192.0.2.10"]));
    patched.expect("patch").expect_status(204).expect("204");
    check_dns(&server);

    // hr's tokens may not touch ops's names or zone; nothing changes.
    let (before, serial) = platform_state(&admin);
    let ops_zone = admin.get("/api/v1/zones/ops.apps.company.com").expect("ops zone").body.clone();
    for token in [&hr, &hr_member, &hr_ci] {
        for (path, body) in [
            (RRSETS, replace("www.ops.prod.apps.company.com", "A", 60, &["192.0.2.66"])),
            (RRSETS, replace("x.ops.apps.company.com", "A", 60, &["192.0.2.66"])),
            (RRSETS, replace("ops.apps.company.com", "NS", 60, &["ns.evil.example."])),
            ("/api/v1/zones/ops.apps.company.com/rrsets", replace("x.ops.apps.company.com", "A", 60, &["192.0.2.66"])),
        ] {
            let refused = token.patch(path, &body).expect("patch");
            refused.expect_problem(403, "forbidden").unwrap_or_else(|e| panic!("{path} {body}: {e}"));
        }
        token
            .delete("/api/v1/zones/ops.apps.company.com")
            .expect("delete")
            .expect_problem(403, "forbidden")
            .expect("403");
    }
    hr_ci
        .patch(RRSETS, &replace("ci.hr.prod.apps.company.com", "A", 60, &["192.0.2.1"]))
        .expect("ci write")
        .expect_problem(403, "forbidden")
        .expect("ci tokens write no records");
    assert_eq!(platform_state(&admin), (before.clone(), serial.clone()), "nothing changed");
    assert_eq!(admin.get("/api/v1/zones/ops.apps.company.com").expect("ops zone").body, ops_zone);

    // Bad input: a 400 problem with a precise detail, nothing applied.
    let cases = [
        (replace("x.hr.prod.apps.company.com", "A", 60, &["999.1.1.1"]), "invalid-records", "999.1.1.1"),
        (replace("x.hr.prod.apps.company.com", "A", 4_294_967_295, &["192.0.2.1"]), "invalid-records", "TTL"),
        (replace("x.hr.prod.apps.company.com", "A", 4_294_967_296, &["192.0.2.1"]), "invalid-body", "ttl"),
        (
            json!({"rrsets": [{"name": "x.hr.prod.apps.company.com", "type": "A", "ttl": 60, "changetype": "UPSERT", "records": []}]}),
            "invalid-body",
            "unknown variant `UPSERT`",
        ),
        (
            replace("timesheet.hr.prod.apps.company.com", "CNAME", 60, &["elsewhere.example."]),
            "invalid-records",
            "CNAME",
        ),
        (
            json!({"rrsets": [{"name": "x.hr.prod.apps.company.com", "type": "A", "ttl": 60, "changetype": "REPLACE", "records": [{"content": "192.0.2.1"}], "comments": []}]}),
            "invalid-body",
            "comments",
        ),
    ];
    for (body, kind, needle) in cases {
        let reply = hr.patch(RRSETS, &body).expect("patch");
        reply.expect_problem(400, kind).unwrap_or_else(|e| panic!("{body}: {e}"));
        let detail = reply.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{body}: detail {detail:?} lacks {needle:?}");
        assert_eq!(platform_state(&admin), (before.clone(), serial.clone()), "{body} changed the zone");
    }
    let answer = ask(&server, "x.hr.prod.apps.company.com", RecordType::A);
    assert_eq!(answer.rcode, rcode::NXDOMAIN, "{answer}");
    server.stop().expect("stop");

    // Everything survives a restart.
    let (server, _) = start(&data);
    check_dns(&server);
    let zones = admin_after_restart(&server, &data);
    let names: Vec<&str> =
        zones["zones"].as_array().expect("zones").iter().filter_map(|z| z["name"].as_str()).collect();
    assert_eq!(names, ["apps.company.com", "hr.apps.company.com", "ops.apps.company.com"]);
    server.stop().expect("stop");
}

fn admin_after_restart(server: &Server, data: &Path) -> Value {
    let admin = Api::connect(server.http_addr()).expect("API up").with_token(&admin_token(data).expect("token"));
    let (rrsets, _) = platform_state(&admin);
    assert!(
        rrsets["rrsets"].as_array().expect("rrsets").iter().any(|s| s["name"] == "timesheet.hr.prod.apps.company.com.")
    );
    admin.get("/api/v1/zones").expect("zones").body.clone()
}
