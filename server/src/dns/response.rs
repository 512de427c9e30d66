//! Encoding responses: a lookup's [`Answer`] or an error RCODE, with the
//! query's echoes, EDNS0 and truncation to the transport's limit.
//!
//! This is the one place that turns outcomes into RCODEs and bytes.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use zones::Answer;

/// What a response copies from its query.
#[derive(Clone, Debug)]
pub(crate) struct Echo {
    /// The query ID.
    pub(crate) id: u16,
    /// The query opcode.
    pub(crate) op_code: OpCode,
    /// The RD bit, copied (RFC 1035 §4.1.1).
    pub(crate) recursion_desired: bool,
    /// The question, when the query had one we could read.
    pub(crate) query: Option<Query>,
    /// The DO bit when the query had EDNS0 (the response then carries OPT too).
    pub(crate) edns_do: Option<bool>,
}

/// Encodes `answer` for `echo`, at most `limit` bytes long: when it does not
/// fit, the additional section goes first; if it still does not fit, TC is
/// set and only the question (and OPT) remain.
pub(crate) fn encode_answer(echo: &Echo, answer: &Answer, limit: usize, payload: u16) -> Vec<u8> {
    let mut message = base(echo, answer.rcode, payload);
    message.metadata.authoritative = answer.authoritative;
    message.answers.clone_from(&answer.answers);
    message.authorities.clone_from(&answer.authorities);
    message.additionals.clone_from(&answer.additionals);
    let bytes = encode(&message);
    if bytes.len() <= limit {
        return bytes;
    }
    message.additionals.clear();
    let bytes = encode(&message);
    if bytes.len() <= limit {
        return bytes;
    }
    message.answers.clear();
    message.authorities.clear();
    message.metadata.truncation = true;
    encode(&message)
}

/// Encodes an answer-less response with `rcode` (FORMERR, NOTIMP, REFUSED,
/// BADVERS, ...).
pub(crate) fn encode_error(echo: &Echo, rcode: ResponseCode, payload: u16) -> Vec<u8> {
    encode(&base(echo, rcode, payload))
}

/// A response header, question and OPT for `echo`.
fn base(echo: &Echo, rcode: ResponseCode, payload: u16) -> Message {
    let mut message = Message::new(echo.id, MessageType::Response, echo.op_code);
    message.metadata.recursion_desired = echo.recursion_desired;
    message.metadata.response_code = rcode;
    message.queries.extend(echo.query.clone());
    if let Some(dnssec_ok) = echo.edns_do {
        let mut edns = Edns::new();
        edns.set_max_payload(payload).set_version(0).set_dnssec_ok(dnssec_ok);
        message.edns = Some(edns);
    }
    message
}

/// Encodes `message`; if that fails (it cannot for data we stored, but the
/// question comes from the peer), answers SERVFAIL with the header alone.
fn encode(message: &Message) -> Vec<u8> {
    message.to_vec().unwrap_or_else(|error| {
        tracing::warn!(%error, "could not encode a response");
        let mut header = vec![0; 12];
        header[..2].copy_from_slice(&message.metadata.id.to_be_bytes());
        header[2] = 0x80 | (u8::from(message.metadata.op_code) << 3);
        header[3] = u16::from(ResponseCode::ServFail) as u8;
        header
    })
}
