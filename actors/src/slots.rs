//! Connection slots: how many connections a server holds at once, in all and per client
//! address.
//!
//! A [`SlotPool`] is a counted pool (a semaphore); an [`AddressLimiter`] counts connections per
//! IP address. A connection keeps what it took in a [`Slot`], which gives everything back when
//! it is dropped, however the connection ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A fixed number of places; [`SlotPool::try_take`] never waits.
#[derive(Debug, Clone)]
pub struct SlotPool {
    places: Arc<Semaphore>,
    size: usize,
}

impl SlotPool {
    /// A pool of `size` places (at least one).
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        Self {
            places: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    /// Takes a place if one is free now.
    pub fn try_take(&self) -> Option<OwnedSemaphorePermit> {
        self.places.clone().try_acquire_owned().ok()
    }

    /// Places in use now.
    pub fn in_use(&self) -> usize {
        self.size - self.places.available_permits()
    }

    /// The pool's size.
    pub fn size(&self) -> usize {
        self.size
    }
}

/// Counts open connections per client IP address and refuses one past the limit.
#[derive(Debug, Clone)]
pub struct AddressLimiter {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_address: usize,
}

impl AddressLimiter {
    /// At most `max_per_address` connections (at least one) from any one address.
    pub fn new(max_per_address: usize) -> Self {
        Self {
            open: Arc::default(),
            max_per_address: max_per_address.max(1),
        }
    }

    /// Counts one more connection from `ip`, unless that address is at its limit.
    pub fn try_admit(&self, ip: IpAddr) -> Option<AddressGuard> {
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_default();
        if *count >= self.max_per_address {
            return None;
        }
        *count += 1;
        Some(AddressGuard {
            limiter: self.clone(),
            ip,
        })
    }

    /// Open connections from `ip` now.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&ip.to_canonical()).copied().unwrap_or(0)
    }
}

/// One counted connection from an address; uncounted when dropped.
#[derive(Debug)]
pub struct AddressGuard {
    limiter: AddressLimiter,
    ip: IpAddr,
}

impl Drop for AddressGuard {
    fn drop(&mut self) {
        let mut open = self
            .limiter
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// What one connection holds: its place in a pool and its count against its address.
/// Dropping it gives both back.
#[derive(Debug, Default)]
pub struct Slot {
    _place: Option<OwnedSemaphorePermit>,
    _address: Option<AddressGuard>,
}

impl Slot {
    /// A slot holding a pool place only (an address that is not counted).
    pub fn with_place(place: OwnedSemaphorePermit) -> Self {
        Self {
            _place: Some(place),
            _address: None,
        }
    }

    /// A slot holding both.
    pub fn new(place: OwnedSemaphorePermit, address: AddressGuard) -> Self {
        Self {
            _place: Some(place),
            _address: Some(address),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_until_their_guards_drop() {
        let limiter = AddressLimiter::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = limiter.try_admit(a).unwrap();
        let _second = limiter.try_admit(a).unwrap();
        assert!(limiter.try_admit(a).is_none(), "third from a");
        let _other = limiter.try_admit(b).expect("other addresses unaffected");
        drop(first);
        assert_eq!(limiter.open_from(a), 1);
        assert!(limiter.try_admit(a).is_some());
        // An IPv4-mapped IPv6 address is the same client.
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        assert_eq!(limiter.open_from(mapped), 1);
    }

    #[test]
    fn a_slot_gives_back_its_place() {
        let pool = SlotPool::new(1);
        let limiter = AddressLimiter::new(5);
        let slot = Slot::new(
            pool.try_take().unwrap(),
            limiter.try_admit("::1".parse().unwrap()).unwrap(),
        );
        assert!(pool.try_take().is_none());
        assert_eq!(pool.in_use(), 1);
        drop(slot);
        assert_eq!(pool.in_use(), 0);
        assert_eq!(limiter.open_from("::1".parse().unwrap()), 0);
    }
}
