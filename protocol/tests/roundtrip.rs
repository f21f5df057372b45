//! Every message survives encode → decode unchanged, through bytes and through the codec.

mod support;

use bytes::BytesMut;
use papertrader_protocol::*;
use proptest::prelude::*;
use support::*;
use tokio_util::codec::{Decoder, Encoder};

fn roundtrip(message: &Message) -> Result<(), TestCaseError> {
    let bytes = message
        .to_bytes(DEFAULT_MAX_PAYLOAD)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let header = header::RawHeader::read(&bytes).expect("header");
    prop_assert_eq!(header.instruction, message.instruction() as u16);
    prop_assert_eq!(header.argument_count, message.argument_count());
    prop_assert!(message
        .instruction()
        .argument_counts()
        .contains(&header.argument_count));
    prop_assert_eq!(header.data_size as usize, bytes.len() - HEADER_LEN);
    let back = Message::from_bytes(&bytes, DEFAULT_MAX_PAYLOAD)
        .map_err(|r| TestCaseError::fail(r.error.to_string()))?;
    prop_assert_eq!(&back, message);

    let mut codec = MessageCodec::default();
    let mut buf = BytesMut::new();
    codec
        .encode(message, &mut buf)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&buf[..], &bytes[..]);
    let decoded = codec
        .decode(&mut buf)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        decoded
            .expect("one frame")
            .map_err(|r| TestCaseError::fail(r.error.to_string()))?,
        message.clone()
    );
    prop_assert!(buf.is_empty());
    Ok(())
}

#[test]
fn every_instruction_round_trips() {
    for &instruction in Instruction::ALL {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
        runner
            .run(&message_of(instruction), |message| {
                prop_assert_eq!(message.instruction(), instruction);
                roundtrip(&message)
            })
            .unwrap_or_else(|e| panic!("{instruction}: {e}"));
    }
}

#[test]
fn instruction_numbers_are_unique_and_stable_in_their_range() {
    let mut seen = std::collections::HashSet::new();
    for &instruction in Instruction::ALL {
        let number = instruction as u16;
        assert!(seen.insert(number), "duplicate {number:#06x}");
        assert_eq!(Instruction::from_u16(number), Some(instruction));
        assert_eq!(
            (number >> 8) as u8,
            instruction.message_type() as u8,
            "{instruction}"
        );
    }
    assert_eq!(Instruction::from_u16(0x0000), None);
    assert_eq!(Instruction::from_u16(0x01FF), None);
}

proptest! {
    #[test]
    fn data_bodies_round_trip_through_packets(body in data_body(), chunk in 1usize..300) {
        let packets = transfer::split_body(&body, chunk);
        let mut reassembler = transfer::Reassembler::default();
        let count = packets.len();
        let mut done = None;
        for (i, packet) in packets.into_iter().enumerate() {
            // Through the wire too, so the header carries the position.
            let bytes = Message::Data(packet).to_bytes(DEFAULT_MAX_PAYLOAD).expect("encode");
            let Ok(Message::Data(packet)) = Message::from_bytes(&bytes, DEFAULT_MAX_PAYLOAD) else {
                return Err(TestCaseError::fail("not a data packet"));
            };
            match reassembler.push(packet).expect("valid sequence") {
                transfer::Progress::Partial { received, max } => {
                    prop_assert_eq!(received as usize, i + 1);
                    prop_assert_eq!(max as usize, count);
                }
                transfer::Progress::Complete(b) => done = Some(b),
            }
        }
        prop_assert_eq!(done, Some(body));
    }
}

#[test]
fn a_forward_reply_written_around_a_message_is_the_one_encoded_the_long_way() {
    let reply = Message::SessionId(SessionToken {
        session_id: "00112233445566778899aabbccddeeff".into(),
    });
    let mut out = bytes::BytesMut::new();
    ForwardReply::write_around(7, &reply, DEFAULT_MAX_PAYLOAD, &mut out).unwrap();
    let long_way = Message::ForwardReply(ForwardReply {
        request_id: 7,
        frame: reply.to_frame_bytes(DEFAULT_MAX_PAYLOAD).unwrap(),
    })
    .to_bytes(DEFAULT_MAX_PAYLOAD)
    .unwrap();
    assert_eq!(&out[..], &long_way[..]);
    // Too large for the link's payload limit: refused, nothing written.
    let mut out = bytes::BytesMut::from(&b"kept"[..]);
    assert!(ForwardReply::write_around(7, &reply, 40, &mut out).is_err());
    assert_eq!(&out[..], b"kept");
}

#[test]
fn fail_replies_are_exactly_the_instructions_that_carry_a_failure() {
    let mut runner = proptest::test_runner::TestRunner::default();
    for &instruction in Instruction::ALL {
        let message = support::message_of(instruction)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        assert_eq!(
            message.failure().is_some(),
            instruction.is_failure(),
            "{instruction}"
        );
    }
}
