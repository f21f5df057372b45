//! Bounded output for a connection: encoded frames go through a small channel to a writer
//! task, so a peer that does not read can hold at most `capacity` frames in memory.

use std::time::Duration;

use bytes::BytesMut;
use papertrader_protocol::{Failure, Message, MessageCodec};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::Encoder;

/// The sending side of a connection.
#[derive(Clone)]
pub struct Outbox {
    queue: mpsc::Sender<BytesMut>,
    codec: MessageCodec,
    write_timeout: Duration,
}

impl Outbox {
    /// Spawns the writer task for `writer` on the current arbiter.
    pub fn start<W: AsyncWrite + Unpin + 'static>(
        writer: W,
        codec: MessageCodec,
        capacity: usize,
        write_timeout: Duration,
    ) -> Self {
        let (queue, frames) = mpsc::channel(capacity.max(1));
        actix::spawn(write_loop(writer, frames));
        Self {
            queue,
            codec,
            write_timeout,
        }
    }

    /// One frame's bytes. A message too large for a frame (a server bug) becomes an `error`
    /// frame saying so, so the peer is never left waiting.
    pub fn encode(&self, message: &Message) -> Option<BytesMut> {
        let mut codec = self.codec;
        let mut buf = BytesMut::new();
        match codec.encode(message, &mut buf) {
            Ok(()) => Some(buf),
            Err(e) => {
                buf.clear();
                let failure = Failure::new(e.reason_code(), e.to_string());
                codec.encode(&Message::Error(failure), &mut buf).ok()?;
                Some(buf)
            }
        }
    }

    /// Queues `message` if there is room now; false if the queue is full or closed.
    pub fn try_send(&self, message: &Message) -> bool {
        self.encode(message)
            .is_some_and(|frame| self.queue.try_send(frame).is_ok())
    }

    /// A future that queues `messages` in order, waiting for room; resolves to false if the
    /// peer stopped reading for longer than the write timeout or the writer ended.
    pub fn send_all(
        &self,
        messages: &[Message],
    ) -> impl std::future::Future<Output = bool> + 'static {
        let frames: Vec<BytesMut> = messages.iter().filter_map(|m| self.encode(m)).collect();
        let queue = self.queue.clone();
        let timeout = self.write_timeout;
        async move {
            for frame in frames {
                match tokio::time::timeout(timeout, queue.send(frame)).await {
                    Ok(Ok(())) => {}
                    _ => return false,
                }
            }
            true
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(mut writer: W, mut frames: mpsc::Receiver<BytesMut>) {
    while let Some(frame) = frames.recv().await {
        if writer.write_all(&frame).await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}
