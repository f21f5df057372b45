//! The data transfer mechanism (spec 4.7.1): a [`DataBody`] split into packets `1..=max`
//! and put back together, refusing gaps, duplicates and inconsistent totals.

use bytes::Bytes;

use crate::data::DataBody;
use crate::message::DataPacket;

/// Default bytes of body per `data` packet: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;
/// Default largest reassembled body: 64 MiB.
pub const DEFAULT_MAX_TRANSFER: usize = 64 << 20;

/// Splits an encoded body into packets of at most `chunk_size` bytes (at least one packet,
/// even for an empty body). `chunk_size` of 0 is treated as 1.
pub fn split(body: &[u8], chunk_size: usize) -> Vec<DataPacket> {
    let chunk_size = chunk_size.max(1);
    let body = Bytes::copy_from_slice(body);
    let max = body.len().div_ceil(chunk_size).max(1) as u32;
    (0..max)
        .map(|i| {
            let start = i as usize * chunk_size;
            let end = (start + chunk_size).min(body.len());
            DataPacket {
                number: i + 1,
                max,
                chunk: body.slice(start..end),
            }
        })
        .collect()
}

/// Encodes `body` and splits it with [`split`].
pub fn split_body(body: &DataBody, chunk_size: usize) -> Vec<DataPacket> {
    split(&body.encode(), chunk_size)
}

/// Why a packet sequence was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// dataMessageNumber 0 or above dataMessageMax.
    #[error("packet {number} is outside 1..={max}")]
    OutOfRange {
        /// Packet number.
        number: u32,
        /// Its stated max.
        max: u32,
    },
    /// dataMessageMax differs from the first packet's.
    #[error("packet says {got} packets in all, the transfer began with {expected}")]
    MaxChanged {
        /// The first packet's max.
        expected: u32,
        /// This packet's max.
        got: u32,
    },
    /// A packet number was skipped.
    #[error("expected packet {expected}, got {got}: packets are missing")]
    Gap {
        /// The next number due.
        expected: u32,
        /// The number received.
        got: u32,
    },
    /// A packet number came again.
    #[error("packet {number} was already received")]
    Duplicate {
        /// The repeated number.
        number: u32,
    },
    /// The body grew past the limit.
    #[error("transfer exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The reassembled bytes are not a valid body.
    #[error("reassembled data does not decode: {0}")]
    Undecodable(String),
}

/// Puts `data` packets back together, one transfer at a time.
#[derive(Debug)]
pub struct Reassembler {
    limit: usize,
    max: Option<u32>,
    received: u32,
    body: Vec<u8>,
}

/// What a packet did to a transfer.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// `received` of `max` packets are in.
    Partial {
        /// Packets received so far.
        received: u32,
        /// Packets in all.
        max: u32,
    },
    /// The transfer is complete.
    Complete(DataBody),
}

impl Reassembler {
    /// A reassembler refusing bodies over `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            max: None,
            received: 0,
            body: Vec::new(),
        }
    }

    /// `(received, max)` so far; max is 0 before the first packet.
    pub fn progress(&self) -> (u32, u32) {
        (self.received, self.max.unwrap_or(0))
    }

    /// Adds the next packet. After `Complete` or an error the reassembler is reset and ready
    /// for a new transfer.
    pub fn push(&mut self, packet: DataPacket) -> Result<Progress, TransferError> {
        let result = self.accept(packet);
        if !matches!(result, Ok(Progress::Partial { .. })) {
            *self = Self::new(self.limit);
        }
        result
    }

    fn accept(&mut self, packet: DataPacket) -> Result<Progress, TransferError> {
        let DataPacket { number, max, chunk } = packet;
        if number == 0 || number > max {
            return Err(TransferError::OutOfRange { number, max });
        }
        let expected_max = *self.max.get_or_insert(max);
        if max != expected_max {
            return Err(TransferError::MaxChanged {
                expected: expected_max,
                got: max,
            });
        }
        let expected = self.received + 1;
        if number < expected {
            return Err(TransferError::Duplicate { number });
        }
        if number > expected {
            return Err(TransferError::Gap {
                expected,
                got: number,
            });
        }
        if self.body.len() + chunk.len() > self.limit {
            return Err(TransferError::TooLarge { limit: self.limit });
        }
        self.body.extend_from_slice(&chunk);
        self.received = number;
        if number < max {
            return Ok(Progress::Partial {
                received: number,
                max,
            });
        }
        DataBody::decode(&self.body)
            .map(Progress::Complete)
            .map_err(|e| TransferError::Undecodable(e.to_string()))
    }
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_TRANSFER)
    }
}
