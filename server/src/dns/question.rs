//! Reading just enough of a query to answer it from the cache: the header, the
//! one question and an optional OPT record, without building a message.
//!
//! Anything this parser does not accept (another opcode, several questions,
//! compression in the question, TSIG, EDNS version > 0, trailing bytes, ...)
//! is not an error here: the query goes to the full parser of the slow path,
//! which decides between an answer, FORMERR, NOTIMP, BADVERS or silence.

/// The EDNS0 facts of a query that change the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edns {
    /// The requestor's UDP payload size.
    pub(crate) payload: u16,
    /// The DO bit (RFC 3225), echoed in the response.
    pub(crate) dnssec_ok: bool,
}

/// A query in the shape the fast path answers: QUERY opcode, one IN question.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Question<'a> {
    /// The query's ID.
    pub(crate) id: [u8; 2],
    /// The query's flag bytes (header bytes 2 and 3).
    pub(crate) flags: [u8; 2],
    /// The question name in wire form as sent, case preserved, root label included.
    pub(crate) qname: &'a [u8],
    /// The question type.
    pub(crate) qtype: u16,
    /// EDNS0, if the query has an OPT record.
    pub(crate) edns: Option<Edns>,
}

/// Length of the DNS header.
pub(crate) const HEADER_LEN: usize = 12;
const CLASS_IN: u16 = 1;
const TYPE_OPT: u16 = 41;

impl<'a> Question<'a> {
    /// Parses `packet` if it is a plain query; `None` sends it to the slow path.
    pub(crate) fn parse(packet: &'a [u8]) -> Option<Self> {
        let header = packet.get(..HEADER_LEN)?;
        // QR = 0, opcode QUERY (0), and counts QD=1 AN=0 NS=0 AR<=1.
        if header[2] & 0xf8 != 0 || header[4..10] != [0, 1, 0, 0, 0, 0] || header[10] != 0 || header[11] > 1 {
            return None;
        }
        let name_len = wire_name_len(&packet[HEADER_LEN..])?;
        let qname = &packet[HEADER_LEN..HEADER_LEN + name_len];
        let rest = &packet[HEADER_LEN + name_len..];
        let (qtype, qclass) = (read_u16(rest, 0)?, read_u16(rest, 2)?);
        if qclass != CLASS_IN || is_meta_type(qtype) {
            return None;
        }
        let edns = match header[11] {
            0 if rest.len() == 4 => None,
            1 => Some(parse_opt(&rest[4..])?),
            _ => return None,
        };
        Some(Self { id: [header[0], header[1]], flags: [header[2], header[3]], qname, qtype, edns })
    }
}

/// Reads an OPT record that must be the rest of the packet; version 0 only.
fn parse_opt(rr: &[u8]) -> Option<Edns> {
    // root owner (1), type (2), class = payload (2), ttl = ext-rcode, version, flags (4), rdlen (2)
    if rr.first() != Some(&0) || read_u16(rr, 1)? != TYPE_OPT || rr.get(6) != Some(&0) {
        return None;
    }
    let rdlen = read_u16(rr, 9)? as usize;
    if rr.len() != 11 + rdlen || rr[5] != 0 {
        return None; // trailing data, or an extended rcode in a query
    }
    Some(Edns { payload: read_u16(rr, 1 + 2)?, dnssec_ok: rr[7] & 0x80 != 0 })
}

/// The length of an uncompressed wire name at the start of `bytes`, if it is
/// well formed (labels of at most 63 octets, at most 255 octets in all).
pub(crate) fn wire_name_len(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let len = *bytes.get(at)? as usize;
        if len > 63 {
            return None; // a compression pointer or a reserved label type
        }
        at += 1 + len;
        if at > 255 {
            return None;
        }
        if len == 0 {
            return (at <= bytes.len()).then_some(at);
        }
    }
}

/// QTYPEs that do not name data: OPT, TSIG/TKEY, IXFR/AXFR, MAILA/MAILB, ANY.
fn is_meta_type(qtype: u16) -> bool {
    qtype == TYPE_OPT || (249..=255).contains(&qtype)
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], qtype: u16, opt: Option<[u8; 11]>) -> Vec<u8> {
        let mut p = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, opt.is_some() as u8];
        p.extend_from_slice(name);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&CLASS_IN.to_be_bytes());
        if let Some(opt) = opt {
            p.extend_from_slice(&opt);
        }
        p
    }

    const NAME: &[u8] = b"\x03Www\x07example\x00";

    #[test]
    fn plain_query_is_parsed() {
        let packet = query(NAME, 1, None);
        let q = Question::parse(&packet).expect("plain query");
        assert_eq!(q.qname, NAME);
        assert_eq!((q.qtype, q.id, q.edns), (1, [0xab, 0xcd], None));
    }

    #[test]
    fn opt_gives_payload_and_do() {
        let opt = [0, 0, 41, 0x10, 0x00, 0, 0, 0x80, 0, 0, 0];
        let packet = query(NAME, 28, Some(opt));
        let q = Question::parse(&packet).expect("edns query");
        assert_eq!(q.edns, Some(Edns { payload: 4096, dnssec_ok: true }));
    }

    #[test]
    fn unusual_queries_go_to_the_slow_path() {
        let version1 = [0, 0, 41, 0x10, 0x00, 0, 1, 0, 0, 0, 0];
        assert!(Question::parse(&query(NAME, 1, Some(version1))).is_none());
        assert!(Question::parse(&query(b"\xc0\x0c", 1, None)).is_none());
        assert!(Question::parse(&query(NAME, 255, None)).is_none());
        let mut trailing = query(NAME, 1, None);
        trailing.push(0);
        assert!(Question::parse(&trailing).is_none());
        assert!(Question::parse(&query(NAME, 1, None)[..20]).is_none());
        let mut response = query(NAME, 1, None);
        response[2] |= 0x80;
        assert!(Question::parse(&response).is_none());
    }

    #[test]
    fn overlong_names_are_rejected() {
        let mut name = Vec::new();
        for _ in 0..5 {
            name.push(63);
            name.extend_from_slice(&[b'a'; 63]);
        }
        name.push(0);
        assert_eq!(wire_name_len(&name), None);
        assert_eq!(wire_name_len(b"\x40"), None);
        assert_eq!(wire_name_len(b"\x01a"), None);
    }
}
