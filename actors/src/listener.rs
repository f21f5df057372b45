//! The accept loop: a TCP listener, a cap on concurrent connections, one
//! [`ConnectionActor`] per accepted peer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use papertrader_protocol::{Failure, Message, ReasonCode, DEFAULT_MAX_PAYLOAD};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::connection::{ConnectionActor, ConnectionLimits, Peer, Router};

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// Accepts connections forever on the current actix arbiter. Past `max_connections`
/// concurrent peers, a newcomer gets an `error` (RateLimited) frame and is closed.
pub async fn serve<R, F>(
    listener: TcpListener,
    max_connections: usize,
    limits: ConnectionLimits,
    mut make_router: F,
) where
    R: Router + Unpin,
    F: FnMut() -> R + 'static,
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
            connection_id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
            addr,
        };
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                ConnectionActor::start(stream, peer, make_router(), limits, Some(permit));
            }
            Err(_) => {
                actix::spawn(refuse(stream));
            }
        }
    }
}

async fn refuse(mut stream: tokio::net::TcpStream) {
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
