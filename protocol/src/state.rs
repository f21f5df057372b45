//! The per-connection state machine of spec 4.2: Command ↔ DataTransfer.

use serde::{Deserialize, Serialize};

use crate::error::ProtocolError;
use crate::header::MessageType;
use crate::instruction::Instruction;

/// A connection's state. On the wire (`switchState`, `stateSwitchSuccess`) a `u32`:
/// 0 Command, 1 DataTransfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ConnectionState {
    /// Every connection starts here: login, register, trades, switchState.
    #[default]
    Command,
    /// Data requests and switchState.
    DataTransfer,
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Command => "Command",
            Self::DataTransfer => "DataTransfer",
        })
    }
}

/// Whether a client may send `instruction` in `state`.
///
/// Command-type instructions are legal in Command state, DataRequest-type ones in
/// DataTransfer state, `switchState` and `getServerInfo` in both; Return and Link instructions
/// never come from a client.
pub fn permits(state: ConnectionState, instruction: Instruction) -> bool {
    if matches!(
        instruction,
        Instruction::SwitchState | Instruction::GetServerInfo
    ) {
        return true;
    }
    matches!(
        (state, instruction.message_type()),
        (ConnectionState::Command, MessageType::Command)
            | (ConnectionState::DataTransfer, MessageType::DataRequest)
    )
}

/// A connection's current state plus the rule check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateMachine {
    state: ConnectionState,
}

impl StateMachine {
    /// A machine in Command state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current state.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// `Ok` when `instruction` is legal now, else a [`ProtocolError::WrongState`].
    pub fn check(&self, instruction: Instruction) -> Result<(), ProtocolError> {
        if permits(self.state, instruction) {
            Ok(())
        } else {
            Err(ProtocolError::WrongState {
                instruction,
                state: self.state,
            })
        }
    }

    /// Moves to `state` (after a successful `switchState`).
    pub fn switch_to(&mut self, state: ConnectionState) {
        self.state = state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_is_legal_in_exactly_its_state() {
        for &instruction in Instruction::ALL {
            let in_command = permits(ConnectionState::Command, instruction);
            let in_data = permits(ConnectionState::DataTransfer, instruction);
            match instruction.message_type() {
                _ if matches!(
                    instruction,
                    Instruction::SwitchState | Instruction::GetServerInfo
                ) =>
                {
                    assert!(in_command && in_data)
                }
                MessageType::Command => assert!(in_command && !in_data, "{instruction}"),
                MessageType::DataRequest => assert!(!in_command && in_data, "{instruction}"),
                MessageType::Return | MessageType::Link | MessageType::Push => {
                    assert!(!in_command && !in_data, "{instruction}")
                }
            }
        }
    }

    #[test]
    fn switching_changes_what_is_legal() {
        let mut machine = StateMachine::new();
        assert!(machine.check(Instruction::PurchaseAsset).is_ok());
        let refused = machine.check(Instruction::GetAssetValueDay).unwrap_err();
        assert!(matches!(refused, ProtocolError::WrongState { .. }));
        machine.switch_to(ConnectionState::DataTransfer);
        assert!(machine.check(Instruction::GetAssetValueDay).is_ok());
        assert!(machine.check(Instruction::PurchaseAsset).is_err());
        assert!(machine.check(Instruction::SwitchState).is_ok());
        machine.switch_to(ConnectionState::Command);
        assert!(machine.check(Instruction::Login).is_ok());
    }
}
