//! Pushes: frames a connection sends on its own, for a subscription, between its replies.
//!
//! A [`PushSource`] holds what is ready to go and wakes the connection; the connection
//! drains it only while no reply is being sent (so a push never lands inside a multi-frame
//! reply, nor before the reply that started its subscription), and only while its output
//! holds less than [`PUSH_BACKLOG`] unsent bytes, so a subscriber that does not keep up is
//! left with what the source keeps for it (conflated, bounded) instead of a growing queue.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

/// Unsent output bytes above which a connection stops taking pushes for a while.
pub const PUSH_BACKLOG: usize = 32 * 1024;
/// How soon a connection that could not take every ready push tries again.
pub const PUSH_RETRY: Duration = Duration::from_millis(20);

/// What a connection's subscriptions have ready to send.
pub trait PushSource: Send + Sync + 'static {
    /// Notified whenever something new is ready.
    fn ready(&self) -> Arc<Notify>;

    /// True while it holds a live subscription: a connection that only reads pushes is not
    /// idle.
    fn active(&self) -> bool;

    /// Offers the ready frames to `send`, in order, until it refuses one (which the source
    /// keeps). True when everything ready went.
    fn drain(&self, send: &mut dyn FnMut(Bytes) -> Result<(), Bytes>) -> bool;
}

/// A stream yielding once per [`Notify`] wake-up (a wake-up with nobody waiting is kept, so
/// none is lost).
pub fn signals(notify: Arc<Notify>) -> impl futures::Stream<Item = PushReady> {
    futures::stream::unfold(notify, |notify| async move {
        notify.notified().await;
        Some((PushReady, notify))
    })
}

/// A [`PushSource`] has something ready.
#[derive(Debug, Clone, Copy)]
pub struct PushReady;
