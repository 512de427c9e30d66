//! The DNS wire side: listeners and the answer path. It uses `zones` only.
//!
//! - [`responder`]: the single entry point, bytes in and bytes out.
//! - `question`, `cache`, `response`: the fast path's parser, the per-worker
//!   cache of encoded responses, and the encoder (the one place outcomes
//!   become RCODEs).
//! - [`authority`]: what the DNS side asks the rest of the server (TSIG
//!   keys, transfer rights, the UPDATE write path).
//! - [`udp`], [`tcp`]: the listeners.
//! - [`xfr`]: zone transfers out (AXFR, IXFR), the second entry point,
//!   called by the TCP listener; [`notify`]: NOTIFY out to the secondaries.
//! - [`metrics`]: per-worker query counters (relaxed atomics, no locks on the
//!   answer path) and the registry a scrape sums them from.

pub mod authority;
mod cache;
pub mod metrics;
pub mod notify;
mod question;
mod responder;
mod response;
pub mod tcp;
pub mod tsig;
pub mod udp;
mod update;
pub mod xfr;

pub use responder::{Responder, Snapshots, Transport};

/// Runs one packet through the whole answer path (fast and slow, UDP and TCP
/// limits) against a small fixed zone set; the fuzz target calls this.
pub fn fuzz_answer(packet: &[u8]) {
    use std::sync::{Arc, OnceLock};
    static ZONES: OnceLock<Arc<arc_swap::ArcSwap<zones::ZoneSet>>> = OnceLock::new();
    let zones = ZONES.get_or_init(|| Arc::new(arc_swap::ArcSwap::from_pointee(crate::seed::fuzz_zones())));
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        let mut responder = Responder::new(zones.clone(), 1232);
        for _ in 0..2 {
            if responder.answer(packet, transport, &mut out) {
                let limit = if transport == Transport::Udp { 1232 } else { 65_535 };
                assert!(out.len() <= limit, "response longer than the transport allows");
            }
        }
    }
}
