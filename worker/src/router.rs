//! The worker's dispatch point: price reads from the cache when it can, everything else
//! forwarded to the master with the client's connection, address and receive time. Every
//! data request first checks that the session which opened the connection's DataTransfer
//! state is still alive (see [`crate::grants`]).

use std::cell::RefCell;
use std::rc::Rc;

use actix::Addr;
use futures::future::{ready, LocalBoxFuture};
use papertrader_actors::connection::{Peer, Router};
use papertrader_protocol::data::DataBody;
use papertrader_protocol::transfer::{split_body, Progress, Reassembler};
use papertrader_protocol::{
    ConnectionState, Failure, Instruction, Message, MessageType, ReasonCode, SwitchState,
};

use crate::cache::PriceCache;
use crate::grants::{DataGrants, Grant, Standing};
use crate::link::{Answer, ClientGone, Forwarded, MasterLinkActor};

/// Router of one client connection.
pub struct WorkerRouter {
    link: Addr<MasterLinkActor>,
    cache: PriceCache,
    grants: DataGrants,
    grant: Rc<RefCell<Option<Grant>>>,
    chunk_size: usize,
    max_payload: u32,
}

impl WorkerRouter {
    /// A router forwarding through `link`, reading `cache`, and checking its DataTransfer
    /// grant against `grants`.
    pub fn new(
        link: Addr<MasterLinkActor>,
        cache: PriceCache,
        grants: DataGrants,
        chunk_size: usize,
        max_payload: u32,
    ) -> Self {
        Self {
            link,
            cache,
            grants,
            grant: Rc::default(),
            chunk_size,
            max_payload,
        }
    }

    fn packets(&self, body: &DataBody) -> Vec<Message> {
        split_body(body, self.chunk_size)
            .into_iter()
            .map(Message::Data)
            .collect()
    }

    /// The reply from the cache, if it has one.
    fn cached_reply(&self, key: &CacheKey) -> Option<Vec<Message>> {
        match key {
            CacheKey::Quote(symbol) => {
                Some(self.packets(&DataBody::Quote(self.cache.quote(symbol)?)))
            }
            CacheKey::Info(symbol) => {
                Some(self.packets(&DataBody::AssetInfo(self.cache.asset_info(symbol)?)))
            }
            CacheKey::History(instruction, symbol, date_ms) => {
                self.cache.history(*instruction, symbol, *date_ms)
            }
            CacheKey::ServerInfo => {
                Some(self.packets(&DataBody::ServerInfo(self.cache.server_info()?)))
            }
        }
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

/// The body of a complete data reply, if it is one.
fn body_of(replies: &[Message]) -> Option<DataBody> {
    let mut reassembler = Reassembler::default();
    for reply in replies {
        if let Message::Data(packet) = reply {
            if let Ok(Progress::Complete(body)) = reassembler.push(packet.clone()) {
                return Some(body);
            }
        }
    }
    None
}

/// Keeps what a master reply to a cacheable request tells (failures are not cached).
fn remember(cache: &PriceCache, key: &CacheKey, replies: &[Message]) {
    if !replies.iter().all(|r| matches!(r, Message::Data(_))) {
        return;
    }
    match key {
        CacheKey::History(instruction, symbol, date_ms) => {
            cache.remember_history(*instruction, symbol, *date_ms, replies.to_vec())
        }
        CacheKey::Info(_) => {
            if let Some(DataBody::AssetInfo(info)) = body_of(replies) {
                cache.remember_info(&info);
            }
        }
        // Kept by the router, with this worker's own figures (see `route`).
        CacheKey::ServerInfo => {}
        // Quotes come from the master's pushes, not from replies.
        CacheKey::Quote(_) => {}
    }
}

/// Forwards `request` for `peer`; a lost or timed-out forward becomes the request's Fail
/// reply.
async fn forward(
    link: &Addr<MasterLinkActor>,
    request: Message,
    peer: Peer,
) -> Result<Answer, Message> {
    let instruction = request.instruction();
    let forwarded = link.send(Forwarded {
        request,
        client_connection: peer.connection_id,
        client_ip: peer.addr.ip(),
        received_at_ms: chrono::Utc::now().timestamp_millis(),
    });
    let result = forwarded.await.unwrap_or_else(|_| {
        Err(Failure::new(
            ReasonCode::Unavailable,
            "the worker is restarting; try again",
        ))
    });
    result.map_err(|failure| instruction.failure_reply(failure))
}

/// The grant a successful `switchState` reply leaves the connection with.
fn granted(request: &SwitchState, answer: &Answer) -> Option<Option<Grant>> {
    matches!(answer.replies.first(), Some(Message::StateSwitchSuccess(_))).then(|| {
        (request.state == ConnectionState::DataTransfer).then(|| Grant {
            token: request.session_id.clone(),
            grant: answer.request_id,
            epoch: answer.epoch,
        })
    })
}

/// Checks the connection's DataTransfer grant with the master again (after the link was
/// re-admitted): `Err` is the Fail reply for `instruction` when the session has ended.
async fn reconfirm(
    link: &Addr<MasterLinkActor>,
    peer: Peer,
    grant: &RefCell<Option<Grant>>,
    token: String,
    instruction: Instruction,
) -> Result<(), Message> {
    let switch = SwitchState {
        session_id: token,
        state: ConnectionState::DataTransfer,
    };
    let answer = forward(link, Message::SwitchState(switch.clone()), peer)
        .await
        .map_err(|reply| match reply {
            Message::StateSwitchFail(failure) => instruction.failure_reply(failure),
            other => other,
        })?;
    match granted(&switch, &answer) {
        Some(new) => {
            *grant.borrow_mut() = new;
            Ok(())
        }
        None => Err(match answer.replies.into_iter().next() {
            Some(Message::StateSwitchFail(failure)) => instruction.failure_reply(failure),
            _ => instruction.failure_reply(Failure::new(
                ReasonCode::Internal,
                "the master answered switchState with something else",
            )),
        }),
    }
}

fn ended(instruction: Instruction, reason: ReasonCode) -> Message {
    instruction.failure_reply(Failure::new(
        reason,
        "the session that opened this DataTransfer state has ended; switchState with a live \
         session (or log in again)",
    ))
}

impl Router for WorkerRouter {
    fn route(&mut self, request: Message, peer: Peer) -> LocalBoxFuture<'static, Vec<Message>> {
        let instruction = request.instruction();
        let mut unconfirmed = None;
        if instruction.message_type() == MessageType::DataRequest
            && instruction != Instruction::GetServerInfo
        {
            // Every data request stands on the session that opened DataTransfer.
            let grant = self.grant.borrow().clone();
            let Some(grant) = grant else {
                return Box::pin(ready(vec![ended(instruction, ReasonCode::SessionInvalid)]));
            };
            match self.grants.standing(peer.connection_id, &grant) {
                Standing::Valid => {}
                Standing::Ended(reason) => {
                    return Box::pin(ready(vec![ended(instruction, reason)]));
                }
                Standing::Unconfirmed => unconfirmed = Some(grant.token),
            }
        }
        let key = cache_key(&request);
        if unconfirmed.is_none() {
            if let Some(replies) = key.as_ref().and_then(|key| self.cached_reply(key)) {
                return Box::pin(ready(replies));
            }
        }
        let link = self.link.clone();
        let cache = self.cache.clone();
        let grant = self.grant.clone();
        let grants = self.grants.clone();
        let (chunk_size, max_payload) = (self.chunk_size, self.max_payload);
        Box::pin(async move {
            if let Some(token) = unconfirmed {
                if let Err(reply) = reconfirm(&link, peer, &grant, token, instruction).await {
                    return vec![reply];
                }
                let confirmed = WorkerRouter {
                    link: link.clone(),
                    cache: cache.clone(),
                    grants,
                    grant: grant.clone(),
                    chunk_size,
                    max_payload,
                };
                if let Some(replies) = key.as_ref().and_then(|key| confirmed.cached_reply(key)) {
                    return replies;
                }
            }
            let switch = match &request {
                Message::SwitchState(s) => Some(s.clone()),
                _ => None,
            };
            match forward(&link, request, peer).await {
                Ok(answer) => {
                    if let Some(new) = switch.and_then(|s| granted(&s, &answer)) {
                        *grant.borrow_mut() = new;
                    }
                    if let (Some(CacheKey::ServerInfo), Some(DataBody::ServerInfo(mut info))) =
                        (&key, body_of(&answer.replies))
                    {
                        // The client talks to this worker: its payload figures are ours.
                        info.max_payload = max_payload;
                        info.chunk_size = chunk_size as u32;
                        cache.remember_server_info(info.clone());
                        return split_body(&DataBody::ServerInfo(info), chunk_size)
                            .into_iter()
                            .map(Message::Data)
                            .collect();
                    }
                    if let Some(key) = &key {
                        remember(&cache, key, &answer.replies);
                    }
                    answer.replies
                }
                Err(reply) => vec![reply],
            }
        })
    }

    fn disconnected(&mut self, peer: Peer) {
        self.grants.forget(peer.connection_id);
        self.link.do_send(ClientGone {
            client_connection: peer.connection_id,
        });
    }
}
