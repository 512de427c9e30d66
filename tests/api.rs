//! The management API against the real binary: the first-start admin token,
//! teams and team tokens with their rights, problem documents, revocation,
//! the offline `admin token create`, and the catalog surviving a restart.

use nameplate_tests::api::{admin_token, start, try_token_create};
use serde_json::json;

#[test]
fn teams_tokens_rights_and_restart() {
    let work = tempfile::tempdir().expect("work dir");
    let data = work.path().join("data");
    let (server, anon) = start(&data);

    let token = admin_token(&data).expect("admin.token written on first start");
    #[cfg(unix)]
    assert_eq!(nameplate_tests::api::admin_token_mode(&data).expect("stat"), 0o600);
    assert!(server.log_tail().contains(&token), "the token is printed once on stdout");
    let admin = anon.with_token(&token);

    let hr = admin.post("/api/v1/teams", &json!({"name": "hr", "region": "eu"})).expect("create hr");
    assert_eq!((hr.status, hr.body["name"].as_str(), hr.body["region"].as_str()), (201, Some("hr"), Some("eu")));
    admin.post("/api/v1/teams", &json!({"name": "ops"})).expect("create ops").expect_status(201).expect("201");
    admin.post("/api/v1/teams", &json!({"name": "hr"})).expect("again").expect_problem(409, "conflict").expect("409");

    let minted = admin.post("/api/v1/teams/hr/tokens", &json!({"role": "owner", "description": "hr lead"}));
    let minted = minted.expect("mint");
    minted.expect_status(201).expect("201");
    let (owner_id, owner) = (minted.str("id").expect("id"), anon.with_token(&minted.str("token").expect("token")));

    owner.get("/api/v1/teams/hr").expect("read hr").expect_status(200).expect("owner reads its team");
    let created = owner.post("/api/v1/teams", &json!({"name": "evil"})).expect("create");
    created.expect_problem(403, "forbidden").expect("owner may not create teams");
    let ops_tokens = owner.post("/api/v1/teams/ops/tokens", &json!({"role": "owner"})).expect("mint ops");
    ops_tokens.expect_problem(403, "forbidden").expect("owner of hr may not mint for ops");
    owner.get("/api/v1/teams/ops").expect("read ops").expect_problem(403, "forbidden").expect("403");

    let revoke = admin.delete(&format!("/api/v1/teams/hr/tokens/{owner_id}")).expect("revoke");
    revoke.expect_status(204).expect("204");
    let refused = owner.get("/api/v1/teams/hr").expect("after revocation");
    refused.expect_problem(401, "unauthorized").expect("revoked token refused");
    assert!(refused.www_authenticate.as_deref().is_some_and(|c| c.starts_with("Bearer")), "{refused:?}");

    let garbage = anon.with_token("np_not-a-token").get("/api/v1/teams").expect("garbage");
    garbage.expect_problem(401, "unauthorized").expect("garbage token refused");
    anon.get("/api/v1/teams").expect("no token").expect_problem(401, "unauthorized").expect("no token");
    let malformed = admin.post_raw("/api/v1/teams", "application/json", "{\"name\": \"x\",").expect("malformed");
    malformed.expect_problem(400, "invalid-body").expect("malformed JSON");
    let unknown = admin.post("/api/v1/teams", &json!({"name": "x", "owner": "me"})).expect("unknown field");
    unknown.expect_problem(400, "invalid-body").expect("unknown field");
    assert!(unknown.body["detail"].as_str().is_some_and(|d| d.contains("owner")), "{}", unknown.body);
    let bad_name = admin.post("/api/v1/teams", &json!({"name": "Bad_Name"})).expect("bad name");
    bad_name.expect_problem(400, "invalid-name").expect("invalid team name");

    // The CLI refuses a data directory the server holds.
    let held = try_token_create(&data, "hr", "member").expect("run CLI");
    assert!(!held.status.success(), "token create must fail while the server runs: {held:?}");
    assert!(held.stderr.contains("in use"), "{}", held.stderr);
    server.stop().expect("stop");

    // Offline, the CLI mints a token that the restarted server honours.
    let cli = try_token_create(&data, "hr", "member").expect("run CLI");
    assert!(cli.status.success(), "{cli:?}");
    let member_token = cli.stdout.trim().to_owned();

    let (server, anon) = start(&data);
    assert_eq!(admin_token(&data).expect("admin.token"), token, "no second admin token");
    assert!(!server.log_tail().contains("admin token (shown only now"), "nothing printed on restart");
    let admin = anon.with_token(&token);
    let teams = admin.get("/api/v1/teams").expect("list").body;
    let names: Vec<&str> =
        teams["teams"].as_array().expect("teams").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["hr", "ops", "platform"]);
    let member = anon.with_token(&member_token);
    assert_eq!(member.get("/api/v1/teams/hr").expect("member reads hr").body["region"], "eu");
    let still_revoked = anon.with_token(&minted.str("token").expect("token")).get("/api/v1/teams/hr").expect("old");
    still_revoked.expect_problem(401, "unauthorized").expect("revocation survives a restart");
    server.stop().expect("stop");
}
