//! The cross-tenant matrix against the real binary: with team `hr` (team A)
//! set up with tokens, a hosted zone, records, an app, a preview and a
//! pending review, every mutating endpoint is sent the request that would
//! change hr's state by every principal that must not change it: team
//! `ops`'s owner, member and ci tokens, hr's own tokens whose role lacks the
//! right, no `Authorization` header, a garbage token, an unknown
//! well-formed `np_` token, a revoked token and a valid token under another
//! scheme. Each row expects an exact status and problem type (401 with
//! `WWW-Authenticate: Bearer` for the unauthenticated, 403 `forbidden` or,
//! where the API hides another team's object, 404 `not-found`); a few reads
//! of hr's objects are in the matrix too. Every zone (serial and RRsets),
//! the teams, apps, reviews and the audit log, which tokens authenticate and
//! a few DNS answers are compared before and after.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use hickory_proto::rr::RecordType;
use nameplate_tests::api::{Api, Reply, admin_token, ask, start};
use nameplate_tests::dns::{self, rcode};
use nameplate_tests::{Server, Summary};
use reqwest::Method;
use reqwest::blocking::Client;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{Value, json};

const PAYROLL: &str = "payroll.hr.prod.apps.company.com";
const LEDGER: &str = "ledger.hr.prod.apps.company.com";
const PREVIEW: &str = "pr-7.payroll.hr.preview.apps.company.com";
const TIMESHEET2: &str = "timesheet2.hr.prod.apps.company.com";
const HOSTED: &str = "hr.apps.company.com";
const HOSTED_WWW: &str = "intranet.hr.apps.company.com";
const PLATFORM_RRSETS: &str = "/api/v1/zones/apps.company.com/rrsets";
const HOSTED_RRSETS: &str = "/api/v1/zones/hr.apps.company.com/rrsets";

/// Who sends a request of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    OpsOwner,
    OpsMember,
    OpsCi,
    /// hr's own tokens, for the rows their role does not permit.
    HrOwner,
    HrMember,
    HrCi,
    NoAuth,
    Garbage,
    /// `np_` + 43 base64url characters that were never minted.
    Unknown,
    /// An ops owner token revoked with `DELETE /teams/ops/tokens/{id}`.
    Revoked,
    /// hr's owner token, sent as `Basic <token>` instead of `Bearer`.
    NotBearer,
}

/// Principals that no request may get past authentication.
const UNAUTHENTICATED: [Who; 5] = [Who::NoAuth, Who::Garbage, Who::Unknown, Who::Revoked, Who::NotBearer];
/// Team B's tokens.
const OPS: [Who; 3] = [Who::OpsOwner, Who::OpsMember, Who::OpsCi];

/// One row: who sends what, and the problem that must come back.
struct Row {
    who: Who,
    method: Method,
    path: String,
    body: Option<Value>,
    status: u16,
    kind: &'static str,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body.as_ref().map(Value::to_string).unwrap_or_default();
        write!(f, "{:?} {} {} {body} => {} {}", self.who, self.method, self.path, self.status, self.kind)
    }
}

/// hr's objects that the matrix aims at, and the tokens it acts with.
struct Fixture {
    server: Server,
    anon: Api,
    admin: Api,
    /// The `Authorization` header of each principal (`None`: no header).
    auth: BTreeMap<Who, Option<String>>,
    /// hr's member token that is the object of revocation, and its id.
    victim: (String, String),
    /// The id of ops's member token (for a revocation by hr's owner).
    ops_member_id: String,
    /// The pending review of `ledger`.
    review: String,
}

fn mint(admin: &Api, team: &str, role: &str) -> (String, String) {
    let minted = admin.post(&format!("/api/v1/teams/{team}/tokens"), &json!({"role": role})).expect("mint");
    minted.expect_status(201).unwrap_or_else(|e| panic!("mint {role} for {team}: {e}"));
    (minted.str("id").expect("id"), minted.str("token").expect("token"))
}

fn replace(name: &str, rtype: &str, content: &str) -> Value {
    json!({"rrsets": [{"name": name, "type": rtype, "ttl": 300, "changetype": "REPLACE",
                       "records": [{"content": content}]}]})
}

fn delete(name: &str, rtype: &str) -> Value {
    json!({"rrsets": [{"name": name, "type": rtype, "changetype": "DELETE", "records": []}]})
}

fn app(name: &str, exposure: &str, data_class: &str, address: &str) -> Value {
    json!({"name": name, "team": "hr", "env": "prod", "target": {"a": [address]},
           "owner": "hr-oncall@company.com", "exposure": exposure, "data_class": data_class})
}

fn created(reply: Result<Reply>, what: &str) -> Reply {
    let reply = reply.unwrap_or_else(|e| panic!("{what}: {e:#}"));
    reply.expect_status(201).unwrap_or_else(|e| panic!("{what}: {e}"));
    reply
}

fn no_content(reply: Result<Reply>, what: &str) {
    let reply = reply.unwrap_or_else(|e| panic!("{what}: {e:#}"));
    reply.expect_status(204).unwrap_or_else(|e| panic!("{what}: {e}"));
}

impl Fixture {
    fn setup(data: &std::path::Path) -> Self {
        let (server, anon) = start(data);
        let admin = anon.with_token(&admin_token(data).expect("admin.token"));
        for team in ["hr", "ops"] {
            created(admin.post("/api/v1/teams", &json!({"name": team})), "create team");
        }
        let (_, hr_owner) = mint(&admin, "hr", "owner");
        let (_, hr_member) = mint(&admin, "hr", "member");
        let (_, hr_ci) = mint(&admin, "hr", "ci");
        let (_, ops_owner) = mint(&admin, "ops", "owner");
        let (ops_member_id, ops_member) = mint(&admin, "ops", "member");
        let (_, ops_ci) = mint(&admin, "ops", "ci");
        let owner = anon.with_token(&hr_owner);

        // The victim of revocation, minted by hr's own owner.
        let victim = created(owner.post("/api/v1/teams/hr/tokens", &json!({"role": "member"})), "victim");
        let victim = (victim.str("id").expect("id"), victim.str("token").expect("token"));

        // A revoked ops owner token.
        let (revoked_id, revoked) = mint(&admin, "ops", "owner");
        no_content(admin.delete(&format!("/api/v1/teams/ops/tokens/{revoked_id}")), "revoke the ops owner");

        // hr's state: its hosted zone, a record in it and one in the
        // platform zone, a live app with a preview, an app in review.
        let zone = json!({"name": HOSTED, "team": "hr", "kind": "hosted"});
        created(owner.post("/api/v1/zones", &zone), "hosted zone");
        no_content(owner.patch(HOSTED_RRSETS, &replace(HOSTED_WWW, "A", "192.0.2.31")), "hosted record");
        no_content(owner.patch(PLATFORM_RRSETS, &replace(TIMESHEET2, "A", "192.0.2.30")), "platform record");
        let payroll = created(owner.post("/api/v1/apps", &app("payroll", "internal", "internal", "192.0.2.11")), "app");
        assert_eq!(payroll.str("status").expect("status"), "live");
        let preview = json!({"pr": 7, "target": {"a": ["192.0.2.7"]}, "ttl_seconds": 72_000});
        let preview = created(owner.post(&format!("/api/v1/apps/{PAYROLL}/previews"), &preview), "preview");
        assert_eq!(preview.str("fqdn").expect("fqdn"), PREVIEW);
        let ledger = created(owner.post("/api/v1/apps", &app("ledger", "external", "restricted", "192.0.2.12")), "app");
        assert_eq!(ledger.str("status").expect("status"), "pending");
        let review = ledger.str("review").expect("review id");

        let bearer = |token: &str| Some(format!("Bearer {token}"));
        let auth = BTreeMap::from([
            (Who::OpsOwner, bearer(&ops_owner)),
            (Who::OpsMember, bearer(&ops_member)),
            (Who::OpsCi, bearer(&ops_ci)),
            (Who::HrOwner, bearer(&hr_owner)),
            (Who::HrMember, bearer(&hr_member)),
            (Who::HrCi, bearer(&hr_ci)),
            (Who::NoAuth, None),
            (Who::Garbage, bearer("garbage!! not a token")),
            (Who::Unknown, bearer(&format!("np_{}", "Q".repeat(43)))),
            (Who::Revoked, bearer(&revoked)),
            (Who::NotBearer, Some(format!("Basic {hr_owner}"))),
        ]);
        Self { server, anon, admin, auth, victim, ops_member_id, review }
    }
}

/// Adds the rows of one request: a 401 for every unauthenticated principal,
/// and `expected` (principal, status, problem kind) for the others.
fn request(
    rows: &mut Vec<Row>,
    method: Method,
    path: &str,
    body: Option<Value>,
    expected: &[(Who, u16, &'static str)],
) {
    let unauthenticated = UNAUTHENTICATED.iter().map(|&who| (who, 401, "unauthorized"));
    for (who, status, kind) in unauthenticated.chain(expected.iter().copied()) {
        rows.push(Row { who, method: method.clone(), path: path.to_owned(), body: body.clone(), status, kind });
    }
}

/// 403 `forbidden` for each of `who`.
fn forbidden(who: &[Who]) -> Vec<(Who, u16, &'static str)> {
    who.iter().map(|&w| (w, 403, "forbidden")).collect()
}

/// `OPS` and `extra`, all 403.
fn ops_and(extra: &[Who]) -> Vec<(Who, u16, &'static str)> {
    forbidden(&[&OPS[..], extra].concat())
}

/// Every mutating route (see `api/src/routes/mod.rs`), aimed at hr.
fn matrix(f: &Fixture) -> Vec<Row> {
    use Who::*;
    let (post, patch, del) = (Method::POST, Method::PATCH, Method::DELETE);
    let victim = &f.victim.0;
    let mut rows = Vec::new();
    let r = &mut rows;

    // Teams (admin only).
    request(r, post.clone(), "/api/v1/teams", Some(json!({"name": "evil"})), &ops_and(&[HrOwner, HrMember, HrCi]));

    // hr's tokens: mint (also an admin token) and revoke.
    let tokens = "/api/v1/teams/hr/tokens";
    request(r, post.clone(), tokens, Some(json!({"role": "member"})), &ops_and(&[HrMember, HrCi]));
    request(r, post.clone(), tokens, Some(json!({"role": "owner"})), &ops_and(&[HrMember, HrCi]));
    request(r, post.clone(), tokens, Some(json!({"role": "admin"})), &ops_and(&[HrOwner, HrMember, HrCi]));
    request(r, del.clone(), &format!("{tokens}/{victim}"), None, &ops_and(&[HrMember, HrCi]));
    // ops's owner manages ops's tokens, but hr's token is not one of them: hidden.
    let mut via_ops = vec![(OpsOwner, 404, "not-found")];
    via_ops.extend(forbidden(&[OpsMember, OpsCi, HrOwner, HrMember, HrCi]));
    request(r, del.clone(), &format!("/api/v1/teams/ops/tokens/{victim}"), None, &via_ops);
    // hr's owner may not revoke ops's tokens either (team B's state, same rule).
    let ops_member = format!("/api/v1/teams/ops/tokens/{}", f.ops_member_id);
    request(r, del.clone(), &ops_member, None, &forbidden(&[HrOwner, HrMember, HrCi]));

    // hr's zone: delegate it again (as hr and as ops), delegate it elsewhere, remove it.
    let hosted = json!({"name": HOSTED, "team": "hr", "kind": "hosted"});
    request(r, post.clone(), "/api/v1/zones", Some(hosted), &ops_and(&[HrMember, HrCi]));
    let as_ops = json!({"name": HOSTED, "team": "ops", "kind": "hosted"});
    request(r, post.clone(), "/api/v1/zones", Some(as_ops), &ops_and(&[]));
    let external = json!({"name": HOSTED, "team": "hr", "kind": "external",
                          "nameservers": [{"name": "ns1.evil.example"}]});
    request(r, post.clone(), "/api/v1/zones", Some(external), &ops_and(&[HrMember, HrCi]));
    request(r, del.clone(), "/api/v1/zones/hr.apps.company.com", None, &ops_and(&[HrMember, HrCi]));
    request(r, del.clone(), "/api/v1/zones/HR.Apps.Company.COM.", None, &ops_and(&[HrMember, HrCi]));

    // Records in hr's hosted zone.
    request(r, patch.clone(), HOSTED_RRSETS, Some(replace(HOSTED_WWW, "A", "192.0.2.66")), &ops_and(&[HrCi]));
    request(r, patch.clone(), HOSTED_RRSETS, Some(delete(HOSTED_WWW, "A")), &ops_and(&[HrCi]));
    let shouted = "/api/v1/zones/HR.APPS.COMPANY.COM./rrsets";
    request(r, patch.clone(), shouted, Some(replace("evil.hr.apps.company.com", "A", "192.0.2.66")), &ops_and(&[]));

    // hr's names in the platform zone: its record, its app, its preview, its
    // subtree's wildcard, the cut of its hosted zone.
    let body = replace(TIMESHEET2, "A", "192.0.2.66");
    request(r, patch.clone(), PLATFORM_RRSETS, Some(body), &ops_and(&[HrCi]));
    request(r, patch.clone(), PLATFORM_RRSETS, Some(delete(TIMESHEET2, "A")), &ops_and(&[HrCi]));
    let new_name = replace("new.hr.prod.apps.company.com", "A", "192.0.2.66");
    request(r, patch.clone(), PLATFORM_RRSETS, Some(new_name), &ops_and(&[HrCi]));
    request(r, patch.clone(), PLATFORM_RRSETS, Some(delete(PAYROLL, "A")), &ops_and(&[HrCi]));
    let cname = replace(PAYROLL, "CNAME", "evil.example.");
    request(r, patch.clone(), PLATFORM_RRSETS, Some(cname), &ops_and(&[HrCi]));
    request(r, patch.clone(), PLATFORM_RRSETS, Some(replace(PREVIEW, "A", "192.0.2.66")), &ops_and(&[HrCi]));
    let wildcard = replace("*.hr.prod.apps.company.com", "A", "192.0.2.66");
    request(r, patch.clone(), PLATFORM_RRSETS, Some(wildcard), &ops_and(&[HrCi]));
    let cut = replace(HOSTED, "NS", "ns1.evil.example.");
    request(r, patch.clone(), PLATFORM_RRSETS, Some(cut), &ops_and(&[HrOwner, HrMember, HrCi]));
    request(r, patch.clone(), PLATFORM_RRSETS, Some(delete(HOSTED, "NS")), &ops_and(&[HrOwner, HrMember, HrCi]));
    let in_cut = replace("x.hr.apps.company.com", "A", "192.0.2.66");
    request(r, patch.clone(), PLATFORM_RRSETS, Some(in_cut), &ops_and(&[HrOwner, HrMember, HrCi]));

    // hr's apps: register (a new one, and payroll again), decommission.
    let body = app("payroll2", "internal", "internal", "192.0.2.66");
    request(r, post.clone(), "/api/v1/apps", Some(body), &ops_and(&[HrCi]));
    let body = app("payroll", "internal", "internal", "192.0.2.66");
    request(r, post.clone(), "/api/v1/apps", Some(body), &ops_and(&[HrCi]));
    request(r, del.clone(), &format!("/api/v1/apps/{PAYROLL}"), None, &ops_and(&[HrCi]));
    request(r, del.clone(), &format!("/api/v1/apps/{LEDGER}"), None, &ops_and(&[HrCi]));

    // hr's previews: create (a new one and pr-7 again), delete.
    let previews = format!("/api/v1/apps/{PAYROLL}/previews");
    let body = json!({"pr": 8, "target": {"a": ["192.0.2.66"]}, "ttl_seconds": 3600});
    request(r, post.clone(), &previews, Some(body), &ops_and(&[]));
    let body = json!({"pr": 7, "target": {"a": ["192.0.2.66"]}, "ttl_seconds": 3600});
    request(r, post.clone(), &previews, Some(body), &ops_and(&[]));
    request(
        r,
        post.clone(),
        &format!("/api/v1/apps/{LEDGER}/previews"),
        Some(json!({"pr": 9, "target": {"a": ["192.0.2.66"]}})),
        &ops_and(&[]),
    );
    request(r, del.clone(), &format!("{previews}/7"), None, &ops_and(&[]));
    request(r, del.clone(), &format!("{previews}/pr-7"), None, &ops_and(&[]));

    // hr's review (admin only).
    let review = format!("/api/v1/reviews/{}", f.review);
    let all = [HrOwner, HrMember, HrCi];
    request(r, post.clone(), &review, Some(json!({"decision": "approve", "comment": "lgtm"})), &ops_and(&all));
    request(r, post, &review, Some(json!({"decision": "deny"})), &ops_and(&all));

    // The platform zone is no delegation anyone removes (the admin neither).
    let platform = [&OPS[..], &all].concat();
    let hidden: Vec<_> = platform.iter().map(|&w| (w, 404, "not-found")).collect();
    request(r, del, "/api/v1/zones/apps.company.com", None, &hidden);

    // Beyond the mutations: another team's objects are not readable either.
    let get = Method::GET;
    for path in [
        "/api/v1/teams/hr".to_owned(),
        "/api/v1/zones/hr.apps.company.com".to_owned(),
        HOSTED_RRSETS.to_owned(),
        format!("/api/v1/apps/{PAYROLL}"),
        format!("/api/v1/apps/{LEDGER}"),
        "/api/v1/apps?team=hr".to_owned(),
        "/api/v1/audit?team=hr".to_owned(),
    ] {
        request(r, get.clone(), &path, None, &ops_and(&[]));
    }
    request(r, get, "/api/v1/reviews", None, &ops_and(&all));
    rows
}

/// Sends `row` with its principal's `Authorization` header (a raw header,
/// so that other schemes can be sent too).
fn send(client: &Client, base: SocketAddr, auth: Option<&str>, row: &Row) -> Result<Reply> {
    let mut request = client.request(row.method.clone(), format!("http://{base}{}", row.path));
    if let Some(auth) = auth {
        request = request.header(AUTHORIZATION, auth);
    }
    if let Some(body) = &row.body {
        request = request.header(CONTENT_TYPE, "application/json").body(body.to_string());
    }
    let response = request.send().context("request")?;
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (content_type, www_authenticate) = (header(CONTENT_TYPE).unwrap_or_default(), header(WWW_AUTHENTICATE));
    let status = response.status().as_u16();
    let text = response.text().context("reading the response")?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Reply { status, content_type, www_authenticate, body })
}

/// Checks the reply to `row`: its problem, and the challenge on a 401.
fn check(row: &Row, reply: &Reply) -> Result<()> {
    reply.expect_problem(row.status, row.kind)?;
    if row.status == 401 {
        let challenge = reply.www_authenticate.as_deref().unwrap_or_default();
        ensure!(challenge.starts_with("Bearer"), "WWW-Authenticate {:?}", reply.www_authenticate);
    }
    Ok(())
}

/// What must not change, as the admin reads it: every zone (list, show,
/// RRsets), the teams, apps and reviews, and whether hr's tokens and the
/// revoked one authenticate; keyed by what was read.
fn capture(f: &Fixture) -> BTreeMap<String, Value> {
    let mut seen = BTreeMap::new();
    let mut read = |api: &Api, what: &str, path: &str| {
        let reply = api.get(path).unwrap_or_else(|e| panic!("GET {path}: {e:#}"));
        seen.insert(format!("{what} GET {path}"), json!({"status": reply.status, "body": reply.body}));
        reply
    };
    let zones = read(&f.admin, "admin", "/api/v1/zones");
    let names: Vec<String> = zones.body["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .filter_map(|z| z["name"].as_str())
        .map(str::to_owned)
        .collect();
    assert!(names.iter().any(|n| n == HOSTED), "{}", zones.body);
    for name in names {
        let zone = read(&f.admin, "admin", &format!("/api/v1/zones/{name}"));
        assert!(zone.body["serial"].is_u64(), "{name}: {}", zone.body);
        read(&f.admin, "admin", &format!("/api/v1/zones/{name}/rrsets")).expect_status(200).expect("rrsets");
    }
    // Only committed changes are audited, so the admin's view of the audit
    // log is the whole history of changes.
    for path in ["/api/v1/teams", "/api/v1/apps", "/api/v1/reviews", "/api/v1/audit?limit=1000"] {
        read(&f.admin, "admin", path).expect_status(200).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let victim = f.anon.with_token(&f.victim.1);
    read(&victim, "hr victim", "/api/v1/teams/hr").expect_status(200).expect("the victim token works");
    for who in [Who::HrOwner, Who::HrMember, Who::HrCi, Who::OpsOwner, Who::OpsMember, Who::OpsCi, Who::Revoked] {
        let token = f.auth[&who].as_deref().and_then(|a| a.strip_prefix("Bearer ")).expect("a bearer token");
        read(&f.anon.with_token(token), &format!("{who:?}"), "/api/v1/teams");
    }
    seen
}

/// A few answers that must not change, over DNS.
fn dns_answers(server: &Server) -> Vec<(String, Summary)> {
    let questions = [
        (PAYROLL, RecordType::A),
        (PREVIEW, RecordType::A),
        (TIMESHEET2, RecordType::A),
        (HOSTED_WWW, RecordType::A),
        (HOSTED, RecordType::SOA),
        (LEDGER, RecordType::A),
        ("new.hr.prod.apps.company.com", RecordType::A),
    ];
    questions.iter().map(|&(name, rtype)| (format!("{name} {rtype}"), ask(server, name, rtype))).collect()
}

fn assert_answer(answers: &[(String, Summary)], question: &str, record: &str) {
    let (_, reply) = answers.iter().find(|(q, _)| q == question).expect("asked");
    assert_eq!((reply.rcode, reply.aa), (rcode::NOERROR, true), "{question}: {reply}");
    dns::assert_section(&reply.answer, &[record], question);
}

#[test]
fn no_other_principal_changes_a_teams_state() {
    let work = tempfile::tempdir().expect("work dir");
    let data = work.path().join("data");
    let f = Fixture::setup(&data);
    let rows = matrix(&f);

    let (before, dns_before) = (capture(&f), dns_answers(&f.server));
    assert_eq!(before["Revoked GET /api/v1/teams"]["status"], 401, "{}", before["Revoked GET /api/v1/teams"]);
    assert_eq!(before["OpsOwner GET /api/v1/teams"]["status"], 200);
    assert_answer(&dns_before, &format!("{PAYROLL} A"), &format!("{PAYROLL}. 300 A 192.0.2.11"));
    assert_answer(&dns_before, &format!("{PREVIEW} A"), &format!("{PREVIEW}. 300 A 192.0.2.7"));
    assert_answer(&dns_before, &format!("{TIMESHEET2} A"), &format!("{TIMESHEET2}. 300 A 192.0.2.30"));
    assert_answer(&dns_before, &format!("{HOSTED_WWW} A"), &format!("{HOSTED_WWW}. 300 A 192.0.2.31"));

    let client = Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client");
    let mut failures = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let auth = f.auth[&row.who].as_deref();
        let outcome = send(&client, f.server.http_addr(), auth, row).and_then(|reply| check(row, &reply));
        if let Err(e) = outcome {
            failures.push(format!("row {i}: {row}\n    {e:#}"));
        }
    }
    eprintln!("{} matrix rows sent", rows.len());

    let (after, dns_after) = (capture(&f), dns_answers(&f.server));
    let changed: Vec<String> = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)))
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            format!(
                "{k}:\n    before {}\n    after  {}",
                before.get(k).unwrap_or(&Value::Null),
                after.get(k).unwrap_or(&Value::Null)
            )
        })
        .collect();
    let dns_changed: Vec<String> = dns_before
        .iter()
        .zip(&dns_after)
        .filter(|(b, a)| b != a)
        .map(|((q, b), (_, a))| format!("{q}:\n    before {b}\n    after  {a}"))
        .collect();
    assert!(
        failures.is_empty() && changed.is_empty() && dns_changed.is_empty(),
        "{} of {} rows failed:\n{}\nstate changed:\n{}\nDNS changed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n"),
        changed.join("\n"),
        dns_changed.join("\n")
    );
}
