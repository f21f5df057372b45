//! Errors of the protocol layer, each naming what was wrong and mapping to a reason code.

use std::fmt;

use crate::instruction::Instruction;
use crate::reason::ReasonCode;
use crate::state::ConnectionState;
use crate::transfer::TransferError;

/// A header field, named in header errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderField {
    /// Byte 0, the protocol version.
    Version,
    /// messageType.
    MessageType,
    /// instruction.
    Instruction,
    /// dataSize.
    DataSize,
    /// argumentCount.
    ArgumentCount,
    /// dataMessageNumber.
    DataMessageNumber,
    /// dataMessageMax.
    DataMessageMax,
}

impl fmt::Display for HeaderField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Version => "version",
            Self::MessageType => "messageType",
            Self::Instruction => "instruction",
            Self::DataSize => "dataSize",
            Self::ArgumentCount => "argumentCount",
            Self::DataMessageNumber => "dataMessageNumber",
            Self::DataMessageMax => "dataMessageMax",
        })
    }
}

/// Everything that can go wrong turning bytes into messages and back.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A header field holds a value the protocol does not allow.
    #[error("header field {field}: {reason}")]
    Header {
        /// The offending field.
        field: HeaderField,
        /// Why the value was refused.
        reason: String,
    },
    /// The payload does not decode as the instruction's arguments.
    #[error("arguments of {}: {reason}", instruction.name())]
    Arguments {
        /// The instruction whose arguments were malformed.
        instruction: Instruction,
        /// What the decoder said.
        reason: String,
    },
    /// An argument decoded but breaks an input limit (length, format, range).
    #[error("argument {argument}: {reason}")]
    InvalidArgument {
        /// The argument's name as PROTOCOL.md spells it.
        argument: &'static str,
        /// Why it was refused.
        reason: String,
        /// The specific reason code (InvalidUsername, InvalidQuantity, …).
        code: ReasonCode,
    },
    /// The instruction is not legal in the connection's current state.
    #[error("{} is not allowed in the {state} state", instruction.name())]
    WrongState {
        /// The refused instruction.
        instruction: Instruction,
        /// The state the connection was in.
        state: ConnectionState,
    },
    /// A `data` packet sequence broke the transfer rules.
    #[error("data transfer: {0}")]
    Transfer(#[from] TransferError),
    /// An encoded message would not fit in one frame.
    #[error("message {} needs {size} payload bytes, more than the maximum of {max}", instruction.name())]
    TooLarge {
        /// The instruction being encoded.
        instruction: Instruction,
        /// Its payload size.
        size: usize,
        /// The configured maximum.
        max: u32,
    },
    /// The underlying stream failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl ProtocolError {
    /// Shorthand for a [`ProtocolError::Header`].
    pub fn header(field: HeaderField, reason: String) -> Self {
        Self::Header { field, reason }
    }

    /// The reason code a peer receives for this error.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::Header {
                field: HeaderField::Instruction,
                ..
            } => ReasonCode::UnknownInstruction,
            Self::Header { .. } | Self::Arguments { .. } | Self::Transfer(_) => {
                ReasonCode::Malformed
            }
            Self::InvalidArgument { code, .. } => *code,
            Self::WrongState { .. } => ReasonCode::WrongState,
            Self::TooLarge { .. } => ReasonCode::TooLarge,
            Self::Io(_) => ReasonCode::Internal,
        }
    }

    /// The Failure a peer receives for this error: its reason code and description.
    pub fn to_failure(&self) -> crate::reason::Failure {
        crate::reason::Failure::new(self.reason_code(), self.to_string())
    }

    /// True when the byte stream cannot be trusted after this error and the
    /// connection must close (bad version, oversize payload, i/o failure).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Io(_)
                | Self::Header {
                    field: HeaderField::Version | HeaderField::DataSize,
                    ..
                }
        )
    }
}

impl Rejected {
    /// The reply to send for this refused frame: the request's Fail reply when the header
    /// named a request, `error` otherwise.
    pub fn reply(&self) -> crate::instruction::Message {
        let failure = self.error.to_failure();
        match self.instruction {
            Some(instruction) if instruction.is_request() => instruction.failure_reply(failure),
            _ => crate::instruction::Message::Error(failure),
        }
    }
}

/// A complete frame that was read but refused. The stream stays in sync, so the
/// connection can answer with a failure and go on.
#[derive(Debug)]
pub struct Rejected {
    /// The instruction, when the header named a known one (to pick the right Fail reply).
    pub instruction: Option<Instruction>,
    /// Why the frame was refused.
    pub error: ProtocolError,
}
