//! What the `/acme` routes hold: the [`Acme`] logic, the running [`Ca`],
//! the nonces, the public base URL, and the issued chains (a sled tree in
//! the CA's database, keyed by serial), plus the seams the edge
//! implements: the [`Signer`] over `ca::pki`, a blocking http-01 fetch, and
//! the delegated-nameserver lookups ([`DelegatedDns`], made per request by
//! [`AcmeEdge::delegated_dns`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ca::acme::{
    Acme, AcmeConfig, AcmeStore, DnsView, HttpFetch, Problem, ProblemType, SignRequest, SignedCert, Signer,
};
use ca::issuance::{Ca, IssueError};
use ca::pki::{CheckedCsr, IssuedCert, LeafKey};
use serde::{Deserialize, Serialize};

use super::external_dns::DelegatedDns;
use super::nonce::Nonces;

/// The sled tree of issued chains.
const CHAINS_TREE: &str = "acme.chains";
/// How long an http-01 connect, read or write may take.
const HTTP01_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of an http-01 response read.
const HTTP01_MAX_RESPONSE: u64 = 16 * 1024;

/// Why the ACME edge could not be opened or could not store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// The ACME store failed.
    #[error(transparent)]
    Acme(#[from] ca::acme::Error),
    /// The chains tree failed.
    #[error("acme chains: {0}")]
    Db(#[from] sled::Error),
    /// A stored chain does not decode.
    #[error("acme chain record: {0}")]
    Codec(#[from] serde_json::Error),
}

/// An issued certificate as the edge keeps it, for download and revocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredChain {
    /// The account it was issued to.
    pub(crate) account: String,
    /// The serial as `ca::pki::CertStore` knows it (hex).
    pub(crate) serial_hex: String,
    /// Leaf then intermediate, PEM.
    pub(crate) chain_pem: String,
    /// The leaf, DER.
    pub(crate) der: Vec<u8>,
}

/// The state of the `/acme` routes.
pub struct AcmeEdge {
    acme: Acme,
    ca: Arc<Ca>,
    nonces: Nonces,
    base_url: String,
    chains: sled::Tree,
}

impl std::fmt::Debug for AcmeEdge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeEdge").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl AcmeEdge {
    /// The edge over `ca` (whose database also holds the ACME store) with
    /// `config`, answering under `base_url` (e.g. `https://127.0.0.1:8443`,
    /// no trailing slash). `config.account_url_prefix` is set to
    /// `<base_url>/acme/acct/`, the account URLs clients use as `kid`.
    pub fn open(ca: Arc<Ca>, mut config: AcmeConfig, base_url: &str) -> Result<Self, EdgeError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        config.account_url_prefix = format!("{base_url}/acme/acct/");
        let store = AcmeStore::open(ca.database())?;
        let acme = Acme::new(store, config, Arc::new(ring::rand::SystemRandom::new()));
        let chains = ca.database().db().open_tree(CHAINS_TREE)?;
        Ok(Self { acme, ca, nonces: Nonces::default(), base_url, chains })
    }

    /// The ACME logic.
    pub fn acme(&self) -> &Acme {
        &self.acme
    }

    /// The CA.
    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    /// The replay nonces.
    pub fn nonces(&self) -> &Nonces {
        &self.nonces
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The lookups for names under an external delegation: the delegated
    /// nameservers, asked on `[acme] external_dns_port`, with `view` (the
    /// zones served now) for nameservers without glue.
    pub fn delegated_dns<'a>(&self, view: &'a dyn DnsView) -> DelegatedDns<'a> {
        DelegatedDns::new(view, self.acme.config().external_dns_port)
    }

    /// The chain stored under `key` ([`serial_key`]).
    pub(crate) fn chain(&self, key: &str) -> Result<Option<StoredChain>, EdgeError> {
        match self.chains.get(key.as_bytes())? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn save_chain(&self, cert: &IssuedCert, account: &str) -> Result<(), EdgeError> {
        let record = StoredChain {
            account: account.to_owned(),
            serial_hex: cert.serial_hex.clone(),
            chain_pem: cert.chain_pem.clone(),
            der: cert.der.clone(),
        };
        // Not flushed here: the order becomes valid (and the chain
        // downloadable) only with the ACME store's next commit, whose flush
        // covers this write too (one database).
        self.chains.insert(serial_key(&cert.serial).as_bytes(), serde_json::to_vec(&record)?)?;
        Ok(())
    }

    /// A signer for one finalization with `csr`.
    pub(crate) fn signer<'a>(&'a self, csr: &'a CheckedCsr, now: SystemTime) -> PkiSigner<'a> {
        PkiSigner { edge: self, csr, now }
    }
}

/// The key of a certificate in URLs and the chains tree: its serial in
/// lowercase hex without leading zero bytes (so a serial read back from
/// a certificate's DER INTEGER gives the same key).
pub(crate) fn serial_key(serial: &[u8]) -> String {
    strip_leading_zeros(serial).iter().map(|b| format!("{b:02x}")).collect()
}

/// `bytes` without its leading zero bytes (a DER INTEGER's unsigned value).
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// [`Signer`] over `ca::pki`: reserve the serial (flushed), sign, record.
pub(crate) struct PkiSigner<'a> {
    edge: &'a AcmeEdge,
    csr: &'a CheckedCsr,
    now: SystemTime,
}

impl Signer for PkiSigner<'_> {
    fn sign(&self, request: SignRequest) -> Result<SignedCert, ca::acme::Error> {
        let key = LeafKey::from_csr(self.csr).map_err(|e| Problem::new(ProblemType::BadPublicKey, e.to_string()))?;
        let team = request.team.as_deref().unwrap_or("");
        let (cert, issuer) = self.edge.ca.sign(request.approved, key, team, self.now).map_err(|e| match e {
            IssueError::NoIssuer(_) => {
                Problem::new(ProblemType::RejectedIdentifier, "no issuer of this CA may sign for all of these names")
                    .into()
            }
            e => internal(e),
        })?;
        self.edge.save_chain(&cert, request.account.as_str()).map_err(internal)?;
        Ok(SignedCert {
            serial: cert.serial.clone(),
            authority_key_id: issuer.key_id().to_vec(),
            not_before: cert.not_before,
            not_after: cert.not_after,
        })
    }
}

fn internal(e: impl std::fmt::Display) -> ca::acme::Error {
    ca::acme::Error::Signer(e.to_string())
}

/// http-01 over a plain blocking HTTP/1.1 GET, bounded in time and size.
/// Redirects are not followed (a 3xx is a `connection` problem).
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpFetch;

impl HttpFetch for TcpFetch {
    fn get(&self, addr: SocketAddr, host: &str, token: &str) -> Result<String, Problem> {
        let conn = |e: std::io::Error| Problem::new(ProblemType::Connection, format!("http-01 fetch from {addr}: {e}"));
        let mut stream = TcpStream::connect_timeout(&addr, HTTP01_TIMEOUT).map_err(conn)?;
        stream.set_read_timeout(Some(HTTP01_TIMEOUT)).map_err(conn)?;
        stream.set_write_timeout(Some(HTTP01_TIMEOUT)).map_err(conn)?;
        let request = format!(
            "GET /.well-known/acme-challenge/{token} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: nameplate-acme\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).map_err(conn)?;
        let mut response = Vec::new();
        stream.take(HTTP01_MAX_RESPONSE).read_to_end(&mut response).map_err(conn)?;
        http_body(&response).map_err(|detail| Problem::new(ProblemType::Connection, detail))
    }
}

/// The body of a `200` HTTP/1.x response with a plain (not chunked) body.
fn http_body(response: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("the http-01 response has no complete header")?;
    let status = head.lines().next().unwrap_or("");
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if !status.starts_with("HTTP/1.") || code != "200" {
        return Err(format!("the http-01 response status is {status:?}, not 200"));
    }
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return Err("chunked http-01 responses are not supported".to_owned());
    }
    Ok(body.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn serial_keys_drop_leading_zero_bytes() {
        assert_eq!(serial_key(&[0x00, 0x8f, 0x01]), "8f01");
        assert_eq!(serial_key(&[0x12, 0x00]), "1200");
    }

    #[test]
    fn http_bodies_need_status_200() {
        assert_eq!(http_body(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc").unwrap(), "abc");
        assert!(http_body(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n").is_err());
        assert!(http_body(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc").is_err());
        assert!(http_body(b"garbage").is_err());
    }

    #[test]
    fn fetch_reads_the_served_body_and_sends_the_path_and_host() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = socket.read(&mut buf).unwrap();
            socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ntok.abc").unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        let body = TcpFetch.get(addr, "app.example.test", "tok").unwrap();
        let request = server.join().unwrap();
        assert_eq!(body, "tok.abc");
        assert!(request.starts_with("GET /.well-known/acme-challenge/tok HTTP/1.1\r\n"));
        assert!(request.contains("Host: app.example.test\r\n"));
    }
}
