//! UDP listeners: worker threads, each with its own [`Responder`] and so its
//! own response cache.
//!
//! By default every worker of an address reads the same socket, so the kernel
//! hands each datagram to whichever worker is waiting: load spreads evenly
//! even when few clients send it all (as Knot does without `socket-affinity`).
//! With `reuseport`, each worker binds its own SO_REUSEPORT socket and the
//! kernel spreads by a hash of the client's address and port instead.
//!
//! On Linux a worker moves datagrams in batches (`recvmmsg` with
//! MSG_WAITFORONE, then one `sendmmsg` for the answers): one system call per
//! direction for whatever has queued up, and no waiting for a batch to fill.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;

use socket2::{Domain, Protocol, Socket, Type};

use super::authority::Authority;
use super::metrics::Registry;
use super::{Responder, Snapshots, Transport};

/// The largest datagram read.
const MAX_DATAGRAM: usize = 65_535;

/// Binds `addr` and starts `workers` answering threads on it, each counting
/// into its own block of `metrics`, with UPDATE going to `authority` (an
/// UPDATE blocks its worker until the change is durable).
pub fn spawn(
    addr: SocketAddr,
    workers: usize,
    reuseport: bool,
    snapshots: Arc<dyn Snapshots>,
    udp_payload: u16,
    metrics: &Registry,
    authority: Option<Arc<dyn Authority>>,
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
            let responder = Responder::new(snapshots.clone(), udp_payload)
                .counting(metrics.register())
                .with_authority(authority.clone());
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

/// Receives, answers, sends; forever (one datagram at a time).
#[cfg(not(target_os = "linux"))]
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

/// Receives, answers, sends; forever (in batches).
#[cfg(target_os = "linux")]
fn serve(socket: UdpSocket, responder: Responder) {
    batch::Worker::new(socket, responder).run()
}

#[cfg(target_os = "linux")]
mod batch {
    use std::io::{IoSlice, IoSliceMut};
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};

    use super::{MAX_DATAGRAM, Responder, Transport};

    /// Datagrams moved per system call at most.
    const BATCH: usize = 32;

    /// One UDP worker's buffers and headers, allocated once.
    pub(super) struct Worker {
        socket: UdpSocket,
        responder: Responder,
        queries: Vec<Vec<u8>>,
        answers: Vec<Vec<u8>>,
        peers: Vec<Option<SockaddrStorage>>,
        received: Vec<(usize, Option<SockaddrStorage>)>,
        recv_headers: MultiHeaders<SockaddrStorage>,
        send_headers: MultiHeaders<SockaddrStorage>,
    }

    impl Worker {
        pub(super) fn new(socket: UdpSocket, responder: Responder) -> Self {
            Self {
                socket,
                responder,
                queries: vec![vec![0; MAX_DATAGRAM]; BATCH],
                answers: (0..BATCH).map(|_| Vec::with_capacity(1232)).collect(),
                peers: Vec::with_capacity(BATCH),
                received: Vec::with_capacity(BATCH),
                recv_headers: MultiHeaders::preallocate(BATCH, None),
                send_headers: MultiHeaders::preallocate(BATCH, None),
            }
        }

        pub(super) fn run(mut self) {
            loop {
                if let Err(error) = self.receive() {
                    tracing::debug!(%error, "udp receive failed");
                    continue;
                }
                let count = self.answer_all();
                self.send(count);
            }
        }

        /// Waits for at least one datagram and takes all that are queued (up to BATCH).
        fn receive(&mut self) -> nix::Result<()> {
            self.received.clear();
            let mut slices: Vec<[IoSliceMut<'_>; 1]> = self.queries.iter_mut().map(|q| [IoSliceMut::new(q)]).collect();
            let fd = self.socket.as_raw_fd();
            let messages = recvmmsg(fd, &mut self.recv_headers, slices.iter_mut(), MsgFlags::MSG_WAITFORONE, None)?;
            self.received.extend(messages.map(|m| (m.bytes, m.address)));
            Ok(())
        }

        /// Answers the received datagrams into `answers[..count]`, their peers in `peers`.
        fn answer_all(&mut self) -> usize {
            self.peers.clear();
            for (query, (len, peer)) in self.queries.iter().zip(&self.received) {
                let answer = &mut self.answers[self.peers.len()];
                if peer.is_some() && self.responder.answer(&query[..*len], Transport::Udp, answer) {
                    self.peers.push(*peer);
                }
            }
            self.peers.len()
        }

        /// Sends `answers[..count]`, resuming after partial sends and skipping
        /// a datagram the kernel refuses.
        fn send(&mut self, count: usize) {
            let fd = self.socket.as_raw_fd();
            let mut start = 0;
            while start < count {
                let slices: Vec<[IoSlice<'_>; 1]> =
                    self.answers[start..count].iter().map(|a| [IoSlice::new(a)]).collect();
                let no_control: [ControlMessage<'_>; 0] = [];
                match sendmmsg(
                    fd,
                    &mut self.send_headers,
                    &slices,
                    &self.peers[start..count],
                    no_control,
                    MsgFlags::empty(),
                ) {
                    Ok(sent) => start += sent.count().max(1),
                    Err(error) => {
                        tracing::debug!(%error, "udp send failed");
                        start += 1;
                    }
                }
            }
        }
    }
}
