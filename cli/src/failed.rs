//! How a command fails: a message, the server's reason code when it gave one, and the exit
//! code — 1 the server refused, 2 bad usage, 3 nothing answered.

use papertrader_client::ClientError;
use papertrader_protocol::ReasonCode;
use serde_json::json;

/// A failure with its exit code.
#[derive(Debug)]
pub struct Failed {
    /// The process's exit code.
    pub code: u8,
    message: String,
    reason: Option<ReasonCode>,
    /// Already shown to the user (see [`Failed::already_reported`]).
    reported: bool,
}

impl Failed {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason: None,
            reported: false,
        }
    }

    /// Exit code 1: the server refused, or the command cannot go on for a reason that is not
    /// the user's typing (a session that has ended, no session yet).
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(1, message)
    }

    /// Exit code 2: bad usage (an argument the command cannot use, no way to ask for a
    /// password, a session file that must be repaired).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(2, message)
    }

    /// Exit code 3: could not reach the service.
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new(3, message)
    }

    /// A failure the command has already reported line by line (see [`Failed::report`]): only
    /// its exit code is left to give.
    pub fn already_reported(code: u8) -> Self {
        Self {
            reported: true,
            ..Self::new(code, "")
        }
    }

    /// The server's reason code, when it gave one.
    pub fn reason(&self) -> Option<ReasonCode> {
        self.reason
    }

    /// The message without the reason code.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Replaces the message, keeping the exit and reason codes.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Adds `hint` to the message when the server refused with `reason`.
    pub fn hint(mut self, reason: ReasonCode, hint: impl FnOnce() -> String) -> Self {
        if self.reason == Some(reason) {
            self.message = format!("{}; {}", self.message, hint());
        }
        self
    }

    /// Writes the failure to standard error: `error: MESSAGE [Reason]`, or with `json` one
    /// line `{"error": {"message", "reason", "reason_code", "exit_code"}}`. Nothing for a
    /// failure already reported.
    pub fn report(&self, as_json: bool) {
        if self.reported {
            return;
        }
        if as_json {
            eprintln!("{}", self.to_json());
        } else {
            match self.reason {
                Some(reason) => eprintln!("error: {} [{}]", self.message, reason.name()),
                None => eprintln!("error: {}", self.message),
            }
        }
    }

    /// The JSON form of the failure (see [`Failed::report`]).
    pub fn to_json(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.message,
            "reason": self.reason.map(ReasonCode::name),
            "reason_code": self.reason.map(u16::from),
            "exit_code": self.code,
        }})
    }
}

impl From<ClientError> for Failed {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Failed { failure, .. } => Failed {
                reason: Some(failure.code),
                ..Failed::refused(failure.message)
            },
            e if e.is_unreachable() => Failed::unreachable(e.to_string()),
            e => Failed::refused(e.to_string()),
        }
    }
}

impl From<anyhow::Error> for Failed {
    fn from(e: anyhow::Error) -> Self {
        Failed::refused(format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use papertrader_protocol::Failure;

    use super::*;

    #[test]
    fn a_refusal_keeps_its_reason_code_and_json_names_it() {
        let failed = Failed::from(ClientError::Failed {
            instruction: "dataFail",
            failure: Failure::new(ReasonCode::UnknownAsset, "NOPE is not traded here"),
        });
        assert_eq!(failed.code, 1);
        assert_eq!(failed.reason(), Some(ReasonCode::UnknownAsset));
        assert_eq!(
            failed.to_json(),
            json!({"error": {"message": "NOPE is not traded here", "reason": "UnknownAsset",
                             "reason_code": 30, "exit_code": 1}})
        );
        let lost = Failed::from(ClientError::Closed);
        assert_eq!((lost.code, lost.reason()), (3, None));
        assert_eq!(lost.to_json()["error"]["reason"], serde_json::Value::Null);
    }
}
