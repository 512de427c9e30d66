//! TSIG (RFC 8945): finding, verifying and adding the transaction signature
//! of a DNS message, as pure functions over bytes. The clock is an argument
//! (`now`, seconds since the epoch); keys come from the caller.
//!
//! - [`find`] walks a message (names with compression pointers, fixed
//!   fields, RDLENGTH) and returns the TSIG RR when it is the last record of
//!   the additional section; a TSIG anywhere else is malformed.
//! - [`verify`] checks a request against the key its TSIG names, in RFC 8945
//!   §5.2's order: key and algorithm (BADKEY), MAC size (FORMERR when below
//!   max(10, half the hash) or above the hash; BADTRUNC for a shorter MAC we
//!   accept as well formed: we refuse truncation), the MAC itself (BADSIG,
//!   compared in constant time), then the time against the fudge (BADTIME).
//!   On success it returns a [`Signer`] primed with the request's MAC.
//! - [`Failure::respond`] turns a failure into the error response of §5.3.2:
//!   RCODE NOTAUTH with the TSIG error; BADTIME and BADTRUNC responses are
//!   signed (BADTIME with the server's time in Other Data), BADKEY and BADSIG
//!   ones carry an unsigned TSIG (empty MAC).
//! - [`Signer`] signs responses. `Signer::sign_next(&mut msg)` appends a
//!   TSIG RR to an encoded message (ARCOUNT + 1). Its first call signs
//!   (request MAC, message, all TSIG variables); every later call signs as
//!   the second and later messages of a multi-message response (AXFR/IXFR,
//!   §5.3.1): the previous MAC, the message and the timers only. Every
//!   message must carry a TSIG (we never skip up to 99 unsigned ones).
//!   [`Signer::for_request`] is for a server that starts a signed exchange
//!   of its own (no request MAC), e.g. NOTIFY.

use data_encoding::BASE64;
use hmac::Mac as _;

use super::authority::{Algorithm, TsigKey};
use super::question::HEADER_LEN;
use zones::Name;

/// RR type TSIG.
const TSIG_TYPE: u16 = 250;
/// Class ANY.
const CLASS_ANY: u16 = 255;
/// The fudge we sign with (RFC 8945 §10 recommends 300 s).
pub const FUDGE: u16 = 300;

/// TSIG error BADSIG.
pub const BADSIG: u16 = 16;
/// TSIG error BADKEY.
pub const BADKEY: u16 = 17;
/// TSIG error BADTIME.
pub const BADTIME: u16 = 18;
/// TSIG error BADTRUNC.
pub const BADTRUNC: u16 = 22;
/// RCODE NOTAUTH, which every TSIG error response carries.
pub const NOTAUTH: u8 = 9;
/// RCODE FORMERR.
const FORMERR: u8 = 1;

/// A message's TSIG RR, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsigRecord {
    /// Where the RR starts: the message without TSIG is `msg[..start]`
    /// with ARCOUNT − 1.
    pub start: usize,
    /// The key name in canonical wire form (lowercase, uncompressed).
    pub key_wire: Vec<u8>,
    /// The key name.
    pub key_name: Name,
    /// The algorithm name in canonical wire form.
    pub algorithm_wire: Vec<u8>,
    /// Time signed, seconds since the epoch (48 bits).
    pub time_signed: u64,
    /// Fudge, seconds.
    pub fudge: u16,
    /// The MAC.
    pub mac: Vec<u8>,
    /// The ID the message had when it was signed.
    pub original_id: u16,
    /// The TSIG error field.
    pub error: u16,
    /// Other data.
    pub other: Vec<u8>,
}

/// A malformed message: answer FORMERR without a TSIG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// Why a signed request failed verification (boxed: it carries the
/// request's TSIG and the signer for the signed error responses).
#[derive(Debug)]
pub struct Failure(Box<Kind>);

/// The failures of [`verify`].
#[derive(Debug)]
enum Kind {
    /// A malformed TSIG (a bad MAC size, say): plain FORMERR.
    FormErr,
    /// No such key, or the key has another algorithm: unsigned BADKEY.
    BadKey(TsigRecord),
    /// The MAC does not verify: unsigned BADSIG.
    BadSig(TsigRecord),
    /// A truncated MAC (we accept none): signed BADTRUNC.
    BadTrunc(Signer),
    /// Signed outside the fudge: signed BADTIME with our time.
    BadTime(Signer),
}

impl Failure {
    /// The TSIG error (or FORMERR's RCODE 1 for a malformed TSIG).
    pub fn code(&self) -> u16 {
        match *self.0 {
            Kind::FormErr => u16::from(FORMERR),
            Kind::BadKey(_) => BADKEY,
            Kind::BadSig(_) => BADSIG,
            Kind::BadTrunc(_) => BADTRUNC,
            Kind::BadTime(_) => BADTIME,
        }
    }

    /// Turns `response` (an encoded response to the request, with no TSIG:
    /// header, question or zone section, OPT) into the error response RFC
    /// 8945 §5.3.2 asks for: RCODE NOTAUTH (FORMERR for a malformed TSIG)
    /// and the TSIG error, signed where the RFC says so. `now` is the
    /// server's time.
    pub fn respond(self, response: &mut Vec<u8>, now: u64) {
        let rcode = if matches!(*self.0, Kind::FormErr) { FORMERR } else { NOTAUTH };
        if let Some(flags) = response.get_mut(3) {
            *flags = (*flags & 0xf0) | rcode;
        }
        match *self.0 {
            Kind::FormErr => {}
            Kind::BadKey(tsig) => append_unsigned(response, &tsig, BADKEY),
            Kind::BadSig(tsig) => append_unsigned(response, &tsig, BADSIG),
            Kind::BadTrunc(mut signer) => signer.sign_error(response, BADTRUNC, &[]),
            Kind::BadTime(mut signer) => signer.sign_error(response, BADTIME, &u48(now)),
        }
    }
}

/// The TSIG RR of `msg` if it has one (the last additional record), or
/// [`Malformed`] when the message cannot be walked or has a TSIG elsewhere.
pub fn find(msg: &[u8]) -> Result<Option<TsigRecord>, Malformed> {
    let count = |i: usize| msg.get(i..i + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))).ok_or(Malformed);
    let (qd, an, ns, ar) = (count(4)?, count(6)?, count(8)?, count(10)?);
    let mut pos = 12;
    for _ in 0..qd {
        pos = skip_name(msg, pos)?.checked_add(4).ok_or(Malformed)?;
    }
    let records = an + ns + ar;
    let mut last = None;
    for i in 0..records {
        let start = pos;
        let fixed = skip_name(msg, pos)?;
        let rtype = read_u16(msg, fixed)?;
        let rdlen = usize::from(read_u16(msg, fixed + 8)?);
        pos = fixed + 10 + rdlen;
        if pos > msg.len() {
            return Err(Malformed);
        }
        if rtype == TSIG_TYPE {
            if i + 1 != records || ar == 0 {
                return Err(Malformed); // RFC 8945 §5.1: the last record, in additional
            }
            last = Some((start, fixed));
        }
    }
    if pos != msg.len() {
        return Err(Malformed);
    }
    let Some((start, fixed)) = last else { return Ok(None) };
    parse_rr(msg, start, fixed).map(Some)
}

/// Parses the TSIG RR at `start` whose fixed fields start at `fixed`.
fn parse_rr(msg: &[u8], start: usize, fixed: usize) -> Result<TsigRecord, Malformed> {
    if read_u16(msg, fixed + 2)? != CLASS_ANY || read_u32(msg, fixed + 4)? != 0 {
        return Err(Malformed);
    }
    let (key_wire, _) = read_name(msg, start)?;
    let rdata = fixed + 10;
    let end = rdata + usize::from(read_u16(msg, fixed + 8)?);
    let (algorithm_wire, mut pos) = read_name(msg, rdata)?;
    let time_signed = (u64::from(read_u16(msg, pos)?) << 32) | u64::from(read_u32(msg, pos + 2)?);
    let fudge = read_u16(msg, pos + 6)?;
    let mac_len = usize::from(read_u16(msg, pos + 8)?);
    pos += 10;
    let mac = msg.get(pos..pos + mac_len).ok_or(Malformed)?.to_vec();
    pos += mac_len;
    let original_id = read_u16(msg, pos)?;
    let error = read_u16(msg, pos + 2)?;
    let other_len = usize::from(read_u16(msg, pos + 4)?);
    pos += 6;
    let other = msg.get(pos..pos + other_len).ok_or(Malformed)?.to_vec();
    if pos + other_len != end {
        return Err(Malformed);
    }
    let key_name = name_of(&key_wire)?;
    Ok(TsigRecord { start, key_wire, key_name, algorithm_wire, time_signed, fudge, mac, original_id, error, other })
}

/// Verifies the signed request `msg` whose TSIG is `tsig` with `key` (the
/// key its TSIG names, if we know one) at time `now`.
pub fn verify(msg: &[u8], tsig: TsigRecord, key: Option<TsigKey>, now: u64) -> Result<Signer, Failure> {
    let Some(key) = key.filter(|k| wire_name(k.algorithm.dns_name()) == tsig.algorithm_wire) else {
        return Err(Failure(Box::new(Kind::BadKey(tsig))));
    };
    let full = key.algorithm.output_len();
    let len = tsig.mac.len();
    if len > full || len < (full / 2).max(10) {
        return Err(Failure(Box::new(Kind::FormErr)));
    }
    let mut data = unsigned_message(msg, &tsig).ok_or_else(|| Failure(Box::new(Kind::FormErr)))?;
    push_variables(
        &mut data,
        &tsig.key_wire,
        &tsig.algorithm_wire,
        tsig.time_signed,
        tsig.fudge,
        tsig.error,
        &tsig.other,
    );
    let expected = hmac(key.algorithm, &key.secret, &data);
    if !constant_time_eq(expected.get(..len).unwrap_or_default(), &tsig.mac) {
        return Err(Failure(Box::new(Kind::BadSig(tsig))));
    }
    let signer = Signer::answering(key, &tsig, now);
    if len < full {
        return Err(Failure(Box::new(Kind::BadTrunc(signer))));
    }
    if now.abs_diff(tsig.time_signed) > u64::from(tsig.fudge) {
        return Err(Failure(Box::new(Kind::BadTime(signer))));
    }
    Ok(signer)
}

/// The message as it was signed: without its TSIG, ARCOUNT − 1 and the
/// original ID.
pub fn unsigned_message(msg: &[u8], tsig: &TsigRecord) -> Option<Vec<u8>> {
    let mut data = msg.get(..tsig.start)?.to_vec();
    let ar = u16::from_be_bytes([*data.get(10)?, *data.get(11)?]).checked_sub(1)?;
    data[10..12].copy_from_slice(&ar.to_be_bytes());
    data[0..2].copy_from_slice(&tsig.original_id.to_be_bytes());
    Some(data)
}

/// Signs the responses to one verified request (or one exchange we start).
#[derive(Debug)]
pub struct Signer {
    key: TsigKey,
    /// The MAC the next signature chains to (the request's, then our last).
    prior: Vec<u8>,
    /// Whether a message has been signed yet.
    started: bool,
    /// Time signed for our messages.
    now: u64,
}

impl Signer {
    /// A signer for the responses to a request signed with `tsig`.
    fn answering(key: TsigKey, tsig: &TsigRecord, now: u64) -> Self {
        Self { key, prior: tsig.mac.clone(), started: false, now }
    }

    /// A signer for messages we send first (no request MAC), at `now`.
    pub fn for_request(key: TsigKey, now: u64) -> Self {
        Self { key, prior: Vec::new(), started: false, now }
    }

    /// How many bytes the TSIG RR that `key` signs with adds to a message
    /// (no other data), so a response can leave room for it.
    pub fn overhead(key: &TsigKey) -> usize {
        let key_wire = wire_name(&key.name.to_lowercase().to_ascii());
        let algorithm_wire = wire_name(key.algorithm.dns_name());
        let mac = vec![0; key.algorithm.output_len()];
        let fields = Fields {
            key_wire: &key_wire,
            algorithm_wire: &algorithm_wire,
            time: 0,
            mac: &mac,
            id: 0,
            error: 0,
            other: &[],
        };
        let mut header = vec![0; HEADER_LEN];
        append_rr(&mut header, &fields);
        header.len() - HEADER_LEN
    }

    /// The key this signer signs with.
    pub fn key(&self) -> &TsigKey {
        &self.key
    }

    /// Signs the encoded message `msg` and appends its TSIG RR (ARCOUNT +
    /// 1): the first message with every TSIG variable, later ones
    /// (multi-message responses) with the timers only.
    pub fn sign_next(&mut self, msg: &mut Vec<u8>) {
        self.sign_error(msg, 0, &[]);
    }

    /// [`Signer::sign_next`] with a TSIG error and other data.
    fn sign_error(&mut self, msg: &mut Vec<u8>, error: u16, other: &[u8]) {
        let key_wire = wire_name(&self.key.name.to_lowercase().to_ascii());
        let algorithm_wire = wire_name(self.key.algorithm.dns_name());
        let mut data = Vec::with_capacity(msg.len() + 128);
        if !self.prior.is_empty() {
            data.extend_from_slice(&u16::try_from(self.prior.len()).unwrap_or(0).to_be_bytes());
            data.extend_from_slice(&self.prior);
        }
        data.extend_from_slice(msg);
        if self.started {
            data.extend_from_slice(&u48(self.now));
            data.extend_from_slice(&FUDGE.to_be_bytes());
        } else {
            push_variables(&mut data, &key_wire, &algorithm_wire, self.now, FUDGE, error, other);
        }
        let mac = hmac(self.key.algorithm, &self.key.secret, &data);
        let id = msg.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        let fields = Fields {
            key_wire: &key_wire,
            algorithm_wire: &algorithm_wire,
            time: self.now,
            mac: &mac,
            id,
            error,
            other,
        };
        append_rr(msg, &fields);
        self.prior = mac;
        self.started = true;
    }
}

/// The TSIG RR's fields as we write them.
struct Fields<'a> {
    key_wire: &'a [u8],
    algorithm_wire: &'a [u8],
    time: u64,
    mac: &'a [u8],
    id: u16,
    error: u16,
    other: &'a [u8],
}

/// Appends a TSIG RR with `fields` to `msg` and counts it in ARCOUNT.
fn append_rr(msg: &mut Vec<u8>, f: &Fields<'_>) {
    let mut rdata = Vec::with_capacity(64 + f.mac.len());
    rdata.extend_from_slice(f.algorithm_wire);
    rdata.extend_from_slice(&u48(f.time));
    rdata.extend_from_slice(&FUDGE.to_be_bytes());
    rdata.extend_from_slice(&(f.mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(f.mac);
    rdata.extend_from_slice(&f.id.to_be_bytes());
    rdata.extend_from_slice(&f.error.to_be_bytes());
    rdata.extend_from_slice(&(f.other.len() as u16).to_be_bytes());
    rdata.extend_from_slice(f.other);
    msg.extend_from_slice(f.key_wire);
    msg.extend_from_slice(&TSIG_TYPE.to_be_bytes());
    msg.extend_from_slice(&CLASS_ANY.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    msg.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    msg.extend_from_slice(&rdata);
    if let Some(ar) = msg.get_mut(10..12) {
        let count = u16::from_be_bytes([ar[0], ar[1]]).wrapping_add(1);
        ar.copy_from_slice(&count.to_be_bytes());
    }
}

/// Appends the unsigned TSIG of a BADKEY/BADSIG response (empty MAC, the
/// request's key and algorithm names and time).
fn append_unsigned(msg: &mut Vec<u8>, tsig: &TsigRecord, error: u16) {
    let id = msg.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let fields = Fields {
        key_wire: &tsig.key_wire,
        algorithm_wire: &tsig.algorithm_wire,
        time: tsig.time_signed,
        mac: &[],
        id,
        error,
        other: &[],
    };
    append_rr(msg, &fields);
}

/// Appends the TSIG variables of RFC 8945 §4.3.3.
fn push_variables(data: &mut Vec<u8>, key: &[u8], alg: &[u8], time: u64, fudge: u16, error: u16, other: &[u8]) {
    data.extend_from_slice(key);
    data.extend_from_slice(&CLASS_ANY.to_be_bytes());
    data.extend_from_slice(&0u32.to_be_bytes());
    data.extend_from_slice(alg);
    data.extend_from_slice(&u48(time));
    data.extend_from_slice(&fudge.to_be_bytes());
    data.extend_from_slice(&error.to_be_bytes());
    data.extend_from_slice(&(other.len() as u16).to_be_bytes());
    data.extend_from_slice(other);
}

/// HMAC with a RustCrypto digest (MD5, SHA-224: ring has neither).
macro_rules! rust_crypto_hmac {
    ($digest:ty, $secret:expr, $data:expr) => {
        match hmac::Hmac::<$digest>::new_from_slice($secret) {
            Ok(mut mac) => {
                mac.update($data);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(), // HMAC takes keys of any length
        }
    };
}

/// HMAC of `data` with `secret`.
pub fn hmac(algorithm: Algorithm, secret: &[u8], data: &[u8]) -> Vec<u8> {
    let ring_alg = match algorithm {
        Algorithm::HmacMd5 => return rust_crypto_hmac!(md5::Md5, secret, data),
        Algorithm::HmacSha224 => return rust_crypto_hmac!(sha2::Sha224, secret, data),
        Algorithm::HmacSha1 => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        Algorithm::HmacSha256 => ring::hmac::HMAC_SHA256,
        Algorithm::HmacSha384 => ring::hmac::HMAC_SHA384,
        Algorithm::HmacSha512 => ring::hmac::HMAC_SHA512,
    };
    ring::hmac::sign(&ring::hmac::Key::new(ring_alg, secret), data).as_ref().to_vec()
}

/// Whether `a` and `b` are equal, in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

/// A 48-bit time in network order.
fn u48(time: u64) -> [u8; 6] {
    let b = time.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// `name` (absolute presentation form, lowercase) in uncompressed wire form.
pub fn wire_name(name: &str) -> Vec<u8> {
    let mut wire = Vec::with_capacity(name.len() + 2);
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        wire.push(label.len() as u8);
        wire.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    wire.push(0);
    wire
}

/// A base64 secret as configured or stored.
pub fn decode_secret(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text.trim().as_bytes()).ok()
}

fn read_u16(msg: &[u8], at: usize) -> Result<u16, Malformed> {
    msg.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or(Malformed)
}

fn read_u32(msg: &[u8], at: usize) -> Result<u32, Malformed> {
    msg.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok_or(Malformed)
}

/// Skips the (possibly compressed) name at `pos`; returns where it ends.
fn skip_name(msg: &[u8], pos: usize) -> Result<usize, Malformed> {
    read_name(msg, pos).map(|(_, end)| end)
}

/// Reads the name at `pos`, following compression pointers (backwards only,
/// so no loop), in canonical wire form; returns it and where it ends in place.
fn read_name(msg: &[u8], mut pos: usize) -> Result<(Vec<u8>, usize), Malformed> {
    let mut wire = Vec::with_capacity(32);
    let mut end = None;
    loop {
        let len = *msg.get(pos).ok_or(Malformed)?;
        match len {
            0 => {
                wire.push(0);
                return Ok((wire, end.unwrap_or(pos + 1)));
            }
            1..=63 => {
                let label = msg.get(pos + 1..pos + 1 + usize::from(len)).ok_or(Malformed)?;
                wire.push(len);
                wire.extend(label.iter().map(u8::to_ascii_lowercase));
                if wire.len() > 255 {
                    return Err(Malformed);
                }
                pos += 1 + usize::from(len);
            }
            0xc0..=0xff => {
                let target = usize::from(read_u16(msg, pos)? & 0x3fff);
                if target >= pos {
                    return Err(Malformed);
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(Malformed),
        }
    }
}

/// The [`Name`] of a canonical wire name.
fn name_of(wire: &[u8]) -> Result<Name, Malformed> {
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
    Name::read(&mut BinDecoder::new(wire)).map_err(|_| Malformed)
}

#[cfg(test)]
mod tests;
