//! The accept loop: a TCP listener, a cap on concurrent connections, one
//! [`ConnectionActor`] per accepted peer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use papertrader_protocol::{Failure, Message, ReasonCode, DEFAULT_MAX_PAYLOAD};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::connection::{ConnectionActor, ConnectionLimits, Peer, Router};

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// Allocates a process-unique connection id.
pub fn next_connection_id() -> u64 {
    NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed)
}

/// Accepts connections forever on the current actix arbiter and hands each one, with its
/// [`Peer`] and its connection slot, to `on_accept`. Past `max_connections` concurrent peers,
/// a newcomer gets an `error` (RateLimited) frame and is closed.
pub async fn serve_with<F>(listener: TcpListener, max_connections: usize, mut on_accept: F)
where
    F: FnMut(TcpStream, Peer, OwnedSemaphorePermit) + 'static,
{
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of file descriptors or a peer reset during accept: back off briefly.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let peer = Peer {
            connection_id: next_connection_id(),
            addr,
        };
        match slots.clone().try_acquire_owned() {
            Ok(permit) => on_accept(stream, peer, permit),
            Err(_) => {
                actix::spawn(refuse(stream));
            }
        }
    }
}

/// [`serve_with`] where every peer gets a [`ConnectionActor`] with a fresh router.
pub async fn serve<R, F>(
    listener: TcpListener,
    max_connections: usize,
    limits: ConnectionLimits,
    mut make_router: F,
) where
    R: Router + Unpin,
    F: FnMut() -> R + 'static,
{
    serve_with(listener, max_connections, move |stream, peer, permit| {
        ConnectionActor::start(stream, peer, make_router(), limits, Some(permit));
    })
    .await
}

async fn refuse(mut stream: TcpStream) {
    let refusal = Message::Error(Failure::new(
        ReasonCode::RateLimited,
        "too many connections; try again later",
    ));
    if let Ok(bytes) = refusal.to_bytes(DEFAULT_MAX_PAYLOAD) {
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(1), stream.write_all(&bytes)).await;
    }
    let _ = stream.shutdown().await;
}
