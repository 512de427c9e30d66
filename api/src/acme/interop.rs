//! A real ACME client's requests through the parser: instant-acme (ring
//! backend) talks to a fake CA over an in-memory [`HttpClient`], and the
//! captured newAccount (with EAB) and newOrder bodies must verify.

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, Response, StatusCode};
use instant_acme::{
    Account, BodyWrapper, BytesResponse, Error, ExternalAccountKey, HttpClient, Identifier, NewAccount, NewOrder,
};
use serde_json::{Value, json};

use super::{PublicJwk, Unverified, check_url, verify_eab};

const DIRECTORY: &str = "https://ca.test/acme/directory";
const NEW_ACCOUNT: &str = "https://ca.test/acme/new-account";
const NEW_ORDER: &str = "https://ca.test/acme/new-order";
const ACCOUNT: &str = "https://ca.test/acme/account/1";
const EAB_SECRET: &[u8] = b"the eab key for instant-acme....";

/// The POSTs seen: (URL, body).
type Posts = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A fake CA that records every POST body.
#[derive(Clone, Default)]
struct FakeCa {
    posts: Posts,
    nonces: Arc<AtomicU32>,
}

impl HttpClient for FakeCa {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let this = self.clone();
        Box::pin(async move { Ok(BytesResponse::from(this.answer(req).await)) })
    }
}

impl FakeCa {
    async fn answer(&self, req: Request<BodyWrapper<Bytes>>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let uri = parts.uri.to_string();
        let nonce = format!("nonce-{}", self.nonces.fetch_add(1, Ordering::Relaxed));
        let response = Response::builder().header("replay-nonce", nonce);
        if parts.method == Method::GET {
            let directory =
                json!({"newNonce": "https://ca.test/acme/new-nonce", "newAccount": NEW_ACCOUNT, "newOrder": NEW_ORDER});
            return response.body(Body::from(directory.to_string())).unwrap();
        }
        if parts.method == Method::POST {
            let bytes = axum::body::to_bytes(Body::new(body), 1 << 16).await.unwrap().to_vec();
            self.posts.lock().unwrap().push((uri, bytes));
            let created = response.status(StatusCode::CREATED).header("location", ACCOUNT);
            return created.body(Body::from(r#"{"status":"valid"}"#)).unwrap();
        }
        response.body(Body::empty()).unwrap()
    }

    fn post(&self, index: usize) -> (String, Vec<u8>) {
        self.posts.lock().unwrap()[index].clone()
    }
}

#[tokio::test]
async fn instant_acme_requests_verify() {
    let ca = FakeCa::default();
    let eab = ExternalAccountKey::new("kid-9".into(), EAB_SECRET);
    let new = NewAccount { contact: &[], terms_of_service_agreed: true, only_return_existing: false };
    let (account, _) =
        Account::builder_with_http(Box::new(ca.clone())).create(&new, DIRECTORY.into(), Some(&eab)).await.unwrap();
    let stored = check_new_account(&ca);
    let _ignored = account.new_order(&NewOrder::new(&[Identifier::Dns("a.example.test".into())])).await;
    check_new_order(&ca, &stored);
}

/// The newAccount request verifies with its embedded key, and so does its
/// EAB; returns the key as the CA would store it.
fn check_new_account(ca: &FakeCa) -> String {
    let (uri, body) = ca.post(0);
    assert_eq!(uri, NEW_ACCOUNT);
    let parsed = Unverified::parse(&body).unwrap();
    assert!(parsed.header().nonce.as_deref().is_some_and(|n| n.starts_with("nonce-")));
    check_url(parsed.header(), NEW_ACCOUNT).unwrap();
    let request = parsed.verify_embedded().unwrap();
    let payload: Value = request.json().unwrap();
    assert_eq!(payload["termsOfServiceAgreed"], true);
    let lookup = |kid: &str| (kid == "kid-9").then(|| EAB_SECRET.to_vec());
    let bound = verify_eab(&payload["externalAccountBinding"], NEW_ACCOUNT, &request.key, lookup).unwrap();
    assert_eq!(bound.key_id, "kid-9");
    request.key.canonical_json()
}

/// The newOrder request is a `kid` request that verifies with the stored key.
fn check_new_order(ca: &FakeCa, stored: &str) {
    let (uri, body) = ca.post(1);
    assert_eq!(uri, NEW_ORDER);
    let parsed = Unverified::parse(&body).unwrap();
    assert_eq!(parsed.header().kid(), Some(ACCOUNT));
    let request = parsed.verify(&PublicJwk::from_json(stored).unwrap()).unwrap();
    let payload: Value = request.json().unwrap();
    assert_eq!(payload["identifiers"][0]["value"], "a.example.test");
}
