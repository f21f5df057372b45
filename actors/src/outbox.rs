//! Bounded output for a connection: encoded frames go through a small channel to a writer
//! task, so a peer that does not read holds a bounded amount of memory and is let go.
//!
//! Bounds: at most `frames` frames and `max_unsent_bytes` bytes wait for the socket; a send
//! that finds no room waits until its deadline and then fails; the writer gives up on a write
//! that makes no progress for `write_timeout` (the peer stopped reading), which closes the
//! socket. [`Outbox::closed`] tells the owner when the writer has ended.

use std::time::Duration;

use bytes::BytesMut;
use papertrader_protocol::{Failure, Message, MessageCodec};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::codec::Encoder;

/// Sizes and timeouts of an [`Outbox`].
#[derive(Debug, Clone, Copy)]
pub struct OutboxLimits {
    /// Frames queued at most.
    pub frames: usize,
    /// Encoded bytes queued at most (a frame larger than this still goes, alone).
    pub max_unsent_bytes: usize,
    /// A socket write that makes no progress for this long ends the connection.
    pub write_timeout: Duration,
}

type Queued = (BytesMut, OwnedSemaphorePermit);

/// The sending side of a connection.
#[derive(Clone)]
pub struct Outbox {
    queue: mpsc::Sender<Queued>,
    codec: MessageCodec,
    limits: OutboxLimits,
    unsent: std::sync::Arc<Semaphore>,
    writer: AbortHandle,
}

impl Outbox {
    /// Spawns the writer task for `writer` on the current arbiter.
    pub fn start<W: AsyncWrite + Unpin + 'static>(
        writer: W,
        codec: MessageCodec,
        limits: OutboxLimits,
    ) -> Self {
        let (queue, frames) = mpsc::channel(limits.frames.max(1));
        let handle = actix::spawn(write_loop(writer, frames, limits.write_timeout));
        let max_unsent = limits.max_unsent_bytes.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            queue,
            codec,
            limits: OutboxLimits {
                max_unsent_bytes: max_unsent,
                ..limits
            },
            unsent: std::sync::Arc::new(Semaphore::new(max_unsent)),
            writer: handle.abort_handle(),
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

    fn permits_for(&self, frame: &BytesMut) -> u32 {
        frame.len().clamp(1, self.limits.max_unsent_bytes) as u32
    }

    /// Queues `message` if there is room now; false if the queue is full or closed.
    pub fn try_send(&self, message: &Message) -> bool {
        let Some(frame) = self.encode(message) else {
            return false;
        };
        let Ok(permit) = self
            .unsent
            .clone()
            .try_acquire_many_owned(self.permits_for(&frame))
        else {
            return false;
        };
        self.queue.try_send((frame, permit)).is_ok()
    }

    /// A future that queues `messages` in order, waiting for room for at most the write
    /// timeout; resolves to false if there was no room in time or the writer has ended.
    pub fn send_all(
        &self,
        messages: &[Message],
    ) -> impl std::future::Future<Output = bool> + 'static {
        self.send_all_until(messages, Instant::now() + self.limits.write_timeout)
    }

    /// Like [`Outbox::send_all`], waiting for room until `deadline`.
    pub fn send_all_until(
        &self,
        messages: &[Message],
        deadline: Instant,
    ) -> impl std::future::Future<Output = bool> + 'static {
        let frames: Vec<(BytesMut, u32)> = messages
            .iter()
            .filter_map(|m| self.encode(m))
            .map(|f| {
                let n = self.permits_for(&f);
                (f, n)
            })
            .collect();
        let queue = self.queue.clone();
        let unsent = self.unsent.clone();
        async move {
            let queued = async {
                for (frame, permits) in frames {
                    let permit = unsent.clone().acquire_many_owned(permits).await.ok()?;
                    queue.send((frame, permit)).await.ok()?;
                }
                Some(())
            };
            matches!(
                tokio::time::timeout_at(deadline, queued).await,
                Ok(Some(()))
            )
        }
    }

    /// Resolves when the writer has ended (the peer stopped reading, the socket failed, or
    /// [`Outbox::abort`]); nothing sent after that arrives.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + 'static {
        let queue = self.queue.clone();
        async move { queue.closed().await }
    }

    /// Stops the writer now, dropping what is queued; the socket closes with it.
    pub fn abort(&self) {
        self.writer.abort();
    }

    /// Encoded bytes queued and not yet written.
    pub fn unsent_bytes(&self) -> usize {
        self.limits.max_unsent_bytes - self.unsent.available_permits()
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut frames: mpsc::Receiver<Queued>,
    write_timeout: Duration,
) {
    while let Some((frame, _permit)) = frames.recv().await {
        let mut rest = &frame[..];
        while !rest.is_empty() {
            // Each write returns as soon as the kernel takes some bytes, so this times out only
            // when the peer takes nothing for `write_timeout`, however large the frame.
            match tokio::time::timeout(write_timeout, writer.write(rest)).await {
                Ok(Ok(n)) if n > 0 => rest = &rest[n..],
                // The peer stopped reading, or the socket failed: give up, which closes it.
                _ => return,
            }
        }
    }
    let _ = tokio::time::timeout(write_timeout, writer.shutdown()).await;
}
