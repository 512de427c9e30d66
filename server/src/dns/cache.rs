//! A per-worker cache of encoded responses, valid for one zone snapshot.
//!
//! Keys are (EDNS state, QTYPE, lowercase QNAME); values are complete
//! responses whose ID, RD bit and question-name case are patched per
//! query. Each UDP worker owns one, so a hit takes no lock and allocates
//! nothing; a new snapshot generation empties it.

use rustc_hash::FxHashMap;

use super::question::Question;

/// Entries kept per worker before the cache starts over.
const DEFAULT_CAPACITY: usize = 200_000;

/// The encoded responses of one worker for one snapshot generation.
#[derive(Debug)]
pub(crate) struct ResponseCache {
    entries: FxHashMap<Box<[u8]>, Box<[u8]>>,
    generation: u64,
    capacity: usize,
    key: Vec<u8>,
}

impl ResponseCache {
    /// A cache holding up to `capacity` responses; 0 disables caching.
    pub(crate) fn new(capacity: usize) -> Self {
        Self { entries: FxHashMap::default(), generation: u64::MAX, capacity, key: Vec::with_capacity(260) }
    }

    /// A cache with the default capacity.
    pub(crate) fn with_default_capacity() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }

    /// Whether this cache keeps anything (capacity above 0).
    #[inline]
    pub(crate) fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Drops every entry unless they belong to snapshot `generation`.
    pub(crate) fn validate(&mut self, generation: u64) {
        if self.generation != generation {
            self.entries.clear();
            self.generation = generation;
        }
    }

    /// The cached response for `question`, if any.
    pub(crate) fn get(&mut self, question: &Question<'_>) -> Option<&[u8]> {
        fill_key(&mut self.key, question);
        self.entries.get(self.key.as_slice()).map(|r| &**r)
    }

    /// Remembers `response` for `question`; starts over when full.
    pub(crate) fn insert(&mut self, question: &Question<'_>, response: &[u8]) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.clear();
        }
        fill_key(&mut self.key, question);
        self.entries.insert(self.key.as_slice().into(), response.into());
    }
}

/// Writes the cache key of `question` into `key`.
fn fill_key(key: &mut Vec<u8>, question: &Question<'_>) {
    key.clear();
    key.push(match question.edns {
        None => 0,
        Some(e) if e.dnssec_ok => 2,
        Some(_) => 1,
    });
    key.extend_from_slice(&question.qtype.to_be_bytes());
    key.extend(question.qname.iter().map(u8::to_ascii_lowercase));
}

/// Makes a cached response answer `question`: its ID, its RD bit, and
/// the question name spelt as the query spelt it (names compressed against
/// the question follow along).
pub(crate) fn patch(response: &mut [u8], question: &Question<'_>) {
    const RD: u8 = 0x01;
    response[..2].copy_from_slice(&question.id);
    response[2] = (response[2] & !RD) | (question.flags[0] & RD);
    let start = super::question::HEADER_LEN;
    response[start..start + question.qname.len()].copy_from_slice(question.qname);
}
