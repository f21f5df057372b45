//! Who the master lets in on its one port, where workers and clients both connect.
//!
//! - A peer from an address some enabled worker is whitelisted for takes a place among the
//!   `max_worker_links` kept for workers, so a flood of anonymous connections can never lock
//!   a (restarting) worker out. If its first frame turns out not to be a Link message, it is a
//!   client like any other and moves to a client place.
//! - Any other peer counts against its address (`max_connections_per_address`) and takes a
//!   client place (`max_connections`); past either it gets `error` (RateLimited) and is closed.
//!   (A worker handshake from such an address is refused by the handshake itself.)
//! - Either way its first frame must be complete within `first_frame_timeout`: the first
//!   frame is read properly (no polling), and it decides the kind of peer — a Link message
//!   starts a [`WorkerLinkActor`], anything else a [`ConnectionActor`].

use std::net::IpAddr;

use papertrader_protocol::codec::Incoming;
use papertrader_protocol::MessageType;
use papertrader_runtime::connection::{ConnectionActor, ConnectionLimits, Peer};
use papertrader_runtime::frame_budget::FrameBudget;
use papertrader_runtime::input::{FirstFrame, Input};
use papertrader_runtime::listener::{
    refusal, refuse, serve_with, write_and_close, TOO_MANY, TOO_MANY_FROM_ADDRESS,
};
use papertrader_runtime::slots::{AddressLimiter, Slot, SlotPool};
use papertrader_runtime::threads::ConnectionThreads;
use papertrader_runtime::tls::{Accepted, PeerStream, ServerTls};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::actors::worker_link::{LinkContext, WorkerLinkActor};
use crate::actors::worker_registry::WorkerAddresses;
use crate::router::MasterRouter;

/// The master's admission limits and the state they are checked against.
#[derive(Debug, Clone)]
pub struct AcceptPolicy {
    /// Places for clients.
    pub clients: SlotPool,
    /// Places kept for peers from worker addresses (and, once admitted, worker links).
    pub worker_links: SlotPool,
    /// Connections per client address.
    pub addresses: AddressLimiter,
    /// The addresses registered workers may connect from.
    pub worker_addresses: WorkerAddresses,
    /// Incomplete-frame bytes across all connections.
    pub budget: FrameBudget,
    /// Limits of each client connection (the first-frame deadline applies to all peers).
    pub limits: ConnectionLimits,
    /// TLS the port requires (workers and clients alike), if any.
    pub tls: Option<ServerTls>,
}

/// Accepts peers forever on `listener` under `policy`; `direct` lets clients use every
/// instruction here instead of only `getWorkerList`.
pub async fn serve(
    listener: TcpListener,
    policy: AcceptPolicy,
    link: LinkContext,
    direct: bool,
    threads: ConnectionThreads,
) {
    serve_with(listener, move |stream, peer| {
        // The place is taken here, in accept order, before the peer moves to its thread.
        let place = match take_place(&policy, peer.addr.ip()) {
            Ok(place) => place,
            Err(why) => {
                actix::spawn(refuse(stream, why));
                return;
            }
        };
        let (policy, link) = (policy.clone(), link.clone());
        threads.run(stream, move |stream| {
            greet(stream, peer, place, policy, link, direct)
        });
    })
    .await
}

fn take_place(policy: &AcceptPolicy, ip: IpAddr) -> Result<(bool, Slot), &'static str> {
    if policy.worker_addresses.contains(ip) {
        let place = policy.worker_links.try_take().ok_or(TOO_MANY)?;
        return Ok((true, Slot::with_place(place)));
    }
    let address = policy
        .addresses
        .try_admit(ip)
        .ok_or(TOO_MANY_FROM_ADDRESS)?;
    let place = policy.clients.try_take().ok_or(TOO_MANY)?;
    Ok((false, Slot::new(place, address)))
}

/// Takes the peer's place, reads its first frame and starts the right actor.
async fn greet(
    stream: TcpStream,
    peer: Peer,
    (from_worker_address, mut slot): (bool, Slot),
    policy: AcceptPolicy,
    link: LinkContext,
    direct: bool,
) {
    let accepted_at = Instant::now();
    let stream: PeerStream = match &policy.tls {
        None => Box::new(stream),
        Some(tls) => {
            let deadline = accepted_at + policy.limits.first_frame_timeout;
            match tls.accept(stream, deadline).await {
                Accepted::Tls(stream) => stream,
                Accepted::Refused => return,
            }
        }
    };
    let (read_half, write_half) = tokio::io::split(stream);
    let mut input = Input::new(read_half, policy.limits.max_payload, &policy.budget);
    // A TLS handshake has used part of the first-frame deadline: the frame gets the rest.
    let left = policy
        .limits
        .first_frame_timeout
        .saturating_sub(accepted_at.elapsed());
    match input.read_first(left).await {
        FirstFrame::Arrived => {}
        // Silent, gone or evicted: nothing to answer.
        FirstFrame::TimedOut | FirstFrame::Closed | FirstFrame::Evicted => return,
    }
    let is_link = matches!(
        input.first(),
        Some(Ok(Incoming { message: Ok(message), .. }))
            if message.instruction().message_type() == MessageType::Link
    );
    if is_link {
        // From any other address the handshake refuses it, naming the reason (unknown UUID,
        // address not whitelisted for that worker), while it holds a client place.
        WorkerLinkActor::start(input, write_half, peer, link, slot);
        return;
    }
    if from_worker_address {
        // A client on a worker's host: it takes a client place like everyone else.
        let Some(address) = policy.addresses.try_admit(peer.addr.ip()) else {
            return write_and_close(write_half, &refusal(TOO_MANY_FROM_ADDRESS)).await;
        };
        let Some(place) = policy.clients.try_take() else {
            return write_and_close(write_half, &refusal(TOO_MANY)).await;
        };
        slot = Slot::new(place, address);
    }
    let router = MasterRouter::new(link.services.clone(), direct);
    ConnectionActor::start_with(
        input,
        write_half,
        peer,
        accepted_at,
        router,
        policy.limits,
        slot,
    );
}
