//! TCP listeners (RFC 7766): length-prefixed messages, several per
//! connection, answered in order as they arrive, an idle timeout and a limit
//! on concurrent connections.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::RuntimeFlavor;
use tokio::sync::Semaphore;
use tokio::time::timeout;

use super::authority::Authority;
use super::metrics::Counters;
use super::xfr::{self, Transfers};
use super::{Responder, Snapshots, Transport};

/// How TCP connections are bounded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Close a connection that sends nothing for this long.
    pub idle_timeout: Duration,
    /// Refuse connections beyond this many at once.
    pub max_connections: usize,
}

/// What the connections of one TCP listener share.
pub struct Service {
    /// The published zone snapshots.
    pub snapshots: Arc<dyn Snapshots>,
    /// The EDNS payload size advertised.
    pub udp_payload: u16,
    /// How connections are bounded.
    pub limits: Limits,
    /// The counter block every connection of this listener counts into
    /// (from [`super::metrics::Registry::register`]).
    pub counters: Arc<Counters>,
    /// AXFR and IXFR; without it they go to the responder, which refuses
    /// them.
    pub transfers: Option<Arc<Transfers>>,
    /// TSIG keys and the UPDATE write path; without it UPDATE is NOTIMP.
    pub authority: Option<Arc<dyn Authority>>,
}

/// Binds `addr` now and returns the accept loop to run.
pub async fn bind(addr: SocketAddr, service: Service) -> io::Result<impl Future<Output = ()>> {
    let listener = TcpListener::bind(addr).await?;
    Ok(accept_loop(listener, service))
}

async fn accept_loop(listener: TcpListener, service: Service) {
    let Service { snapshots, udp_payload, limits, counters, transfers, authority } = service;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "tcp connection limit reached; closing");
            continue; // dropping the stream closes it
        };
        let responder = Responder::uncached(snapshots.clone(), udp_payload)
            .counting(counters.clone())
            .with_authority(authority.clone());
        let connection = Connection { peer, transfers: transfers.clone(), counters: counters.clone() };
        tokio::spawn(async move {
            if let Err(error) = serve(stream, responder, connection, limits.idle_timeout).await {
                tracing::debug!(%error, %peer, "tcp connection ended");
            }
            drop(slot);
        });
    }
}

/// What a connection needs beside its responder.
struct Connection {
    peer: SocketAddr,
    transfers: Option<Arc<Transfers>>,
    counters: Arc<Counters>,
}

/// Answers every message on one connection until EOF, an error or idleness.
async fn serve(stream: TcpStream, mut responder: Responder, connection: Connection, idle: Duration) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (reader, writer) = stream.into_split();
    let (mut reader, mut writer) = (BufReader::new(reader), BufWriter::new(writer));
    let mut packet = Vec::new();
    let mut out = Vec::new();
    loop {
        let len = match timeout(idle, reader.read_u16()).await {
            Ok(Ok(len)) => usize::from(len),
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(()), // idle
        };
        packet.resize(len, 0);
        timeout(idle, reader.read_exact(&mut packet)).await.map_err(|_| io::ErrorKind::TimedOut)??;
        if let Some(transfers) = connection.transfers.as_ref().filter(|_| xfr::is_transfer(&packet)) {
            transfer(transfers, &packet, &connection, &mut writer).await?;
            continue;
        }
        // An UPDATE blocks until its change is durable (a sled flush): off
        // the async workers, still in order with the queries around it.
        let multi_thread = || tokio::runtime::Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread;
        let answered = match is_update(&packet) && multi_thread() {
            true => tokio::task::block_in_place(|| responder.answer(&packet, Transport::Tcp, &mut out)),
            false => responder.answer(&packet, Transport::Tcp, &mut out),
        };
        if answered {
            let len = u16::try_from(out.len()).map_err(|_| io::ErrorKind::InvalidData)?;
            writer.write_u16(len).await?;
            writer.write_all(&out).await?;
        }
        if reader.buffer().is_empty() {
            writer.flush().await?; // pipelined queries already read are answered in one write
        }
    }
}

/// Sends the whole response to the transfer query `packet`, message by
/// message, and counts it once.
async fn transfer<W: AsyncWriteExt + Unpin>(
    transfers: &Transfers,
    packet: &[u8],
    connection: &Connection,
    writer: &mut W,
) -> io::Result<()> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut outgoing = transfers.start(packet, connection.peer.ip(), now);
    let qtype = question_type(packet).unwrap_or(0);
    connection.counters.answered(Transport::Tcp, qtype, u16::from(outgoing.rcode()));
    while let Some(message) = outgoing.next_message() {
        let len = u16::try_from(message.len()).map_err(|_| io::ErrorKind::InvalidData)?;
        writer.write_u16(len).await?;
        writer.write_all(&message).await?;
    }
    writer.flush().await
}

/// The QTYPE of a transfer query (already checked by [`xfr::is_transfer`]).
fn question_type(packet: &[u8]) -> Option<u16> {
    let mut at = 12;
    while let Some(&len) = packet.get(at).filter(|&&len| len != 0) {
        at += 1 + usize::from(len);
    }
    packet.get(at + 1..at + 3).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Whether `packet` is a request with opcode UPDATE (5).
fn is_update(packet: &[u8]) -> bool {
    packet.get(2).is_some_and(|flags| flags & 0x80 == 0 && (flags >> 3) & 0x0f == 5)
}
