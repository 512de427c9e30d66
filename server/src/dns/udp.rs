//! UDP listeners: worker threads, each with its own [`Responder`] and so its
//! own response cache.
//!
//! By default every worker of an address reads the same socket, so the kernel
//! hands each datagram to whichever worker is waiting: load spreads evenly
//! even when few clients send it all (as Knot does without `socket-affinity`).
//! With `reuseport`, each worker binds its own SO_REUSEPORT socket and the
//! kernel spreads by a hash of the client's address and port instead.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;

use socket2::{Domain, Protocol, Socket, Type};

use super::{Responder, Snapshots, Transport};

/// The largest datagram read; bigger queries are cut and answered FORMERR.
const MAX_DATAGRAM: usize = 65_535;

/// Binds `addr` and starts `workers` answering threads on it.
pub fn spawn(
    addr: SocketAddr,
    workers: usize,
    reuseport: bool,
    snapshots: Arc<dyn Snapshots>,
    udp_payload: u16,
) -> io::Result<Vec<JoinHandle<()>>> {
    let shared = if reuseport { None } else { Some(bind(addr)?) };
    let socket = |_| match &shared {
        Some(socket) => socket.try_clone(),
        None => bind(addr),
    };
    let sockets = (0..workers.max(1)).map(socket).collect::<io::Result<Vec<_>>>()?;
    sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let responder = Responder::new(snapshots.clone(), udp_payload);
            std::thread::Builder::new().name(format!("dns-udp-{i}")).spawn(move || serve(socket, responder))
        })
        .collect()
}

/// A UDP socket, bound with SO_REUSEPORT (harmless when it is shared).
fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    socket.set_recv_buffer_size(4 << 20).ok(); // best effort: the kernel caps it
    socket.set_send_buffer_size(4 << 20).ok();
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Receives, answers, sends; forever.
fn serve(socket: UdpSocket, mut responder: Responder) {
    let mut packet = vec![0u8; MAX_DATAGRAM];
    let mut out = Vec::with_capacity(4096);
    loop {
        let (len, peer) = match socket.recv_from(&mut packet) {
            Ok(received) => received,
            Err(error) => {
                tracing::debug!(%error, "udp receive failed");
                continue;
            }
        };
        if responder.answer(&packet[..len], Transport::Udp, &mut out) {
            if let Err(error) = socket.send_to(&out, peer) {
                tracing::debug!(%error, %peer, "udp send failed");
            }
        }
    }
}
