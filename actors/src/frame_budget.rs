//! A per-server budget for bytes held in incomplete frames.
//!
//! Every connection buffers the part of a frame that has arrived until the rest comes. A peer
//! that sends most of a large frame and then stalls holds that memory; a thousand such peers
//! hold a gigabyte. Each connection's decoder reports what it holds through a
//! [`BudgetHandle`]; when the server's total passes its limit, the slowest incomplete frames
//! (fewest bytes per second since they began) are evicted: their connections are told to
//! close through [`BudgetHandle::evicted`], which frees their buffers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::BytesMut;
use papertrader_protocol::codec::Incoming;
use papertrader_protocol::{MessageCodec, ProtocolError};
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

/// Default limit: 128 MiB of incomplete frames per server.
pub const DEFAULT_PARTIAL_FRAME_BYTES: usize = 128 << 20;

struct Holder {
    bytes: usize,
    since: Instant,
    evict: CancellationToken,
}

#[derive(Default)]
struct State {
    total: usize,
    /// Bytes of evicted holders that are still counted until their connections close.
    releasing: usize,
    holders: HashMap<u64, Holder>,
}

/// The budget of one server. Cheap to clone.
#[derive(Clone)]
pub struct FrameBudget {
    limit: usize,
    state: Arc<Mutex<State>>,
    next_id: Arc<AtomicU64>,
    evictions: Arc<AtomicU64>,
}

impl std::fmt::Debug for FrameBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBudget")
            .field("limit", &self.limit)
            .field("held", &self.held())
            .finish()
    }
}

impl FrameBudget {
    /// A budget of `limit` bytes across all connections of a server.
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            state: Arc::default(),
            next_id: Arc::new(AtomicU64::new(1)),
            evictions: Arc::default(),
        }
    }

    /// A handle for one more connection.
    pub fn handle(&self) -> BudgetHandle {
        BudgetHandle {
            budget: self.clone(),
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            reported: AtomicUsize::new(0),
            evicted: CancellationToken::new(),
        }
    }

    /// Bytes held in incomplete frames now.
    pub fn held(&self) -> usize {
        self.lock().total
    }

    /// Connections evicted so far.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, id: u64, bytes: usize, evicted: &CancellationToken) {
        let now = Instant::now();
        let mut state = self.lock();
        let old = match state.holders.get_mut(&id) {
            Some(holder) => {
                let old = holder.bytes;
                holder.bytes = bytes;
                if old == 0 {
                    holder.since = now;
                }
                old
            }
            None => {
                state.holders.insert(
                    id,
                    Holder {
                        bytes,
                        since: now,
                        evict: evicted.clone(),
                    },
                );
                0
            }
        };
        state.total = state.total + bytes - old;
        if evicted.is_cancelled() {
            // An evicted connection may still read a little before it closes.
            state.releasing = (state.releasing + bytes).saturating_sub(old);
        }
        if bytes > old {
            self.evict_over_limit(&mut state, now);
        }
        if bytes == 0 {
            state.holders.remove(&id);
        }
    }

    fn evict_over_limit(&self, state: &mut State, now: Instant) {
        while state.total.saturating_sub(state.releasing) > self.limit {
            let slowest = state
                .holders
                .iter()
                .filter(|(_, h)| h.bytes > 0 && !h.evict.is_cancelled())
                .min_by(|(_, a), (_, b)| {
                    // bytes per second since the frame began, compared without division
                    let a_rate = a.bytes as u128 * now.duration_since(b.since).as_micros().max(1);
                    let b_rate = b.bytes as u128 * now.duration_since(a.since).as_micros().max(1);
                    a_rate.cmp(&b_rate)
                })
                .map(|(id, h)| (*id, h.bytes));
            let Some((id, bytes)) = slowest else { return };
            if let Some(holder) = state.holders.get(&id) {
                holder.evict.cancel();
            }
            state.releasing += bytes;
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn release(&self, id: u64, evicted: bool) {
        let mut state = self.lock();
        if let Some(holder) = state.holders.remove(&id) {
            state.total -= holder.bytes;
            if evicted {
                state.releasing = state.releasing.saturating_sub(holder.bytes);
            }
        }
    }
}

/// One connection's share of a [`FrameBudget`]. Dropping it returns what it held.
pub struct BudgetHandle {
    budget: FrameBudget,
    id: u64,
    reported: AtomicUsize,
    evicted: CancellationToken,
}

impl BudgetHandle {
    /// Reports that this connection now holds `bytes` of an incomplete frame (0 when none).
    /// Cheap when nothing changed, which is the common case of whole frames in one read.
    pub fn hold(&self, bytes: usize) {
        if self.reported.swap(bytes, Ordering::Relaxed) != bytes {
            self.budget.set(self.id, bytes, &self.evicted);
        }
    }

    /// Cancelled when this connection was evicted to bring the server back under its limit:
    /// the connection must close.
    pub fn evicted(&self) -> CancellationToken {
        self.evicted.clone()
    }
}

impl Drop for BudgetHandle {
    fn drop(&mut self) {
        self.budget.release(self.id, self.evicted.is_cancelled());
    }
}

/// [`MessageCodec`] that reports its incomplete frame to a [`BudgetHandle`].
pub struct BudgetedCodec {
    inner: MessageCodec,
    handle: BudgetHandle,
}

impl BudgetedCodec {
    /// Wraps `inner`, charging `budget`.
    pub fn new(inner: MessageCodec, budget: &FrameBudget) -> Self {
        Self {
            inner,
            handle: budget.handle(),
        }
    }

    /// Cancelled when the connection was evicted (see [`BudgetHandle::evicted`]).
    pub fn evicted(&self) -> CancellationToken {
        self.handle.evicted()
    }
}

impl Decoder for BudgetedCodec {
    type Item = Incoming;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        let decoded = self.inner.decode_incoming(src);
        match &decoded {
            // What the incomplete frame really costs is the buffer's capacity (it grows ahead of
            // the bytes); a connection with nothing buffered holds nothing.
            Ok(None) if src.is_empty() => self.handle.hold(0),
            Ok(None) => self.handle.hold(src.capacity()),
            Err(_) => self.handle.hold(0),
            Ok(Some(_)) => {}
        }
        decoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_limit_the_slowest_incomplete_frame_is_evicted() {
        let budget = FrameBudget::new(1000);
        let slow = budget.handle();
        let fast = budget.handle();
        slow.hold(400);
        std::thread::sleep(std::time::Duration::from_millis(30));
        fast.hold(500);
        assert_eq!(budget.held(), 900);
        assert!(!slow.evicted().is_cancelled() && !fast.evicted().is_cancelled());
        // 400 bytes over ~30 ms is slower than 650 bytes just now.
        fast.hold(650);
        assert!(slow.evicted().is_cancelled(), "the slow one goes");
        assert!(!fast.evicted().is_cancelled());
        assert_eq!(budget.evictions(), 1);
        drop(slow);
        assert_eq!(budget.held(), 650);
        // A completed frame holds nothing.
        fast.hold(0);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn an_evicted_connection_is_not_evicted_twice_and_others_are_spared() {
        let budget = FrameBudget::new(100);
        let a = budget.handle();
        let b = budget.handle();
        a.hold(90);
        std::thread::sleep(std::time::Duration::from_millis(5));
        b.hold(20);
        assert!(a.evicted().is_cancelled());
        // Until a's connection closes its bytes still count, but they are being released:
        // b may grow within the limit without being evicted.
        b.hold(80);
        assert!(!b.evicted().is_cancelled());
        assert_eq!(budget.evictions(), 1);
        drop(a);
        assert_eq!(budget.held(), 80);
    }
}
