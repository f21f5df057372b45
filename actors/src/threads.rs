//! Connection threads: the arbiters a server spreads its connections over, one per core by
//! default.
//!
//! Each connection lives wholly on one arbiter — its actor, its reader and its writer task — so
//! nothing of it crosses threads but the messages it sends. The actors that own state
//! (sessions, the trade queue, the master link, the log) stay single, on the arbiter that
//! started them, and are reached through their addresses from every thread.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::{Arbiter, ArbiterHandle};
use tokio::net::TcpStream;

/// The arbiters connections are spread over, round robin. Cloned handles share them; the
/// [`ThreadsOwner`] that started them stops them when dropped.
#[derive(Clone)]
pub struct ConnectionThreads {
    arbiters: Arc<[ArbiterHandle]>,
    next: Arc<AtomicUsize>,
}

/// Stops the arbiters of a [`ConnectionThreads`] when the last clone is dropped (a server that
/// is dropped takes its connections with it, as a process that exits would; servers sharing
/// the threads, as in `papertrader up`, each hold a clone).
#[derive(Debug, Clone)]
pub struct ThreadsOwner {
    /// Held for its `Drop`.
    _owned: Arc<Owned>,
}

#[derive(Debug)]
struct Owned {
    threads: ConnectionThreads,
}

impl Drop for Owned {
    fn drop(&mut self) {
        for arbiter in self.threads.arbiters.iter() {
            arbiter.stop();
        }
    }
}

impl std::fmt::Debug for ConnectionThreads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionThreads")
            .field("threads", &self.arbiters.len())
            .finish()
    }
}

/// How many connection threads `configured` asks for: itself, or one per core when 0.
pub fn thread_count(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl ConnectionThreads {
    /// `count` new arbiters, each on a thread of its own (0: one per core), and their owner.
    /// They stop with the actix system or when the owner is dropped. With one, connections
    /// run on a new thread too, apart from the server's actors.
    pub fn start(count: usize) -> (Self, ThreadsOwner) {
        let arbiters: Vec<ArbiterHandle> = (0..thread_count(count))
            .map(|_| Arbiter::new().handle())
            .collect();
        let threads = Self {
            arbiters: arbiters.into(),
            next: Arc::default(),
        };
        let owner = ThreadsOwner {
            _owned: Arc::new(Owned {
                threads: threads.clone(),
            }),
        };
        (threads, owner)
    }

    /// Connections on the current arbiter only (tests, tools).
    pub fn current() -> Self {
        Self {
            arbiters: vec![Arbiter::current()].into(),
            next: Arc::default(),
        }
    }

    /// How many threads connections are spread over.
    pub fn len(&self) -> usize {
        self.arbiters.len()
    }

    /// Always false: there is at least one thread.
    pub fn is_empty(&self) -> bool {
        self.arbiters.is_empty()
    }

    /// Runs `serve(stream)` on the next thread: the stream moves there (it is registered with
    /// that thread's reactor). A stream that cannot move is dropped, which closes it.
    pub fn run<F, Fut>(&self, stream: TcpStream, serve: F)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        let Ok(stream) = stream.into_std() else {
            return;
        };
        self.arbiters[index].spawn_fn(move || {
            if let Ok(stream) = TcpStream::from_std(stream) {
                actix::spawn(serve(stream));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[actix::test]
    async fn connections_are_served_on_the_threads_in_turn() {
        let (threads, _owner) = ConnectionThreads::start(2);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut seen = Vec::new();
        for _ in 0..4 {
            let mut client = TcpStream::connect(addr).await.unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            threads.run(stream, |mut stream| async move {
                // Answers with the serving thread's id, proving the stream works there.
                let id = format!("{:?}", std::thread::current().id());
                let _ = stream.write_all(id.as_bytes()).await;
            });
            let mut id = String::new();
            client.read_to_string(&mut id).await.unwrap();
            seen.push(id);
        }
        let main = format!("{:?}", std::thread::current().id());
        assert!(seen.iter().all(|id| *id != main), "{seen:?}");
        assert_eq!(seen[0], seen[2]);
        assert_eq!(seen[1], seen[3]);
        assert_ne!(seen[0], seen[1]);
    }
}
