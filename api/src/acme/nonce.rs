//! Anti-replay nonces (RFC 8555 §6.5).
//!
//! Design: stateful, in memory, sharded. A nonce is 128 random bits from
//! ring's `SystemRandom`, sent as 22 base64url characters. It lives in one
//! of [`SHARDS`] mutex-protected shards (chosen by its first byte, which is
//! uniform), each a `HashSet` of live nonces plus a `VecDeque` of issue
//! order. Redemption removes the nonce from the set, so it succeeds exactly
//! once. Memory is bounded: a shard keeps at most `capacity / SHARDS` issue
//! records, and issuing past that evicts the shard's oldest (redeemed or
//! not), so a nonce stays valid until used or until about `capacity` newer
//! nonces have been issued. At the default 100,000 that is 10 s of margin at
//! 10,000 requests/s, far beyond a client's request-to-request gap. A
//! client whose nonce was evicted gets `badNonce` and retries with the fresh
//! one on that response, as every ACME client does.
//!
//! Nonces do not survive a restart and are not shared between processes
//! (a multi-node deployment would need Boulder's HMAC-prefixed nonce
//! service instead); both just cost clients one `badNonce` retry.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use ca::acme::{Problem, ProblemType};
use ring::rand::{SecureRandom, SystemRandom};

use super::b64;

/// The number of independently locked shards.
pub(crate) const SHARDS: usize = 16;
/// The default total number of remembered nonces.
pub const DEFAULT_CAPACITY: usize = 100_000;

const NONCE_LEN: usize = 16;
type Nonce = [u8; NONCE_LEN];

/// The nonce issuer and redeemer; share one per process (it is `Sync`).
pub struct Nonces {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    rng: SystemRandom,
}

#[derive(Default)]
struct Shard {
    live: HashSet<Nonce>,
    order: VecDeque<Nonce>,
}

impl Nonces {
    /// An issuer remembering about `capacity` nonces (at least one per shard).
    pub fn new(capacity: usize) -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        Self { shards, per_shard: capacity.div_ceil(SHARDS).max(1), rng: SystemRandom::new() }
    }

    /// A fresh nonce for a `Replay-Nonce` header.
    pub fn issue(&self) -> Result<String, Problem> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| internal("the random generator failed"))?;
        let mut shard = self.shard(&nonce).lock().map_err(|_| internal("the nonce store is poisoned"))?;
        shard.insert(nonce, self.per_shard);
        Ok(b64(&nonce))
    }

    /// Uses up `nonce`: true exactly once for a nonce issued here and not
    /// yet evicted; false for anything else (used, unknown, garbage).
    pub fn redeem(&self, nonce: &str) -> bool {
        let Some(nonce) = decode(nonce) else { return false };
        match self.shard(&nonce).lock() {
            Ok(mut shard) => shard.live.remove(&nonce),
            Err(_) => false,
        }
    }

    /// How many nonces are currently redeemable.
    pub fn live(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map_or(0, |s| s.live.len())).sum()
    }

    fn shard(&self, nonce: &Nonce) -> &Mutex<Shard> {
        &self.shards[usize::from(nonce[0]) % SHARDS]
    }
}

impl Default for Nonces {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl Shard {
    fn insert(&mut self, nonce: Nonce, capacity: usize) {
        while self.order.len() >= capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.live.remove(&oldest);
            }
        }
        self.order.push_back(nonce);
        self.live.insert(nonce);
    }
}

fn decode(text: &str) -> Option<Nonce> {
    if text.len() != 22 {
        return None;
    }
    let bytes = data_encoding::BASE64URL_NOPAD.decode(text.as_bytes()).ok()?;
    bytes.try_into().ok()
}

fn internal(detail: &str) -> Problem {
    Problem::new(ProblemType::ServerInternal, detail)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_nonce_redeems_exactly_once() {
        let nonces = Nonces::default();
        let nonce = nonces.issue().unwrap();
        assert_eq!(nonce.len(), 22);
        assert!(nonces.redeem(&nonce));
        assert!(!nonces.redeem(&nonce));
    }

    #[test]
    fn unknown_and_garbage_nonces_fail() {
        let nonces = Nonces::default();
        let issued = nonces.issue().unwrap();
        assert!(!nonces.redeem(&b64(&[7; NONCE_LEN])));
        for garbage in ["", "x", "not a nonce at all!!!!", &format!("{issued}="), &issued[..21]] {
            assert!(!nonces.redeem(garbage), "{garbage:?}");
        }
        assert!(nonces.redeem(&issued));
    }

    #[test]
    fn nonces_differ() {
        let nonces = Nonces::default();
        let issued: HashSet<String> = (0..1000).map(|_| nonces.issue().unwrap()).collect();
        assert_eq!(issued.len(), 1000);
    }

    #[test]
    fn memory_stays_bounded_and_the_oldest_go_first() {
        let nonces = Nonces::new(64);
        let first = nonces.issue().unwrap();
        let all: Vec<String> = (0..10_000).map(|_| nonces.issue().unwrap()).collect();
        assert!(nonces.live() <= 64, "{}", nonces.live());
        assert!(nonces.shards.iter().all(|s| s.lock().unwrap().order.len() <= 4));
        assert!(!nonces.redeem(&first));
        assert!(nonces.redeem(all.last().unwrap()));
    }

    #[test]
    fn redeemed_nonces_free_their_slot() {
        let nonces = Nonces::new(SHARDS * 2);
        for _ in 0..100 {
            let nonce = nonces.issue().unwrap();
            assert!(nonces.redeem(&nonce));
        }
        assert_eq!(nonces.live(), 0);
    }

    #[test]
    fn concurrent_redemption_succeeds_once() {
        let nonces = Arc::new(Nonces::default());
        let issued: Vec<String> = (0..200).map(|_| nonces.issue().unwrap()).collect();
        let issued = Arc::new(issued);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (nonces, issued) = (nonces.clone(), issued.clone());
                std::thread::spawn(move || issued.iter().filter(|n| nonces.redeem(n)).count())
            })
            .collect();
        let redeemed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(redeemed, 200);
    }
}
