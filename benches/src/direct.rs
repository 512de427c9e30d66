//! Direct issuance: `POST /api/v1/certs` with the team's owner token, either
//! with a pre-made CSR or asking the CA to generate the key.

use anyhow::{Result, bail, ensure};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::json;

use nameplate_tests::acme_client::ReqwestClient;

use crate::csr::Csr;
use crate::setup::Target;

/// Pre-serialized request bodies and the client that sends them.
pub(crate) struct Direct {
    http: reqwest::Client,
    url: String,
    bearer: String,
    bodies: Vec<String>,
    generated_key: bool,
}

impl Direct {
    /// Requests for `names`: with `csrs` (one per name) each carries its
    /// CSR; with `None` the CA generates a P-256 key for each.
    pub(crate) fn new(target: &Target, names: &[String], csrs: Option<&[Csr]>) -> Result<Self> {
        let bodies = match csrs {
            Some(csrs) => {
                ensure!(csrs.len() == names.len(), "one CSR per name");
                names.iter().zip(csrs).map(|(n, c)| json!({"names": [n], "csr_pem": c.pem}).to_string()).collect()
            }
            None => names.iter().map(|n| json!({"names": [n], "key_type": "p256"}).to_string()).collect(),
        };
        Ok(Self {
            http: ReqwestClient::new(Some(&target.root_pem()?))?.client().clone(),
            url: format!("{}/api/v1/certs", target.base_url()),
            bearer: format!("Bearer {}", target.owner_token()),
            bodies,
            generated_key: csrs.is_none(),
        })
    }

    /// Issues the certificate of request `i` (the requests are used in
    /// turn); fails unless the reply is 201 with a certificate (and the
    /// generated key when there was no CSR).
    pub(crate) async fn issue(&self, i: u64) -> Result<()> {
        let body = &self.bodies[usize::try_from(i)? % self.bodies.len()];
        let response = self
            .http
            .post(&self.url)
            .header(AUTHORIZATION, &self.bearer)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if status.as_u16() != 201 {
            bail!("POST /api/v1/certs: {status}: {text}");
        }
        ensure!(text.contains("\"certificate_pem\":\"-----BEGIN CERTIFICATE-----"), "no certificate in {text}");
        ensure!(!self.generated_key || text.contains("\"private_key_pem\""), "no private key in {text}");
        Ok(())
    }
}
