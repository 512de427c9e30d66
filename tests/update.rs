//! Dynamic UPDATE (RFC 2136) with TSIG (RFC 8945) against the real binary:
//! team keys of all six algorithms minted through the API, records added and
//! deleted with `nsupdate` (BIND) and `knsupdate` (Knot) over UDP and TCP
//! and checked over DNS; wrong key, wrong secret, stale time, another
//! team's names, unsigned updates and failed prerequisites refused with the
//! right RCODE and TSIG error and nothing changed (serial compared); the
//! audit log names the key. A signed QUERY gets a signed answer that dig
//! verifies, or NOTAUTH with BADSIG.
//!
//! lego's `rfc2136` provider has its own test (`lego_rfc2136.rs`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use nameplate::dns::authority::{Algorithm, TsigKey};
use nameplate::dns::tsig::{self, Signer};
use nameplate_tests::Server;
use nameplate_tests::api::{Api, admin_token, ask, mint, start};
use nameplate_tests::dns::{rcode, send_udp};
use nameplate_tests::tools::{self, update_tool};
use serde_json::json;

const ZONE: &str = "apps.company.com.";

/// A team key as the API made it.
struct Key {
    name: String,
    algorithm: String,
    secret: String,
}

impl Key {
    /// `-y alg:name:secret`, as nsupdate and knsupdate take it.
    fn spec(&self) -> String {
        format!("{}:{}:{}", self.algorithm, self.name, self.secret)
    }

    fn tsig(&self) -> TsigKey {
        TsigKey {
            name: Name::from_ascii(&self.name).expect("key name"),
            algorithm: Algorithm::from_name(&self.algorithm).expect("algorithm"),
            secret: tsig::decode_secret(&self.secret).expect("base64"),
            team: None,
        }
    }
}

/// Starts nameplate with team hr (and ops) and returns the server, hr's
/// owner client, the admin client and a key of every algorithm for hr.
fn setup(data: &std::path::Path) -> (Server, Api, Api, Vec<Key>) {
    let (server, api) = start(data);
    let admin = api.with_token(&admin_token(data).expect("admin token"));
    for team in ["hr", "ops"] {
        admin.post("/api/v1/teams", &json!({"name": team})).expect("team").expect_status(201).expect("201");
    }
    let owner = api.with_token(&mint(&admin, "hr", "owner"));
    let keys = nameplate::dns::authority::Algorithm::ALL
        .iter()
        .map(|algorithm| {
            let body = json!({"name": format!("hr-{}", algorithm.short_name()), "algorithm": algorithm.short_name()});
            let made = owner.post("/api/v1/teams/hr/tsig-keys", &body).expect("key");
            made.expect_status(201).expect("key made");
            Key {
                name: made.str("name").expect("name"),
                algorithm: made.str("algorithm").expect("alg"),
                secret: made.str("secret").expect("secret"),
            }
        })
        .collect();
    (server, owner, admin, keys)
}

/// nsupdate with `key`, over TCP when `tcp`; returns (success, output).
fn nsupdate(server: &Server, key: &str, tcp: bool, lines: &[String]) -> (bool, String) {
    let out = update_tool("nsupdate", server.addr(), key, tcp, ZONE, lines).expect("nsupdate runs (dnsutils)");
    (out.ok(), out.text())
}

/// knsupdate with `key`, over TCP when `tcp`; returns (success, output).
fn knsupdate(server: &Server, key: &str, tcp: bool, lines: &[String]) -> (bool, String) {
    let out = update_tool("knsupdate", server.addr(), key, tcp, ZONE, lines).expect("knsupdate runs (knot-dnsutils)");
    (out.ok(), out.text())
}

fn serial(admin: &Api) -> u64 {
    admin.get("/api/v1/zones/apps.company.com").expect("zone").body["serial"].as_u64().expect("serial")
}

#[test]
fn nsupdate_and_knsupdate_add_and_delete_with_every_algorithm() {
    let work = tempfile::tempdir().expect("work dir");
    let (server, _owner, admin, keys) = setup(&work.path().join("data"));
    for (i, key) in keys.iter().enumerate() {
        let tcp = i % 2 == 1;
        let a_name = format!("ns-{}.hr.prod.apps.company.com", key.algorithm);
        let address = format!("192.0.2.{}", 10 + i);
        let (ok, out) = nsupdate(&server, &key.spec(), tcp, &[format!("update add {a_name}. 60 A {address}")]);
        assert!(ok, "nsupdate add with {}: {out}", key.algorithm);
        let answer = ask(&server, &a_name, RecordType::A);
        assert_eq!(answer.answer, [format!("{a_name}. 60 A {address}")], "{answer}");

        let txt_name = format!("kn-{}.hr.prod.apps.company.com", key.algorithm);
        let (ok, out) = knsupdate(&server, &key.spec(), !tcp, &[format!("update add {txt_name}. 60 TXT \"v{i}\"")]);
        assert!(ok, "knsupdate add with {}: {out}", key.algorithm);
        let answer = ask(&server, &txt_name, RecordType::TXT);
        assert_eq!(answer.answer, [format!("{txt_name}. 60 TXT \"v{i}\"")], "{answer}");

        let (ok, out) = nsupdate(&server, &key.spec(), !tcp, &[format!("update delete {txt_name}. TXT")]);
        assert!(ok, "nsupdate delete with {}: {out}", key.algorithm);
        assert_eq!(ask(&server, &txt_name, RecordType::TXT).rcode, rcode::NXDOMAIN);
        let (ok, out) = knsupdate(&server, &key.spec(), tcp, &[format!("update delete {a_name}. A {address}")]);
        assert!(ok, "knsupdate delete with {}: {out}", key.algorithm);
        assert_eq!(ask(&server, &a_name, RecordType::A).rcode, rcode::NXDOMAIN);
    }
    // Four changes per algorithm, each one serial.
    assert_eq!(serial(&admin), 1 + 4 * 6);

    let audit = admin.get("/api/v1/audit?team=hr").expect("audit").body.clone();
    let updates: Vec<&serde_json::Value> =
        audit["entries"].as_array().expect("entries").iter().filter(|e| e["action"] == "dns.update").collect();
    assert_eq!(updates.len(), 24, "{audit}");
    assert_eq!(updates[0]["who"], json!({"tsig_key": "hr-hmac-md5.", "team": "hr"}));
    assert!(updates[0]["changes"][0]["added"].to_string().contains("192.0.2.10"), "{}", updates[0]);
}

/// A signed UPDATE of the platform zone built by hand: `prereqs` and
/// `updates`, signed with `key` at `time` (unsigned without a key).
fn packet(prereqs: Vec<Record>, updates: Vec<Record>, key: Option<TsigKey>, time: u64) -> Vec<u8> {
    let mut msg = Message::new(0x4242, MessageType::Query, OpCode::Update);
    msg.queries.push(Query::query(Name::from_ascii(ZONE).expect("zone"), RecordType::SOA));
    msg.answers = prereqs;
    msg.authorities = updates;
    let mut bytes = msg.to_vec().expect("encode");
    if let Some(key) = key {
        Signer::for_request(key, time).sign_next(&mut bytes);
    }
    bytes
}

fn add(owner: &str, last: u8) -> Record {
    Record::from_rdata(Name::from_ascii(owner).expect("name"), 60, RData::A(A::new(192, 0, 2, last)))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

/// Sends `packet` and returns (RCODE, TSIG error and MAC length if any).
fn send(server: &Server, packet: &[u8]) -> (u16, Option<(u16, usize)>) {
    let response = send_udp(server.addr(), packet, Duration::from_secs(5)).expect("udp").expect("a response");
    let rcode = u16::from(response[3] & 0x0f);
    let tsig = tsig::find(&response).expect("the response walks").map(|t| (t.error, t.mac.len()));
    (rcode, tsig)
}

#[test]
fn bad_keys_secrets_times_names_and_prerequisites_are_refused_and_change_nothing() {
    let work = tempfile::tempdir().expect("work dir");
    let (server, _owner, admin, keys) = setup(&work.path().join("data"));
    let key = &keys[3]; // hmac-sha256
    let hr = "web.hr.prod.apps.company.com.";
    let (ok, out) = nsupdate(&server, &key.spec(), false, &[format!("update add {hr} 60 A 192.0.2.1")]);
    assert!(ok, "{out}");
    let before = serial(&admin);

    // Hand-built, so the exact RCODE and TSIG error are checked.
    assert_eq!(send(&server, &packet(vec![], vec![add(hr, 2)], None, now())), (5, None), "unsigned: REFUSED");
    let mut unknown = key.tsig();
    unknown.name = Name::from_ascii("nobody.").expect("name");
    assert_eq!(send(&server, &packet(vec![], vec![add(hr, 2)], Some(unknown), now())), (9, Some((17, 0))), "BADKEY");
    let mut wrong = key.tsig();
    wrong.secret = b"not the secret".to_vec();
    assert_eq!(send(&server, &packet(vec![], vec![add(hr, 2)], Some(wrong), now())), (9, Some((16, 0))), "BADSIG");
    let mut other_alg = key.tsig();
    other_alg.algorithm = Algorithm::HmacSha512;
    assert_eq!(send(&server, &packet(vec![], vec![add(hr, 2)], Some(other_alg), now())).1, Some((17, 0)), "BADKEY");
    let stale = send(&server, &packet(vec![], vec![add(hr, 2)], Some(key.tsig()), now() - 3600));
    assert_eq!(stale, (9, Some((18, 32))), "BADTIME, signed");
    let ops = packet(vec![], vec![add("web.ops.prod.apps.company.com.", 2)], Some(key.tsig()), now());
    assert_eq!(send(&server, &ops), (5, Some((0, 32))), "another team's name: REFUSED, signed");
    let apex = packet(vec![], vec![add(ZONE, 2)], Some(key.tsig()), now());
    assert_eq!(send(&server, &apex).0, 5, "the platform's apex: REFUSED");
    let mut nxdomain = Record::update0(Name::from_ascii(hr).expect("name"), 0, RecordType::ANY);
    nxdomain.dns_class = DNSClass::NONE;
    let prereq = packet(vec![nxdomain], vec![add(hr, 2)], Some(key.tsig()), now());
    assert_eq!(send(&server, &prereq), (6, Some((0, 32))), "prerequisite 'name not in use' on a used name: YXDOMAIN");
    let outside = packet(vec![], vec![add("www.example.org.", 2)], Some(key.tsig()), now());
    assert_eq!(send(&server, &outside).0, 10, "NOTZONE");

    // The real clients see the same.
    let (ok, out) = nsupdate(
        &server,
        &key.spec(),
        false,
        &[format!("prereq nxdomain {hr}"), format!("update add {hr} 60 A 192.0.2.3")],
    );
    assert!(!ok && out.contains("YXDOMAIN"), "{out}");
    let wrong_secret = format!("{}:{}:{}", key.algorithm, key.name, "bm90IHRoZSBzZWNyZXQ=");
    let (ok, out) = nsupdate(&server, &wrong_secret, false, &[format!("update add {hr} 60 A 192.0.2.4")]);
    assert!(!ok, "{out}");
    let wrong_name = format!("{}:nobody.:{}", key.algorithm, key.secret);
    let (ok, out) = knsupdate(&server, &wrong_name, false, &[format!("update add {hr} 60 A 192.0.2.5")]);
    assert!(!ok, "{out}");
    let (ok, out) = knsupdate(
        &server,
        &key.spec(),
        false,
        &["update add www.ops.prod.apps.company.com. 60 A 192.0.2.6".to_owned()],
    );
    assert!(!ok && out.contains("REFUSED"), "{out}");

    assert_eq!(serial(&admin), before, "nothing changed");
    let answer = ask(&server, hr.trim_end_matches('.'), RecordType::A);
    assert_eq!(answer.answer, [format!("{hr} 60 A 192.0.2.1")], "{answer}");
    assert_eq!(ask(&server, "www.ops.prod.apps.company.com", RecordType::A).rcode, rcode::NXDOMAIN);

    // A deleted key stops working.
    let owner = _owner;
    owner.delete(&format!("/api/v1/teams/hr/tsig-keys/{}", key.name)).expect("delete").expect_status(204).expect("204");
    assert_eq!(send(&server, &packet(vec![], vec![add(hr, 7)], Some(key.tsig()), now())).1, Some((17, 0)));
    let _ = TXT::new(vec![]);
}

#[test]
fn signed_queries_get_answers_that_dig_verifies() {
    let work = tempfile::tempdir().expect("work dir");
    let (server, _owner, _admin, keys) = setup(&work.path().join("data"));
    let key = &keys[2];
    let good = tools::dig(server.addr(), &["-y", &key.spec(), "apps.company.com", "SOA"]).expect("dig");
    assert!(good.contains("status: NOERROR") && good.contains("TSIG PSEUDOSECTION"), "{good}");
    assert!(!good.contains("Couldn't verify"), "dig verified the signed answer: {good}");
    let wrong = format!("{}:{}:{}", key.algorithm, key.name, "c29tZSBvdGhlciBzZWNyZXQ=");
    let bad = tools::dig(server.addr(), &["-y", &wrong, "apps.company.com", "SOA"]).expect("dig");
    assert!(bad.contains("status: NOTAUTH") && bad.contains("BADSIG"), "{bad}");
    assert!(!bad.contains("IN\tSOA\tns1"), "no answer for a bad signature: {bad}");
}
