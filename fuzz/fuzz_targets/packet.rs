//! Any bytes a peer can send to the DNS port go through the one answer entry
//! point without a panic, on the cold-cache and the warm-cache path, within
//! both the UDP and the TCP response size limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

// `nameplate::dns::fuzz_answer` (server/src/dns/mod.rs) builds its fixed
// in-memory zone set once per process, then runs `packet` through the same
// `Responder::answer` the UDP and TCP listeners call, twice per transport,
// and asserts that each response fits its transport. A panic anywhere in the
// answer path is the failure libFuzzer reports. fuzz/seeds.py writes seeds
// for the fixture's names.
fuzz_target!(|packet: &[u8]| {
    nameplate::dns::fuzz_answer(packet);
});
