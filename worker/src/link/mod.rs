//! `MasterLinkActor`: the worker's one authenticated link to the master.
//!
//! It connects (from `link_bind_ip` if set), runs the admission handshake of PROTOCOL.md §10
//! (checking the master's signature over its own nonce first), then multiplexes every client
//! request as a `forward` with a request id and collects the `forwardReply` frames. Price ticks
//! update the [`PriceCache`]. When the link drops, every pending request fails with
//! Unavailable at once, new requests fail the same way until the link is back, and the actor
//! reconnects with exponential backoff (100 ms doubling to 5 s).

mod forwarding;

pub use forwarding::{ClientClosed, Expired, Forwarded, Forwarding};

use papertrader_client::tls::{host_of, ClientTls, PeerStream};
use papertrader_runtime::metrics::ServerLabel;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use papertrader_protocol::instruction::check_frame;
use papertrader_protocol::{
    AdmissionChallenge, AdmissionProof, DataStateEndedAck, Failure, ForwardReply, Instruction,
    Message, MessageCodec, ReasonCode, WorkerHello,
};
use papertrader_runtime::connection::Decoded;
use papertrader_runtime::identity::{
    master_proof, worker_proof, SigningIdentity, VerifyingIdentity,
};
use papertrader_runtime::outbox::{Outbox, OutboxLimits};
use rand::RngCore;
use slog::{info, warn, Logger};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;

use crate::cache::PriceCache;
use crate::grants::DataGrants;
use crate::streams::{Streams, Unwatched};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// What the link may queue towards the master: forwards are small (~100 bytes), so 16 384
/// frames bound the memory to a few MiB while letting thousands of client requests be in
/// flight at once.
const LINK_OUTBOX: OutboxLimits = OutboxLimits {
    frames: 16_384,
    max_unsent_bytes: 64 << 20,
    write_timeout: Duration::from_secs(30),
};

/// What the link needs to connect and prove itself.
#[derive(Clone)]
pub struct LinkSettings {
    /// The master's `host:port`.
    pub master: String,
    /// Local address to connect from.
    pub bind_ip: Option<IpAddr>,
    /// This worker's UUID.
    pub uuid: uuid::Uuid,
    /// This worker's key.
    pub identity: Arc<SigningIdentity>,
    /// The master's public key.
    pub master_key: VerifyingIdentity,
    /// Largest payload.
    pub max_payload: u32,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// The worker's metrics label, when it has an ops endpoint.
    pub metrics: Option<ServerLabel>,
    /// TLS to the master (trusting this CA), if its port takes TLS.
    pub master_tls: Option<ClientTls>,
}

/// Where the link stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected; `last_error` says why, if it failed.
    Down {
        /// The last failure, for status output and tests.
        last_error: Option<String>,
    },
    /// Handshake in progress.
    Admitting,
    /// Admitted by the master.
    Up {
        /// The name the master knows this worker by.
        name: String,
    },
}

enum Stage {
    AwaitChallenge { nonce: [u8; 32] },
    AwaitAdmitted,
    Admitted,
}

struct Pending {
    /// The request's instruction: what its failure reply is, and whether its outcome may be
    /// unknown (an order).
    instruction: Instruction,
    /// Where its reply frames go, as they come; dropped after the last.
    frames: mpsc::UnboundedSender<Bytes>,
}

impl Pending {
    /// Ends the request with `failure` as its reply (encoded here; the link is going away).
    fn fail(self, failure: Failure, max_payload: u32) {
        if let Ok(frame) = self
            .instruction
            .failure_reply(failure)
            .to_frame_bytes(max_payload)
        {
            let _ = self.frames.send(frame);
        }
    }
}

/// The failure of a forwarded request that got no answer: an order that reached the master
/// may have settled (OutcomeUnknown); anything else simply failed (Unavailable).
pub fn no_answer(instruction: Instruction, why: &str) -> Failure {
    if matches!(
        instruction,
        Instruction::PurchaseAsset
            | Instruction::SellAsset
            | Instruction::PlaceOrder
            | Instruction::CancelOrder
    ) {
        Failure::new(
            ReasonCode::OutcomeUnknown,
            format!(
                "{why} after the order was sent: it may have settled; send it again with the same \
                 clientOrderId to learn the outcome, or check your trades"
            ),
        )
    } else {
        Failure::new(ReasonCode::Unavailable, format!("{why}; try again shortly"))
    }
}

/// The master link actor.
pub struct MasterLinkActor {
    settings: LinkSettings,
    cache: PriceCache,
    grants: DataGrants,
    streams: Streams,
    log: Logger,
    state: LinkState,
    stage: Option<Stage>,
    output: Option<Outbox>,
    stream: Option<SpawnHandle>,
    pending: HashMap<u64, Pending>,
    next_request: u64,
    backoff: Duration,
    forwarded: u64,
    /// The master's update interval, from `admitted`: orders wait up to a tick for settlement.
    update_interval: Duration,
}

fn unreachable_master() -> Failure {
    Failure::new(
        ReasonCode::Unavailable,
        "the master is unreachable right now; try again shortly",
    )
}

async fn open(
    master: String,
    bind_ip: Option<IpAddr>,
    tls: Option<ClientTls>,
) -> std::io::Result<PeerStream> {
    let addr: SocketAddr = tokio::net::lookup_host(&master)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{master} resolves to no address")))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = bind_ip {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = tokio::time::timeout(Duration::from_secs(10), socket.connect(addr))
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))??;
    stream.set_nodelay(true)?;
    match tls {
        None => Ok(Box::new(stream)),
        Some(tls) => tls.connect(host_of(&master), stream).await,
    }
}

impl MasterLinkActor {
    /// A link that starts connecting as soon as the actor starts.
    pub fn new(
        settings: LinkSettings,
        cache: PriceCache,
        grants: DataGrants,
        streams: Streams,
        log: Logger,
    ) -> Self {
        Self {
            settings,
            cache,
            grants,
            streams,
            log,
            state: LinkState::Down { last_error: None },
            stage: None,
            output: None,
            stream: None,
            pending: HashMap::new(),
            next_request: 1,
            backoff: MIN_BACKOFF,
            forwarded: 0,
            update_interval: Duration::ZERO,
        }
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        self.state = LinkState::Admitting;
        if let Some(server) = self.settings.metrics {
            metrics::counter!("papertrader_master_link_connects_total", "server" => server.0)
                .increment(1);
        }
        let connecting = open(
            self.settings.master.clone(),
            self.settings.bind_ip,
            self.settings.master_tls.clone(),
        );
        ctx.spawn(
            connecting
                .into_actor(self)
                .map(|result, act, ctx| match result {
                    Ok(stream) => act.begin_handshake(stream, ctx),
                    Err(e) => act.lost(
                        format!("cannot connect to {}: {e}", act.settings.master),
                        ctx,
                    ),
                }),
        );
    }

    fn begin_handshake(&mut self, stream: PeerStream, ctx: &mut Context<Self>) {
        let (read_half, write_half) = tokio::io::split(stream);
        let codec = MessageCodec::new(self.settings.max_payload);
        let output = Outbox::start(write_half, codec, LINK_OUTBOX);
        let mut nonce = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        output.try_send(Message::WorkerHello(WorkerHello {
            worker_uuid: *self.settings.uuid.as_bytes(),
            worker_nonce: nonce,
        }));
        self.output = Some(output);
        self.stage = Some(Stage::AwaitChallenge { nonce });
        self.stream = Some(ctx.add_stream(FramedRead::new(read_half, codec)));
    }

    /// The link is gone (or never came up): fail everything pending, retry later.
    fn lost(&mut self, why: String, ctx: &mut Context<Self>) {
        if matches!(self.state, LinkState::Down { .. }) {
            return; // already down, a reconnect is scheduled
        }
        if let Some(handle) = self.stream.take() {
            ctx.cancel_future(handle);
        }
        self.output = None;
        self.stage = None;
        // Sessions may end on the master while it cannot tell us: every DataTransfer grant must
        // be confirmed again before it is used.
        self.grants.new_epoch();
        for (_, pending) in self.pending.drain() {
            let failure = no_answer(pending.instruction, "the link to the master was lost");
            pending.fail(failure, self.settings.max_payload);
        }
        // Without the master, ended sessions go unnoticed and account events cannot come.
        self.streams.end_all(&Failure::new(
            ReasonCode::Unavailable,
            "the worker lost its link to the master",
        ));
        warn!(self.log, "master link down"; "reason" => &why, "retry_in_ms" => self.backoff.as_millis() as u64);
        if let Some(server) = self.settings.metrics {
            metrics::gauge!("papertrader_master_link_up", "server" => server.0).set(0.0);
        }
        self.state = LinkState::Down {
            last_error: Some(why),
        };
        ctx.run_later(self.backoff, |act, ctx| act.connect(ctx));
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    fn challenge(
        &mut self,
        challenge: AdmissionChallenge,
        nonce: [u8; 32],
        ctx: &mut Context<Self>,
    ) {
        let uuid = *self.settings.uuid.as_bytes();
        if let Err(e) = self
            .settings
            .master_key
            .verify(&master_proof(&uuid, &nonce), &challenge.master_signature)
        {
            return self.lost(format!("the master failed to prove its key: {e}"), ctx);
        }
        match self
            .settings
            .identity
            .sign(&worker_proof(&uuid, &challenge.master_nonce))
        {
            Ok(signature) => {
                if let Some(output) = &self.output {
                    output.try_send(Message::AdmissionProof(AdmissionProof { signature }));
                }
                self.stage = Some(Stage::AwaitAdmitted);
            }
            Err(e) => self.lost(format!("cannot sign the challenge: {e}"), ctx),
        }
    }

    /// Passes a reply frame on to its request, as it is; the request ends with its last frame
    /// (anything but a `data` packet before the last).
    fn reply(&mut self, reply: ForwardReply) {
        let header = check_frame(&reply.frame, self.settings.max_payload);
        let last = match &header {
            Ok(raw) => {
                raw.instruction != Instruction::Data as u16
                    || raw.data_message_number >= raw.data_message_max
            }
            Err(_) => true,
        };
        let Some(pending) = self.pending.get(&reply.request_id) else {
            return; // timed out meanwhile
        };
        if header.is_err() {
            if let Some(pending) = self.pending.remove(&reply.request_id) {
                let failure =
                    Failure::new(ReasonCode::Internal, "the master sent an unreadable reply");
                pending.fail(failure, self.settings.max_payload);
            }
            return;
        }
        let _ = pending.frames.send(reply.frame);
        if last {
            self.pending.remove(&reply.request_id);
        }
    }
}

impl MasterLinkActor {
    /// Tells the master to stop sending these subscriptions' account events.
    fn unwatch(&self, unwatched: Vec<Unwatched>) {
        let Some(output) = &self.output else {
            return; // a lost link drops every subscription on the master
        };
        for (client_connection, watch) in unwatched {
            output.try_send(Message::Unwatch(papertrader_protocol::Unwatch {
                client_connection,
                watch,
            }));
        }
    }
}

/// A client ended account subscriptions (or its connection left DataTransfer): the master
/// stops sending their events.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopWatching(pub Vec<Unwatched>);

impl Handler<StopWatching> for MasterLinkActor {
    type Result = ();

    fn handle(&mut self, msg: StopWatching, _: &mut Context<Self>) {
        self.unwatch(msg.0);
    }
}

impl Actor for MasterLinkActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.connect(ctx);
    }
}

impl StreamHandler<Decoded> for MasterLinkActor {
    fn handle(&mut self, item: Decoded, ctx: &mut Context<Self>) {
        let message = match item {
            Ok(Ok(message)) => message,
            Ok(Err(rejected)) => {
                warn!(self.log, "unreadable frame from the master"; "error" => %rejected.error);
                return;
            }
            Err(fatal) => return self.lost(format!("protocol error on the link: {fatal}"), ctx),
        };
        match (self.stage.take(), message) {
            (Some(Stage::AwaitChallenge { nonce }), Message::AdmissionChallenge(challenge)) => {
                self.challenge(challenge, nonce, ctx)
            }
            (Some(Stage::AwaitAdmitted), Message::Admitted(admitted)) => {
                info!(self.log, "admitted by the master"; "name" => &admitted.worker_name);
                self.grants.new_epoch();
                self.cache.forget_server_info();
                self.state = LinkState::Up {
                    name: admitted.worker_name,
                };
                if let Some(server) = self.settings.metrics {
                    metrics::gauge!("papertrader_master_link_up", "server" => server.0).set(1.0);
                }
                self.stage = Some(Stage::Admitted);
                self.backoff = MIN_BACKOFF;
                self.update_interval = Duration::from_millis(admitted.update_interval_ms);
            }
            (_, Message::AdmissionRefused(f)) | (_, Message::LinkClosed(f)) => {
                self.lost(format!("the master closed the link: {f}"), ctx);
            }
            // The master could not read what we sent (e.g. a plain hello on its TLS port).
            (_, Message::Error(f)) => {
                let why = if self.settings.master_tls.is_none()
                    && f.message.contains("requires TLS")
                {
                    // The master's hint is for clients; a worker is set up differently.
                    "the master's port requires TLS: set master_ca_file (--master-ca-file) to the \
                     CA of the master's certificate; `master` stays host:port"
                        .to_owned()
                } else {
                    f.message
                };
                self.lost(format!("the master refused the link: {why}"), ctx);
            }
            (Some(Stage::Admitted), Message::ForwardReply(reply)) => {
                self.stage = Some(Stage::Admitted);
                self.reply(reply);
            }
            (Some(Stage::Admitted), Message::PriceTick(tick)) => {
                self.stage = Some(Stage::Admitted);
                let unwatched = self.streams.publish(&tick);
                self.cache.apply(tick);
                self.unwatch(unwatched);
            }
            (Some(Stage::Admitted), Message::AccountEvents(events)) => {
                self.stage = Some(Stage::Admitted);
                let gone = events
                    .entries
                    .into_iter()
                    .filter_map(|e| self.streams.deliver(e.client_connection, e.watch, e.events))
                    .collect();
                self.unwatch(gone);
            }
            (Some(Stage::Admitted), Message::DataStateEnded(ended)) => {
                self.stage = Some(Stage::Admitted);
                self.grants.end(&ended.ends);
                let unwatched = self.streams.end_grants(&ended.ends);
                self.unwatch(unwatched);
                if let Some(output) = &self.output {
                    output.try_send(Message::DataStateEndedAck(DataStateEndedAck {
                        seq: ended.seq,
                    }));
                }
            }
            (stage, other) => {
                self.stage = stage;
                warn!(self.log, "unexpected message on the master link"; "instruction" => other.instruction().name());
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        // The master closed the socket: reconnect instead of stopping the actor.
        self.stream = None;
        self.lost("the master closed the connection".to_owned(), ctx);
    }
}

/// The link's state and counters.
#[derive(Message)]
#[rtype(result = "LinkStatus")]
pub struct GetLinkStatus;

/// Answer to [`GetLinkStatus`].
#[derive(Debug, Clone, PartialEq, Eq, MessageResponse)]
pub struct LinkStatus {
    /// Where the link stands.
    pub state: LinkState,
    /// Requests forwarded to the master since start.
    pub forwarded: u64,
    /// Requests waiting for the master now.
    pub pending: usize,
}

impl Handler<GetLinkStatus> for MasterLinkActor {
    type Result = LinkStatus;

    fn handle(&mut self, _: GetLinkStatus, _: &mut Context<Self>) -> LinkStatus {
        LinkStatus {
            state: self.state.clone(),
            forwarded: self.forwarded,
            pending: self.pending.len(),
        }
    }
}
