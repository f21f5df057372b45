//! The PaperTrader wire protocol, as bytes and types only: no sockets, no actors.
//!
//! A message on the wire is a frame: an 18-byte big-endian [`header`] followed by
//! `dataSize` payload bytes. The payload holds the instruction's arguments encoded with
//! bincode 1.3 configured big-endian and fixed-width ([`arguments`]), so the whole frame is
//! big-endian. [`Message`] is the typed view of every instruction; [`MessageCodec`] adapts
//! it to `tokio_util::codec`. Large replies travel as numbered `data` packets
//! ([`transfer`]); which instruction is legal when is decided by [`state`].
//!
//! `docs/PROTOCOL.md` at the repository root is the byte-exact description of all of this.
#![warn(missing_docs)]

pub mod arguments;
pub mod codec;
pub mod data;
pub mod error;
pub mod header;
pub mod history_range;
pub mod instruction;
pub mod limits;
pub mod message;
pub mod money;
pub mod password;
pub mod reason;
pub mod state;
pub mod stream;
pub mod transfer;

pub use codec::MessageCodec;
pub use data::DataBody;
pub use error::{HeaderField, ProtocolError, Rejected};
pub use header::{Header, MessageType, DEFAULT_MAX_PAYLOAD, HEADER_LEN, PROTOCOL_VERSION};
pub use history_range::HistoryRange;
pub use instruction::Instruction;
pub use message::*;
pub use money::Money;
pub use reason::{Failure, ReasonCode};
pub use state::ConnectionState;
