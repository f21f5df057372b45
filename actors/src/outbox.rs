//! Bounded output for a connection: encoded frames go through a small channel to a writer
//! task, so a peer that does not read holds a bounded amount of memory and is let go.
//!
//! Bounds: at most `frames` frames and `max_unsent_bytes` bytes wait for the socket; a send
//! that finds no room waits until its deadline and then fails; the writer gives up on a write
//! that makes no progress for `write_timeout` (the peer stopped reading), which closes the
//! socket. [`Outbox::closed`] tells the owner when the writer has ended.

use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use papertrader_protocol::{Failure, Message, MessageCodec};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::reply::Reply;

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

type Queued = (Bytes, OwnedSemaphorePermit);

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
    pub fn encode(&self, reply: impl Into<Reply>) -> Option<Bytes> {
        let message = match reply.into() {
            Reply::Frame(frame) => return Some(frame),
            Reply::Message(message) => message,
        };
        let max = self.codec.max_payload();
        let mut buf = BytesMut::new();
        match message.write_frame(max, &mut buf) {
            Ok(()) => Some(buf.freeze()),
            Err(e) => {
                let failure = Failure::new(e.reason_code(), e.to_string());
                Message::Error(failure).to_frame_bytes(max).ok()
            }
        }
    }

    fn permits_for(&self, frame: &Bytes) -> u32 {
        frame.len().clamp(1, self.limits.max_unsent_bytes) as u32
    }

    /// Queues `reply` if there is room now; false if the queue is full or closed.
    pub fn try_send(&self, reply: impl Into<Reply>) -> bool {
        let Some(frame) = self.encode(reply) else {
            return false;
        };
        self.try_send_frame(frame).is_ok()
    }

    /// Queues an encoded frame if there is room now; gives it back if not.
    pub fn try_send_frame(&self, frame: Bytes) -> Result<(), Bytes> {
        let Ok(permit) = self
            .unsent
            .clone()
            .try_acquire_many_owned(self.permits_for(&frame))
        else {
            return Err(frame);
        };
        self.queue
            .try_send((frame, permit))
            .map_err(|e| e.into_inner().0)
    }

    /// A future that queues `replies` in order, waiting for room for at most the write
    /// timeout; resolves to false if there was no room in time or the writer has ended.
    pub fn send_all(
        &self,
        replies: impl IntoIterator<Item = Reply>,
    ) -> impl std::future::Future<Output = bool> + 'static {
        self.send_all_until(replies, Instant::now() + self.limits.write_timeout)
    }

    /// Like [`Outbox::send_all`], waiting for room until `deadline`.
    pub fn send_all_until(
        &self,
        replies: impl IntoIterator<Item = Reply>,
        deadline: Instant,
    ) -> impl std::future::Future<Output = bool> + 'static {
        let frames: Vec<Bytes> = replies.into_iter().filter_map(|r| self.encode(r)).collect();
        let sender = self.clone();
        async move {
            for frame in frames {
                if !sender.send_frame_until(frame, deadline).await {
                    return false;
                }
            }
            true
        }
    }

    /// Queues `reply`, waiting for room until `deadline`; false if there was none in time or
    /// the writer has ended.
    pub async fn send_until(&self, reply: Reply, deadline: Instant) -> bool {
        match self.encode(reply) {
            Some(frame) => self.send_frame_until(frame, deadline).await,
            None => true,
        }
    }

    async fn send_frame_until(&self, frame: Bytes, deadline: Instant) -> bool {
        let frame = match self.try_send_frame(frame) {
            Ok(()) => return true,
            Err(frame) => frame,
        };
        let permits = self.permits_for(&frame);
        let queued = async {
            let permit = self.unsent.clone().acquire_many_owned(permits).await.ok()?;
            self.queue.send((frame, permit)).await.ok()
        };
        matches!(
            tokio::time::timeout_at(deadline, queued).await,
            Ok(Some(()))
        )
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
            match write_some(&mut writer, rest, write_timeout).await {
                Some(n) if n > 0 => rest = &rest[n..],
                // The peer stopped reading, or the socket failed: give up, which closes it.
                _ => return,
            }
        }
    }
    let _ = tokio::time::timeout(write_timeout, writer.shutdown()).await;
}

/// Writes some of `buf`: how many bytes the socket took, or None when it failed or took
/// nothing for `timeout`. The timer is armed only when the socket cannot take bytes at once,
/// so a write to a reading peer costs no timer.
async fn write_some<W: AsyncWrite + Unpin>(
    writer: &mut W,
    buf: &[u8],
    timeout: Duration,
) -> Option<usize> {
    let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(written) =
            std::pin::Pin::new(&mut *writer).poll_write(cx, buf)
        {
            return std::task::Poll::Ready(written.ok());
        }
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}
