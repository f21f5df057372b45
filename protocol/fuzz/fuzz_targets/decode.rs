//! Arbitrary bytes into the frame decoder, the single-frame parser and the reassembler.
//! Run with `cargo +nightly fuzz run decode` from `protocol/`.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use papertrader_protocol::transfer::Reassembler;
use papertrader_protocol::{Message, MessageCodec};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut codec = MessageCodec::new(64 * 1024);
    let mut buf = BytesMut::from(data);
    let mut reassembler = Reassembler::new(1 << 20);
    while let Ok(Some(item)) = codec.decode(&mut buf) {
        if let Ok(Message::Data(packet)) = item {
            let _ = reassembler.push(packet);
        }
    }
    let _ = Message::from_bytes(data, 64 * 1024);
});
