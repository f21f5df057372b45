//! The fixed 18-byte frame header, read and written big-endian.
//!
//! | offset | width | field |
//! |---|---|---|
//! | 0 | 1 | protocol version (1) |
//! | 1 | 1 | messageType |
//! | 2 | 2 | instruction |
//! | 4 | 4 | dataSize |
//! | 8 | 2 | argumentCount |
//! | 10 | 4 | dataMessageNumber |
//! | 14 | 4 | dataMessageMax |

use bytes::{Buf, BufMut};

use crate::error::{HeaderField, ProtocolError};
use crate::instruction::Instruction;

/// The only protocol version this crate speaks; the first byte of every frame.
pub const PROTOCOL_VERSION: u8 = 1;
/// Length of the frame header in bytes.
pub const HEADER_LEN: usize = 18;
/// Default largest payload (`dataSize`) accepted or produced: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD: u32 = 1 << 20;

/// What kind of message a frame carries (the spec's `messageType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// A Command-state request from a client (or forwarded by a worker).
    Command = 1,
    /// A Data-Transfer-state request.
    DataRequest = 2,
    /// A server return instruction (replies, `data` packets, failures).
    Return = 3,
    /// A message of the master–worker link (admission, forwarding, price ticks).
    Link = 4,
    /// A frame the server sends on its own for a subscription (a *push*); it answers no
    /// request.
    Push = 5,
}

impl MessageType {
    /// The type for a wire byte, if it names one.
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Command),
            2 => Some(Self::DataRequest),
            3 => Some(Self::Return),
            4 => Some(Self::Link),
            5 => Some(Self::Push),
            _ => None,
        }
    }
}

/// The header fields exactly as they were on the wire, before any validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHeader {
    /// Protocol version byte.
    pub version: u8,
    /// messageType byte.
    pub message_type: u8,
    /// instruction number.
    pub instruction: u16,
    /// Payload length in bytes.
    pub data_size: u32,
    /// Number of top-level arguments in the payload.
    pub argument_count: u16,
    /// 1-based number of this packet.
    pub data_message_number: u32,
    /// Total number of packets.
    pub data_message_max: u32,
}

impl RawHeader {
    /// Reads a header from the first [`HEADER_LEN`] bytes of `bytes`.
    ///
    /// Returns `None` when fewer than [`HEADER_LEN`] bytes are given.
    pub fn read(mut bytes: &[u8]) -> Option<Self> {
        if bytes.len() < HEADER_LEN {
            return None;
        }
        Some(Self {
            version: bytes.get_u8(),
            message_type: bytes.get_u8(),
            instruction: bytes.get_u16(),
            data_size: bytes.get_u32(),
            argument_count: bytes.get_u16(),
            data_message_number: bytes.get_u32(),
            data_message_max: bytes.get_u32(),
        })
    }

    /// Appends the 18 header bytes to `out`.
    pub fn write(&self, out: &mut impl BufMut) {
        out.put_u8(self.version);
        out.put_u8(self.message_type);
        out.put_u16(self.instruction);
        out.put_u32(self.data_size);
        out.put_u16(self.argument_count);
        out.put_u32(self.data_message_number);
        out.put_u32(self.data_message_max);
    }

    /// Checks the fields that make the rest of the stream unreadable when wrong
    /// (version and a `dataSize` above `max_payload`). Such errors end a connection.
    pub fn check_framing(&self, max_payload: u32) -> Result<(), ProtocolError> {
        if self.version != PROTOCOL_VERSION {
            return Err(ProtocolError::header(
                HeaderField::Version,
                format!(
                    "version {} is not supported (expected {PROTOCOL_VERSION})",
                    self.version
                ),
            ));
        }
        if self.data_size > max_payload {
            return Err(ProtocolError::header(
                HeaderField::DataSize,
                format!(
                    "{} bytes exceeds the maximum payload of {max_payload} bytes",
                    self.data_size
                ),
            ));
        }
        Ok(())
    }

    /// Validates every field and returns the typed header.
    ///
    /// Assumes [`RawHeader::check_framing`] passed. Errors name the offending field.
    pub fn validate(&self) -> Result<Header, ProtocolError> {
        let message_type = MessageType::from_u8(self.message_type).ok_or_else(|| {
            ProtocolError::header(
                HeaderField::MessageType,
                format!("unknown message type {}", self.message_type),
            )
        })?;
        let instruction = Instruction::from_u16(self.instruction).ok_or_else(|| {
            ProtocolError::header(
                HeaderField::Instruction,
                format!("unknown instruction 0x{:04x}", self.instruction),
            )
        })?;
        if instruction.message_type() != message_type {
            return Err(ProtocolError::header(
                HeaderField::MessageType,
                format!(
                    "instruction {} has message type {:?}, frame says {:?}",
                    instruction.name(),
                    instruction.message_type(),
                    message_type
                ),
            ));
        }
        if self.data_message_max == 0 {
            return Err(ProtocolError::header(
                HeaderField::DataMessageMax,
                "must be at least 1".to_owned(),
            ));
        }
        if self.data_message_number == 0 || self.data_message_number > self.data_message_max {
            return Err(ProtocolError::header(
                HeaderField::DataMessageNumber,
                format!(
                    "{} is outside 1..={}",
                    self.data_message_number, self.data_message_max
                ),
            ));
        }
        if !instruction.is_multi_packet() && self.data_message_max != 1 {
            return Err(ProtocolError::header(
                HeaderField::DataMessageMax,
                format!(
                    "{} is a single-packet instruction: must be 1",
                    instruction.name()
                ),
            ));
        }
        if !instruction.argument_counts().contains(&self.argument_count) {
            let counts: Vec<String> = instruction
                .argument_counts()
                .iter()
                .map(u16::to_string)
                .collect();
            return Err(ProtocolError::header(
                HeaderField::ArgumentCount,
                format!(
                    "{} takes {} arguments, frame says {}",
                    instruction.name(),
                    counts.join(" or "),
                    self.argument_count
                ),
            ));
        }
        Ok(Header {
            message_type,
            instruction,
            data_size: self.data_size,
            argument_count: self.argument_count,
            data_message_number: self.data_message_number,
            data_message_max: self.data_message_max,
        })
    }
}

/// A validated header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// messageType.
    pub message_type: MessageType,
    /// The instruction this frame carries.
    pub instruction: Instruction,
    /// Payload length in bytes.
    pub data_size: u32,
    /// Number of top-level arguments in the payload.
    pub argument_count: u16,
    /// 1-based packet number.
    pub data_message_number: u32,
    /// Total packets of this transfer (1 for single-packet instructions).
    pub data_message_max: u32,
}

impl Header {
    /// The wire form of this header.
    pub fn to_raw(&self) -> RawHeader {
        RawHeader {
            version: PROTOCOL_VERSION,
            message_type: self.message_type as u8,
            instruction: self.instruction as u16,
            data_size: self.data_size,
            argument_count: self.argument_count,
            data_message_number: self.data_message_number,
            data_message_max: self.data_message_max,
        }
    }
}
