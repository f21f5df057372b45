//! The worker's dispatch point: price reads from the cache when it can, everything else
//! forwarded to the master with the client's connection, address and receive time. Every
//! data request first checks that the session which opened the connection's DataTransfer
//! state is still alive (see [`crate::grants`]).
//!
//! Replies travel as frames: a cache hit is a few pre-encoded frames, and a forwarded
//! request's reply frames are passed to the client as the master sends them, undecoded
//! (only a reply the cache keeps or the worker must patch is decoded).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use actix::Addr;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use papertrader_protocol::data::DataBody;
use papertrader_protocol::instruction::check_frame;
use papertrader_protocol::transfer::{Progress, Reassembler};
use papertrader_protocol::{
    ConnectionState, Failure, Instruction, Message, MessageType, ReasonCode, SubscribeQuotes,
    Subscribed, SwitchState, Unsubscribed,
};
use papertrader_runtime::connection::{Peer, Request, Router};
use papertrader_runtime::metrics::ServerLabel;
use papertrader_runtime::push::PushSource;
use papertrader_runtime::reply::{Answer, Reply};
use tokio::time::{timeout_at, Instant};

use crate::cache::PriceCache;
use crate::grants::{DataGrants, Grant, Standing};
use crate::link::{
    no_answer, ClientClosed, Expired, Forwarded, Forwarding, MasterLinkActor, StopWatching,
};
use crate::streams::{Refused, Streams, Subscriptions};

/// Router of one client connection.
#[derive(Clone)]
pub struct WorkerRouter {
    link: Addr<MasterLinkActor>,
    cache: PriceCache,
    grants: DataGrants,
    grant: Rc<RefCell<Option<Grant>>>,
    streams: Streams,
    subscriptions: Arc<Subscriptions>,
    metrics: Option<ServerLabel>,
}

impl WorkerRouter {
    /// A router forwarding through `link`, reading `cache`, and checking its DataTransfer
    /// grant against `grants`; with `metrics`, it counts cache hits and misses.
    pub fn new(
        link: Addr<MasterLinkActor>,
        cache: PriceCache,
        grants: DataGrants,
        streams: Streams,
        metrics: Option<ServerLabel>,
    ) -> Self {
        Self {
            link,
            cache,
            grants,
            grant: Rc::default(),
            subscriptions: streams.subscriptions(),
            streams,
            metrics,
        }
    }

    /// The request id of the switchState that opened this connection's DataTransfer state.
    fn grant_id(&self) -> u64 {
        self.grant.borrow().as_ref().map_or(0, |g| g.grant)
    }

    /// `subscribeQuotes`, answered here: the symbols must have prices on this worker.
    fn subscribe_quotes(&self, request: &SubscribeQuotes, peer: Peer) -> Message {
        let refuse = |failure| Message::SubscribeFail(failure);
        let latest = self.streams.latest();
        let Some(tick) = latest.as_deref() else {
            return refuse(Failure::new(
                ReasonCode::Unavailable,
                "this worker has no prices yet; try again after the next update",
            ));
        };
        if let Some(unknown) = request
            .symbols
            .iter()
            .find(|s| !tick.quotes.contains_key(s.as_str()))
        {
            return refuse(Failure::new(
                ReasonCode::UnknownAsset,
                format!("{unknown} is not traded here"),
            ));
        }
        let added = self.subscriptions.add_quotes(
            request.subscription_id,
            &request.symbols,
            self.grant_id(),
            Some(tick),
        );
        if let Err(Refused(failure)) = added {
            return refuse(failure);
        }
        self.streams
            .register(peer.connection_id, &self.subscriptions);
        if let Err(failure) = self.still_standing(peer) {
            self.subscriptions.remove(request.subscription_id);
            return refuse(failure);
        }
        // A tick published between the snapshot and the registration is not missed.
        if let Some(latest) = self.streams.latest() {
            self.subscriptions.offer_tick(&latest);
        }
        Message::SubscribeSuccess(Subscribed {
            subscription_id: request.subscription_id,
            resume_from: 0,
        })
    }

    /// After a subscription was registered: `Err` if the session behind the connection's
    /// DataTransfer state ended meanwhile (its `dataStateEnded` may have been applied before
    /// the registration, and would then have missed it).
    fn still_standing(&self, peer: Peer) -> Result<(), Failure> {
        let grant = self.grant.borrow().clone();
        match grant.map(|g| self.grants.standing(peer.connection_id, &g)) {
            Some(Standing::Ended(reason)) => Err(Failure::new(
                reason,
                "the session of this connection's DataTransfer state has ended",
            )),
            _ => Ok(()),
        }
    }

    /// `unsubscribe`, answered here; the master stops sending an account subscription's events.
    fn unsubscribe(&self, subscription_id: u64, peer: Peer) -> Message {
        match self.subscriptions.remove(subscription_id) {
            Some((last_sequence, watch)) => {
                if let Some(watch) = watch {
                    self.link
                        .do_send(StopWatching(vec![(peer.connection_id, watch)]));
                }
                Message::UnsubscribeSuccess(Unsubscribed {
                    subscription_id,
                    last_sequence,
                })
            }
            None => Message::UnsubscribeFail(Failure::new(
                ReasonCode::UnknownSubscription,
                format!("this connection has no subscription {subscription_id}"),
            )),
        }
    }

    /// Ends the connection's subscriptions without notices (it left DataTransfer state).
    fn end_subscriptions(&self, client_connection: u64) {
        let accounts = self.subscriptions.clear();
        if !accounts.is_empty() {
            let unwatched = accounts.into_iter().map(|id| (client_connection, id));
            self.link.do_send(StopWatching(unwatched.collect()));
        }
    }

    /// A request answered by this worker alone (subscriptions), once the grant is confirmed.
    fn local(&self, request: &Message, peer: Peer) -> Option<Message> {
        match request {
            Message::SubscribeQuotes(q) => Some(self.subscribe_quotes(q, peer)),
            Message::Unsubscribe(u) => Some(self.unsubscribe(u.subscription_id, peer)),
            _ => None,
        }
    }

    /// Counts a cacheable request answered from the cache (or not).
    fn count_cache(&self, hit: bool) {
        if let Some(server) = self.metrics {
            metrics::counter!("papertrader_cache_requests_total",
                "server" => server.0, "result" => if hit { "hit" } else { "miss" })
            .increment(1);
        }
    }

    /// The cached quote answering `request`, if it is a `getAssetValueCurrent` the cache can
    /// answer: the hot path, which builds no key.
    fn cached_quote(&self, request: &Message) -> Option<Vec<Reply>> {
        let Message::GetAssetValueCurrent(query) = request else {
            return None;
        };
        let frames = self.cache.quote(&query.symbol)?;
        Some(frames.iter().cloned().map(Reply::Frame).collect())
    }

    /// The reply from the cache, if it has one.
    fn cached_reply(&self, key: &CacheKey) -> Option<Vec<Reply>> {
        let frames = match key {
            CacheKey::Quote(symbol) => self.cache.quote(symbol)?,
            CacheKey::Info(symbol) => {
                let info = self.cache.asset_info(symbol)?;
                let frames = self.cache.framing().frames(&DataBody::AssetInfo(info));
                (!frames.is_empty()).then(|| frames.into())?
            }
            CacheKey::History(instruction, symbol, date_ms) => {
                self.cache.history(*instruction, symbol, *date_ms)?
            }
            CacheKey::ServerInfo => self.cache.server_info()?,
        };
        Some(frames.iter().cloned().map(Reply::Frame).collect())
    }

    /// Forwards `frame` for `peer`; a refused forward is the failure to reply with.
    async fn forward(
        &self,
        instruction: Instruction,
        frame: Bytes,
        peer: Peer,
        watch: Option<u64>,
    ) -> Result<Forwarding, Failure> {
        let forwarded = self.link.send(Forwarded {
            instruction,
            frame,
            client_connection: peer.connection_id,
            client_ip: peer.addr.ip(),
            received_at_ms: chrono::Utc::now().timestamp_millis(),
            watch: watch.map(|id| (self.subscriptions.clone(), id)),
        });
        forwarded.await.unwrap_or_else(|_| {
            Err(Failure::new(
                ReasonCode::Unavailable,
                "the worker is restarting; try again",
            ))
        })
    }

    /// Checks the connection's DataTransfer grant with the master again (after the link was
    /// re-admitted): `Err` is the Fail reply for `instruction` when the session has ended.
    async fn reconfirm(
        &self,
        peer: Peer,
        token: String,
        instruction: Instruction,
    ) -> Result<(), Message> {
        let switch = Message::SwitchState(SwitchState {
            session_id: token.clone(),
            state: ConnectionState::DataTransfer,
        });
        let max_payload = self.cache.framing().max_payload;
        let internal =
            |why: &str| instruction.failure_reply(Failure::new(ReasonCode::Internal, why));
        let frame = switch
            .to_frame_bytes(max_payload)
            .map_err(|_| internal("the session token does not fit in a frame"))?;
        let mut forwarding = self
            .forward(Instruction::SwitchState, frame, peer, None)
            .await
            .map_err(|failure| instruction.failure_reply(failure))?;
        let deadline = Instant::now() + forwarding.timeout;
        let reply = match timeout_at(deadline, forwarding.frames.recv()).await {
            Ok(Some(frame)) => Message::from_frame(frame, max_payload),
            Ok(None) => {
                let failure =
                    no_answer(Instruction::SwitchState, "the link to the master was lost");
                return Err(instruction.failure_reply(failure));
            }
            Err(_) => {
                self.link.do_send(Expired(forwarding.request_id));
                let failure = no_answer(
                    Instruction::SwitchState,
                    "the master did not answer in time",
                );
                return Err(instruction.failure_reply(failure));
            }
        };
        match reply {
            Ok(Message::StateSwitchSuccess(_)) => {
                *self.grant.borrow_mut() = Some(Grant {
                    token,
                    grant: forwarding.request_id,
                    epoch: forwarding.epoch,
                });
                Ok(())
            }
            Ok(Message::StateSwitchFail(failure)) => Err(instruction.failure_reply(failure)),
            _ => Err(internal(
                "the master answered switchState with something else",
            )),
        }
    }

    /// Forwards a request the cache cannot answer (after confirming the connection's grant,
    /// if the link was re-admitted since it was given); its reply frames as they come.
    fn exchange(
        &self,
        request: Request,
        key: Option<CacheKey>,
        unconfirmed: Option<String>,
        peer: Peer,
    ) -> Answer {
        let router = self.clone();
        let instruction = request.message.instruction();
        let local = matches!(
            request.message,
            Message::SubscribeQuotes(_) | Message::Unsubscribe(_)
        )
        .then(|| request.message.clone());
        let subscribing = match &request.message {
            Message::SubscribeAccount(s) => Some(s.subscription_id),
            _ => None,
        };
        let switch = match request.message {
            Message::SwitchState(switch) => Some(switch),
            _ => None,
        };
        let start = async move {
            if let Some(token) = unconfirmed {
                if let Err(reply) = router.reconfirm(peer, token, instruction).await {
                    return Start::Done(vec![reply.into()]);
                }
                if let Some(replies) = key.as_ref().and_then(|key| router.cached_reply(key)) {
                    return Start::Done(replies);
                }
            }
            if let Some(reply) = local.and_then(|request| router.local(&request, peer)) {
                return Start::Done(vec![reply.into()]);
            }
            if let Some(id) = subscribing {
                // Kept before the request leaves: events may follow the master's answer at
                // once, and are held until it has passed.
                let added = router.subscriptions.add_account(id, router.grant_id());
                if let Err(Refused(failure)) = added {
                    return Start::Done(vec![Message::SubscribeFail(failure).into()]);
                }
                router
                    .streams
                    .register(peer.connection_id, &router.subscriptions);
                if let Err(failure) = router.still_standing(peer) {
                    router.subscriptions.remove(id);
                    return Start::Done(vec![Message::SubscribeFail(failure).into()]);
                }
            }
            match router
                .forward(instruction, request.frame, peer, subscribing)
                .await
            {
                Ok(forwarding) => Start::Receiving(Box::new(Receiving {
                    deadline: Instant::now() + forwarding.timeout,
                    router,
                    instruction,
                    switch,
                    subscribing,
                    peer,
                    held: key.is_some().then(Vec::new),
                    key,
                    forwarding,
                    answered: false,
                })),
                Err(failure) => {
                    if let Some(id) = subscribing {
                        router.subscriptions.settle_account(id, false);
                    }
                    Start::Done(vec![instruction.failure_reply(failure).into()])
                }
            }
        };
        Answer::Later(Box::pin(stream::once(start).flat_map(
            |start| match start {
                Start::Done(replies) => stream::iter(replies).left_stream(),
                Start::Receiving(receiving) => receiving.replies().right_stream(),
            },
        )))
    }
}

/// Where a request the cache could not answer stands once it has been forwarded (or not).
enum Start {
    /// Its replies are known: a refusal, or the cache after the grant was confirmed.
    Done(Vec<Reply>),
    /// The master has it.
    Receiving(Box<Receiving>),
}

/// A forwarded request whose reply frames are on their way.
struct Receiving {
    router: WorkerRouter,
    instruction: Instruction,
    /// The request, if it is a `switchState` (its success changes the grant).
    switch: Option<SwitchState>,
    /// The subscription id, if it is a `subscribeAccount` (kept or dropped by the answer).
    subscribing: Option<u64>,
    /// The client connection.
    peer: Peer,
    /// Where the cache keeps the reply, if it does.
    key: Option<CacheKey>,
    /// The reply's frames so far, while it may still be cached (all `data`).
    held: Option<Vec<Bytes>>,
    forwarding: Forwarding,
    deadline: Instant,
    /// Whether any frame has come.
    answered: bool,
}

impl Receiving {
    /// The reply frames, each as it arrives.
    fn replies(self: Box<Self>) -> impl futures::Stream<Item = Reply> {
        stream::unfold(Some(self), |receiving| async move {
            let mut receiving = receiving?;
            let (replies, more) = receiving.step().await;
            Some((replies, more.then_some(receiving)))
        })
        .flat_map(stream::iter)
    }

    /// An account subscription was answered (or not): kept, or dropped here and on the master.
    fn settle_subscription(&self, id: u64, accepted: bool) {
        self.router.subscriptions.settle_account(id, accepted);
        if !accepted {
            let unwatched = vec![(self.peer.connection_id, self.forwarding.request_id)];
            self.router.link.do_send(StopWatching(unwatched));
        }
    }

    /// Waits for the next frame: what to send for it, and whether more may come.
    async fn step(&mut self) -> (Vec<Reply>, bool) {
        let next = timeout_at(self.deadline, self.forwarding.frames.recv()).await;
        if !matches!(next, Ok(Some(_))) {
            if let Some(id) = self.subscribing.take() {
                self.settle_subscription(id, false);
            }
        }
        match next {
            Ok(Some(frame)) => (self.pass(frame), true),
            Ok(None) => (self.finish(), false),
            Err(_) => {
                self.router
                    .link
                    .do_send(Expired(self.forwarding.request_id));
                let failure = no_answer(self.instruction, "the master did not answer in time");
                (vec![self.instruction.failure_reply(failure).into()], false)
            }
        }
    }

    /// One reply frame from the master: passed on (a `getServerInfo` reply is held back to be
    /// patched), and noted for the grant and the cache.
    fn pass(&mut self, frame: Bytes) -> Vec<Reply> {
        self.answered = true;
        let reply = Reply::Frame(frame.clone());
        if let Some(id) = self.subscribing.take() {
            let max_payload = self.router.cache.framing().max_payload;
            let accepted = check_frame(&frame, max_payload)
                .is_ok_and(|raw| raw.instruction == Instruction::SubscribeSuccess as u16);
            self.settle_subscription(id, accepted);
        }
        if let (Some(switch), Some(_)) = (&self.switch, reply.state_switch()) {
            // Any switch ends the subscriptions, before its reply goes: none of their pushes
            // follows it.
            self.router.end_subscriptions(self.peer.connection_id);
            let grant = (switch.state == ConnectionState::DataTransfer).then(|| Grant {
                token: switch.session_id.clone(),
                grant: self.forwarding.request_id,
                epoch: self.forwarding.epoch,
            });
            *self.router.grant.borrow_mut() = grant;
        }
        if let Some(held) = &mut self.held {
            let max_payload = self.router.cache.framing().max_payload;
            let is_data = check_frame(&frame, max_payload)
                .is_ok_and(|raw| raw.instruction == Instruction::Data as u16);
            if is_data {
                held.push(frame);
            } else if !matches!(self.key, Some(CacheKey::ServerInfo)) {
                self.held = None; // a failure: not cached
            } else {
                return vec![reply]; // a failure to getServerInfo: passed on as it is
            }
        }
        if matches!(self.key, Some(CacheKey::ServerInfo)) {
            return Vec::new();
        }
        vec![reply]
    }

    /// The reply is complete: the cache keeps what it tells; a `getServerInfo` reply goes out
    /// now, with this worker's own payload figures.
    fn finish(&mut self) -> Vec<Reply> {
        if !self.answered {
            let failure = no_answer(self.instruction, "the link to the master was lost");
            return vec![self.instruction.failure_reply(failure).into()];
        }
        let (Some(key), Some(held)) = (&self.key, self.held.take()) else {
            return Vec::new();
        };
        let cache = &self.router.cache;
        let framing = cache.framing();
        match key {
            CacheKey::History(instruction, symbol, date_ms) if !held.is_empty() => {
                cache.remember_history(*instruction, symbol, *date_ms, held);
            }
            CacheKey::Info(_) => {
                if let Some(DataBody::AssetInfo(info)) = body_of(&held, framing.max_payload) {
                    cache.remember_info(&info);
                }
            }
            CacheKey::ServerInfo => {
                let Some(DataBody::ServerInfo(mut info)) = body_of(&held, framing.max_payload)
                else {
                    return held.into_iter().map(Reply::Frame).collect();
                };
                // The client talks to this worker: its payload figures are ours.
                info.max_payload = framing.max_payload;
                info.chunk_size = framing.chunk_size as u32;
                let frames = framing.frames(&DataBody::ServerInfo(info));
                if frames.is_empty() {
                    return held.into_iter().map(Reply::Frame).collect();
                }
                cache.remember_server_info(frames.clone());
                return frames.into_iter().map(Reply::Frame).collect();
            }
            // Quotes come from the master's pushes, not from replies.
            CacheKey::Quote(_) | CacheKey::History(..) => {}
        }
        Vec::new()
    }
}

/// Where the cache keeps the answer to a price request.
enum CacheKey {
    /// `getAssetValueCurrent`: the pushed quote.
    Quote(String),
    /// `getAssetInfo`: the remembered name plus the pushed quote.
    Info(String),
    /// A history request (`AllTime` with date 0), until the next tick.
    History(Instruction, String, i64),
    /// `getServerInfo`: the master's answer with this worker's own payload figures, until the
    /// link is admitted again.
    ServerInfo,
}

/// The cache key of `request`, if its answer can be cached.
fn cache_key(request: &Message) -> Option<CacheKey> {
    Some(match request {
        Message::GetAssetValueCurrent(q) => CacheKey::Quote(q.symbol.clone()),
        Message::GetAssetInfo(q) => CacheKey::Info(q.symbol.clone()),
        Message::GetAssetValueDay(q)
        | Message::GetAssetValueWeek(q)
        | Message::GetAssetValueMonth(q)
        | Message::GetAssetValueYear(q) => {
            CacheKey::History(request.instruction(), q.symbol.clone(), q.date_ms)
        }
        Message::GetAssetValueAllTime(q) => {
            CacheKey::History(request.instruction(), q.symbol.clone(), 0)
        }
        Message::GetServerInfo(_) => CacheKey::ServerInfo,
        _ => return None,
    })
}

/// The body carried by complete `data` frames, if they hold one.
fn body_of(frames: &[Bytes], max_payload: u32) -> Option<DataBody> {
    let mut reassembler = Reassembler::default();
    for frame in frames {
        if let Ok(Message::Data(packet)) = Message::from_frame(frame.clone(), max_payload) {
            if let Ok(Progress::Complete(body)) = reassembler.push(packet) {
                return Some(body);
            }
        }
    }
    None
}

fn ended(instruction: Instruction, reason: ReasonCode) -> Message {
    instruction.failure_reply(Failure::new(
        reason,
        "the session that opened this DataTransfer state has ended; switchState with a live \
         session (or log in again)",
    ))
}

impl Router for WorkerRouter {
    fn pushes(&self) -> Option<Arc<dyn PushSource>> {
        Some(self.subscriptions.clone())
    }

    fn route(&mut self, request: Request, peer: Peer) -> Answer {
        let instruction = request.message.instruction();
        let mut unconfirmed = None;
        if instruction.message_type() == MessageType::DataRequest
            && instruction != Instruction::GetServerInfo
        {
            // Every data request stands on the session that opened DataTransfer.
            let grant = self.grant.borrow();
            let Some(grant) = grant.as_ref() else {
                return Answer::one(ended(instruction, ReasonCode::SessionInvalid));
            };
            match self.grants.standing(peer.connection_id, grant) {
                Standing::Valid => {}
                Standing::Ended(reason) => return Answer::one(ended(instruction, reason)),
                Standing::Unconfirmed => unconfirmed = Some(grant.token.clone()),
            }
        }
        if unconfirmed.is_none() {
            if let Some(reply) = self.local(&request.message, peer) {
                return Answer::one(reply);
            }
            if let Some(replies) = self.cached_quote(&request.message) {
                self.count_cache(true);
                return Answer::Now(replies);
            }
        }
        let key = cache_key(&request.message);
        if unconfirmed.is_none() {
            if let Some(replies) = key.as_ref().and_then(|key| self.cached_reply(key)) {
                self.count_cache(true);
                return Answer::Now(replies);
            }
        }
        if key.is_some() {
            self.count_cache(false);
        }
        self.exchange(request, key, unconfirmed, peer)
    }

    fn client_closed(&mut self, peer: Peer) {
        self.grants.forget(peer.connection_id);
        self.streams.forget(peer.connection_id);
        self.link.do_send(ClientClosed {
            client_connection: peer.connection_id,
        });
    }
}
