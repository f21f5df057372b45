//! `WorkerLinkActor`: the master's end of one worker link (PROTOCOL.md §10).
//!
//! Admission: `workerHello` → the UUID must be registered and enabled and the peer address
//! whitelisted for it → `admissionChallenge` with a fresh nonce and the master's signature over
//! the worker's nonce → `admissionProof` must verify with the worker's registered key →
//! `admitted`. Every refusal is logged with its reason and answered with `admissionRefused`
//! before the link closes. A nonce lives only in this actor for this one exchange, so a
//! recorded proof cannot be replayed on another link.
//!
//! Once admitted: `forward` requests run concurrently through the same [`Services`] as direct
//! clients (each reply frame goes back as a `forwardReply`), `clientClosed` ends connection-
//! bound sessions, and every published price tick is pushed (latest only: a tick that finds
//! the output full is dropped, the next one supersedes it).

mod admission;

use papertrader_runtime::metrics::{RequestTimer, ServerLabel};
use papertrader_runtime::tls::PeerStream;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use bytes::BytesMut;
use papertrader_protocol::{
    AccountEvents, DataStateEnd, DataStateEnded, Failure, Forward, ForwardReply, Message,
    MessageCodec, PriceTick, ReasonCode, WatchedEvents,
};
use papertrader_runtime::connection::{check_request, Arrived, Peer, Reply};
use papertrader_runtime::identity::SigningIdentity;
use papertrader_runtime::input::Input;
use papertrader_runtime::listener::next_connection_id;
use papertrader_runtime::outbox::Outbox;
use papertrader_runtime::outbox::OutboxLimits;
use papertrader_runtime::slots::Slot;
use slog::{info, Logger};
use tokio::io::ReadHalf;
use tokio::sync::oneshot;

use super::account_events::DeliverAccountEvents;
use super::asset_fetcher::{AssetFetcherActor, TickPublished};
use super::session::{ClientClosed, CloseDataState, EndDataStates, LinkClosed};
use super::trade_queue::Unwatch;
use super::worker_registry::{CloseLink, RegisteredWorker, WorkerOffline, WorkerRegistryActor};
use crate::domain::sessions::Origin;
use crate::reasons;
use crate::router::{Forwarder, RequestContext, Services};

/// How long a connecting worker may take to complete admission.
const ADMISSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a worker may take to acknowledge a `dataStateEnded` before its link is closed
/// (which ends every DataTransfer state it holds anyway).
const DATA_STATE_ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// Output towards one worker: it carries the replies of all that worker's clients, so it is
/// far larger than a client connection's.
const LINK_OUTBOX: OutboxLimits = OutboxLimits {
    frames: 4_096,
    max_unsent_bytes: 64 << 20,
    write_timeout: Duration::from_secs(30),
};

/// Everything a link needs from the master.
#[derive(Clone)]
pub struct LinkContext {
    /// Request handling.
    pub services: Services,
    /// The registry.
    pub registry: Addr<WorkerRegistryActor>,
    /// For price pushes.
    pub fetcher: Addr<AssetFetcherActor>,
    /// The master's key.
    pub identity: Arc<SigningIdentity>,
    /// Announced in `admitted`.
    pub update_interval_ms: u64,
    /// Largest payload.
    pub max_payload: u32,
    /// Record forwarded requests in the metrics under this label (with an ops endpoint).
    pub metrics: Option<ServerLabel>,
    /// Logger.
    pub log: Logger,
}

enum Stage {
    AwaitHello,
    Checking,
    AwaitProof {
        uuid: uuid::Uuid,
        nonce: [u8; 32],
        worker: Box<RegisteredWorker>,
    },
    Admitted {
        uuid: uuid::Uuid,
        name: String,
    },
}

/// One worker link on the master.
pub struct WorkerLinkActor {
    peer: Peer,
    link: LinkContext,
    output: Outbox,
    stage: Stage,
    clients: HashMap<u64, u64>,
    unacknowledged: HashMap<u64, oneshot::Sender<()>>,
    next_seq: u64,
    _slot: Slot,
}

impl WorkerLinkActor {
    /// Starts the actor on a connection whose first frame (already read into `input`) is a
    /// Link message. The connection's `slot` is given back when the link ends.
    pub fn start<W>(
        input: Input<ReadHalf<PeerStream>>,
        writer: W,
        peer: Peer,
        link: LinkContext,
        slot: Slot,
    ) -> Addr<Self>
    where
        W: tokio::io::AsyncWrite + Unpin + 'static,
    {
        let codec = MessageCodec::new(link.max_payload);
        let output = Outbox::start(writer, codec, LINK_OUTBOX);
        let evicted = input.evicted();
        WorkerLinkActor::create(move |ctx| {
            ctx.add_stream(input.into_stream());
            ctx.spawn(
                fut::wrap_future::<_, Self>(evicted.cancelled_owned()).map(|_, act, ctx| {
                    act.output.abort();
                    ctx.stop()
                }),
            );
            WorkerLinkActor {
                peer,
                link,
                output,
                stage: Stage::AwaitHello,
                clients: HashMap::new(),
                unacknowledged: HashMap::new(),
                next_seq: 1,
                _slot: slot,
            }
        })
    }

    fn forward(&mut self, forward: Forward, uuid: uuid::Uuid, ctx: &mut Context<Self>) {
        if forward.worker_uuid != *uuid.as_bytes() {
            // Every link message names its worker (spec 4.1); another UUID on this link is a
            // worker that cannot be trusted.
            let other = uuid::Uuid::from_bytes(forward.worker_uuid);
            return self.close(
                Failure::new(
                    ReasonCode::HandshakeViolation,
                    format!("a forward names worker {other} on the link of worker {uuid}"),
                ),
                ctx,
            );
        }
        let connection_id = *self
            .clients
            .entry(forward.client_connection)
            .or_insert_with(next_connection_id);
        let context = RequestContext {
            origin: Origin {
                connection_id,
                client_ip: forward.client_ip,
            },
            received_at_ms: forward.received_at_ms,
            via: Some(Forwarder {
                worker_uuid: uuid.hyphenated().to_string(),
                link_id: self.peer.connection_id,
                client_connection: forward.client_connection,
                request_id: forward.request_id,
                link: ctx.address().recipient(),
                events: ctx.address().recipient(),
            }),
        };
        let services = self.link.services.clone();
        let output = self.output.clone();
        let max = self.link.max_payload;
        let request_id = forward.request_id;
        let metrics = self.link.metrics;
        let work = async move {
            let started = std::time::Instant::now();
            let (instruction, replies) = match Message::from_frame(forward.frame, max) {
                Err(rejected) => (rejected.instruction, vec![rejected.reply()]),
                Ok(request) => (
                    Some(request.instruction()),
                    match check_request(&request) {
                        Err(reply) => vec![reply],
                        Ok(()) => services.handle(request, context).await,
                    },
                ),
            };
            if let (Some(server), Some(instruction), Some(first)) =
                (metrics, instruction, replies.first())
            {
                RequestTimer::start(&server, instruction, started).finish(&first.into());
            }
            // Each reply is encoded once, straight into its forwardReply frame.
            let mut wrapped = BytesMut::new();
            for reply in &replies {
                if let Err(e) = ForwardReply::write_around(request_id, reply, max, &mut wrapped) {
                    let failure = Message::Error(e.to_failure());
                    let _ = ForwardReply::write_around(request_id, &failure, max, &mut wrapped);
                }
            }
            output.send_all([Reply::Frame(wrapped.freeze())]).await
        };
        // A task of its own, not an item of this actor's context: actix polls every context item
        // on each wake-up, which made thousands of in-flight requests cost O(n) per wake.
        let link = ctx.address();
        actix::spawn(async move {
            if !work.await {
                link.do_send(CloseLink(Failure::new(
                    ReasonCode::Unavailable,
                    "the worker stopped reading",
                )));
            }
        });
    }
}

fn price_tick(snapshot: &crate::market::book::Snapshot) -> Message {
    let mut quotes: Vec<_> = snapshot.quotes.values().cloned().collect();
    quotes.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    Message::PriceTick(PriceTick {
        tick: snapshot.tick,
        at_ms: snapshot.at_ms,
        quotes,
        published_at_ms: crate::actors::now_ms(),
    })
}

impl Actor for WorkerLinkActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_later(ADMISSION_TIMEOUT, |act, ctx| {
            if !matches!(act.stage, Stage::Admitted { .. }) {
                act.refuse(
                    Failure::new(ReasonCode::HandshakeViolation, "admission took too long"),
                    ctx,
                );
            }
        });
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        if let Stage::Admitted { uuid, name } = &self.stage {
            info!(self.link.log, "worker link closed"; "name" => name);
            self.link.registry.do_send(WorkerOffline {
                uuid: uuid.hyphenated().to_string(),
                link: ctx.address().recipient(),
            });
        }
        self.link
            .services
            .trades
            .do_send(Unwatch::Link(self.peer.connection_id));
        let sessions = &self.link.services.sessions;
        sessions.do_send(LinkClosed {
            link_id: self.peer.connection_id,
        });
        for (_, connection_id) in self.clients.drain() {
            sessions.do_send(ClientClosed { connection_id });
        }
    }
}

impl StreamHandler<Arrived> for WorkerLinkActor {
    fn handle(&mut self, item: Arrived, ctx: &mut Context<Self>) {
        let message = match item.map(|incoming| incoming.message) {
            Ok(Ok(message)) => message,
            Ok(Err(rejected)) => {
                if matches!(self.stage, Stage::Admitted { .. }) {
                    self.output.try_send(rejected.reply());
                    return;
                }
                return self.refuse(rejected.error.to_failure(), ctx);
            }
            Err(fatal) => return self.refuse(fatal.to_failure(), ctx),
        };
        match (&self.stage, message) {
            (Stage::AwaitHello, Message::WorkerHello(hello)) => self.hello(hello, ctx),
            (Stage::AwaitProof { .. }, Message::AdmissionProof(proof)) => self.proof(proof, ctx),
            (Stage::Admitted { uuid, .. }, Message::Forward(forward)) => {
                let uuid = *uuid;
                self.forward(forward, uuid, ctx)
            }
            (Stage::Admitted { .. }, Message::ClientClosed(closed)) => {
                let sessions = &self.link.services.sessions;
                sessions.do_send(CloseDataState {
                    link_id: self.peer.connection_id,
                    client_connection: closed.client_connection,
                });
                if let Some(connection_id) = self.clients.remove(&closed.client_connection) {
                    sessions.do_send(ClientClosed { connection_id });
                }
                self.link.services.trades.do_send(Unwatch::Connection {
                    link_id: self.peer.connection_id,
                    client_connection: closed.client_connection,
                    watch: None,
                });
            }
            (Stage::Admitted { .. }, Message::Unwatch(unwatch)) => {
                self.link.services.trades.do_send(Unwatch::Connection {
                    link_id: self.peer.connection_id,
                    client_connection: unwatch.client_connection,
                    watch: Some(unwatch.watch),
                });
            }
            (Stage::Admitted { .. }, Message::DataStateEndedAck(ack)) => {
                if let Some(done) = self.unacknowledged.remove(&ack.seq) {
                    let _ = done.send(());
                }
            }
            (Stage::Admitted { .. }, other) => {
                let failure = Failure::new(
                    ReasonCode::UnknownInstruction,
                    format!(
                        "{} is not expected on a worker link",
                        other.instruction().name()
                    ),
                );
                self.output.try_send(Message::Error(failure));
            }
            (_, other) => {
                let failure = Failure::new(
                    ReasonCode::HandshakeViolation,
                    format!(
                        "{} is out of order during admission",
                        other.instruction().name()
                    ),
                );
                self.refuse(failure, ctx)
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<DeliverAccountEvents> for WorkerLinkActor {
    type Result = ();

    /// Passes account events on to the worker, in frames of at most half the payload limit.
    /// A link too congested to take them is closed: the worker then ends those subscriptions
    /// (Unavailable) and their clients subscribe again from the last fill they saw, so nothing
    /// is silently lost.
    fn handle(&mut self, msg: DeliverAccountEvents, ctx: &mut Context<Self>) {
        if !matches!(self.stage, Stage::Admitted { .. }) {
            return;
        }
        let budget = (self.link.max_payload as usize / 2).max(1024);
        for entries in chunk_events(msg.0, budget) {
            if !self
                .output
                .try_send(Message::AccountEvents(AccountEvents { entries }))
            {
                return self.close(
                    Failure::new(ReasonCode::Unavailable, "the worker stopped reading"),
                    ctx,
                );
            }
        }
    }
}

/// Splits `entries` into frames' worth of about `budget` encoded bytes each, keeping every
/// subscription's events in order (a subscription's events may be split across frames).
fn chunk_events(entries: Vec<WatchedEvents>, budget: usize) -> Vec<Vec<WatchedEvents>> {
    let size = |event: &papertrader_protocol::stream::AccountEvent| {
        papertrader_protocol::arguments::encode(event).map_or(budget, |bytes| bytes.len()) + 32
    };
    let mut frames = Vec::new();
    let mut current: Vec<WatchedEvents> = Vec::new();
    let mut used = 0;
    for entry in entries {
        let (client_connection, watch) = (entry.client_connection, entry.watch);
        let mut events = Vec::new();
        for event in entry.events {
            let cost = size(&event);
            if used + cost > budget && used > 0 {
                if !events.is_empty() {
                    let events = std::mem::take(&mut events);
                    current.push(WatchedEvents {
                        client_connection,
                        watch,
                        events,
                    });
                }
                frames.push(std::mem::take(&mut current));
                used = 0;
            }
            used += cost;
            events.push(event);
        }
        if !events.is_empty() {
            current.push(WatchedEvents {
                client_connection,
                watch,
                events,
            });
        }
    }
    if !current.is_empty() {
        frames.push(current);
    }
    frames
}

impl Handler<TickPublished> for WorkerLinkActor {
    type Result = ();

    fn handle(&mut self, msg: TickPublished, _: &mut Context<Self>) {
        if matches!(self.stage, Stage::Admitted { .. }) {
            self.output.try_send(price_tick(&msg.0));
        }
    }
}

/// The `dataStateEnded` entries telling a worker which DataTransfer states ended, and why.
fn data_state_ends(ended: EndDataStates) -> Vec<DataStateEnd> {
    let reason = reasons::session_failure(&ended.reason).code;
    ended
        .grants
        .into_iter()
        .map(|grant| DataStateEnd {
            client_connection: grant.client_connection,
            grant: grant.grant,
            reason,
        })
        .collect()
}

impl Handler<EndDataStates> for WorkerLinkActor {
    type Result = ResponseFuture<()>;

    /// Tells the worker, and resolves once it has acknowledged; a worker that does not within
    /// [`DATA_STATE_ACK_TIMEOUT`] (or cannot be told) loses its link, which ends all its
    /// DataTransfer states.
    fn handle(&mut self, msg: EndDataStates, ctx: &mut Context<Self>) -> Self::Result {
        let seq = self.next_seq;
        self.next_seq += 1;
        let (done, acknowledged) = oneshot::channel();
        let told = self
            .output
            .try_send(Message::DataStateEnded(DataStateEnded {
                seq,
                ends: data_state_ends(msg),
            }));
        if !told {
            self.close(
                Failure::new(ReasonCode::Unavailable, "the worker stopped reading"),
                ctx,
            );
            return Box::pin(async {});
        }
        self.unacknowledged.insert(seq, done);
        let link = ctx.address();
        Box::pin(async move {
            if tokio::time::timeout(DATA_STATE_ACK_TIMEOUT, acknowledged)
                .await
                .is_err()
            {
                link.do_send(CloseLink(Failure::new(
                    ReasonCode::Unavailable,
                    "the worker did not acknowledge the end of sessions in time",
                )));
                // Wait for the close, so the caller's answer comes after it.
                let _ = link.send(Ping).await;
            }
        })
    }
}

/// Answered after everything sent to the link before it.
#[derive(Message)]
#[rtype(result = "()")]
struct Ping;

impl Handler<Ping> for WorkerLinkActor {
    type Result = ();

    fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
}

impl Handler<CloseLink> for WorkerLinkActor {
    type Result = ();

    fn handle(&mut self, msg: CloseLink, ctx: &mut Context<Self>) {
        self.close(msg.0, ctx);
    }
}

impl WorkerLinkActor {
    fn close(&mut self, why: Failure, ctx: &mut Context<Self>) {
        self.output.try_send(Message::LinkClosed(why));
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use papertrader_protocol::data::Side;
    use papertrader_protocol::stream::{AccountEvent, AccountEventKind};

    fn event(n: u64) -> AccountEvent {
        AccountEvent {
            kind: AccountEventKind::Accepted,
            order_id: Some(n),
            side: Side::Buy,
            symbol: "KO".into(),
            quantity: n,
            filled_quantity: 0,
            fill: None,
            cash_after: None,
            reason: 0,
            at_ms: 0,
            replayed: false,
        }
    }

    #[test]
    fn chunks_keep_each_subscriptions_events_in_order_and_fit() {
        let entries: Vec<WatchedEvents> = (0..5)
            .map(|w| WatchedEvents {
                client_connection: w,
                watch: 100 + w,
                events: (0..40).map(event).collect(),
            })
            .collect();
        let frames = chunk_events(entries.clone(), 2048);
        assert!(frames.len() > 3, "{} frames", frames.len());
        for frame in &frames {
            let bytes = Message::AccountEvents(AccountEvents {
                entries: frame.clone(),
            })
            .to_frame_bytes(1 << 20)
            .unwrap();
            assert!(bytes.len() <= 2048 + 256, "{} bytes", bytes.len());
        }
        for original in &entries {
            let rejoined: Vec<AccountEvent> = frames
                .iter()
                .flatten()
                .filter(|e| e.watch == original.watch)
                .flat_map(|e| e.events.clone())
                .collect();
            assert_eq!(rejoined, original.events);
        }
    }
}
