//! One actor per TCP peer: frames in, typed requests to a [`Router`], replies out.
//!
//! Guarantees:
//! - requests are handled one at a time, and replies go out in request order;
//! - a refused frame (unknown instruction, bad arguments, wrong state, broken limit) gets its
//!   Fail reply with a reason code and the connection goes on; a fatal framing error (bad
//!   version byte, oversize `dataSize`) gets an `error` reply and the connection closes;
//! - output is bounded: replies wait for room in a small channel to the writer task, and a
//!   peer that does not read for `write_timeout` is disconnected;
//! - a peer that completes no frame for `idle_timeout` is disconnected.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures::future::LocalBoxFuture;
use papertrader_protocol::state::StateMachine;
use papertrader_protocol::{
    limits, Failure, Message, MessageCodec, ProtocolError, ReasonCode, Rejected,
};
use tokio::io::AsyncWrite;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::codec::FramedRead;

use crate::outbox::Outbox;

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Unique per process.
    pub connection_id: u64,
    /// The peer's address.
    pub addr: SocketAddr,
}

/// What a connection hands its requests to: the master's or the worker's services.
pub trait Router: 'static {
    /// Handles one request that passed the state and limit checks. Resolves to the reply
    /// frames: usually one, several for a `data` transfer.
    fn route(&mut self, request: Message, peer: Peer) -> LocalBoxFuture<'static, Vec<Message>>;

    /// The connection has ended (for sessions bound to it).
    fn disconnected(&mut self, _peer: Peer) {}
}

/// Limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Largest payload accepted or sent.
    pub max_payload: u32,
    /// Disconnect when no complete frame arrives for this long.
    pub idle_timeout: Duration,
    /// Disconnect when a reply cannot be queued for this long (the peer does not read).
    pub write_timeout: Duration,
    /// Frames queued for the socket at most.
    pub output_frames: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_payload: papertrader_protocol::DEFAULT_MAX_PAYLOAD,
            idle_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(30),
            output_frames: 64,
        }
    }
}

/// The per-connection actor.
pub struct ConnectionActor<R: Router> {
    peer: Peer,
    router: R,
    state: StateMachine,
    limits: ConnectionLimits,
    output: Outbox,
    last_frame: Instant,
    _permit: Option<OwnedSemaphorePermit>,
}

impl<R: Router + Unpin> ConnectionActor<R> {
    /// Starts the actor for a connected socket. `permit` (from the listener's connection
    /// limit) is released when the actor stops.
    pub fn start<S>(
        stream: S,
        peer: Peer,
        router: R,
        limits: ConnectionLimits,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Addr<Self>
    where
        S: tokio::io::AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let (read_half, write_half) = tokio::io::split(stream);
        let codec = MessageCodec::new(limits.max_payload);
        let output = Outbox::start(
            write_half,
            codec,
            limits.output_frames,
            limits.write_timeout,
        );
        ConnectionActor::create(move |ctx| {
            ctx.add_stream(FramedRead::new(read_half, codec));
            ConnectionActor {
                peer,
                router,
                state: StateMachine::new(),
                limits,
                output,
                last_frame: Instant::now(),
                _permit: permit,
            }
        })
    }

    /// Checks state and limits; `Err` is the Fail reply to send instead of routing.
    fn admit(&self, request: &Message) -> Result<(), Message> {
        check_request(request)?;
        let instruction = request.instruction();
        self.state
            .check(instruction)
            .map_err(|e| instruction.failure_reply(e.to_failure()))
    }

    /// Encodes replies and queues them in order, waiting for room (bounded output); then
    /// applies any state switch they carry.
    fn send_replies(&mut self, replies: Vec<Message>, ctx: &mut Context<Self>) {
        for reply in &replies {
            if let Message::StateSwitchSuccess(switched) = reply {
                self.state.switch_to(switched.state);
            }
        }
        let send = self.output.send_all(&replies);
        ctx.wait(send.into_actor(self).map(|delivered, _, ctx| {
            if !delivered {
                ctx.stop();
            }
        }));
    }
}

/// Checks that `request` is a client request and that its arguments keep the input limits;
/// `Err` is the reply to send instead of handling it.
pub fn check_request(request: &Message) -> Result<(), Message> {
    let instruction = request.instruction();
    if !instruction.is_request() {
        return Err(Message::Error(Failure::new(
            ReasonCode::UnknownInstruction,
            format!("{} is not a request", instruction.name()),
        )));
    }
    limits::validate(request).map_err(|e| instruction.failure_reply(e.to_failure()))
}

impl<R: Router + Unpin> Actor for ConnectionActor<R> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let check_every = (self.limits.idle_timeout / 4).max(Duration::from_millis(50));
        ctx.run_interval(check_every, |act, ctx| {
            if act.last_frame.elapsed() >= act.limits.idle_timeout {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.router.disconnected(self.peer);
    }
}

/// One item of the frame stream: a message, a refused frame, or a fatal error.
pub type Decoded = Result<Result<Message, Rejected>, ProtocolError>;

impl<R: Router + Unpin> StreamHandler<Decoded> for ConnectionActor<R> {
    fn handle(&mut self, item: Decoded, ctx: &mut Context<Self>) {
        self.last_frame = Instant::now();
        let request = match item {
            Ok(Ok(request)) => request,
            Ok(Err(rejected)) => {
                self.send_replies(vec![rejected.reply()], ctx);
                return;
            }
            Err(fatal) => {
                // The stream is unreadable: say why if there is room, then close.
                self.output.try_send(&Message::Error(fatal.to_failure()));
                ctx.stop();
                return;
            }
        };
        if let Err(reply) = self.admit(&request) {
            self.send_replies(vec![reply], ctx);
            return;
        }
        let routed = self.router.route(request, self.peer);
        ctx.wait(
            routed
                .into_actor(self)
                .map(|replies, act, ctx| act.send_replies(replies, ctx)),
        );
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
