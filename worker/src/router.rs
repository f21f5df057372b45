//! The worker's dispatch point: price reads from the cache when it can, everything else
//! forwarded to the master with the client's connection, address and receive time.

use actix::Addr;
use futures::future::{ready, LocalBoxFuture};
use papertrader_actors::connection::{Peer, Router};
use papertrader_protocol::data::DataBody;
use papertrader_protocol::transfer::split_body;
use papertrader_protocol::{Failure, Message, ReasonCode};

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
    fn cached_reply(&self, request: &Message) -> Option<Vec<Message>> {
        match request {
            Message::GetAssetValueCurrent(q) => {
                Some(self.packets(&DataBody::Quote(self.cache.quote(&q.symbol)?)))
            }
            Message::GetAssetInfo(q) => {
                Some(self.packets(&DataBody::AssetInfo(self.cache.asset_info(&q.symbol)?)))
            }
            Message::GetAssetValueDay(q)
            | Message::GetAssetValueWeek(q)
            | Message::GetAssetValueMonth(q)
            | Message::GetAssetValueYear(q) => {
                self.cache
                    .history(request.instruction(), &q.symbol, q.date_ms)
            }
            Message::GetAssetValueAllTime(q) => {
                self.cache.history(request.instruction(), &q.symbol, 0)
            }
            _ => None,
        }
    }
}

/// What of a master reply the cache keeps.
fn remember(cache: &PriceCache, request: &Message, replies: &[Message]) {
    let instruction = request.instruction();
    let key = match request {
        Message::GetAssetValueDay(q)
        | Message::GetAssetValueWeek(q)
        | Message::GetAssetValueMonth(q)
        | Message::GetAssetValueYear(q) => Some((q.symbol.clone(), q.date_ms)),
        Message::GetAssetValueAllTime(q) => Some((q.symbol.clone(), 0)),
        _ => None,
    };
    if !replies.iter().all(|r| matches!(r, Message::Data(_))) {
        return; // failures are not cached
    }
    if let Some((symbol, date_ms)) = key {
        cache.remember_history(instruction, &symbol, date_ms, replies.to_vec());
    } else if let Message::GetAssetInfo(_) = request {
        let mut reassembler = papertrader_protocol::transfer::Reassembler::default();
        for reply in replies {
            if let Message::Data(packet) = reply {
                if let Ok(papertrader_protocol::transfer::Progress::Complete(
                    DataBody::AssetInfo(info),
                )) = reassembler.push(packet.clone())
                {
                    cache.remember_info(&info);
                }
            }
        }
    }
}

impl Router for WorkerRouter {
    fn route(&mut self, request: Message, peer: Peer) -> LocalBoxFuture<'static, Vec<Message>> {
        if let Some(replies) = self.cached_reply(&request) {
            return Box::pin(ready(replies));
        }
        let instruction = request.instruction();
        let forwarded = self.link.send(Forwarded {
            request: request.clone(),
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
                    remember(&cache, &request, &replies);
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
