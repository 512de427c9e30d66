//! An [`instant_acme::HttpClient`] over async reqwest (rustls), for driving
//! instant-acme against the real binary.
//!
//! The workspace builds instant-acme without its own HTTP client (default
//! features off), so it needs one handed in:
//!
//! ```no_run
//! # async fn demo(root_pem: &str, directory: String) -> anyhow::Result<()> {
//! use instant_acme::{Account, NewAccount};
//! use nameplate_tests::acme_client::ReqwestClient;
//!
//! let http = ReqwestClient::new(Some(root_pem))?;
//! let new = NewAccount { contact: &[], terms_of_service_agreed: true, only_return_existing: false };
//! let (account, _) = Account::builder_with_http(Box::new(http)).create(&new, directory, None).await?;
//! # Ok(()) }
//! ```
//!
//! It speaks plain `http://` as well as `https://`; with `https://` it
//! trusts the usual web roots plus the PEM certificates given (nameplate's
//! `/ca/root.pem`). Connections are pooled and kept alive, so one client
//! shared by many concurrent orders reuses its connections.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, Result};
use http_body_util::BodyExt;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};
use reqwest::{Certificate, Client, Url};

/// How long one ACME request may take, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// instant-acme's HTTP requests sent with an async reqwest [`Client`].
#[derive(Clone, Debug)]
pub struct ReqwestClient {
    client: Client,
}

impl ReqwestClient {
    /// A client that also trusts the PEM certificates in `extra_root_pem`
    /// (one or more, e.g. nameplate's `/ca/root.pem`) for `https://` URLs.
    pub fn new(extra_root_pem: Option<&str>) -> Result<Self> {
        let mut builder = Client::builder().use_rustls_tls().timeout(REQUEST_TIMEOUT);
        if let Some(pem) = extra_root_pem {
            let roots = Certificate::from_pem_bundle(pem.as_bytes()).context("parsing the extra root PEM")?;
            anyhow::ensure!(!roots.is_empty(), "no certificate in the extra root PEM");
            for root in roots {
                builder = builder.add_root_certificate(root);
            }
        }
        Ok(Self { client: builder.build().context("building the reqwest client")? })
    }

    /// The reqwest client underneath, for other requests that should share
    /// its connections and trust.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl HttpClient for ReqwestClient {
    fn request(
        &self,
        req: http::Request<BodyWrapper<bytes::Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let client = self.client.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            let url = Url::parse(&parts.uri.to_string()).map_err(|e| Error::Other(Box::new(e)))?;
            let response = client
                .request(parts.method, url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| Error::Other(Box::new(e)))?;
            Ok(BytesResponse::from(http::Response::<reqwest::Body>::from(response)))
        })
    }
}
