//! `tokio_util::codec` adapter: bytes ↔ [`Message`], with a payload limit checked before
//! any allocation.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{ProtocolError, Rejected};
use crate::header::{RawHeader, DEFAULT_MAX_PAYLOAD, HEADER_LEN};
use crate::instruction::Message;

/// Most buffer space reserved ahead of the bytes of an incomplete frame.
pub const RESERVE_STEP: usize = 64 * 1024;

/// Frames a byte stream into messages.
///
/// Each decoded item is `Ok(message)` or `Err(Rejected)` for a complete frame that was
/// refused (unknown instruction, wrong argument count, undecodable arguments, …): the stream
/// stays in sync, so the connection can answer and go on. A decoder *error* means the stream
/// itself cannot be trusted (wrong version byte, `dataSize` above the limit) and ends it.
#[derive(Debug, Clone, Copy)]
pub struct MessageCodec {
    max_payload: u32,
}

impl MessageCodec {
    /// A codec that accepts and produces payloads of at most `max_payload` bytes.
    pub fn new(max_payload: u32) -> Self {
        Self { max_payload }
    }

    /// The payload limit.
    pub fn max_payload(&self) -> u32 {
        self.max_payload
    }
}

impl Default for MessageCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PAYLOAD)
    }
}

/// One frame as it arrived: its decoded message (or why it was refused) and its bytes, header
/// included, shared with the read buffer — to pass on without encoding it again.
#[derive(Debug)]
pub struct Incoming {
    /// The decoded message, or the refusal.
    pub message: Result<Message, Rejected>,
    /// The whole frame.
    pub frame: Bytes,
}

impl MessageCodec {
    /// Takes the next whole frame off `src`, if it is all there: its header and bytes.
    fn next_frame(&self, src: &mut BytesMut) -> Result<Option<(RawHeader, Bytes)>, ProtocolError> {
        let Some(raw) = RawHeader::read(src) else {
            src.reserve(HEADER_LEN - src.len());
            return Ok(None);
        };
        // Checked before reserving: a header announcing 4 GiB allocates nothing.
        raw.check_framing(self.max_payload)?;
        let total = HEADER_LEN + raw.data_size as usize;
        if src.len() < total {
            // Grow with the bytes that arrive, not with what the header announces: a peer that
            // announces 1 MiB and then stalls holds what it sent, not 1 MiB.
            src.reserve((total - src.len()).min(RESERVE_STEP));
            return Ok(None);
        }
        Ok(Some((raw, src.split_to(total).freeze())))
    }

    /// Like [`Decoder::decode`], keeping the frame's bytes with the message.
    pub fn decode_incoming(
        &mut self,
        src: &mut BytesMut,
    ) -> Result<Option<Incoming>, ProtocolError> {
        Ok(self.next_frame(src)?.map(|(raw, frame)| Incoming {
            message: Message::from_raw(&raw, frame.slice(HEADER_LEN..)),
            frame,
        }))
    }
}

impl Decoder for MessageCodec {
    type Item = Result<Message, Rejected>;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        Ok(self
            .next_frame(src)?
            .map(|(raw, frame)| Message::from_raw(&raw, frame.slice(HEADER_LEN..))))
    }
}

impl Encoder<&Message> for MessageCodec {
    type Error = ProtocolError;

    fn encode(&mut self, message: &Message, dst: &mut BytesMut) -> Result<(), Self::Error> {
        message.write_frame(self.max_payload, dst)
    }
}

impl Encoder<Message> for MessageCodec {
    type Error = ProtocolError;

    fn encode(&mut self, message: Message, dst: &mut BytesMut) -> Result<(), Self::Error> {
        self.encode(&message, dst)
    }
}
