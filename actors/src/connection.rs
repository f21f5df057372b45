//! One actor per TCP peer: frames in, typed requests to a [`Router`], replies out.
//!
//! Guarantees:
//! - requests are handled one at a time, and replies go out in request order;
//! - a refused frame (unknown instruction, bad arguments, wrong state, broken limit) gets its
//!   Fail reply with a reason code and the connection goes on; a fatal framing error (bad
//!   version byte, oversize `dataSize`) gets an `error` reply and the connection closes;
//! - output is bounded (see [`Outbox`]): a peer that takes no bytes of a reply for
//!   `min(write_timeout, idle_timeout)` is disconnected, even while it keeps sending;
//! - a peer whose first frame is not complete within `first_frame_timeout` of connecting, or
//!   that completes no frame for `idle_timeout` (unless it holds a subscription), is
//!   disconnected;
//! - a connection evicted by the server's incomplete-frame budget closes at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use futures::stream::LocalBoxStream;
use futures::StreamExt;
use papertrader_protocol::codec::Incoming;
use papertrader_protocol::state::StateMachine;
use papertrader_protocol::{limits, Failure, Message, MessageCodec, ReasonCode};
use tokio::io::AsyncWrite;
use tokio::time::Instant;

use crate::frame_budget::FrameBudget;
use crate::input::Input;
pub use crate::input::{Arrived, Decoded};
use crate::metrics::{RequestTimer, ServerLabel};
use crate::outbox::{Outbox, OutboxLimits};
use crate::push::{PushReady, PushSource, PUSH_BACKLOG, PUSH_RETRY};
pub use crate::reply::{Answer, Reply};
use crate::slots::Slot;

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Unique per process.
    pub connection_id: u64,
    /// The peer's address.
    pub addr: SocketAddr,
}

/// A request that passed the state and limit checks: the message, and the frame it came in
/// (to pass on as it is).
#[derive(Debug, Clone)]
pub struct Request {
    /// The decoded request.
    pub message: Message,
    /// Its frame, header included.
    pub frame: Bytes,
}

/// What a connection hands its requests to: the master's or the worker's services.
pub trait Router: 'static {
    /// Handles one request; the answer is its reply frames: usually one, several for a `data`
    /// transfer, now or as they come.
    fn route(&mut self, request: Request, peer: Peer) -> Answer;

    /// The connection has ended (for sessions bound to it).
    fn client_closed(&mut self, _peer: Peer) {}

    /// Where the connection's pushes come from, if it may have any (asked once, at start).
    fn pushes(&self) -> Option<Arc<dyn PushSource>> {
        None
    }
}

/// Limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Largest payload accepted or sent.
    pub max_payload: u32,
    /// Disconnect when the first frame is not complete this long after connecting.
    pub first_frame_timeout: Duration,
    /// Disconnect when no complete frame arrives for this long.
    pub idle_timeout: Duration,
    /// Disconnect when the peer takes no bytes of a reply for this long (it does not read).
    pub write_timeout: Duration,
    /// Frames queued for the socket at most.
    pub output_frames: usize,
    /// Reply bytes queued for the socket at most.
    pub max_unsent_bytes: usize,
    /// Record request metrics under this server label (`None`: no ops endpoint, no cost).
    pub metrics: Option<ServerLabel>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_payload: papertrader_protocol::DEFAULT_MAX_PAYLOAD,
            first_frame_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(30),
            output_frames: 64,
            max_unsent_bytes: 1 << 20,
            metrics: None,
        }
    }
}

impl ConnectionLimits {
    /// The output bounds of a connection with these limits.
    pub fn outbox(&self) -> OutboxLimits {
        OutboxLimits {
            frames: self.output_frames,
            max_unsent_bytes: self.max_unsent_bytes,
            write_timeout: self.write_timeout,
        }
    }

    /// How long a reply may wait for the peer to take bytes before the connection ends.
    fn reply_patience(&self) -> Duration {
        self.write_timeout.min(self.idle_timeout)
    }
}

/// The per-connection actor.
pub struct ConnectionActor<R: Router> {
    peer: Peer,
    router: R,
    state: StateMachine,
    limits: ConnectionLimits,
    output: Outbox,
    accepted_at: Instant,
    last_frame: Option<Instant>,
    /// The request being answered, while metrics are recorded.
    timer: Option<RequestTimer>,
    /// The subscriptions' pushes, if the router has any.
    pushes: Option<Arc<dyn PushSource>>,
    /// A retry of [`Self::flush_pushes`] is scheduled.
    push_retry: bool,
    _slot: Slot,
}

impl<R: Router + Unpin> ConnectionActor<R> {
    /// Starts the actor for a connected socket. Its `slot` is given back when the actor stops.
    pub fn start<S>(
        stream: S,
        peer: Peer,
        router: R,
        limits: ConnectionLimits,
        budget: &FrameBudget,
        slot: Slot,
    ) -> Addr<Self>
    where
        S: tokio::io::AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let (read_half, write_half) = tokio::io::split(stream);
        let input = Input::new(read_half, limits.max_payload, budget);
        Self::start_with(
            input,
            write_half,
            peer,
            Instant::now(),
            router,
            limits,
            slot,
        )
    }

    /// Starts the actor over an [`Input`] (which may hold an already-read first frame) and a
    /// writer; `accepted_at` is when the peer connected, for the first-frame deadline.
    pub fn start_with<Rd, W>(
        input: Input<Rd>,
        writer: W,
        peer: Peer,
        accepted_at: Instant,
        router: R,
        limits: ConnectionLimits,
        slot: Slot,
    ) -> Addr<Self>
    where
        Rd: tokio::io::AsyncRead + Unpin + 'static,
        W: AsyncWrite + Unpin + 'static,
    {
        let codec = MessageCodec::new(limits.max_payload);
        let output = Outbox::start(writer, codec, limits.outbox());
        let evicted = input.evicted();
        let writer_closed = output.closed();
        let pushes = router.pushes();
        ConnectionActor::create(move |ctx| {
            ctx.add_stream(input.into_stream());
            if let Some(source) = &pushes {
                ctx.add_stream(crate::push::signals(source.ready()));
            }
            // Evicted by the incomplete-frame budget, or the writer gave up on the peer.
            let gone = async move {
                tokio::select! {
                    _ = evicted.cancelled() => {}
                    _ = writer_closed => {}
                }
            };
            ctx.spawn(fut::wrap_future::<_, Self>(gone).map(|_, _, ctx| ctx.stop()));
            ConnectionActor {
                peer,
                router,
                state: StateMachine::new(),
                limits,
                output,
                accepted_at,
                last_frame: None,
                timer: None,
                pushes,
                push_retry: false,
                _slot: slot,
            }
        })
    }

    /// Checks state and limits; `Err` is the Fail reply to send instead of routing.
    /// In the order PROTOCOL.md §8 gives: a request at all, legal in this state, arguments
    /// within the limits (the session is the router's business).
    fn admit(&self, request: &Message) -> Result<(), Message> {
        check_is_request(request)?;
        let instruction = request.instruction();
        self.state
            .check(instruction)
            .map_err(|e| instruction.failure_reply(e.to_failure()))?;
        check_limits(request)
    }

    /// Sends an answer's replies in order, applying any state switch they carry. Replies known
    /// now go straight into the output when it has room; otherwise (and for replies that come
    /// later) the actor waits — handling nothing else meanwhile, so replies keep request order
    /// — at most `min(write_timeout, idle_timeout)` for each; a peer that takes nothing in that
    /// time is dropped.
    fn answer(&mut self, answer: Answer, ctx: &mut Context<Self>) {
        let replies = match answer {
            Answer::Now(replies) => {
                if let (Some(timer), Some(first)) = (self.timer.take(), replies.first()) {
                    timer.finish(first);
                }
                let mut replies = replies.into_iter();
                while let Some(reply) = replies.next() {
                    if let Some(state) = reply.state_switch() {
                        self.state.switch_to(state);
                    }
                    let Some(frame) = self.output.encode(reply) else {
                        continue;
                    };
                    if let Err(frame) = self.output.try_send_frame(frame) {
                        // No room now: this frame and the rest wait for it, in order.
                        let rest: Vec<Reply> = std::iter::once(Reply::Frame(frame))
                            .chain(replies)
                            .collect();
                        return self.send_later(futures::stream::iter(rest).boxed_local(), ctx);
                    }
                }
                // Answered at once: the idle clock, set when the request came, stands.
                return;
            }
            Answer::Later(replies) => replies,
        };
        self.send_later(replies, ctx);
    }

    fn send_later(&mut self, mut replies: LocalBoxStream<'static, Reply>, ctx: &mut Context<Self>) {
        let output = self.output.clone();
        let patience = self.limits.reply_patience();
        let mut timer = self.timer.take();
        let send = async move {
            let mut switched = None;
            while let Some(reply) = replies.next().await {
                if let Some(timer) = timer.take() {
                    timer.finish(&reply);
                }
                switched = reply.state_switch().or(switched);
                if !output.send_until(reply, Instant::now() + patience).await {
                    return (false, switched);
                }
            }
            (true, switched)
        };
        ctx.wait(
            send.into_actor(self)
                .map(|(delivered, switched), act, ctx| {
                    if let Some(state) = switched {
                        act.state.switch_to(state);
                    }
                    if !delivered {
                        act.output.abort();
                        ctx.stop();
                    }
                    // The idle clock measures the peer's silence since our last answer, so a request
                    // that took long to answer does not count against the peer.
                    act.last_frame = Some(Instant::now());
                    if delivered {
                        act.flush_pushes(ctx);
                    }
                }),
        );
    }

    /// Sends the ready pushes while the output has room; when it has not, tries again after
    /// [`PUSH_RETRY`]. Runs only between replies: never while `send_later` waits.
    fn flush_pushes(&mut self, ctx: &mut Context<Self>) {
        let Some(source) = &self.pushes else {
            return;
        };
        let output = &self.output;
        let all = source.drain(&mut |frame| {
            if output.unsent_bytes() >= PUSH_BACKLOG {
                return Err(frame);
            }
            output.try_send_frame(frame)
        });
        if !all && !self.push_retry {
            self.push_retry = true;
            ctx.run_later(PUSH_RETRY, |act, ctx| {
                act.push_retry = false;
                act.flush_pushes(ctx);
            });
        }
    }
}

impl<R: Router + Unpin> StreamHandler<PushReady> for ConnectionActor<R> {
    fn handle(&mut self, _: PushReady, ctx: &mut Context<Self>) {
        self.flush_pushes(ctx);
    }

    fn finished(&mut self, _: &mut Context<Self>) {}
}

/// Checks that `request` is a client request and that its arguments keep the input limits;
/// `Err` is the reply to send instead of handling it.
pub fn check_request(request: &Message) -> Result<(), Message> {
    check_is_request(request)?;
    check_limits(request)
}

/// `Err` (`error`, UnknownInstruction) when `message` is not something a client may send.
fn check_is_request(message: &Message) -> Result<(), Message> {
    let instruction = message.instruction();
    if instruction.is_request() {
        Ok(())
    } else {
        Err(Message::Error(Failure::new(
            ReasonCode::UnknownInstruction,
            format!("{} is not a request", instruction.name()),
        )))
    }
}

/// `Err` (the request's Fail reply) when an argument breaks the input limits.
fn check_limits(request: &Message) -> Result<(), Message> {
    limits::validate(request).map_err(|e| request.instruction().failure_reply(e.to_failure()))
}

impl<R: Router + Unpin> Actor for ConnectionActor<R> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(server) = &self.limits.metrics {
            server.connection_opened(true);
        }
        let shortest = self
            .limits
            .first_frame_timeout
            .min(self.limits.idle_timeout);
        let check_every = (shortest / 4).max(Duration::from_millis(20));
        ctx.run_interval(check_every, |act, ctx| {
            let subscribed = act.pushes.as_ref().is_some_and(|p| p.active());
            let silent = match act.last_frame {
                None => act.accepted_at.elapsed() >= act.limits.first_frame_timeout,
                // A subscriber reads pushes and need not send anything.
                Some(_) if subscribed => false,
                Some(last) => last.elapsed() >= act.limits.idle_timeout,
            };
            if silent {
                act.output.abort();
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Some(server) = &self.limits.metrics {
            server.connection_opened(false);
        }
        self.router.client_closed(self.peer);
    }
}

impl<R: Router + Unpin> StreamHandler<Arrived> for ConnectionActor<R> {
    fn handle(&mut self, item: Arrived, ctx: &mut Context<Self>) {
        let now = Instant::now();
        self.last_frame = Some(now);
        let (message, frame) = match item {
            Ok(Incoming {
                message: Ok(message),
                frame,
            }) => (message, frame),
            Ok(Incoming {
                message: Err(rejected),
                ..
            }) => return self.answer(Answer::one(rejected.reply()), ctx),
            Err(fatal) => {
                // The stream is unreadable: say why if there is room, then close.
                self.output.try_send(Message::Error(fatal.to_failure()));
                ctx.stop();
                return;
            }
        };
        if let Some(server) = &self.limits.metrics {
            self.timer = Some(RequestTimer::start(
                server,
                message.instruction(),
                now.into_std(),
            ));
        }
        if let Err(reply) = self.admit(&message) {
            return self.answer(Answer::one(reply), ctx);
        }
        let answer = self.router.route(Request { message, frame }, self.peer);
        self.answer(answer, ctx);
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
