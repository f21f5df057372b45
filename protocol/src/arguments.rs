//! How instruction arguments become payload bytes: bincode 1.3, big-endian, fixed-width.
//!
//! Encodings (all integers big-endian): `bool` 1 byte (0 or 1); `u8`/`u16`/`u32`/`u64`/`i64`
//! at their width; `String` and `Vec<T>` a `u64` length then the UTF-8 bytes or items;
//! `Option<T>` a `u8` tag (0 none, 1 some) then the value; fixed arrays `[u8; N]` N bytes with
//! no length; an enum a `u32` variant index then its fields; a struct its fields in order.

use bincode::Options;
use bytes::BytesMut;
use serde::{de::DeserializeOwned, Serialize};

use crate::error::ProtocolError;
use crate::instruction::Instruction;

/// The bincode configuration of the protocol, limited to `limit` bytes.
pub fn options(limit: u64) -> impl Options {
    bincode::DefaultOptions::new()
        .with_big_endian()
        .with_fixint_encoding()
        .reject_trailing_bytes()
        .with_limit(limit)
}

/// Encodes `value` with the protocol's bincode configuration.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, bincode::Error> {
    options(u64::MAX).serialize(value)
}

/// Decodes exactly `bytes` as a `T`; trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::Error> {
    options(bytes.len() as u64).deserialize(bytes)
}

/// The argument list of one instruction.
///
/// `COUNT` is the spec's `argumentCount`: the number of top-level arguments. Most types are
/// plain bincode structs declared with the `arguments!` macro; `data` packets are raw bytes.
pub trait Arguments: Sized {
    /// Number of top-level arguments (the shortest form when there are several).
    const COUNT: u16;
    /// Every argumentCount a frame of this shape may carry: an instruction with optional
    /// trailing arguments accepts several.
    const COUNTS: &'static [u16] = &[Self::COUNT];

    /// The argumentCount of this value's frame.
    fn argument_count(&self) -> u16 {
        Self::COUNT
    }

    /// Appends the payload bytes.
    fn encode_payload(&self, out: &mut BytesMut) -> Result<(), ProtocolError>;

    /// Parses a payload. `count` is the header's argumentCount (one of [`Arguments::COUNTS`]),
    /// `number` and `max` its packet fields. The payload is shared, so byte fields can keep a
    /// slice of it instead of a copy.
    fn decode_payload(
        instruction: Instruction,
        payload: &bytes::Bytes,
        count: u16,
        number: u32,
        max: u32,
    ) -> Result<Self, ProtocolError>;

    /// `(dataMessageNumber, dataMessageMax)` for the header: `(1, 1)` except for `data` packets.
    fn packet_position(&self) -> (u32, u32) {
        (1, 1)
    }
}

/// Counts identifiers, for `Arguments::COUNT`.
macro_rules! count_fields {
    () => { 0u16 };
    ($head:ident $($tail:ident)*) => { 1u16 + $crate::arguments::count_fields!($($tail)*) };
}
pub(crate) use count_fields;

/// Declares a bincode argument struct and its [`Arguments`] impl; the fields, in order,
/// are the arguments.
macro_rules! arguments {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct $name { $($(#[$fmeta])* pub $field: $ty),* }

        impl $crate::arguments::Arguments for $name {
            const COUNT: u16 = $crate::arguments::count_fields!($($field)*);

            fn encode_payload(&self, out: &mut bytes::BytesMut) -> Result<(), $crate::error::ProtocolError> {
                $crate::arguments::encode_bincode(self, out)
            }

            fn decode_payload(
                instruction: $crate::instruction::Instruction,
                payload: &bytes::Bytes,
                _count: u16,
                _number: u32,
                _max: u32,
            ) -> Result<Self, $crate::error::ProtocolError> {
                $crate::arguments::decode_bincode(instruction, payload)
            }
        }
    };
}
pub(crate) use arguments;

#[doc(hidden)]
pub fn encode_bincode<T: Serialize>(value: &T, out: &mut BytesMut) -> Result<(), ProtocolError> {
    use bytes::BufMut;
    options(u64::MAX)
        .serialize_into(out.writer(), value)
        .map_err(|e| ProtocolError::Io(std::io::Error::other(format!("encoding arguments: {e}"))))
}

#[doc(hidden)]
pub fn decode_bincode<T: DeserializeOwned>(
    instruction: Instruction,
    payload: &[u8],
) -> Result<T, ProtocolError> {
    decode(payload).map_err(|e| ProtocolError::Arguments {
        instruction,
        reason: describe_decode_error(&e, payload.len()),
    })
}

/// Says in words what was wrong with a payload that bincode refused. bincode's own text for
/// the commonest case (the payload ends too early) is `io error: ` with nothing after it.
pub fn describe_decode_error(error: &bincode::Error, payload_len: usize) -> String {
    use bincode::ErrorKind;
    match error.as_ref() {
        ErrorKind::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("the payload ({payload_len} bytes) ends before all arguments were read")
        }
        ErrorKind::Io(e) => format!("reading the payload: {e}"),
        ErrorKind::SizeLimit => format!(
            "a length prefix asks for more bytes than the payload ({payload_len} bytes) holds"
        ),
        ErrorKind::InvalidUtf8Encoding(e) => format!("a string is not valid UTF-8: {e}"),
        ErrorKind::InvalidBoolEncoding(b) => format!("a bool must be 0 or 1, found {b}"),
        ErrorKind::InvalidTagEncoding(tag) => {
            format!("an option tag or enum variant index {tag} is out of range")
        }
        ErrorKind::Custom(text) if text.contains("bytes remaining") => {
            format!("trailing bytes after the last argument (payload of {payload_len} bytes)")
        }
        other => other.to_string(),
    }
}

/// Appends `bytes` as bincode writes a byte string: a `u64` length, then the bytes.
pub fn put_bytes(out: &mut BytesMut, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Decodes a payload made of a bincode `T` followed by a byte string that ends the payload
/// (a `u64` length and the bytes), returning the bytes as a slice of `payload`: no copy.
pub fn decode_with_bytes<T: DeserializeOwned>(
    instruction: Instruction,
    payload: &bytes::Bytes,
) -> Result<(T, bytes::Bytes), ProtocolError> {
    let malformed = |reason: String| ProtocolError::Arguments {
        instruction,
        reason,
    };
    let mut cursor = std::io::Cursor::new(&payload[..]);
    let head: T = options(payload.len() as u64)
        .allow_trailing_bytes()
        .deserialize_from(&mut cursor)
        .map_err(|e| malformed(describe_decode_error(&e, payload.len())))?;
    let at = cursor.position() as usize;
    let len_bytes: [u8; 8] = payload
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            malformed(format!(
                "the payload ({} bytes) ends before all arguments were read",
                payload.len()
            ))
        })?;
    let len = u64::from_be_bytes(len_bytes);
    let start = at + 8;
    let rest = (payload.len() - start) as u64;
    if len != rest {
        return Err(malformed(if len > rest {
            format!(
                "a length prefix asks for more bytes than the payload ({} bytes) holds",
                payload.len()
            )
        } else {
            format!(
                "trailing bytes after the last argument (payload of {} bytes)",
                payload.len()
            )
        }));
    }
    Ok((head, payload.slice(start..)))
}
