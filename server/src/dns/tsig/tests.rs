//! TSIG vectors: MACs computed with Python's `hmac` on a hand-built message,
//! and messages captured from `nsupdate -y` and `knsupdate -y`.

use super::*;

const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==";
const TIME: u64 = 1_700_000_000;

/// `nsupdate -y hmac-sha256:k.example.:SECRET`: add x.example. 60 A 192.0.2.1.
const NSUPDATE: &str = "42bc28000001000000010001076578616d706c6500000600010178c00c000100010000003c0004c0000201016b076578616d706c650000fa00ff00000000003d0b686d61632d7368613235360000006b0f2304012c002038a8fc5e2f7eda6c4a900bf07c4fd28bac4631cec47a19b5179e43cccf355b6e42bc00000000";
/// `knsupdate -y hmac-md5:k.example.:SECRET`, the same update.
const KNSUPDATE: &str = "0ccb28000001000000010001076578616d706c6500000600010178c00c000100010000003c0004c0000201016b076578616d706c650000fa00ff00000000003a08686d61632d6d6435077369672d616c670372656703696e740000006b0f2305012c0010f2aace5013c57396b20841f1d07b7f580ccb00000000";

/// (algorithm, MAC by Python's hmac over [`message`] + the TSIG variables).
const PYTHON: [(Algorithm, &str); 6] = [
    (Algorithm::HmacMd5, "e824194bc1b53bb933687af8949e4f18"),
    (Algorithm::HmacSha1, "894c2ea420ee5dfae0d26c9096fd86720962f7bc"),
    (Algorithm::HmacSha224, "aa76ccd30e00d74e0d695e6154cfb37fcca889dee12e63fe3370d222"),
    (Algorithm::HmacSha256, "9041e9179ec26fc795eb6194f4380c573a224ea6f28d48788cba4624ac2f1abb"),
    (
        Algorithm::HmacSha384,
        "46a61cc94c6995f6c86b897425529d68c07bbb39136801832ef821ed779c8d2043a947e770940350075e52d57eb71917",
    ),
    (
        Algorithm::HmacSha512,
        "b8ac7135de8f91ebae94cd2c06fc2dafad5030191f6a621a560527103c72cb23d339203d47b5bf9c7589fc0d8a56a0c7b1bd705332b8b892e76dfde2a357d206",
    ),
];

fn hex(text: &str) -> Vec<u8> {
    data_encoding::HEXLOWER.decode(text.as_bytes()).expect("hex")
}

fn key(algorithm: Algorithm) -> TsigKey {
    TsigKey {
        name: Name::from_ascii("k.example.").expect("name"),
        algorithm,
        secret: decode_secret(SECRET).expect("base64"),
        team: Some("hr".into()),
    }
}

/// An UPDATE header and zone section for `example.`, no other records.
fn message() -> Vec<u8> {
    let mut msg = vec![0x12, 0x34, 0x28, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&wire_name("example."));
    msg.extend_from_slice(&[0, 6, 0, 1]);
    msg
}

/// [`message`] with a TSIG RR carrying `mac`, signed at [`TIME`].
fn signed(algorithm: Algorithm, mac: &[u8]) -> Vec<u8> {
    let mut msg = message();
    let fields = Fields {
        key_wire: &wire_name("k.example."),
        algorithm_wire: &wire_name(algorithm.dns_name()),
        time: TIME,
        mac,
        id: 0x1234,
        error: 0,
        other: &[],
    };
    append_rr(&mut msg, &fields);
    msg
}

fn check(msg: &[u8], key: Option<TsigKey>, now: u64) -> Result<Signer, Failure> {
    let tsig = find(msg).expect("walks").expect("has a TSIG");
    verify(msg, tsig, key, now)
}

#[test]
fn python_vectors_verify_for_every_algorithm() {
    for (algorithm, mac) in PYTHON {
        let msg = signed(algorithm, &hex(mac));
        let tsig = find(&msg).expect("walks").expect("tsig");
        assert_eq!(tsig.key_name.to_ascii(), "k.example.");
        assert_eq!((tsig.time_signed, tsig.fudge, tsig.original_id), (TIME, FUDGE, 0x1234));
        assert_eq!(unsigned_message(&msg, &tsig).expect("unsigned"), message());
        assert_eq!(hex(mac).len(), algorithm.output_len(), "{algorithm:?}");
        assert!(check(&msg, Some(key(algorithm)), TIME + 10).is_ok(), "{algorithm:?}");
    }
}

#[test]
fn captured_nsupdate_and_knsupdate_requests_verify() {
    for (packet, algorithm) in [(NSUPDATE, Algorithm::HmacSha256), (KNSUPDATE, Algorithm::HmacMd5)] {
        let msg = hex(packet);
        let tsig = find(&msg).expect("walks").expect("tsig");
        let now = tsig.time_signed;
        assert!(check(&msg, Some(key(algorithm)), now).is_ok(), "{algorithm:?}");
    }
}

#[test]
fn a_tampered_byte_is_badsig_and_the_response_is_unsigned() {
    for (algorithm, mac) in PYTHON {
        let mut msg = signed(algorithm, &hex(mac));
        msg[13] ^= 0x20; // a letter of the zone name
        let failure = check(&msg, Some(key(algorithm)), TIME).expect_err("tampered");
        assert_eq!(failure.code(), BADSIG);
        let mut response = message();
        response[2] |= 0x80;
        failure.respond(&mut response, TIME);
        assert_eq!(response[3] & 0x0f, NOTAUTH);
        let tsig = find(&response).expect("walks").expect("tsig");
        assert!(tsig.mac.is_empty());
        assert_eq!(tsig.error, BADSIG);
    }
}

#[test]
fn unknown_key_and_algorithm_mismatch_are_badkey() {
    let msg = signed(Algorithm::HmacSha256, &hex(PYTHON[3].1));
    assert_eq!(check(&msg, None, TIME).expect_err("unknown").code(), BADKEY);
    let failure = check(&msg, Some(key(Algorithm::HmacSha512)), TIME).expect_err("mismatch");
    assert_eq!(failure.code(), BADKEY);
    let mut response = message();
    failure.respond(&mut response, TIME);
    let tsig = find(&response).expect("walks").expect("tsig");
    assert_eq!((tsig.error, tsig.mac.len()), (BADKEY, 0));
}

#[test]
fn a_wrong_secret_is_badsig() {
    let msg = signed(Algorithm::HmacSha1, &hex(PYTHON[1].1));
    let mut wrong = key(Algorithm::HmacSha1);
    wrong.secret = b"another secret".to_vec();
    assert_eq!(check(&msg, Some(wrong), TIME).expect_err("wrong secret").code(), BADSIG);
}

#[test]
fn time_outside_the_fudge_is_badtime_signed_with_our_time() {
    let msg = signed(Algorithm::HmacSha256, &hex(PYTHON[3].1));
    assert!(check(&msg, Some(key(Algorithm::HmacSha256)), TIME + 300).is_ok());
    assert!(check(&msg, Some(key(Algorithm::HmacSha256)), TIME - 300).is_ok());
    let now = TIME + 301;
    let failure = check(&msg, Some(key(Algorithm::HmacSha256)), now).expect_err("stale");
    assert_eq!(failure.code(), BADTIME);
    let mut response = message();
    response[2] |= 0x80;
    failure.respond(&mut response, now);
    assert_eq!(response[3] & 0x0f, NOTAUTH);
    let tsig = find(&response).expect("walks").expect("tsig");
    assert_eq!(tsig.error, BADTIME);
    assert_eq!(tsig.other, u48(now));
    assert_eq!(tsig.mac.len(), 32, "signed");
    // The client checks it as the answer to its request: request MAC + response + variables.
    let mut data = vec![0, 32];
    data.extend_from_slice(&hex(PYTHON[3].1));
    data.extend_from_slice(&unsigned_message(&response, &tsig).expect("unsigned"));
    push_variables(&mut data, &tsig.key_wire, &tsig.algorithm_wire, tsig.time_signed, tsig.fudge, BADTIME, &tsig.other);
    assert_eq!(hmac(Algorithm::HmacSha256, &key(Algorithm::HmacSha256).secret, &data), tsig.mac);
}

#[test]
fn truncated_macs_are_formerr_below_the_minimum_and_badtrunc_above() {
    let full = hex(PYTHON[3].1);
    let short = signed(Algorithm::HmacSha256, &full[..15]);
    assert_eq!(check(&short, Some(key(Algorithm::HmacSha256)), TIME).expect_err("short").code(), 1);
    let long = signed(Algorithm::HmacSha256, &[full.clone(), vec![0]].concat());
    assert_eq!(check(&long, Some(key(Algorithm::HmacSha256)), TIME).expect_err("long").code(), 1);
    let truncated = signed(Algorithm::HmacSha256, &full[..16]);
    let failure = check(&truncated, Some(key(Algorithm::HmacSha256)), TIME).expect_err("truncated");
    assert_eq!(failure.code(), BADTRUNC);
    let md5 = signed(Algorithm::HmacMd5, &hex(PYTHON[0].1)[..9]);
    assert_eq!(check(&md5, Some(key(Algorithm::HmacMd5)), TIME).expect_err("below 10").code(), 1);
    let mut bad_trunc_sig = truncated.clone();
    bad_trunc_sig[13] ^= 0x20;
    assert_eq!(check(&bad_trunc_sig, Some(key(Algorithm::HmacSha256)), TIME).expect_err("bad").code(), BADSIG);
}

#[test]
fn signed_responses_verify_as_the_client_checks_them_single_and_multi_message() {
    let request = signed(Algorithm::HmacSha384, &hex(PYTHON[4].1));
    let mut signer = check(&request, Some(key(Algorithm::HmacSha384)), TIME).expect("verifies");
    let secret = key(Algorithm::HmacSha384).secret;
    let mut first = message();
    first[2] |= 0x80;
    signer.sign_next(&mut first);
    let tsig = find(&first).expect("walks").expect("tsig");
    let mut data = vec![0, 48];
    data.extend_from_slice(&hex(PYTHON[4].1));
    data.extend_from_slice(&unsigned_message(&first, &tsig).expect("unsigned"));
    push_variables(&mut data, &tsig.key_wire, &tsig.algorithm_wire, tsig.time_signed, tsig.fudge, 0, &[]);
    assert_eq!(hmac(Algorithm::HmacSha384, &secret, &data), tsig.mac);
    let mut second = message();
    second[2] |= 0x80;
    signer.sign_next(&mut second);
    let next = find(&second).expect("walks").expect("tsig");
    let mut data = vec![0, 48];
    data.extend_from_slice(&tsig.mac);
    data.extend_from_slice(&unsigned_message(&second, &next).expect("unsigned"));
    data.extend_from_slice(&u48(TIME));
    data.extend_from_slice(&FUDGE.to_be_bytes());
    assert_eq!(hmac(Algorithm::HmacSha384, &secret, &data), next.mac);
}

#[test]
fn malformed_messages_never_panic_and_misplaced_tsig_is_malformed() {
    let msg = signed(Algorithm::HmacSha256, &hex(PYTHON[3].1));
    for cut in 0..msg.len() {
        let _ = find(&msg[..cut]);
    }
    assert_eq!(find(&message()), Ok(None));
    // The TSIG counted in the authority section instead: not the last of additional.
    let mut moved = msg.clone();
    moved[9] = 1;
    moved[11] = 0;
    assert_eq!(find(&moved), Err(Malformed));
    // A compression pointer loop.
    let mut looped = message();
    looped.truncate(12);
    looped.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1]);
    assert_eq!(find(&looped), Err(Malformed));
}

#[test]
fn overhead_is_what_signing_adds() {
    for algorithm in Algorithm::ALL {
        let mut msg = message();
        let before = msg.len();
        Signer::for_request(key(algorithm), TIME).sign_next(&mut msg);
        assert_eq!(msg.len() - before, Signer::overhead(&key(algorithm)), "{algorithm:?}");
    }
}
