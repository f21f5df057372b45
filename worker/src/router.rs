//! The worker's dispatch point: price reads from the cache when it can, everything else
//! forwarded to the master with the client's connection, address and receive time.

use actix::Addr;
use futures::future::{ready, LocalBoxFuture};
use papertrader_actors::connection::{Peer, Router};
use papertrader_protocol::data::DataBody;
use papertrader_protocol::transfer::{split_body, Progress, Reassembler};
use papertrader_protocol::{Failure, Instruction, Message, ReasonCode};

use crate::cache::PriceCache;
use crate::link::{ClientGone, Forwarded, MasterLinkActor};

/// Router of one client connection.
pub struct WorkerRouter {
    link: Addr<MasterLinkActor>,
    cache: PriceCache,
    chunk_size: usize,
}

impl WorkerRouter {
    /// A router forwarding through `link` and reading `cache`.
    pub fn new(link: Addr<MasterLinkActor>, cache: PriceCache, chunk_size: usize) -> Self {
        Self {
            link,
            cache,
            chunk_size,
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
        _ => return None,
    })
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
            let mut reassembler = Reassembler::default();
            for reply in replies {
                if let Message::Data(packet) = reply {
                    if let Ok(Progress::Complete(DataBody::AssetInfo(info))) =
                        reassembler.push(packet.clone())
                    {
                        cache.remember_info(&info);
                    }
                }
            }
        }
        // Quotes come from the master's pushes, not from replies.
        CacheKey::Quote(_) => {}
    }
}

impl Router for WorkerRouter {
    fn route(&mut self, request: Message, peer: Peer) -> LocalBoxFuture<'static, Vec<Message>> {
        let key = cache_key(&request);
        if let Some(replies) = key.as_ref().and_then(|key| self.cached_reply(key)) {
            return Box::pin(ready(replies));
        }
        let instruction = request.instruction();
        let forwarded = self.link.send(Forwarded {
            request,
            client_connection: peer.connection_id,
            client_ip: peer.addr.ip(),
            received_at_ms: chrono::Utc::now().timestamp_millis(),
        });
        let cache = self.cache.clone();
        Box::pin(async move {
            let result = forwarded.await.unwrap_or_else(|_| {
                Err(Failure::new(
                    ReasonCode::Unavailable,
                    "the worker is restarting; try again",
                ))
            });
            match result {
                Ok(replies) => {
                    if let Some(key) = &key {
                        remember(&cache, key, &replies);
                    }
                    replies
                }
                Err(failure) => vec![instruction.failure_reply(failure)],
            }
        })
    }

    fn disconnected(&mut self, peer: Peer) {
        self.link.do_send(ClientGone {
            client_connection: peer.connection_id,
        });
    }
}
