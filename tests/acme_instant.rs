//! instant-acme (a Rust ACME client) against the real binary over TLS,
//! trusting only nameplate's root: an account bound to team hr by EAB
//! gets `timesheet.hr.prod.apps.company.com`
//! - pre-authorized: the order is `ready` at once, with valid
//!   authorizations and no challenge; with profile `tlsclient` the leaf
//!   also carries EKU clientAuth;
//! - through dns-01 (pre-authorization off), the TXT record published with
//!   an hr token through the records API and checked by the CA in-process.
//!
//! Both chains verify with `openssl verify`, and an order for another
//! team's name is refused. The dns-01 certificate is then revoked through
//! the API (`POST /api/v1/certs/{serial}/revoke`), which holds ACME's
//! certificates to the same team check, and ACME's revokeCert sees it
//! revoked.

use std::fs;
use std::path::Path;
use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, ExternalAccountKey, Identifier, NewAccount, NewOrder, Order,
    OrderStatus, RetryPolicy, RevocationRequest,
};
use nameplate_tests::Server;
use nameplate_tests::acme_client::ReqwestClient;
use nameplate_tests::api::{Api, eab_key, mint, start_with_team_https};
use nameplate_tests::tools::{assert_chain_verifies, openssl};
use serde_json::json;
use tokio::runtime::Runtime;

const NAME: &str = "timesheet.hr.prod.apps.company.com";
const OTHER_TEAMS: &str = "www.ops.prod.apps.company.com";

/// Polling of order and challenge state: quick, since the CA decides at once.
fn retries() -> RetryPolicy {
    RetryPolicy::new().initial_delay(Duration::from_millis(50)).timeout(Duration::from_secs(30))
}

/// An hr account on `server`'s directory over TLS, made with hr's EAB key.
async fn account(server: &Server, eab: &(String, String)) -> Account {
    let root = fs::read_to_string(server.root_pem()).expect("root");
    let http = ReqwestClient::new(Some(&root)).expect("client");
    let hmac = data_encoding::BASE64URL_NOPAD.decode(eab.1.as_bytes()).expect("base64url HMAC key");
    let eab = ExternalAccountKey::new(eab.0.clone(), &hmac);
    let new = NewAccount { contact: &[], terms_of_service_agreed: true, only_return_existing: false };
    let directory = format!("{}/acme/directory", server.base_url());
    let builder = Account::builder_with_http(Box::new(http));
    builder.create(&new, directory, Some(&eab)).await.expect("newAccount with EAB").0
}

/// Finalizes a ready `order` with a key instant-acme generates, downloads
/// the chain, checks it with openssl against the root and returns the
/// leaf's SAN and EKU extensions as openssl prints them.
async fn finalize_and_verify(order: &mut Order, dir: &Path, server: &Server) -> String {
    order.finalize().await.expect("finalize");
    let chain = order.poll_certificate(&retries()).await.expect("certificate");
    let certs: Vec<&str> = chain.split_inclusive("-----END CERTIFICATE-----\n").collect();
    assert_eq!(certs.len(), 2, "leaf and intermediate: {chain}");
    let (leaf, issuer) = (dir.join("leaf.pem"), dir.join("issuer.pem"));
    fs::write(&leaf, certs[0]).expect("leaf");
    fs::write(&issuer, certs[1]).expect("issuer");
    assert_chain_verifies(&server.root_pem(), &issuer, &leaf);
    let ext = "subjectAltName,extendedKeyUsage";
    let text = openssl(&["x509", "-noout", "-ext", ext, "-in", leaf.to_str().expect("utf-8")]).expect("openssl").stdout;
    assert!(text.contains(&format!("DNS:{NAME}")), "the leaf names {NAME}: {text}");
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    text
}

fn setup(dir: &Path, config: &str) -> (Server, Api, (String, String), Runtime) {
    let (server, admin) = start_with_team_https(dir, config, "hr");
    let made = admin.post("/api/v1/teams", &json!({"name": "ops"})).expect("team ops");
    made.expect_status(201).expect("ops made");
    let eab = eab_key(&admin, "hr");
    (server, admin, eab, Runtime::new().expect("tokio runtime"))
}

#[test]
fn instant_acme_gets_a_pre_authorized_certificate_over_tls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, _admin, eab, runtime) = setup(dir.path(), "");
    runtime.block_on(async {
        let account = account(&server, &eab).await;
        let mut order = account.new_order(&NewOrder::new(&[Identifier::Dns(NAME.into())])).await.expect("newOrder");
        assert_eq!(order.state().status, OrderStatus::Ready, "pre-authorized: ready at once");
        let mut authzs = order.authorizations();
        let authz = authzs.next().await.expect("one authorization").expect("authorization");
        assert_eq!(authz.status, AuthorizationStatus::Valid);
        let extensions = finalize_and_verify(&mut order, dir.path(), &server).await;
        assert!(!extensions.contains("TLS Web Client Authentication"), "the default profile: {extensions}");

        // The tlsclient profile adds clientAuth, for mTLS.
        let identifiers = [Identifier::Dns(NAME.into())];
        let asked = NewOrder::new(&identifiers).profile("tlsclient");
        let mut order = account.new_order(&asked).await.expect("newOrder, profile tlsclient");
        let extensions = finalize_and_verify(&mut order, dir.path(), &server).await;
        assert!(extensions.contains("TLS Web Client Authentication"), "the tlsclient profile: {extensions}");

        let refused = account.new_order(&NewOrder::new(&[Identifier::Dns(OTHER_TEAMS.into())])).await;
        let problem = match refused {
            Err(instant_acme::Error::Api(problem)) => problem,
            Err(other) => panic!("an ops name for hr: {other}"),
            Ok(_) => panic!("an order for an ops name was accepted for hr"),
        };
        let kind = problem.r#type.unwrap_or_default();
        assert!(
            kind == "urn:ietf:params:acme:error:rejectedIdentifier"
                || kind == "urn:ietf:params:acme:error:unauthorized",
            "{kind}"
        );
    });
}

#[test]
fn instant_acme_passes_dns01_published_through_the_api() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, admin, eab, runtime) = setup(dir.path(), "[acme]\npre_authorize = false\n");
    let hr = admin.with_token(&mint(&admin, "hr", "member"));
    let (account, mut order, value) = runtime.block_on(async {
        let account = account(&server, &eab).await;
        let mut order = account.new_order(&NewOrder::new(&[Identifier::Dns(NAME.into())])).await.expect("newOrder");
        assert_eq!(order.state().status, OrderStatus::Pending);
        let mut authzs = order.authorizations();
        let mut authz = authzs.next().await.expect("one authorization").expect("authorization");
        assert_eq!(authz.status, AuthorizationStatus::Pending);
        let value = authz.challenge(ChallengeType::Dns01).expect("dns-01 offered").key_authorization().dns_value();
        (account, order, value)
    });

    let txt = json!({"rrsets": [{"name": format!("_acme-challenge.{NAME}."), "type": "TXT", "ttl": 60,
        "changetype": "REPLACE", "records": [{"content": format!("\"{value}\"")}]}]});
    let written = hr.patch("/api/v1/zones/apps.company.com/rrsets", &txt).expect("PATCH rrsets");
    written.expect_status(204).expect("the TXT record is written");

    runtime.block_on(async {
        let mut authzs = order.authorizations();
        let mut authz = authzs.next().await.expect("one authorization").expect("authorization");
        authz.challenge(ChallengeType::Dns01).expect("dns-01").set_ready().await.expect("challenge ready");
        assert_eq!(order.poll_ready(&retries()).await.expect("poll"), OrderStatus::Ready);
        finalize_and_verify(&mut order, dir.path(), &server).await;
    });

    let leaf = dir.path().join("leaf.pem");
    let leaf = leaf.to_str().expect("utf-8 path");
    let printed = openssl(&["x509", "-noout", "-serial", "-in", leaf]).expect("openssl").stdout;
    let serial = printed.trim().strip_prefix("serial=").expect("openssl prints serial=HEX").to_ascii_lowercase();
    let revoke = format!("/api/v1/certs/{serial}/revoke");
    let ops = admin.with_token(&mint(&admin, "ops", "owner"));
    let refused = ops.post(&revoke, &json!({})).expect("revoke by ops");
    refused.expect_problem(403, "forbidden").expect("an ACME certificate of hr is not ops' to revoke");
    hr.post(&revoke, &json!({"reason": 4})).expect("revoke").expect_status(204).expect("hr revokes its certificate");
    let again = hr.post(&revoke, &json!({})).expect("revoke again");
    again.expect_problem(409, "conflict").expect("revoked already");

    let der = dir.path().join("leaf.der");
    let der_path = der.to_str().expect("utf-8 path");
    openssl(&["x509", "-in", leaf, "-outform", "DER", "-out", der_path]).expect("openssl DER");
    let certificate = rustls_pki_types::CertificateDer::from(fs::read(&der).expect("leaf DER"));
    runtime.block_on(async {
        let request = RevocationRequest { certificate: &certificate, reason: None };
        let problem = match account.revoke(&request).await {
            Err(instant_acme::Error::Api(problem)) => problem,
            Err(other) => panic!("revokeCert: {other}"),
            Ok(()) => panic!("ACME revoked a certificate the API had revoked already"),
        };
        assert_eq!(problem.r#type.as_deref(), Some("urn:ietf:params:acme:error:alreadyRevoked"), "{problem:?}");
    });
}
