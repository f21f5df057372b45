//! What a router answers a request with: reply frames, now or as they come.
//!
//! A frame may be a [`Message`] still to encode, or bytes already encoded — a price from a
//! worker's cache (encoded once per tick) or a reply the master sent, passed on as it came.

use bytes::Bytes;
use futures::stream::LocalBoxStream;
use papertrader_protocol::header::RawHeader;
use papertrader_protocol::{ConnectionState, Instruction, Message, HEADER_LEN};

/// One reply frame.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A message, encoded when it is sent.
    Message(Message),
    /// A complete frame, header included, sent as it is.
    Frame(Bytes),
}

impl Reply {
    /// The state a `stateSwitchSuccess` reply moves the connection to, if this is one.
    pub fn state_switch(&self) -> Option<ConnectionState> {
        match self {
            Reply::Message(Message::StateSwitchSuccess(switched)) => Some(switched.state),
            Reply::Message(_) => None,
            Reply::Frame(frame) => {
                let raw = RawHeader::read(frame)?;
                if raw.instruction != Instruction::StateSwitchSuccess as u16 {
                    return None;
                }
                // The payload is the state: a u32 variant index, 0 Command, 1 DataTransfer.
                match frame.get(HEADER_LEN..HEADER_LEN + 4)? {
                    [0, 0, 0, 0] => Some(ConnectionState::Command),
                    [0, 0, 0, 1] => Some(ConnectionState::DataTransfer),
                    _ => None,
                }
            }
        }
    }
}

impl From<Message> for Reply {
    fn from(message: Message) -> Self {
        Reply::Message(message)
    }
}

impl From<&Message> for Reply {
    fn from(message: &Message) -> Self {
        Reply::Message(message.clone())
    }
}

/// A router's answer to one request.
pub enum Answer {
    /// The reply frames, all known now (a price from the cache, a refusal).
    Now(Vec<Reply>),
    /// The reply frames as they become known (a forwarded request: each frame is sent to the
    /// client as it arrives, so a `data` transfer's progress is real).
    Later(LocalBoxStream<'static, Reply>),
}

impl Answer {
    /// One reply, now.
    pub fn one(reply: impl Into<Reply>) -> Self {
        Answer::Now(vec![reply.into()])
    }

    /// The replies `future` resolves to, once it does.
    pub fn after<F>(future: F) -> Self
    where
        F: std::future::Future<Output = Vec<Message>> + 'static,
    {
        use futures::StreamExt;
        Answer::Later(Box::pin(futures::stream::once(future).flat_map(
            |replies| futures::stream::iter(replies.into_iter().map(Reply::Message)),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use papertrader_protocol::StateSwitched;

    #[test]
    fn a_state_switch_is_recognised_as_a_message_and_as_bytes() {
        for state in [ConnectionState::Command, ConnectionState::DataTransfer] {
            let message = Message::StateSwitchSuccess(StateSwitched { state });
            let bytes = message.to_frame_bytes(4096).unwrap();
            assert_eq!(Reply::Message(message).state_switch(), Some(state));
            assert_eq!(Reply::Frame(bytes).state_switch(), Some(state));
        }
        let other = Message::GetWorkerList(papertrader_protocol::Empty {});
        let bytes = other.to_frame_bytes(4096).unwrap();
        assert_eq!(Reply::Frame(bytes).state_switch(), None);
    }
}
