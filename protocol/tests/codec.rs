//! The decoder against hostile and fragmented input.

mod support;

use bytes::{BufMut, BytesMut};
use papertrader_protocol::header::RawHeader;
use papertrader_protocol::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use support::*;
use tokio_util::codec::Decoder;

fn raw(instruction: Instruction, payload_len: u32) -> RawHeader {
    RawHeader {
        version: PROTOCOL_VERSION,
        message_type: instruction.message_type() as u8,
        instruction: instruction as u16,
        data_size: payload_len,
        argument_count: instruction.argument_count(),
        data_message_number: 1,
        data_message_max: 1,
    }
}

fn frame_bytes(header: RawHeader, payload: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    header.write(&mut buf);
    buf.put_slice(payload);
    buf
}

/// Decodes everything in `buf`, collecting items until the decoder needs more bytes.
fn drain(codec: &mut MessageCodec, buf: &mut BytesMut) -> Vec<Result<Message, String>> {
    let mut out = Vec::new();
    while let Some(item) = codec.decode(buf).expect("no fatal error") {
        out.push(item.map_err(|r| r.error.to_string()));
    }
    out
}

fn rejection(header: RawHeader, payload: &[u8]) -> Rejected {
    let mut buf = frame_bytes(header, payload);
    let item = MessageCodec::default()
        .decode(&mut buf)
        .expect("not fatal")
        .expect("complete frame");
    assert!(
        buf.is_empty(),
        "the refused frame is consumed, the stream stays in sync"
    );
    item.expect_err("must be refused")
}

fn sample_messages() -> Vec<Message> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    (0..40)
        .map(|_| any_message().new_tree(&mut runner).expect("tree").current())
        .collect()
}

#[test]
fn one_byte_at_a_time_gives_the_same_frames_as_one_buffer() {
    let messages = sample_messages();
    let mut whole = BytesMut::new();
    for m in &messages {
        whole.extend_from_slice(&m.to_bytes(DEFAULT_MAX_PAYLOAD).expect("encode"));
    }
    let mut codec = MessageCodec::default();
    let at_once: Vec<_> = drain(&mut codec, &mut whole.clone())
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(at_once, messages);

    let mut trickle = BytesMut::new();
    let mut bytewise = Vec::new();
    for &byte in whole.iter() {
        trickle.put_u8(byte);
        bytewise.extend(
            drain(&mut codec, &mut trickle)
                .into_iter()
                .map(Result::unwrap),
        );
    }
    assert_eq!(bytewise, messages);
}

#[test]
fn a_4_gib_payload_is_refused_before_allocating() {
    let mut header = raw(Instruction::Login, u32::MAX);
    header.data_size = u32::MAX;
    let mut buf = frame_bytes(header, &[]);
    let capacity_before = buf.capacity();
    let err = MessageCodec::default().decode(&mut buf).expect_err("fatal");
    assert!(
        matches!(
            err,
            ProtocolError::Header {
                field: HeaderField::DataSize,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_fatal());
    assert_eq!(
        buf.capacity(),
        capacity_before,
        "no reservation for the announced payload"
    );
}

#[test]
fn payload_limit_is_configurable_and_inclusive() {
    let message = Message::AdmissionProof(AdmissionProof {
        signature: vec![7; 100],
    });
    let bytes = message.to_bytes(DEFAULT_MAX_PAYLOAD).unwrap();
    let payload_len = (bytes.len() - HEADER_LEN) as u32;
    let mut exact = MessageCodec::new(payload_len);
    assert_eq!(
        exact
            .decode(&mut BytesMut::from(&bytes[..]))
            .unwrap()
            .unwrap()
            .unwrap(),
        message
    );
    let mut smaller = MessageCodec::new(payload_len - 1);
    assert!(smaller.decode(&mut BytesMut::from(&bytes[..])).is_err());
    assert!(matches!(
        message.to_frame_bytes(payload_len - 1),
        Err(ProtocolError::TooLarge { .. })
    ));
}

#[test]
fn wrong_version_is_fatal() {
    let mut header = raw(Instruction::GetWorkerList, 0);
    header.version = 2;
    let err = MessageCodec::default()
        .decode(&mut frame_bytes(header, &[]))
        .unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::Header {
            field: HeaderField::Version,
            ..
        }
    ));
}

#[test]
fn bad_header_fields_are_named_and_recoverable() {
    let field = |r: Rejected| match r.error {
        ProtocolError::Header { field, .. } => field,
        other => panic!("expected a header error, got {other}"),
    };

    let mut h = raw(Instruction::GetWorkerList, 0);
    h.message_type = 9;
    assert_eq!(field(rejection(h, &[])), HeaderField::MessageType);

    let mut h = raw(Instruction::GetWorkerList, 0);
    h.instruction = 0x01FF;
    let r = rejection(h, &[]);
    assert_eq!(r.instruction, None);
    assert_eq!(r.error.reason_code(), ReasonCode::UnknownInstruction);
    assert_eq!(field(r), HeaderField::Instruction);

    let mut h = raw(Instruction::GetWorkerList, 0);
    h.message_type = MessageType::DataRequest as u8;
    assert_eq!(field(rejection(h, &[])), HeaderField::MessageType);

    let mut h = raw(Instruction::Data, 0);
    h.data_message_number = 0;
    h.data_message_max = 3;
    assert_eq!(field(rejection(h, &[])), HeaderField::DataMessageNumber);

    let mut h = raw(Instruction::Data, 0);
    h.data_message_number = 4;
    h.data_message_max = 3;
    assert_eq!(field(rejection(h, &[])), HeaderField::DataMessageNumber);

    let mut h = raw(Instruction::Data, 0);
    h.data_message_max = 0;
    assert_eq!(field(rejection(h, &[])), HeaderField::DataMessageMax);

    let mut h = raw(Instruction::GetWorkerList, 0);
    h.data_message_max = 2;
    assert_eq!(field(rejection(h, &[])), HeaderField::DataMessageMax);

    let mut h = raw(Instruction::GetWorkerList, 0);
    h.argument_count = 1;
    let r = rejection(h, &[]);
    assert_eq!(r.instruction, Some(Instruction::GetWorkerList));
    assert_eq!(field(r), HeaderField::ArgumentCount);
}

#[test]
fn payloads_that_are_not_the_arguments_are_refused() {
    let good = Message::LoginWithSession(SessionToken {
        session_id: "ab".into(),
    })
    .to_bytes(DEFAULT_MAX_PAYLOAD)
    .unwrap();
    let payload = &good[HEADER_LEN..];
    let header = raw(Instruction::LoginWithSession, 0);

    // Truncated string, trailing garbage, a length prefix far past the payload, bad UTF-8.
    let mut trailing = payload.to_vec();
    trailing.push(0);
    let mut huge_len = payload.to_vec();
    huge_len[..8].copy_from_slice(&u64::MAX.to_be_bytes());
    let bad_utf8 = [0, 0, 0, 0, 0, 0, 0, 2, 0xC3, 0x28];
    for (bad, says) in [
        (
            &payload[..payload.len() - 1],
            "ends before all arguments were read",
        ),
        (&trailing[..], "trailing bytes after the last argument"),
        (&huge_len[..], "ends before all arguments were read"),
        (&bad_utf8[..], "not valid UTF-8"),
    ] {
        let mut h = header;
        h.data_size = bad.len() as u32;
        let r = rejection(h, bad);
        assert_eq!(r.instruction, Some(Instruction::LoginWithSession));
        assert!(
            matches!(r.error, ProtocolError::Arguments { .. }),
            "{}",
            r.error
        );
        // The reason names what was wrong (bincode alone says `io error: ` for a short payload).
        let text = r.error.to_string();
        assert!(text.contains(says), "{text:?} should say {says:?}");
        assert!(!text.contains("io error"), "{text:?}");
        assert_eq!(r.error.reason_code(), ReasonCode::Malformed);
        assert_eq!(
            Instruction::LoginWithSession
                .failure_reply(Failure::new(r.error.reason_code(), "x"))
                .instruction(),
            Instruction::LoginFail
        );
    }

    // A bool that is neither 0 nor 1.
    let login = Message::Login(Login {
        username: "a".into(),
        hashed_password: "b".into(),
        is_expirable: true,
    })
    .to_bytes(DEFAULT_MAX_PAYLOAD)
    .unwrap();
    let mut bytes = login.clone();
    *bytes.last_mut().unwrap() = 2;
    assert!(Message::from_bytes(&bytes, DEFAULT_MAX_PAYLOAD).is_err());
}

#[test]
fn a_refused_frame_does_not_desync_the_stream() {
    let mut bad = raw(Instruction::GetWorkerList, 3);
    bad.instruction = 0x0999;
    let mut buf = frame_bytes(bad, &[1, 2, 3]);
    let good = Message::GetWorkerList(Empty {});
    buf.extend_from_slice(&good.to_bytes(DEFAULT_MAX_PAYLOAD).unwrap());
    let items = drain(&mut MessageCodec::default(), &mut buf);
    assert_eq!(items.len(), 2);
    assert!(items[0].is_err());
    assert_eq!(items[1].as_ref().unwrap(), &good);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut codec = MessageCodec::new(512);
        let mut buf = BytesMut::from(&bytes[..]);
        // Either frames, "need more", or a fatal error: never a panic.
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
        let _ = Message::from_bytes(&bytes, 512);
    }

    #[test]
    fn random_payloads_under_valid_headers_never_panic(
        instruction in proptest::sample::select(Instruction::ALL),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut header = raw(instruction, payload.len() as u32);
        header.data_size = payload.len() as u32;
        let mut buf = frame_bytes(header, &payload);
        let item = MessageCodec::default().decode(&mut buf).expect("not fatal");
        prop_assert!(item.is_some());
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn mutated_valid_frames_never_panic(message in any_message(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = message.to_bytes(DEFAULT_MAX_PAYLOAD).unwrap();
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = MessageCodec::default().decode(&mut buf);
        let _ = Message::from_bytes(&bytes, DEFAULT_MAX_PAYLOAD);
    }
}
