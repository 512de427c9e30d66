//! DNS counters without locks on the answer path.
//!
//! Every UDP worker gets its own [`Counters`] block (plain relaxed atomics in
//! fixed arrays indexed by small integers, on cache lines of its own), so
//! counting a query is one uncontended atomic add and never allocates. The
//! TCP connections share one block. The blocks are created once, at worker
//! start, in the [`Registry`]; a scrape sums them into [`Totals`].
//!
//! Labels are bounded: two transports, the RCODEs in [`RCODES`] (anything
//! else is `other`) and the QTYPEs in [`QTYPES`] (anything else is `other`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::Transport;

/// The QTYPEs counted by name, with their codes; every other type is `other`.
pub const QTYPES: [(u16, &str); 16] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (43, "DS"),
    (65, "HTTPS"),
    (64, "SVCB"),
    (257, "CAA"),
    (255, "ANY"),
    (252, "AXFR"),
    (251, "IXFR"),
];
/// The RCODEs counted by name (extended ones included), with their codes;
/// every other value is `other`.
pub const RCODES: [(u16, &str); 12] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (6, "YXDOMAIN"),
    (7, "YXRRSET"),
    (8, "NXRRSET"),
    (9, "NOTAUTH"),
    (10, "NOTZONE"),
    (16, "BADVERS"),
];
/// QTYPE slots: the named ones and `other`.
pub const NQTYPE: usize = QTYPES.len() + 1;
/// RCODE slots: the named ones and `other`.
pub const NRCODE: usize = RCODES.len() + 1;
/// Transport slots (UDP, TCP).
const NTRANSPORT: usize = 2;
/// The label value of the last slot of either list.
pub const OTHER: &str = "other";
/// The extended RCODE BADVERS (RFC 6891 §6.1.3): 0 in the header, 1 in OPT.
pub(crate) const BADVERS: u16 = 16;

/// The slot of `qtype` in a counter array.
pub fn qtype_index(qtype: u16) -> usize {
    match qtype {
        1 => 0,
        2 => 1,
        5 => 2,
        6 => 3,
        12 => 4,
        15 => 5,
        16 => 6,
        28 => 7,
        33 => 8,
        43 => 9,
        65 => 10,
        64 => 11,
        257 => 12,
        255 => 13,
        252 => 14,
        251 => 15,
        _ => NQTYPE - 1,
    }
}

/// The slot of `rcode` (the full, possibly extended, 12-bit value).
pub fn rcode_index(rcode: u16) -> usize {
    match rcode {
        0..=10 => usize::from(rcode),
        BADVERS => 11,
        _ => NRCODE - 1,
    }
}

/// The label value of QTYPE slot `index`.
pub fn qtype_label(index: usize) -> &'static str {
    QTYPES.get(index).map_or(OTHER, |(_, name)| name)
}

/// The label value of RCODE slot `index`.
pub fn rcode_label(index: usize) -> &'static str {
    RCODES.get(index).map_or(OTHER, |(_, name)| name)
}

/// The label value of a transport.
pub fn transport_label(transport: Transport) -> &'static str {
    match transport {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
    }
}

fn transport_index(transport: Transport) -> usize {
    match transport {
        Transport::Udp => 0,
        Transport::Tcp => 1,
    }
}

/// One worker's counters. Aligned (and so padded) to 128 bytes, two cache
/// lines, so that no other block or allocation shares a line with it
/// (adjacent-line prefetch included).
#[repr(align(128))]
#[derive(Debug)]
pub struct Counters {
    queries: [[[AtomicU64; NQTYPE]; NRCODE]; NTRANSPORT],
    dropped: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            queries: [const { [const { [const { AtomicU64::new(0) }; NQTYPE] }; NRCODE] }; NTRANSPORT],
            dropped: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
        }
    }
}

impl Counters {
    /// A block no registry sums: for responders nobody scrapes (tests, fuzzing).
    pub(crate) fn unregistered() -> Arc<Self> {
        static UNREGISTERED: OnceLock<Arc<Counters>> = OnceLock::new();
        UNREGISTERED.get_or_init(Arc::default).clone()
    }

    /// Counts a query answered over `transport` with `rcode` (the full
    /// value: BADVERS is 16).
    #[inline]
    pub(crate) fn answered(&self, transport: Transport, qtype: u16, rcode: u16) {
        let slot = &self.queries[transport_index(transport)][rcode_index(rcode)][qtype_index(qtype)];
        slot.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a packet that got no answer (a runt, a response).
    #[inline]
    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a response-cache hit (`true`) or miss.
    #[inline]
    pub(crate) fn cache(&self, hit: bool) {
        let counter = if hit { &self.cache_hits } else { &self.cache_misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn add_to(&self, totals: &mut Totals) {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        for (sum, block) in totals.queries.iter_mut().flatten().flatten().zip(self.queries.iter().flatten().flatten()) {
            *sum += load(block);
        }
        totals.dropped += load(&self.dropped);
        totals.cache_hits += load(&self.cache_hits);
        totals.cache_misses += load(&self.cache_misses);
    }
}

/// Every counter block handed out; touched only at worker start and at
/// scrape time.
#[derive(Debug, Default)]
pub struct Registry {
    blocks: Mutex<Vec<Arc<Counters>>>,
}

impl Registry {
    /// A new block, summed from now on (one per UDP worker; one for all TCP
    /// connections).
    pub fn register(&self) -> Arc<Counters> {
        let block = Arc::new(Counters::default());
        self.blocks.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(block.clone());
        block
    }

    /// The sum of every block.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for block in self.blocks.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter() {
            block.add_to(&mut totals);
        }
        totals
    }
}

/// The counters of every block, summed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    queries: [[[u64; NQTYPE]; NRCODE]; NTRANSPORT],
    /// Packets that got no answer.
    pub dropped: u64,
    /// Response-cache hits of the UDP fast path.
    pub cache_hits: u64,
    /// Response-cache misses of the UDP fast path.
    pub cache_misses: u64,
}

impl Totals {
    /// Queries answered over `transport` with RCODE slot `rcode` and QTYPE
    /// slot `qtype` (see [`rcode_index`], [`qtype_index`]).
    pub fn queries(&self, transport: Transport, rcode: usize, qtype: usize) -> u64 {
        self.queries[transport_index(transport)].get(rcode).and_then(|r| r.get(qtype)).copied().unwrap_or(0)
    }

    /// Every non-zero query count as (transport, RCODE, QTYPE) labels and the
    /// count, in a fixed order (transport, then RCODE slot, then QTYPE slot).
    pub fn query_samples(&self) -> impl Iterator<Item = ([&'static str; 3], u64)> + '_ {
        [Transport::Udp, Transport::Tcp].into_iter().flat_map(move |transport| {
            self.queries[transport_index(transport)].iter().enumerate().flat_map(move |(r, row)| {
                row.iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(move |(q, n)| ([transport_label(transport), rcode_label(r), qtype_label(q)], *n))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_qtype_and_rcode_has_its_own_slot() {
        for (i, (code, name)) in QTYPES.iter().enumerate() {
            assert_eq!(qtype_index(*code), i, "{name}");
            assert_eq!(qtype_label(i), *name);
        }
        for (i, (code, name)) in RCODES.iter().enumerate() {
            assert_eq!(rcode_index(*code), i, "{name}");
            assert_eq!(rcode_label(i), *name);
        }
        for unknown in [0, 3, 41, 99, 249, 250, 256, 65_535] {
            assert_eq!(qtype_label(qtype_index(unknown)), OTHER, "qtype {unknown}");
        }
        for unknown in [11, 15, 17, 23, 4095] {
            assert_eq!(rcode_label(rcode_index(unknown)), OTHER, "rcode {unknown}");
        }
        assert_eq!(qtype_label(NQTYPE), OTHER);
        assert_eq!((NQTYPE, NRCODE), (17, 13));
    }

    #[test]
    fn blocks_are_summed_across_workers() {
        let registry = Registry::default();
        let (one, two, tcp) = (registry.register(), registry.register(), registry.register());
        for _ in 0..5 {
            one.answered(Transport::Udp, 1, 0);
        }
        two.answered(Transport::Udp, 1, 0);
        two.answered(Transport::Udp, 28, 3);
        two.answered(Transport::Udp, 99, BADVERS);
        tcp.answered(Transport::Tcp, 1, 0);
        one.cache(true);
        two.cache(false);
        two.cache(false);
        one.dropped();
        Counters::unregistered().answered(Transport::Udp, 1, 0); // not summed
        let totals = registry.totals();
        assert_eq!(totals.queries(Transport::Udp, rcode_index(0), qtype_index(1)), 6);
        assert_eq!(totals.queries(Transport::Tcp, rcode_index(0), qtype_index(1)), 1);
        assert_eq!((totals.cache_hits, totals.cache_misses, totals.dropped), (1, 2, 1));
        let samples: Vec<_> = totals.query_samples().collect();
        assert_eq!(
            samples,
            [
                (["udp", "NOERROR", "A"], 6),
                (["udp", "NXDOMAIN", "AAAA"], 1),
                (["udp", "BADVERS", "other"], 1),
                (["tcp", "NOERROR", "A"], 1),
            ]
        );
    }

    #[test]
    fn a_block_owns_its_cache_lines() {
        assert_eq!(std::mem::align_of::<Counters>(), 128);
        assert_eq!(std::mem::size_of::<Counters>() % 128, 0);
    }

    #[test]
    fn counting_from_many_threads_loses_nothing() {
        let registry = Arc::new(Registry::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let block = registry.register();
                std::thread::spawn(move || (0..10_000).for_each(|_| block.answered(Transport::Udp, 6, 0)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().expect("counting thread"));
        assert_eq!(registry.totals().queries(Transport::Udp, 0, qtype_index(6)), 40_000);
    }
}
