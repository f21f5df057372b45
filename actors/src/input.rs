//! What a connection reads: its frame stream, charged to the server's [`FrameBudget`], and
//! possibly a first frame that was read before the connection's actor started (the master
//! reads it to tell a worker from a client).

use std::time::Duration;

use futures::{Stream, StreamExt};
use papertrader_protocol::codec::Incoming;
use papertrader_protocol::{Message, MessageCodec, ProtocolError, Rejected};
use tokio::io::AsyncRead;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::frame_budget::{BudgetedCodec, FrameBudget};

/// One item of a message stream: a message, a refused frame, or a fatal error.
pub type Decoded = Result<Result<Message, Rejected>, ProtocolError>;

/// One item of a connection's input: a frame as it arrived (decoded, and its bytes), or a
/// fatal error.
pub type Arrived = Result<Incoming, ProtocolError>;

/// How waiting for a first frame ended.
#[derive(Debug)]
pub enum FirstFrame {
    /// A complete frame (or a refused or fatal one) arrived.
    Arrived,
    /// Nothing complete arrived in time.
    TimedOut,
    /// The peer closed the connection first.
    Closed,
    /// The server evicted the connection for holding too much of an incomplete frame.
    Evicted,
}

/// A connection's input.
pub struct Input<R> {
    frames: FramedRead<R, BudgetedCodec>,
    first: Option<Arrived>,
    evicted: CancellationToken,
}

impl<R: AsyncRead + Unpin + 'static> Input<R> {
    /// Frames read from `reader` with payloads of at most `max_payload` bytes, incomplete ones
    /// charged to `budget`.
    pub fn new(reader: R, max_payload: u32, budget: &FrameBudget) -> Self {
        let codec = BudgetedCodec::new(MessageCodec::new(max_payload), budget);
        let evicted = codec.evicted();
        Self {
            frames: FramedRead::new(reader, codec),
            first: None,
            evicted,
        }
    }

    /// Reads the first frame, waiting at most `within`; keeps it for the stream.
    pub async fn read_first(&mut self, within: Duration) -> FirstFrame {
        let evicted = self.evicted.clone();
        tokio::select! {
            item = tokio::time::timeout(within, self.frames.next()) => match item {
                Ok(Some(item)) => {
                    self.first = Some(item);
                    FirstFrame::Arrived
                }
                Ok(None) => FirstFrame::Closed,
                Err(_) => FirstFrame::TimedOut,
            },
            _ = evicted.cancelled() => FirstFrame::Evicted,
        }
    }

    /// The first frame, if [`Input::read_first`] read one.
    pub fn first(&self) -> Option<&Arrived> {
        self.first.as_ref()
    }

    /// Cancelled when the server evicts this connection (it must close).
    pub fn evicted(&self) -> CancellationToken {
        self.evicted.clone()
    }

    /// The frames, the already-read first one first.
    pub fn into_stream(self) -> impl Stream<Item = Arrived> + Unpin + 'static {
        futures::stream::iter(self.first).chain(self.frames)
    }
}
