//! The HTTPS listener: every HTTP endpoint (ACME, API, portal, acme-dns)
//! behind one rustls listener whose certificate the built-in CA issues to
//! nameplate itself.
//!
//! - [`CertSlot`] holds the current certificate and key. It answers every
//!   handshake (any SNI, or none: clients connect to `127.0.0.1`) with the
//!   same certificate, and [`CertSlot::replace`] swaps it without a lock on
//!   the handshake path.
//! - [`serve_https`] accepts TCP connections, runs each TLS handshake in its
//!   own task under [`HANDSHAKE_TIMEOUT`], and serves an [`axum::Router`]
//!   over HTTP/1.1 or HTTP/2 (ALPN). Handlers see the peer address as
//!   `axum::extract::ConnectInfo<std::net::SocketAddr>`,
//!   the same as with `axum::serve` and `into_make_service_with_connect_info`.
//! - [`renew_loop`] renews the certificate once two thirds of its lifetime
//!   have passed ([`renew_at`]) and retries failures with a capped backoff.
//!
//! - [`own_certificate`] is the [`Issue`] that `serve` gives both: the CA's
//!   service issuer signs a fresh certificate and key for `https.names`.

mod listener;
mod own;
mod renew;
mod slot;
#[cfg(test)]
mod test_pki;

pub use listener::{DRAIN_TIMEOUT, HANDSHAKE_TIMEOUT, serve_https};
pub use own::own_certificate;
pub use renew::{Issue, RETRY_CAP, RETRY_FIRST, renew_at, renew_loop};
pub use slot::{CertSlot, Validity, server_config};

/// What can go wrong when loading a certificate into a [`CertSlot`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The chain has no certificate in it.
    #[error("the certificate chain is empty")]
    EmptyChain,
    /// The private key is not usable, or does not belong to the leaf.
    #[error("the certificate's key is not usable: {0}")]
    Key(#[from] rustls::Error),
    /// The leaf certificate does not parse as X.509.
    #[error("the leaf certificate does not parse: {0}")]
    Certificate(String),
    /// The leaf's validity lies outside what the system clock represents.
    #[error("the leaf certificate's validity is out of range")]
    Validity,
}
