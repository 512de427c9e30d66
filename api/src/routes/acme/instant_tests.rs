//! instant-acme 0.8 (a real client) against the route table: its built-in
//! client speaks only https, so an [`HttpClient`] hands its requests to the
//! router in memory. EAB account, dns-01 with pre-authorization off, the
//! TXT record published in the zone store, finalize, download, verify.

use std::future::Future;
use std::pin::Pin;

use axum::body::{Body, Bytes};
use axum::http::Request;
use ca::acme::AcmeConfig;
use instant_acme::{
    Account, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType, Error, ExternalAccountKey, HttpClient,
    Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use tower::ServiceExt;

use super::tests::{Acme, BASE, NAME, P256, csr, publish, setup, verify};
use crate::{AppState, app};

/// Sends instant-acme's requests through the router.
struct RouterClient(AppState);

impl HttpClient for RouterClient {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let router = app(self.0.clone());
        let (parts, body) = req.into_parts();
        Box::pin(async move {
            let response = router.oneshot(Request::from_parts(parts, Body::new(body))).await.unwrap();
            Ok(BytesResponse::from(response))
        })
    }
}

#[tokio::test]
async fn instant_acme_gets_a_certificate_through_dns01() {
    let acme = setup(AcmeConfig { pre_authorize: false, ..AcmeConfig::default() }, "").await;
    let (key_id, hmac) = acme.eab().await;
    let eab = ExternalAccountKey::new(key_id, &hmac);
    let new = NewAccount { contact: &[], terms_of_service_agreed: true, only_return_existing: false };
    let client = Box::new(RouterClient(acme.f.state.clone()));
    let directory = format!("{BASE}/acme/directory");
    let (account, _) = Account::builder_with_http(client).create(&new, directory, Some(&eab)).await.unwrap();
    let mut order = account.new_order(&NewOrder::new(&[Identifier::Dns(NAME.into())])).await.unwrap();
    assert_eq!(order.state().status, OrderStatus::Pending);
    answer_dns01(&acme, &mut order).await;
    let retries = RetryPolicy::new().initial_delay(std::time::Duration::from_millis(10));
    assert_eq!(order.poll_ready(&retries).await.unwrap(), OrderStatus::Ready);
    order.finalize_csr(&csr(acme.f.dir.path(), P256, &[NAME])).await.unwrap();
    let chain = order.poll_certificate(&retries).await.unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(verify(&acme, &chain), "openssl verify failed");
}

/// Publishes the dns-01 TXT value and tells the server.
async fn answer_dns01(acme: &Acme, order: &mut instant_acme::Order) {
    let mut authzs = order.authorizations();
    let mut authz = authzs.next().await.unwrap().unwrap();
    assert_eq!(authz.status, AuthorizationStatus::Pending);
    let mut challenge = authz.challenge(ChallengeType::Dns01).unwrap();
    let value = challenge.key_authorization().dns_value();
    publish(&acme.f, &format!("_acme-challenge.web.hr.dev 60 IN TXT \"{value}\"\n"), acme.clock_now());
    challenge.set_ready().await.unwrap();
}
