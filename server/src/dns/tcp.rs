//! TCP listeners (RFC 7766): length-prefixed messages, several per
//! connection, answered in order as they arrive, an idle timeout and a limit
//! on concurrent connections.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;

use super::metrics::Counters;
use super::{Responder, Snapshots, Transport};

/// How TCP connections are bounded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Close a connection that sends nothing for this long.
    pub idle_timeout: Duration,
    /// Refuse connections beyond this many at once.
    pub max_connections: usize,
}

/// Binds `addr` now and returns the accept loop to run. Its connections
/// share the one counter block `counters` (from
/// [`super::metrics::Registry::register`]).
pub async fn bind(
    addr: SocketAddr,
    snapshots: Arc<dyn Snapshots>,
    udp_payload: u16,
    limits: Limits,
    counters: Arc<Counters>,
) -> io::Result<impl Future<Output = ()>> {
    let listener = TcpListener::bind(addr).await?;
    Ok(accept_loop(listener, snapshots, udp_payload, limits, counters))
}

async fn accept_loop(
    listener: TcpListener,
    snapshots: Arc<dyn Snapshots>,
    udp_payload: u16,
    limits: Limits,
    counters: Arc<Counters>,
) {
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
        let responder = Responder::uncached(snapshots.clone(), udp_payload).counting(counters.clone());
        tokio::spawn(async move {
            if let Err(error) = serve(stream, responder, limits.idle_timeout).await {
                tracing::debug!(%error, %peer, "tcp connection ended");
            }
            drop(slot);
        });
    }
}

/// Answers every message on one connection until EOF, an error or idleness.
async fn serve(stream: TcpStream, mut responder: Responder, idle: Duration) -> io::Result<()> {
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
        if responder.answer(&packet, Transport::Tcp, &mut out) {
            let len = u16::try_from(out.len()).map_err(|_| io::ErrorKind::InvalidData)?;
            writer.write_u16(len).await?;
            writer.write_all(&out).await?;
        }
        if reader.buffer().is_empty() {
            writer.flush().await?; // pipelined queries already read are answered in one write
        }
    }
}
