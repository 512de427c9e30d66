//! UDP listeners: one socket per worker thread (SO_REUSEPORT), each thread
//! with its own [`Responder`] and so its own response cache.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;

use socket2::{Domain, Protocol, Socket, Type};

use super::{Responder, Snapshots, Transport};

/// The largest datagram read; bigger queries are cut and answered FORMERR.
const MAX_DATAGRAM: usize = 65_535;

/// Binds `workers` sockets to `addr` and starts one answering thread each.
pub fn spawn(
    addr: SocketAddr,
    workers: usize,
    snapshots: Arc<dyn Snapshots>,
    udp_payload: u16,
) -> io::Result<Vec<JoinHandle<()>>> {
    let sockets = (0..workers.max(1)).map(|_| bind(addr)).collect::<io::Result<Vec<_>>>()?;
    sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let responder = Responder::new(snapshots.clone(), udp_payload);
            std::thread::Builder::new().name(format!("dns-udp-{i}")).spawn(move || serve(socket, responder))
        })
        .collect()
}

/// A UDP socket bound with SO_REUSEPORT so every worker has its own.
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
