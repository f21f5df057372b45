//! The accept loop: a TCP listener, caps on connections in all and per client address, and
//! a [`ConnectionActor`] (or whatever the server decides) per accepted peer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use papertrader_protocol::{Failure, Message, ReasonCode, DEFAULT_MAX_PAYLOAD};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::connection::{ConnectionActor, ConnectionLimits, Peer, Router};
use crate::frame_budget::FrameBudget;
use crate::input::Input;
use crate::slots::{AddressLimiter, Slot, SlotPool};
use crate::threads::ConnectionThreads;
use crate::tls::{Accepted, ServerTls};

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// Kernel send buffer of an accepted connection: room for a few full data packets, so a
/// transfer streams at 256 KiB per round trip, while a peer that reads nothing holds little
/// kernel memory and is noticed soon.
pub const SEND_BUFFER_BYTES: usize = 256 << 10;

/// Allocates a process-unique connection id.
pub fn next_connection_id() -> u64 {
    NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed)
}

/// TCP keepalive of client connections: first probe after 60 s of silence, then every 10 s,
/// 3 unanswered probes end the connection.
const KEEPALIVE: socket2::TcpKeepalive = socket2::TcpKeepalive::new()
    .with_time(Duration::from_secs(60))
    .with_interval(Duration::from_secs(10))
    .with_retries(3);

/// Accepts connections forever on the current actix arbiter and hands each one, with its
/// [`Peer`], to `on_accept`, which decides whether to let it in.
pub async fn serve_with<F>(listener: TcpListener, mut on_accept: F)
where
    F: FnMut(TcpStream, Peer) + 'static,
{
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of file descriptors or a peer reset during accept: back off briefly.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // Bound what the kernel buffers for a peer that does not read (autotuning lets it grow
        // to megabytes): such a peer then stalls our writes, and the write timeout lets it go.
        let socket = socket2::SockRef::from(&stream);
        let _ = socket.set_send_buffer_size(SEND_BUFFER_BYTES);
        // A subscriber only reads, so it is never closed for idleness: keepalive probes find a
        // peer that vanished without a FIN (about 90 s), which then frees its slot.
        let _ = socket.set_tcp_keepalive(&KEEPALIVE);
        let peer = Peer {
            connection_id: next_connection_id(),
            addr,
        };
        on_accept(stream, peer);
    }
}

/// Limits of a server's accept loop.
#[derive(Debug, Clone)]
pub struct Admission {
    /// Connections at once, in all.
    pub connections: SlotPool,
    /// Connections at once per client address.
    pub addresses: AddressLimiter,
    /// Bytes of incomplete frames held at once, across connections.
    pub budget: FrameBudget,
    /// TLS this port requires, if any.
    pub tls: Option<ServerTls>,
}

/// [`serve_with`] where every peer within the limits gets a [`ConnectionActor`] with a fresh
/// router, on the next of `threads`. A peer past its address's limit or past
/// `admission.connections` gets `error` (RateLimited) and is closed.
pub async fn serve<R, F>(
    listener: TcpListener,
    admission: Admission,
    limits: ConnectionLimits,
    threads: ConnectionThreads,
    make_router: F,
) where
    R: Router + Unpin,
    F: Fn() -> R + Send + Sync + 'static,
{
    let Admission {
        connections,
        addresses,
        budget,
        tls,
    } = admission;
    let make_router = std::sync::Arc::new(make_router);
    serve_with(listener, move |stream, peer| {
        let Some(address) = addresses.try_admit(peer.addr.ip()) else {
            actix::spawn(refuse(stream, TOO_MANY_FROM_ADDRESS));
            return;
        };
        let Some(place) = connections.try_take() else {
            actix::spawn(refuse(stream, TOO_MANY));
            return;
        };
        let slot = Slot::new(place, address);
        let (make_router, budget, tls) = (make_router.clone(), budget.clone(), tls.clone());
        threads.run(stream, move |stream| async move {
            let Some(tls) = tls else {
                ConnectionActor::start(stream, peer, make_router(), limits, &budget, slot);
                return;
            };
            // The handshake and the first frame share the first-frame deadline.
            let accepted_at = tokio::time::Instant::now();
            let deadline = accepted_at + limits.first_frame_timeout;
            if let Accepted::Tls(stream) = tls.accept(stream, deadline).await {
                let (read_half, write_half) = tokio::io::split(stream);
                let input = Input::new(read_half, limits.max_payload, &budget);
                let router = make_router();
                ConnectionActor::start_with(
                    input,
                    write_half,
                    peer,
                    accepted_at,
                    router,
                    limits,
                    slot,
                );
            }
        });
    })
    .await
}

/// The refusal when a server holds all the connections it may.
pub const TOO_MANY: &str = "too many connections; try again later";
/// The refusal when an address holds all the connections it may.
pub const TOO_MANY_FROM_ADDRESS: &str = "too many connections from your address";

/// The `error` (RateLimited) a refused peer gets.
pub fn refusal(why: &str) -> Message {
    Message::Error(Failure::new(ReasonCode::RateLimited, why))
}

/// Writes `message` (giving up after a second) and closes the connection.
pub async fn write_and_close<W: AsyncWrite + Unpin>(mut writer: W, message: &Message) {
    if let Ok(bytes) = message.to_bytes(DEFAULT_MAX_PAYLOAD) {
        let _ = tokio::time::timeout(Duration::from_secs(1), writer.write_all(&bytes)).await;
    }
    let _ = writer.shutdown().await;
}

/// Tells a peer it was not let in (`error`, RateLimited, saying `why`) and closes.
pub async fn refuse(stream: TcpStream, why: &str) {
    write_and_close(stream, &refusal(why)).await
}
