//! The ACME refusals, each with its exact problem type and status, and
//! checks that they changed nothing.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use ca::acme::AcmeConfig;
use serde_json::{Value, json};

use super::tests::{
    BASE, NAME, P256, account_payload, answered_order, csr, first_der, path, ready, setup, setup_with_policy,
};
use crate::acme::testkeys::{TestKey, b64, jws};

#[tokio::test]
async fn jws_refusals_change_nothing() {
    let acme = setup(AcmeConfig::default(), "").await;
    let key = TestKey::es256();
    let (eab_kid, hmac) = acme.eab().await;
    let payload = account_payload(&key, &eab_kid, &hmac).to_string().into_bytes();
    let url = format!("{BASE}/acme/new-account");
    let signed = |nonce: &str, url: &str| {
        jws(&key, &json!({"alg": "ES256", "jwk": key.jwk(), "nonce": nonce, "url": url}), &payload)
    };
    acme.post_raw("/acme/new-account", signed("bogus", &url)).await.problem(400, "badNonce");
    acme.post_raw("/acme/new-account", signed(&acme.nonce().await, &format!("{BASE}/acme/new-order")))
        .await
        .problem(403, "unauthorized");
    let hs = jws(&key, &json!({"alg": "HS256", "jwk": key.jwk(), "nonce": acme.nonce().await, "url": url}), &payload);
    acme.post_raw("/acme/new-account", hs).await.problem(400, "badSignatureAlgorithm");
    let mut bad: Value = serde_json::from_slice(&signed(&acme.nonce().await, &url)).unwrap();
    bad["signature"] = json!(b64(&[7u8; 64]));
    acme.post_raw("/acme/new-account", bad.to_string().into_bytes()).await.problem(400, "malformed");
    let wrong_type =
        acme.send(Method::POST, "/acme/new-account", "application/json", signed(&acme.nonce().await, &url)).await;
    wrong_type.problem(400, "malformed");
    assert_eq!(acme.count("acme.accounts"), 0, "no account after the refusals");
    let nonce = acme.nonce().await;
    let first = acme.post_raw("/acme/new-account", signed(&nonce, &url)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json());
    let replay = acme.post_raw("/acme/new-account", signed(&nonce, &url)).await;
    replay.problem(400, "badNonce");
    assert!(!replay.header("replay-nonce").is_empty(), "errors carry a fresh nonce");
}

#[tokio::test]
async fn eab_is_required_and_checked() {
    let acme = setup(AcmeConfig::default(), "").await;
    let key = TestKey::es256();
    acme.post(&key, None, "/acme/new-account", Some(json!({"termsOfServiceAgreed": true})))
        .await
        .problem(403, "externalAccountRequired");
    let (eab_kid, _) = acme.eab().await;
    let forged = account_payload(&key, &eab_kid, &[1u8; 32]);
    acme.post(&key, None, "/acme/new-account", Some(forged)).await.problem(403, "unauthorized");
    let unknown = account_payload(&key, "nope", &[1u8; 32]);
    acme.post(&key, None, "/acme/new-account", Some(unknown)).await.problem(403, "unauthorized");
    assert_eq!(acme.count("acme.accounts"), 0);
    let ops = acme.f.post("/api/v1/teams/ops/eab", &acme.hr, json!({})).await;
    assert_eq!(ops.status, StatusCode::FORBIDDEN, "an hr owner may not make ops keys");
    let log = acme.f.get("/api/v1/audit?team=hr", &acme.f.admin).await.body;
    let made: Vec<&Value> =
        log["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "acme.eab.create").collect();
    assert_eq!(made.len(), 1, "the one EAB key made is audited: {log}");
    assert_eq!(made[0]["target"], eab_kid);
}

#[tokio::test]
async fn order_refusals() {
    let acme = setup(AcmeConfig::default(), "caa.hr.dev 60 IN CAA 0 issue \"other-ca.example\"\n").await;
    let (key, kid, _) = ready(&acme).await;
    let before = acme.count("acme.orders");
    let ops = acme.order(&key, &kid, &["db.ops.prod.apps.company.com"]).await;
    ops.problem(403, "unauthorized");
    acme.order(&key, &kid, &["www.example.org"]).await.problem(400, "rejectedIdentifier");
    assert_eq!(acme.count("acme.orders"), before, "refused orders are not stored");
    let caa = acme.order(&key, &kid, &["caa.hr.dev.apps.company.com"]).await.json();
    let der = csr(acme.f.dir.path(), P256, &["caa.hr.dev.apps.company.com"]);
    acme.finalize(&key, &kid, &caa, &der).await.problem(403, "caa");
    let again = acme.post(&key, Some(&kid), path(&answered_order(&caa)), None).await;
    assert_eq!(again.json()["status"], "ready", "a CAA refusal leaves the order ready");
}

#[tokio::test]
async fn finalize_refuses_a_key_type_the_policy_does_not_certify() {
    let mut policy_config = policy::PolicyConfig::default();
    policy_config.certs.key_types = vec![policy::CertKeyType::P256];
    let acme = setup_with_policy(AcmeConfig::default(), "", policy_config).await;
    let (key, kid, order) = ready(&acme).await;
    let p384 = csr(acme.f.dir.path(), &["ec", "-pkeyopt", "ec_paramgen_curve:P-384"], &[NAME]);
    acme.finalize(&key, &kid, &order, &p384).await.problem(400, "badPublicKey");
    assert_eq!(acme.count("acme.chains"), 0, "nothing was issued");
    let again = acme.post(&key, Some(&kid), path(&answered_order(&order)), None).await;
    assert_eq!(again.json()["status"], "ready", "the order can still be finalized with an allowed key");
    let p256 = csr(acme.f.dir.path(), P256, &[NAME]);
    assert_eq!(acme.finalize(&key, &kid, &order, &p256).await.json()["status"], "valid");
}

#[tokio::test]
async fn finalize_refusals() {
    let config = AcmeConfig { order_lifetime: Duration::from_secs(60), ..AcmeConfig::default() };
    let acme = setup(config, "").await;
    let (key, kid, order) = ready(&acme).await;
    let other_names = csr(acme.f.dir.path(), P256, &["other.hr.dev.apps.company.com"]);
    acme.finalize(&key, &kid, &order, &other_names).await.problem(400, "badCSR");
    let weak = csr(acme.f.dir.path(), &["rsa:1024"], &[NAME]);
    acme.finalize(&key, &kid, &order, &weak).await.problem(400, "badPublicKey");
    let stranger = TestKey::es256();
    let stranger_kid = acme.account(&stranger).await;
    let good = csr(acme.f.dir.path(), P256, &[NAME]);
    acme.finalize(&stranger, &stranger_kid, &order, &good).await.problem(403, "unauthorized");
    acme.post(&stranger, Some(&stranger_kid), path(&answered_order(&order)), None).await.problem(403, "unauthorized");
    let forged = acme.post(&stranger, Some(&kid), path(&answered_order(&order)), None).await;
    forged.problem(400, "malformed");
    assert_eq!(acme.count("acme.chains"), 0, "nothing was issued");
    let pending_config = setup(AcmeConfig { pre_authorize: false, ..AcmeConfig::default() }, "").await;
    let pkey = TestKey::es256();
    let pkid = pending_config.account(&pkey).await;
    let pending = pending_config.order(&pkey, &pkid, &[NAME]).await.json();
    let good = csr(pending_config.f.dir.path(), P256, &[NAME]);
    pending_config.finalize(&pkey, &pkid, &pending, &good).await.problem(403, "orderNotReady");
    acme.clock.advance(61);
    let expired = acme.post(&key, Some(&kid), path(&answered_order(&order)), None).await;
    assert_eq!(expired.json()["status"], "invalid");
    acme.finalize(&key, &kid, &order, &good).await.problem(403, "orderNotReady");
}

#[tokio::test]
async fn revocation_by_a_stranger_is_unauthorized_and_by_the_key_works() {
    let acme = setup(AcmeConfig::default(), "").await;
    let (key, kid, order) = ready(&acme).await;
    let dir = acme.f.dir.path();
    let der = csr(dir, P256, &[NAME]);
    let done = acme.finalize(&key, &kid, &order, &der).await.json();
    let cert_path = path(done["certificate"].as_str().unwrap()).to_owned();
    let pem = String::from_utf8(acme.post(&key, Some(&kid), &cert_path, None).await.body).unwrap();
    let nonce = acme.nonce().await;
    let header = json!({"alg": "ES256", "kid": kid, "nonce": nonce, "url": format!("{BASE}{cert_path}")});
    let sloppy = acme.send(Method::POST, &cert_path, "application/json", jws(&key, &header, b"")).await;
    assert_eq!(String::from_utf8(sloppy.body).unwrap(), pem, "a wrong Content-Type is tolerated on download");
    let cert = json!({"certificate": b64(&first_der(&pem))});
    let stranger = TestKey::es256();
    let stranger_kid = acme.account(&stranger).await;
    acme.post(&stranger, Some(&stranger_kid), "/acme/revoke-cert", Some(cert.clone()))
        .await
        .problem(403, "unauthorized");
    acme.post(&stranger, None, "/acme/revoke-cert", Some(cert.clone())).await.problem(403, "unauthorized");
    let bad_reason = json!({"certificate": cert["certificate"], "reason": 7});
    acme.post(&key, Some(&kid), "/acme/revoke-cert", Some(bad_reason)).await.problem(400, "badRevocationReason");
    let serial = done["certificate"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let serial_hex = acme.edge.chain(&serial).unwrap().unwrap().serial_hex;
    let record = acme.edge.ca().store().get(&serial_hex).unwrap().unwrap();
    assert!(record.revoked.is_none(), "refusals revoke nothing");
    let cert_key = cert_key_jwk(dir);
    let by_key = acme.post(&cert_key, None, "/acme/revoke-cert", Some(cert)).await;
    assert_eq!(by_key.status, StatusCode::OK, "{}", by_key.json());
    let record = acme.edge.ca().store().get(&serial_hex).unwrap().unwrap();
    assert!(record.revoked.is_some(), "the certificate's key revoked it");
}

/// The CSR's P-256 key (written by `csr`) as a signing key.
fn cert_key_jwk(dir: &Path) -> TestKey {
    let out = dir.join("acme-csr.pk8");
    let args = ["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in"];
    let status =
        Command::new("openssl").args(args).arg(dir.join("acme-csr.key")).arg("-out").arg(&out).output().unwrap();
    assert!(status.status.success());
    let pkcs8 = std::fs::read(out).unwrap();
    let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let rng = ring::rand::SystemRandom::new();
    TestKey::Es256(ring::signature::EcdsaKeyPair::from_pkcs8(alg, &pkcs8, &rng).unwrap())
}
