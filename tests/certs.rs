//! Direct issuance against the real binary: a member token gets a
//! certificate over HTTP (generated key, then a CSR from `openssl req`), the
//! leaf verifies with `openssl verify` against the served root and chain,
//! the root survives a restart, and a revoked serial appears in the served
//! CRL.

use std::path::Path;

use nameplate_tests::api::{admin_token, mint, start};
use serde_json::json;

const NAME: &str = "shop.hr.dev.apps.company.com";

fn openssl(args: &[&str]) -> (bool, String) {
    let out = nameplate_tests::tools::openssl(args).expect("openssl runs");
    (out.ok(), out.text())
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write");
    path.to_str().expect("utf-8 path").to_owned()
}

fn text(reply: &nameplate_tests::api::Reply) -> String {
    reply.text().expect("a text body")
}

#[test]
fn a_member_gets_a_certificate_that_verifies_and_can_revoke_it() {
    let work = tempfile::tempdir().expect("work dir");
    let data = work.path().join("data");
    let (server, anon) = start(&data);
    let admin = anon.with_token(&admin_token(&data).expect("admin.token"));
    admin.post("/api/v1/teams", &json!({"name": "hr"})).expect("team").expect_status(201).expect("201");
    let member = anon.with_token(&mint(&admin, "hr", "member"));

    let issued = member.post("/api/v1/certs", &json!({"names": [NAME]})).expect("issue");
    issued.expect_status(201).expect("201");
    assert!(issued.str("private_key_pem").expect("key").contains("PRIVATE KEY"));
    let root = anon.get("/ca/root.pem").expect("root");
    assert_eq!((root.status, root.content_type.as_str()), (200, "application/x-pem-file"));
    let chain = anon.get("/ca/chain/default.pem").expect("chain");
    let dir = work.path();
    let (root_path, chain_path) = (write(dir, "root.pem", text(&root)), write(dir, "chain.pem", text(&chain)));
    let leaf = write(dir, "leaf.pem", issued.str("certificate_pem").expect("leaf"));
    let (ok, out) = openssl(&["verify", "-CAfile", &root_path, "-untrusted", &chain_path, &leaf]);
    assert!(ok, "{out}");
    let (_, details) = openssl(&["x509", "-noout", "-ext", "subjectAltName", "-in", &leaf]);
    assert!(details.contains(&format!("DNS:{NAME}")), "{details}");

    let key = dir.join("csr.key");
    let csr = dir.join("csr.pem");
    let san = format!("subjectAltName=DNS:{NAME}");
    let (ok, out) = openssl(&[
        "req",
        "-new",
        "-nodes",
        "-subj",
        "/",
        "-addext",
        &san,
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-keyout",
        key.to_str().expect("path"),
        "-out",
        csr.to_str().expect("path"),
    ]);
    assert!(ok, "{out}");
    let csr_pem = std::fs::read_to_string(&csr).expect("csr");
    let from_csr = member.post("/api/v1/certs", &json!({"names": [NAME], "csr_pem": csr_pem})).expect("issue");
    from_csr.expect_status(201).expect("201");
    assert!(from_csr.body.get("private_key_pem").is_none(), "{}", from_csr.body);
    let leaf2 = write(dir, "leaf2.pem", from_csr.str("certificate_pem").expect("leaf"));
    assert!(openssl(&["verify", "-CAfile", &root_path, "-untrusted", &chain_path, &leaf2]).0);
    let other = member.post("/api/v1/certs", &json!({"names": ["db.ops.prod.apps.company.com"]})).expect("issue");
    other.expect_problem(403, "forbidden").expect("another team's name");

    let serial = issued.str("serial").expect("serial");
    member
        .post(&format!("/api/v1/certs/{serial}/revoke"), &json!({}))
        .expect("revoke")
        .expect_status(204)
        .expect("204");
    drop(server);
    let (server, anon) = start(&data);
    assert_eq!(text(&anon.get("/ca/root.pem").expect("root")), text(&root), "the root is kept across restarts");
    let url = format!("http://{}/ca/crl/default.crl", server.http_addr());
    let crl = reqwest::blocking::get(url).expect("crl").bytes().expect("crl body");
    let crl_path = write(dir, "crl.der", &crl);
    let (ok, listing) = openssl(&["crl", "-inform", "DER", "-noout", "-text", "-in", &crl_path]);
    assert!(ok, "{listing}");
    assert!(listing.to_lowercase().contains(&serial), "{listing}");
}
