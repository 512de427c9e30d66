//! NOTIFY out (RFC 1996): every zone whose serial changes (and every zone
//! at start and every new zone) is announced to each configured secondary.
//!
//! [`run`] polls the published snapshot's generation every
//! [`POLL`]; for each zone whose SOA serial differs from the one last seen
//! it starts one task per secondary that sends a NOTIFY (opcode 4, AA, the
//! question `<zone> IN SOA`, the SOA in the answer section; TSIG-signed with
//! the secondary's key when it has one) over UDP and waits for the matching
//! response (same ID, QR, opcode NOTIFY), resending after 1, 2, 4, 8 and
//! 16 s; after [`TRIES`] sends it gives up and logs. A newer serial starts
//! new tasks; older ones run out on their own.
//!
//! The message building and the answer matching are plain functions.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, Record, RecordType};
use ring::rand::SecureRandom;
use tokio::net::UdpSocket;
use zones::Store;

use super::authority::Authority;
use super::tsig::Signer;
use super::xfr::Secondary;

/// How often the snapshot generation is checked.
pub const POLL: Duration = Duration::from_millis(100);
/// How many times a NOTIFY is sent before giving up.
pub const TRIES: u32 = 5;

/// Watches `store` and notifies `secondaries` of every change, until the
/// runtime stops. Keys for signed NOTIFYs come from `authority`.
pub async fn run(store: Arc<Store>, secondaries: Vec<Secondary>, authority: Option<Arc<dyn Authority>>) {
    if secondaries.is_empty() {
        return;
    }
    let secondaries = Arc::new(secondaries);
    let mut serials: HashMap<Name, u32> = HashMap::new();
    let mut generation = None;
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        let snapshot = store.snapshot();
        if generation == Some(snapshot.generation()) {
            continue;
        }
        generation = Some(snapshot.generation());
        let zones = snapshot.zones();
        serials.retain(|apex, _| snapshot.get(apex).is_some());
        for zone in zones {
            if serials.insert(zone.apex().clone(), zone.serial()) == Some(zone.serial()) {
                continue;
            }
            let Some(soa) = zone.soa().records().next() else { continue };
            for secondary in secondaries.iter() {
                let key = secondary.tsig_key.as_ref().and_then(|name| {
                    let key = authority.as_ref().and_then(|a| a.tsig_key(name));
                    if key.is_none() {
                        tracing::warn!(key = %name, "NOTIFY: the secondary's TSIG key is unknown; sending unsigned");
                    }
                    key
                });
                tokio::spawn(notify(soa.clone(), secondary.address, key.map(|k| Signer::for_request(k, unix_now()))));
            }
        }
    }
}

/// Sends one NOTIFY of `soa`'s zone to `to` until it is answered or
/// [`TRIES`] sends went unanswered.
async fn notify(soa: Record, to: SocketAddr, signer: Option<Signer>) {
    let zone = soa.name.clone();
    let id = random_id();
    let mut packet = match message(id, &soa) {
        Some(packet) => packet,
        None => return tracing::warn!(%zone, "NOTIFY could not be encoded"),
    };
    if let Some(mut signer) = signer {
        signer.sign_next(&mut packet);
    }
    let local: SocketAddr =
        if to.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = match UdpSocket::bind(local).await {
        Ok(socket) => socket,
        Err(error) => return tracing::warn!(%error, "NOTIFY: no UDP socket"),
    };
    if let Err(error) = socket.connect(to).await {
        return tracing::warn!(%error, %to, "NOTIFY: cannot reach the secondary");
    }
    let mut buf = vec![0; 4096];
    for attempt in 0..TRIES {
        if let Err(error) = socket.send(&packet).await {
            tracing::debug!(%error, %to, %zone, "NOTIFY send failed");
        }
        let wait = Duration::from_secs(1 << attempt);
        let answered = tokio::time::timeout(wait, async {
            loop {
                match socket.recv(&mut buf).await {
                    Ok(len) if is_answer(id, &buf[..len]) => return buf[3] & 0x0f,
                    Ok(_) => continue,                            // not ours: keep waiting
                    Err(_) => std::future::pending::<()>().await, // ICMP refused: wait out the timer
                }
            }
        })
        .await;
        if let Ok(rcode) = answered {
            if rcode != 0 {
                tracing::warn!(%to, %zone, rcode, "NOTIFY answered with an error");
            } else {
                tracing::debug!(%to, %zone, serial = %soa.data, "NOTIFY acknowledged");
            }
            return;
        }
    }
    tracing::warn!(%to, %zone, tries = TRIES, "NOTIFY was never acknowledged");
}

/// The NOTIFY message for the zone of `soa` (RFC 1996 §3.7).
pub(crate) fn message(id: u16, soa: &Record) -> Option<Vec<u8>> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Notify);
    message.metadata.authoritative = true;
    message.queries.push(Query::query(soa.name.clone(), RecordType::SOA));
    message.answers.push(soa.clone());
    message.to_vec().ok()
}

/// Whether `packet` answers our NOTIFY `id`: a response, opcode NOTIFY.
pub(crate) fn is_answer(id: u16, packet: &[u8]) -> bool {
    packet.len() >= 12 && packet[..2] == id.to_be_bytes() && packet[2] & 0x80 != 0 && (packet[2] >> 3) & 0x0f == 4
}

fn random_id() -> u16 {
    let mut id = [0; 2];
    let _ = ring::rand::SystemRandom::new().fill(&mut id);
    u16::from_be_bytes(id)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::RData;
    use hickory_proto::rr::rdata::SOA;

    fn soa() -> Record {
        let name = |t: &str| Name::from_ascii(t).expect("test");
        let soa = SOA::new(name("ns1.example.org."), name("host.example.org."), 7, 3600, 600, 86400, 60);
        Record::from_rdata(name("example.org."), 300, RData::SOA(soa))
    }

    #[test]
    fn notify_carries_the_zone_and_its_soa_and_matches_only_its_answer() {
        let bytes = message(0xbeef, &soa()).expect("test");
        let parsed = Message::from_vec(&bytes).expect("test");
        assert_eq!(parsed.metadata.op_code, OpCode::Notify);
        assert!(parsed.metadata.authoritative);
        assert_eq!(parsed.queries[0].query_type(), RecordType::SOA);
        assert_eq!(parsed.queries[0].name().to_ascii(), "example.org.");
        assert_eq!(parsed.answers, [soa()]);
        let mut answer = bytes.clone();
        answer[2] |= 0x80;
        assert!(is_answer(0xbeef, &answer));
        assert!(!is_answer(0xbeef, &bytes), "our own query is no answer");
        assert!(!is_answer(0xbeee, &answer));
        assert!(!is_answer(0xbeef, &answer[..11]));
    }

    #[tokio::test]
    async fn a_change_is_notified_and_resent_until_answered() {
        let dir = tempfile::tempdir().expect("test");
        let store = Arc::new(Store::open(&dir.path().join("data")).expect("test"));
        let zone = zones::zonefile::parse(
            "$ORIGIN example.org.\n@ 300 IN SOA ns1 host 1 3600 600 86400 60\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\n",
            None,
        )
        .expect("test");
        store.put_zone(zone, "test", "test", SystemTime::now()).expect("test");
        let secondary = UdpSocket::bind("127.0.0.1:0").await.expect("test");
        let address = secondary.local_addr().expect("test");
        tokio::spawn(run(store.clone(), vec![Secondary { address, tsig_key: None }], None));
        let mut buf = vec![0; 4096];
        let (len, from) = tokio::time::timeout(Duration::from_secs(5), secondary.recv_from(&mut buf))
            .await
            .expect("test")
            .expect("test");
        let first = Message::from_vec(&buf[..len]).expect("test");
        assert_eq!(first.metadata.op_code, OpCode::Notify);
        // unanswered: it comes again, with the same ID
        let (len, _) = tokio::time::timeout(Duration::from_secs(5), secondary.recv_from(&mut buf))
            .await
            .expect("test")
            .expect("test");
        let again = Message::from_vec(&buf[..len]).expect("test");
        assert_eq!(again.metadata.id, first.metadata.id);
        buf[2] |= 0x80;
        secondary.send_to(&buf[..len], from).await.expect("test");
        let mut cs = zones::ChangeSet::new(&Name::from_ascii("example.org.").expect("test"), "t", "t");
        cs.push(zones::Op::RemoveName(Name::from_ascii("ns1.example.org.").expect("test")));
        let mut glue = zones::RRset::new(&Name::from_ascii("ns1.example.org.").expect("test"), RecordType::A, 60);
        glue.insert(RData::A("192.0.2.2".parse().expect("test")));
        cs.push(zones::Op::ReplaceRRset(glue));
        store.commit(&cs, SystemTime::now()).expect("test");
        let (len, _) = tokio::time::timeout(Duration::from_secs(5), secondary.recv_from(&mut buf))
            .await
            .expect("test")
            .expect("test");
        let next = Message::from_vec(&buf[..len]).expect("test");
        match &next.answers[0].data {
            RData::SOA(soa) => assert_eq!(soa.serial, 2),
            other => panic!("{other:?}"),
        }
    }
}
