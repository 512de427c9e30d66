//! Shared helpers for nameplate's end-to-end tests.
//!
//! The tests start the real `nameplate` binary (see [`server::Server`]), the
//! reference servers Knot DNS and NSD (see [`peers::Peers`]), and talk to them
//! over real UDP and TCP sockets (see [`dns`]). Every helper is a plain
//! blocking function with a deadline, except [`acme_client`], the async
//! HTTP client that instant-acme needs.
//!
//! The binary is not built by `cargo test -p nameplate-tests` (a test package
//! cannot depend on another package's binary), so build it first:
//! `cargo build --release -p nameplate && cargo test --release -p nameplate-tests`,
//! or point `NAMEPLATE_BIN` at it.

pub mod acme_client;
pub mod acme_peers;
pub mod api;
pub mod dns;
pub mod paths;
pub mod peers;
pub mod server;
pub mod tools;

pub use dns::{Summary, Transport};
pub use paths::{free_port, host_address, nameplate_bin, shared_dir, workspace_root};
pub use peers::Peers;
pub use server::{Server, zone_export, zone_import};
