//! A frame: a validated header and its payload bytes.

use bytes::{BufMut, Bytes};

use crate::header::{Header, HEADER_LEN};

/// One complete frame as it travels on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header; `data_size` equals `payload.len()`.
    pub header: Header,
    /// The payload (the instruction's encoded arguments).
    pub payload: Bytes,
}

impl Frame {
    /// Total length on the wire.
    pub fn len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Always false: a frame has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the frame's bytes to `out`.
    pub fn write(&self, out: &mut impl BufMut) {
        self.header.to_raw().write(out);
        out.put_slice(&self.payload);
    }

    /// The frame's bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.write(&mut out);
        out
    }
}
