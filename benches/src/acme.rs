//! One complete ACME order with instant-acme, over one account reused for
//! every order: newOrder for one name, dns-01 when the order is not
//! pre-authorized, finalize with a pre-made CSR, poll until valid, download.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, ExternalAccountKey, Identifier, NewAccount, NewOrder, Order,
    OrderStatus,
};
use nameplate_tests::acme_client::ReqwestClient;
use reqwest::header::AUTHORIZATION;

use crate::setup::{Target, ZONE, challenge_patch};

/// How long an order may stay processing or pending before it counts as failed.
const POLL_DEADLINE: Duration = Duration::from_secs(30);
/// The pause between two polls of an order that is not there yet.
const POLL_PAUSE: Duration = Duration::from_millis(5);

/// How orders get their authorizations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Authz {
    /// Valid at once (`[acme] pre_authorize = true`): the order is ready
    /// when created.
    PreAuthorized,
    /// dns-01: the TXT record published through the API, then checked by
    /// the CA in-process, then removed.
    Dns01,
}

/// Everything an order needs: the account, an HTTP client and the API.
pub(crate) struct Orders {
    account: Account,
    http: reqwest::Client,
    rrsets_url: String,
    bearer: String,
    authz: Authz,
}

impl Orders {
    /// Creates the account (with a fresh EAB key of the target's team) that
    /// every order uses.
    pub(crate) async fn new(target: &Target, eab: (String, Vec<u8>), authz: Authz) -> Result<Self> {
        let client = ReqwestClient::new(Some(&target.root_pem()?))?;
        let http = client.client().clone();
        let eab = ExternalAccountKey::new(eab.0, &eab.1);
        let new = NewAccount { contact: &[], terms_of_service_agreed: true, only_return_existing: false };
        let (account, _) = Account::builder_with_http(Box::new(client))
            .create(&new, target.directory(), Some(&eab))
            .await
            .context("creating the ACME account")?;
        let rrsets_url = format!("{}/api/v1/zones/{ZONE}/rrsets", target.base_url());
        Ok(Self { account, http, rrsets_url, bearer: format!("Bearer {}", target.owner_token()), authz })
    }

    /// One complete order for `name` finalized with `csr_der`; fails unless
    /// it ends with a certificate chain.
    pub(crate) async fn complete(&self, name: &str, csr_der: &[u8]) -> Result<()> {
        let ids = [Identifier::Dns(name.to_owned())];
        let mut order = self.account.new_order(&NewOrder::new(&ids)).await.context("newOrder")?;
        let status = order.state().status;
        match self.authz {
            Authz::PreAuthorized => ensure!(status == OrderStatus::Ready, "new order is {status:?}, not ready"),
            Authz::Dns01 => {
                ensure!(status == OrderStatus::Pending, "new order is {status:?}, not pending");
                self.answer_dns01(&mut order, name).await?;
                wait_ready(&mut order).await?;
            }
        }
        order.finalize_csr(csr_der).await.context("finalize")?;
        let chain = certificate(&mut order).await?;
        ensure!(chain.contains("-----BEGIN CERTIFICATE-----"), "no certificate in {chain:?}");
        if self.authz == Authz::Dns01 {
            self.patch(name, None).await.context("removing the TXT record")?;
        }
        Ok(())
    }

    /// Publishes the dns-01 value for the order's one authorization and
    /// tells the CA, which checks it in-process before answering.
    async fn answer_dns01(&self, order: &mut Order, name: &str) -> Result<()> {
        let mut authzs = order.authorizations();
        let mut authz = authzs.next().await.context("the order has no authorization")?.context("authorization")?;
        ensure!(authz.status == AuthorizationStatus::Pending, "authorization is {:?}, not pending", authz.status);
        let mut challenge = authz.challenge(ChallengeType::Dns01).context("no dns-01 challenge offered")?;
        let value = challenge.key_authorization().dns_value();
        self.patch(name, Some(&value)).await.context("publishing the TXT record")?;
        challenge.set_ready().await.context("challenge")?;
        Ok(())
    }

    /// Sets (`Some`) or deletes (`None`) `_acme-challenge.<name>` TXT.
    async fn patch(&self, name: &str, value: Option<&str>) -> Result<()> {
        let response = self
            .http
            .patch(&self.rrsets_url)
            .header(AUTHORIZATION, &self.bearer)
            .json(&challenge_patch(name, value))
            .send()
            .await?;
        let status = response.status();
        if status.as_u16() != 204 {
            bail!("PATCH rrsets: {status}: {}", response.text().await.unwrap_or_default());
        }
        Ok(())
    }
}

/// Polls `order` until it is ready for finalization.
async fn wait_ready(order: &mut Order) -> Result<()> {
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        let state = order.refresh().await.context("polling the order")?;
        match state.status {
            OrderStatus::Ready => return Ok(()),
            OrderStatus::Pending | OrderStatus::Processing if Instant::now() < deadline => {}
            other => bail!("order is {other:?} (error: {:?})", state.error),
        }
        tokio::time::sleep(POLL_PAUSE).await;
    }
}

/// Polls a finalized `order` until it is valid, then downloads its chain.
async fn certificate(order: &mut Order) -> Result<String> {
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        if let Some(chain) = order.certificate().await.context("polling for the certificate")? {
            return Ok(chain);
        }
        ensure!(Instant::now() < deadline, "order still processing after {POLL_DEADLINE:?}");
        tokio::time::sleep(POLL_PAUSE).await;
    }
}
