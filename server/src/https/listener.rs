//! The accept loop: TLS handshake per connection in its own task, then
//! HTTP/1.1 or HTTP/2 into the router.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tower::util::MapRequest;

use super::{CertSlot, server_config};

/// How long a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long, after shutdown begins, open connections may take to finish
/// their requests before they are left to be dropped.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an HTTP/1.1 client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `router` over TLS on `listener`, presenting the certificate in
/// `slot`, until `shutdown` completes; then stops accepting and lets open
/// connections finish for up to [`DRAIN_TIMEOUT`].
///
/// Each handler can extract the client's address as
/// `axum::extract::ConnectInfo<SocketAddr>`: it is inserted as a request
/// extension, as `axum::serve` does with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
///
/// A failed or slow handshake and a broken connection are logged at debug
/// level and affect only that connection. The error is returned only when
/// the TLS configuration cannot be built.
pub async fn serve_https(
    listener: TcpListener,
    router: Router,
    slot: Arc<CertSlot>,
    shutdown: impl Future,
) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(server_config(slot).map_err(io::Error::other)?);
    let connections = Connections { acceptor, http: http_builder(), router };
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => connections.spawn(tcp, peer, graceful.watcher()),
                Err(error) => accept_failed(error).await,
            },
        }
    }
    drop(listener);
    drain(graceful).await;
    Ok(())
}

/// What every connection task needs, cloned into it.
#[derive(Clone)]
struct Connections {
    acceptor: TlsAcceptor,
    http: Builder<TokioExecutor>,
    router: Router,
}

impl Connections {
    fn spawn(&self, tcp: TcpStream, peer: SocketAddr, watcher: Watcher) {
        tokio::spawn(self.clone().serve(tcp, peer, watcher));
    }

    async fn serve(self, tcp: TcpStream, peer: SocketAddr, watcher: Watcher) {
        let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => return tracing::debug!(%peer, %error, "TLS handshake failed"),
            Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
        };
        let service = TowerToHyperService::new(with_peer(self.router, peer));
        let connection = self.http.serve_connection_with_upgrades(TokioIo::new(tls), service);
        if let Err(error) = watcher.watch(connection).await {
            tracing::debug!(%peer, %error, "HTTPS connection ended with an error");
        }
    }
}

/// The router with the peer address inserted into every request, where
/// axum's `ConnectInfo<SocketAddr>` extractor looks for it.
fn with_peer(
    router: Router,
    peer: SocketAddr,
) -> MapRequest<Router, impl FnMut(Request<Incoming>) -> Request<Incoming> + Clone> {
    router.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    })
}

fn http_builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    builder
}

/// An accept error that concerns one connection is skipped; any other
/// (out of file descriptors, say) pauses accepting for a moment so the
/// loop does not spin.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return tracing::debug!(%error, "accepting an HTTPS connection failed");
    }
    tracing::warn!(%error, "accepting HTTPS connections failed; pausing");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn drain(graceful: GracefulShutdown) {
    let open = graceful.count();
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::debug!(open, "HTTPS connections still open after the drain timeout");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::routing::get;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;
    use tokio_rustls::TlsConnector;
    use tokio_rustls::client::TlsStream;

    use super::*;
    use crate::https::test_pki::{Leaf, TestCa};

    const HELLO: &str = "hello over TLS";

    struct Running {
        port: u16,
        slot: Arc<CertSlot>,
        stop: oneshot::Sender<()>,
        task: JoinHandle<io::Result<()>>,
    }

    async fn start(leaf: Leaf) -> Running {
        let router = Router::new()
            .route("/", get(|| async { HELLO }))
            .route("/peer", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }));
        start_with(leaf, router).await
    }

    async fn start_with((chain, key): Leaf, router: Router) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let slot = Arc::new(CertSlot::new(chain, key).unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_https(listener, router, slot.clone(), stopped));
        Running { port, slot, stop, task }
    }

    fn client(root: &CertificateDer<'_>) -> reqwest::Client {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_der(root).unwrap())
            .tls_info(true)
            .build()
            .unwrap()
    }

    /// The body, and the leaf certificate the server presented.
    async fn fetch(client: &reqwest::Client, url: &str) -> reqwest::Result<(String, Vec<u8>)> {
        let response = client.get(url).send().await?.error_for_status()?;
        let tls = response.extensions().get::<reqwest::tls::TlsInfo>().cloned();
        let leaf = tls.and_then(|info| info.peer_certificate().map(<[u8]>::to_vec)).unwrap_or_default();
        Ok((response.text().await?, leaf))
    }

    async fn raw_tls(
        port: u16,
        root: &CertificateDer<'static>,
        versions: &[&'static SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> TlsStream<TcpStream> {
        let mut roots = RootCertStore::empty();
        roots.add(root.clone()).unwrap();
        let mut config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap()
    }

    /// Everything the server sends until it closes, however it closes.
    async fn read_all(stream: &mut (impl AsyncReadExt + Unpin)) -> String {
        let mut buffer = Vec::new();
        let mut chunk = [0; 4096];
        while let Ok(read @ 1..) = stream.read(&mut chunk).await {
            buffer.extend_from_slice(&chunk[..read]);
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }

    #[tokio::test]
    async fn serves_the_router_to_a_client_that_trusts_the_ca() {
        let ca = TestCa::new();
        let running = start(ca.leaf(&["localhost", "127.0.0.1"])).await;
        let client = client(&ca.root);
        for host in ["127.0.0.1", "localhost"] {
            let (body, _) = fetch(&client, &format!("https://{host}:{}/", running.port)).await.unwrap();
            assert_eq!(body, HELLO, "via {host}");
        }
    }

    #[tokio::test]
    async fn a_client_that_does_not_trust_the_ca_fails() {
        let ca = TestCa::new();
        let running = start(ca.leaf(&["localhost", "127.0.0.1"])).await;
        let stranger = client(&TestCa::new().root);
        let error = fetch(&stranger, &format!("https://localhost:{}/", running.port)).await.unwrap_err();
        assert!(error.is_connect(), "{error:?}");
    }

    #[tokio::test]
    async fn a_new_connection_sees_the_replaced_certificate() {
        let ca = TestCa::new();
        let first = ca.leaf(&["localhost", "127.0.0.1"]);
        let first_der = first.0[0].to_vec();
        let running = start(first).await;
        let url = format!("https://127.0.0.1:{}/", running.port);
        assert_eq!(fetch(&client(&ca.root), &url).await.unwrap().1, first_der);
        let (chain, key) = ca.leaf(&["localhost", "127.0.0.1"]);
        let second_der = chain[0].to_vec();
        running.slot.replace(chain, key).unwrap();
        let (body, leaf) = fetch(&client(&ca.root), &url).await.unwrap();
        assert_eq!((body.as_str(), leaf), (HELLO, second_der));
    }

    #[tokio::test]
    async fn silent_and_garbage_clients_do_not_block_others() {
        let ca = TestCa::new();
        let running = start(ca.leaf(&["localhost", "127.0.0.1"])).await;
        let _silent = TcpStream::connect(("127.0.0.1", running.port)).await.unwrap();
        let mut garbage = TcpStream::connect(("127.0.0.1", running.port)).await.unwrap();
        garbage.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
        let answer = read_all(&mut garbage).await;
        assert!(!answer.contains(HELLO), "plain HTTP must not be served: {answer}");
        // Were handshakes done in the accept loop, the silent client would
        // hold it for the whole handshake timeout.
        let url = format!("https://localhost:{}/", running.port);
        let served = tokio::time::timeout(HANDSHAKE_TIMEOUT / 2, fetch(&client(&ca.root), &url)).await;
        assert_eq!(served.expect("served while a handshake is pending").unwrap().0, HELLO);
    }

    #[tokio::test]
    async fn handlers_see_the_peer_address_over_tls_1_2() {
        let ca = TestCa::new();
        let running = start(ca.leaf(&["localhost"])).await;
        let mut tls = raw_tls(running.port, &ca.root, &[&rustls::version::TLS12], &[b"http/1.1"]).await;
        let local = tls.get_ref().0.local_addr().unwrap();
        assert_eq!(tls.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
        tls.write_all(b"GET /peer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
        let response = read_all(&mut tls).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with(&format!("\r\n\r\n{local}")), "{response}");
    }

    #[tokio::test]
    async fn alpn_prefers_h2_over_tls_1_3() {
        let ca = TestCa::new();
        let running = start(ca.leaf(&["localhost"])).await;
        let tls = raw_tls(running.port, &ca.root, &[&rustls::version::TLS13], &[b"h2", b"http/1.1"]).await;
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        assert_eq!(tls.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
    }

    #[tokio::test]
    async fn shutdown_lets_a_request_in_flight_finish() {
        let ca = TestCa::new();
        let (entered, mut in_handler) = tokio::sync::mpsc::unbounded_channel::<()>();
        let release = Arc::new(tokio::sync::Notify::new());
        let gate = release.clone();
        let slow = move || async move {
            let _ = entered.send(());
            gate.notified().await;
            "finished"
        };
        let running = start_with(ca.leaf(&["localhost"]), Router::new().route("/slow", get(slow))).await;
        let mut tls = raw_tls(running.port, &ca.root, &[&rustls::version::TLS13], &[b"http/1.1"]).await;
        tls.write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
        in_handler.recv().await.unwrap();
        running.stop.send(()).unwrap();
        while TcpStream::connect(("127.0.0.1", running.port)).await.is_ok() {
            tokio::task::yield_now().await;
        }
        assert!(!running.task.is_finished(), "serve_https must wait for the request in flight");
        release.notify_one();
        let response = read_all(&mut tls).await;
        assert!(response.starts_with("HTTP/1.1 200") && response.ends_with("finished"), "{response}");
        running.task.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn shutdown_stops_accepting_and_returns() {
        let ca = TestCa::new();
        let running = start(ca.leaf(&["localhost"])).await;
        running.stop.send(()).unwrap();
        running.task.await.unwrap().unwrap();
        assert!(TcpStream::connect(("127.0.0.1", running.port)).await.is_err());
    }
}
