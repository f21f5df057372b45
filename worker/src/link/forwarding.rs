//! Client requests through the link: forwarded as received, answered frame by frame, given up
//! on after their timeout, and the master told when a client connection closes.

use std::net::IpAddr;
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use papertrader_protocol::{Failure, Forward, Instruction, Message, ReasonCode};
use tokio::sync::mpsc;

use super::{unreachable_master, LinkState, MasterLinkActor, Pending, LINK_OUTBOX};

/// A request on its way to the master.
#[derive(Debug)]
pub struct Forwarding {
    /// The id it was forwarded with.
    pub request_id: u64,
    /// The link epoch it was forwarded in (see [`DataGrants`]).
    pub epoch: u64,
    /// Its reply frames as they arrive, ending after the last (or with a failure reply when
    /// the link is lost).
    pub frames: mpsc::UnboundedReceiver<Bytes>,
    /// When to give up waiting for the next frame.
    pub timeout: Duration,
}

/// Forward a client request (its frame, as received) to the master.
#[derive(Message)]
#[rtype(result = "Result<Forwarding, Failure>")]
pub struct Forwarded {
    /// The request's instruction.
    pub instruction: Instruction,
    /// The request's frame, as the client sent it.
    pub frame: Bytes,
    /// The worker's id for the client connection.
    pub client_connection: u64,
    /// The client's address.
    pub client_ip: IpAddr,
    /// When the worker received it, ms.
    pub received_at_ms: i64,
    /// For a `subscribeAccount`: the connection's subscriptions and the subscription id, told
    /// the request id before the request leaves (the master's events for it carry that id,
    /// and may come back before the sender hears of it).
    pub watch: Option<(std::sync::Arc<crate::streams::Subscriptions>, u64)>,
}

impl Handler<Forwarded> for MasterLinkActor {
    type Result = Result<Forwarding, Failure>;

    fn handle(&mut self, msg: Forwarded, _: &mut Context<Self>) -> Self::Result {
        let (Some(output), LinkState::Up { .. }) = (&self.output, &self.state) else {
            return Err(unreachable_master());
        };
        let request_id = self.next_request;
        self.next_request += 1;
        if let Some((subscriptions, subscription_id)) = &msg.watch {
            subscriptions.set_watch(*subscription_id, request_id);
        }
        let forward = Message::Forward(Forward {
            request_id,
            worker_uuid: *self.settings.uuid.as_bytes(),
            client_connection: msg.client_connection,
            client_ip: msg.client_ip,
            received_at_ms: msg.received_at_ms,
            frame: msg.frame,
        });
        if !output.try_send(forward) {
            return Err(Failure::new(
                ReasonCode::Unavailable,
                "the link to the master is congested; try again",
            ));
        }
        self.forwarded += 1;
        let (frames, replies) = mpsc::unbounded_channel();
        self.pending.insert(
            request_id,
            Pending {
                instruction: msg.instruction,
                frames,
            },
        );
        // An order waits for the next tick's settlement: allow it two intervals more.
        let trade = matches!(
            msg.instruction,
            Instruction::PurchaseAsset | Instruction::SellAsset
        );
        let timeout = if trade {
            self.settings.request_timeout + self.update_interval * 2
        } else {
            self.settings.request_timeout
        };
        Ok(Forwarding {
            request_id,
            epoch: self.grants.epoch(),
            frames: replies,
            timeout,
        })
    }
}

/// A forwarded request timed out: forget it (a reply that comes later is dropped).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Expired(pub u64);

impl Handler<Expired> for MasterLinkActor {
    type Result = ();

    fn handle(&mut self, msg: Expired, _: &mut Context<Self>) {
        self.pending.remove(&msg.0);
    }
}

/// A client connection closed (its connection-bound sessions end on the master).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClientClosed {
    /// The worker's id for the connection.
    pub client_connection: u64,
}

impl Handler<ClientClosed> for MasterLinkActor {
    type Result = ();

    fn handle(&mut self, msg: ClientClosed, ctx: &mut Context<Self>) {
        let (Some(output), LinkState::Up { .. }) = (&self.output, &self.state) else {
            return; // a lost link ends every session bound to its connections
        };
        let closed = Message::ClientClosed(papertrader_protocol::ClientClosed {
            client_connection: msg.client_connection,
        });
        if output.try_send(closed.clone()) {
            return;
        }
        // The link is congested: wait for room (a link that takes nothing for its write
        // timeout is dropped, which ends those sessions as well).
        let output = output.clone();
        let deadline = tokio::time::Instant::now() + LINK_OUTBOX.write_timeout;
        ctx.spawn(
            async move {
                output.send_until(closed.into(), deadline).await;
            }
            .into_actor(self),
        );
    }
}
