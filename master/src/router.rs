//! The master's one dispatch point: each request becomes typed messages to the actors, and
//! their answers become reply frames.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use actix::{Addr, Handler, Recipient};
use papertrader_protocol::data::{DataBody, ServerInfo, Side};
use papertrader_protocol::history_range::HistoryRange;
use papertrader_protocol::transfer::split_body;
use papertrader_protocol::{
    AccountReset, ConnectionState, Empty, Failure, Instruction, Message, MessageType, Money,
    OrderAccepted, OrderCancelled, ReasonCode, SessionToken, StateSwitched, TradeOrder,
    TradeReceipt, UserQuery, WorkerList,
};
use papertrader_runtime::connection::{Answer as Routed, Peer, Request, Router};
use slog::{warn, Logger};

use crate::actors::account_events::{DeliverAccountEvents, Watcher};
use crate::actors::now_ms;
use crate::actors::session::{
    self, Authenticate, ClientClosed, CloseDataState, Credentials, DataStateHolder, EndDataStates,
    OpenDataState, SessionActor,
};
use crate::actors::trade_queue::{
    CancelOpenOrder, NewOrder, PlaceOpenOrder, PlaceOrder, Placed, ReservedCash, ResetAccount,
    TradeQueueActor, Watch,
};
use crate::actors::worker_registry::{ListOnline, WorkerRegistryActor};
use crate::data_states::Grant;
use crate::db::orders::PlacedBy;
use crate::db::{order_ids, AnyConnection, Db};
use crate::domain::orders::{Order, OrderError, OrderOutcome};
use crate::domain::sessions::{LiveSession, Origin};
use crate::market::{AssetSpec, PriceBook};
use crate::queries::{self, Answer, QueryError};
use crate::reasons;
use crate::reasons::unavailable;

/// Handles to everything a request may need. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    /// Accounts and sessions.
    pub sessions: Addr<SessionActor>,
    /// Orders.
    pub trades: Addr<TradeQueueActor>,
    /// Online workers.
    pub registry: Addr<WorkerRegistryActor>,
    /// Latest prices.
    pub book: PriceBook,
    /// The database (read queries).
    pub db: Db,
    /// The asset list.
    pub assets: Arc<Vec<AssetSpec>>,
    /// Bytes per `data` packet.
    pub chunk_size: usize,
    /// The answer to `getServerInfo`.
    pub info: Arc<ServerInfo>,
    /// Logger.
    pub log: Logger,
}

/// Flattens an actor reply: a dead or full mailbox becomes Unavailable, and the actor's own
/// error becomes the reply's reason code (see [`reasons`]).
async fn ask<A, M, T, E>(addr: &Addr<A>, msg: M) -> Result<T, Failure>
where
    A: Handler<M>,
    A::Context: actix::dev::ToEnvelope<A, M>,
    M: actix::Message<Result = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Into<Failure> + Send + 'static,
{
    match addr.send(msg).await {
        Ok(answer) => answer.map_err(Into::into),
        Err(_) => Err(mailbox_closed()),
    }
}

/// The answer when an actor's mailbox is gone (the master is stopping).
fn mailbox_closed() -> Failure {
    Failure::new(
        ReasonCode::Unavailable,
        "the service is restarting; try again",
    )
}

/// Subscriptions live on a worker connection: a client connected to the master directly has
/// none.
fn served_by_workers() -> Failure {
    Failure::new(
        ReasonCode::NotAuthorized,
        "subscriptions are served by workers: connect to a worker",
    )
}

/// Where a request came from and when.
#[derive(Clone)]
pub struct RequestContext {
    /// The connection (for connection-bound sessions) and client address.
    pub origin: Origin,
    /// When it was received (by the worker, for forwarded requests), ms.
    pub received_at_ms: i64,
    /// The worker that forwarded it, if any.
    pub via: Option<Forwarder>,
}

/// The worker side of a forwarded request.
#[derive(Clone)]
pub struct Forwarder {
    /// The forwarding worker's UUID.
    pub worker_uuid: String,
    /// Its link on this master.
    pub link_id: u64,
    /// The worker's id for the client connection.
    pub client_connection: u64,
    /// The forward's request id.
    pub request_id: u64,
    /// Where to tell the worker that a DataTransfer state ended.
    pub link: Recipient<EndDataStates>,
    /// Where account events for the client's subscriptions go.
    pub events: Recipient<DeliverAccountEvents>,
}

impl Services {
    /// Answers one request. Never fails: every error becomes the instruction's Fail reply.
    pub async fn handle(&self, request: Message, context: RequestContext) -> Vec<Message> {
        let instruction = request.instruction();
        match self.answer(request, context).await {
            Ok(replies) => replies,
            Err(failure) => vec![instruction.failure_reply(failure)],
        }
    }

    async fn answer(
        &self,
        request: Message,
        context: RequestContext,
    ) -> Result<Vec<Message>, Failure> {
        let one = |m| Ok(vec![m]);
        let origin = context.origin;
        let received_at_ms = context.received_at_ms;
        let worker_uuid = context.via.as_ref().map(|v| v.worker_uuid.clone());
        match request {
            Message::Register(r) => {
                let msg = session::Register {
                    username: r.username,
                    email: r.email,
                    hashed_password: r.hashed_password,
                };
                ask(&self.sessions, msg).await?;
                one(Message::RegisterSuccess(Empty {}))
            }
            Message::Login(l) => {
                let credentials = Credentials::Password {
                    username: l.username,
                    hashed_password: l.hashed_password,
                };
                self.login(credentials, l.is_expirable, origin).await
            }
            Message::LoginWithToken(l) => {
                let credentials = Credentials::IdToken {
                    provider: l.provider,
                    id_token: l.id_token,
                };
                self.login(credentials, l.is_expirable, origin).await
            }
            Message::RegisterWithToken(r) => {
                let msg = session::RegisterWithToken {
                    username: r.username,
                    provider: r.provider,
                    id_token: r.id_token,
                    email: r.email,
                };
                ask(&self.sessions, msg).await?;
                one(Message::RegisterSuccess(Empty {}))
            }
            Message::SetPassword(p) => {
                let msg = session::ChangePassword {
                    token: p.session_id,
                    new_hashed_password: p.new_hashed_password,
                    old_hashed_password: p.old_hashed_password,
                };
                ask(&self.sessions, msg).await?;
                one(Message::SetPasswordSuccess(Empty {}))
            }
            Message::LinkIdentity(l) => {
                let msg = session::LinkIdentity {
                    token: l.session_id,
                    provider: l.provider,
                    id_token: l.id_token,
                };
                ask(&self.sessions, msg).await?;
                one(Message::LinkIdentitySuccess(Empty {}))
            }
            Message::UnlinkIdentity(u) => {
                let msg = session::UnlinkIdentity {
                    token: u.session_id,
                    provider: u.provider,
                };
                ask(&self.sessions, msg).await?;
                one(Message::UnlinkIdentitySuccess(Empty {}))
            }
            Message::GetSignInMethods(t) => {
                let msg = session::SignInMethods {
                    token: t.session_id,
                };
                let body = ask(&self.sessions, msg).await?;
                self.data(Ok(DataBody::SignInMethods(body)))
            }
            Message::LoginWithSession(t) => {
                ask(
                    &self.sessions,
                    session::Resume {
                        token: t.session_id.clone(),
                        origin,
                    },
                )
                .await?;
                one(Message::SessionId(t))
            }
            Message::Logout(t) => {
                ask(
                    &self.sessions,
                    session::Logout {
                        token: t.session_id,
                    },
                )
                .await?;
                one(Message::LogoutSuccess(Empty {}))
            }
            Message::PurchaseAsset(o) => {
                let receipt = self
                    .trade(o, Side::Buy, origin, received_at_ms, worker_uuid)
                    .await?;
                one(Message::PurchaseSuccess(receipt))
            }
            Message::SellAsset(o) => {
                let receipt = self
                    .trade(o, Side::Sell, origin, received_at_ms, worker_uuid)
                    .await?;
                one(Message::SellSuccess(receipt))
            }
            Message::PlaceOrder(o) => {
                let placed = self
                    .place_order(o, origin, received_at_ms, worker_uuid)
                    .await?;
                one(Message::OrderAccepted(OrderAccepted {
                    order_id: placed.order_id,
                    status: placed.status,
                    placed_at_ms: placed.placed_at_ms,
                }))
            }
            Message::CancelOrder(c) => {
                let session = self.authenticate(c.session_id).await?;
                let msg = CancelOpenOrder {
                    account_id: session.account_id,
                    order_id: c.order_id,
                };
                let filled_quantity = ask(&self.trades, msg).await?;
                one(Message::CancelSuccess(OrderCancelled {
                    order_id: c.order_id,
                    filled_quantity,
                }))
            }
            Message::ResetAccount(t) => {
                let session = self.authenticate(t.session_id).await?;
                let (period, cash) = ask(
                    &self.trades,
                    ResetAccount {
                        account_id: session.account_id,
                    },
                )
                .await?;
                one(Message::ResetSuccess(AccountReset {
                    period,
                    cash: Money(cash),
                }))
            }
            Message::GetEquityHistory(q) => {
                let (from, to) = (q.from_ms, q.to_ms);
                self.own_data(q.session_id, move |c, viewer| {
                    queries::equity_history(c, viewer, from, to)
                })
                .await
            }
            Message::GetPeriods(t) => self.own_data(t.session_id, queries::periods).await,
            Message::GetPeriodTransactions(q) => {
                let period = q.period;
                self.own_data(q.session_id, move |c, viewer| {
                    queries::period_transactions(c, viewer, period)
                })
                .await
            }
            Message::GetOrders(q) => {
                let include_closed = q.include_closed;
                self.own_data(q.session_id, move |c, viewer| {
                    queries::orders(c, viewer, include_closed)
                })
                .await
            }
            Message::SwitchState(s) => {
                self.switch_state(s.session_id, s.state, context.via)
                    .await?;
                one(Message::StateSwitchSuccess(StateSwitched {
                    state: s.state,
                }))
            }
            Message::GetServerInfo(_) => self.data(Ok(DataBody::ServerInfo((*self.info).clone()))),
            Message::GetWorkerList(_) => {
                let workers = self
                    .registry
                    .send(ListOnline)
                    .await
                    .map_err(|_| unavailable())?;
                one(Message::WorkerList(WorkerList { workers }))
            }
            Message::GetAssetInfo(q) => {
                self.data(queries::asset_info(&self.assets, &self.book, &q.symbol))
            }
            Message::GetAssetValueCurrent(q) => {
                self.data(queries::current(&self.assets, &self.book, &q.symbol))
            }
            Message::GetAssetValueDay(q) => {
                self.history(q.symbol, HistoryRange::Day, q.date_ms).await
            }
            Message::GetAssetValueWeek(q) => {
                self.history(q.symbol, HistoryRange::Week, q.date_ms).await
            }
            Message::GetAssetValueMonth(q) => {
                self.history(q.symbol, HistoryRange::Month, q.date_ms).await
            }
            Message::GetAssetValueYear(q) => {
                self.history(q.symbol, HistoryRange::Year, q.date_ms).await
            }
            Message::GetAssetValueAllTime(q) => {
                self.history(q.symbol, HistoryRange::AllTime, 0).await
            }
            Message::GetUserInfo(q) => self.user_data(q, queries::user_info).await,
            Message::GetUserPortfolio(q) => {
                let book = self.book.clone();
                let viewer = self.authenticate(q.session_id).await?;
                let reserved = self
                    .trades
                    .send(ReservedCash(viewer.account_id))
                    .await
                    .map_err(|_| mailbox_closed())?;
                let username = q.username;
                self.data_as(viewer, move |c, viewer| {
                    queries::portfolio(c, &book, viewer, &username, reserved)
                })
                .await
            }
            Message::GetUserTransactionHistory(q) => self.user_data(q, queries::transactions).await,
            Message::SubscribeAccount(s) => {
                let via = context.via.ok_or_else(served_by_workers)?;
                let session = self.authenticate(s.session_id).await?;
                let watch = Watch {
                    account_id: session.account_id,
                    watcher: Watcher {
                        link_id: via.link_id,
                        client_connection: via.client_connection,
                        watch: via.request_id,
                        link: via.events,
                    },
                    since: s.since_transaction_id,
                };
                let resume_from = ask(&self.trades, watch).await?;
                one(Message::SubscribeSuccess(
                    papertrader_protocol::Subscribed {
                        subscription_id: s.subscription_id,
                        resume_from,
                    },
                ))
            }
            Message::SubscribeQuotes(_) | Message::Unsubscribe(_) => Err(served_by_workers()),
            other => Err(Failure::new(
                ReasonCode::UnknownInstruction,
                format!("{} is not served by the master", other.instruction().name()),
            )),
        }
    }

    async fn login(
        &self,
        credentials: Credentials,
        is_expirable: bool,
        origin: Origin,
    ) -> Result<Vec<Message>, Failure> {
        let msg = session::Login {
            credentials,
            is_expirable,
            origin,
        };
        let session_id = ask(&self.sessions, msg).await?;
        Ok(vec![Message::SessionId(SessionToken { session_id })])
    }

    async fn authenticate(&self, token: String) -> Result<LiveSession, Failure> {
        ask(&self.sessions, Authenticate { token }).await
    }

    /// DataTransfer needs a live session, and a worker connection's grant is remembered so
    /// the worker hears when that session ends. Command needs none: leaving DataTransfer must
    /// work even after the session ended, and every Command instruction checks its own.
    async fn switch_state(
        &self,
        token: String,
        state: ConnectionState,
        via: Option<Forwarder>,
    ) -> Result<(), Failure> {
        match state {
            ConnectionState::DataTransfer => {
                let holder = via.map(|v| DataStateHolder {
                    grant: Grant {
                        link_id: v.link_id,
                        client_connection: v.client_connection,
                        grant: v.request_id,
                    },
                    link: v.link,
                });
                ask(&self.sessions, OpenDataState { token, holder }).await?;
            }
            ConnectionState::Command => {
                if let Some(v) = via {
                    self.sessions.do_send(CloseDataState {
                        link_id: v.link_id,
                        client_connection: v.client_connection,
                    });
                }
            }
        }
        Ok(())
    }

    async fn trade(
        &self,
        order: TradeOrder,
        side: Side,
        origin: Origin,
        placed_at: i64,
        worker_uuid: Option<String>,
    ) -> Result<TradeReceipt, Failure> {
        let session = self.authenticate(order.session_id).await?;
        self.traded(&order.symbol)?;
        let order = Order {
            account_id: session.account_id,
            side,
            symbol: order.symbol,
            quantity: order.quantity,
            placed_at,
            client_ip: origin.client_ip.to_string(),
            worker_uuid,
            client_order_id: order.client_order_id,
        };
        let outcome = match self.stored_order(&order).await? {
            Some(stored) => stored,
            None => self
                .trades
                .send(PlaceOrder(order))
                .await
                .map_err(|_| mailbox_closed())?,
        };
        outcome.map(reasons::trade_receipt).map_err(Failure::from)
    }

    async fn place_order(
        &self,
        order: papertrader_protocol::message::PlaceOrder,
        origin: Origin,
        placed_at: i64,
        worker_uuid: Option<String>,
    ) -> Result<Placed, Failure> {
        let session = self.authenticate(order.session_id).await?;
        self.traded(&order.symbol)?;
        let msg = PlaceOpenOrder {
            order: NewOrder {
                account_id: session.account_id,
                side: order.side,
                symbol: order.symbol,
                quantity: order.quantity,
                kind: order.kind,
                limit: order.limit_price,
                stop: order.stop_price,
                time_in_force: order.time_in_force,
            },
            by: PlacedBy {
                placed_at,
                client_order_id: order.client_order_id,
                client_ip: origin.client_ip.to_string(),
                worker_uuid,
            },
        };
        ask(&self.trades, msg).await
    }

    /// `NotTraded` (UnknownAsset) unless `symbol` is in the asset list.
    fn traded(&self, symbol: &str) -> Result<(), Failure> {
        if self.assets.iter().any(|a| a.symbol == symbol) {
            return Ok(());
        }
        Err(OrderError::NotTraded {
            symbol: symbol.to_owned(),
        }
        .into())
    }

    /// The stored outcome of an earlier order with this order's client id, if there is one
    /// (answered at once; settlement checks again for repeats still in flight).
    async fn stored_order(&self, order: &Order) -> Result<Option<OrderOutcome>, Failure> {
        let Some(id) = order.client_order_id.clone() else {
            return Ok(None);
        };
        let account = order.account_id;
        let lookup = id.clone();
        let found = self
            .db
            .run(move |c| order_ids::find(c, &[(account, lookup.as_str())]))
            .await
            .map_err(|e| {
                warn!(self.log, "order id lookup failed"; "error" => %e);
                unavailable()
            })?;
        Ok(found
            .get(&(account, id.clone()))
            .map(|stored| stored.outcome_for(order, &id)))
    }

    /// The reply packets of an answer, or its `dataFail`.
    fn data(&self, answer: Answer) -> Result<Vec<Message>, Failure> {
        let body: DataBody = answer.map_err(|e| {
            if let QueryError::Database(db) = &e {
                warn!(self.log, "query failed"; "error" => %db);
            }
            e.failure()
        })?;
        Ok(split_body(&body, self.chunk_size)
            .into_iter()
            .map(Message::Data)
            .collect())
    }

    /// Runs a read on a database connection.
    async fn query<F>(&self, work: F) -> Answer
    where
        F: FnOnce(&mut AnyConnection) -> Answer + Send + 'static,
    {
        self.db.run(move |c| Ok(work(c))).await?
    }

    async fn history(
        &self,
        symbol: String,
        range: HistoryRange,
        date_ms: i64,
    ) -> Result<Vec<Message>, Failure> {
        let assets = self.assets.clone();
        let answer = self
            .query(move |c| queries::history(c, &assets, &symbol, range, date_ms))
            .await;
        self.data(answer)
    }

    async fn user_data<F>(&self, query: UserQuery, read: F) -> Result<Vec<Message>, Failure>
    where
        F: FnOnce(&mut AnyConnection, &LiveSession, &str) -> Answer + Send + 'static,
    {
        let viewer = self.authenticate(query.session_id).await?;
        let username = query.username;
        self.data_as(viewer, move |c, viewer| read(c, viewer, &username))
            .await
    }

    /// The data of the session's own account: authenticates, then reads as it.
    async fn own_data<F>(&self, session_id: String, read: F) -> Result<Vec<Message>, Failure>
    where
        F: FnOnce(&mut AnyConnection, &LiveSession) -> Answer + Send + 'static,
    {
        let viewer = self.authenticate(session_id).await?;
        self.data_as(viewer, read).await
    }

    /// Runs `read` as `viewer` on a database connection and answers with its data.
    async fn data_as<F>(&self, viewer: LiveSession, read: F) -> Result<Vec<Message>, Failure>
    where
        F: FnOnce(&mut AnyConnection, &LiveSession) -> Answer + Send + 'static,
    {
        let answer = self.query(move |c| read(c, &viewer)).await;
        self.data(answer)
    }
}

/// The [`Router`] of a client connected directly to the master.
pub struct MasterRouter {
    services: Services,
    direct: bool,
    data_session: Rc<RefCell<Option<String>>>,
}

impl MasterRouter {
    /// A router over `services`. Unless `direct`, it serves only `getWorkerList` (spec 3.1.5:
    /// clients get the worker list from the master and everything else from a worker).
    pub fn new(services: Services, direct: bool) -> Self {
        Self {
            services,
            direct,
            data_session: Rc::default(),
        }
    }
}

impl Router for MasterRouter {
    fn route(&mut self, request: Request, peer: Peer) -> Routed {
        let request = request.message;
        if !self.direct
            && !matches!(
                request,
                Message::GetWorkerList(_) | Message::GetServerInfo(_)
            )
        {
            let failure = Failure::new(
                ReasonCode::NotAuthorized,
                "the master only serves getWorkerList and getServerInfo; connect to a worker",
            );
            return Routed::one(request.instruction().failure_reply(failure));
        }
        let services = self.services.clone();
        let context = RequestContext {
            origin: Origin {
                connection_id: peer.connection_id,
                client_ip: peer.addr.ip(),
            },
            received_at_ms: now_ms(),
            via: None,
        };
        let data_session = self.data_session.clone();
        Routed::after(async move {
            let instruction = request.instruction();
            // Every data request needs the session that opened DataTransfer to be alive still.
            if instruction.message_type() == MessageType::DataRequest
                && instruction != Instruction::GetServerInfo
            {
                let token = data_session.borrow().clone().unwrap_or_default();
                if let Err(failure) = services.authenticate(token).await {
                    return vec![instruction.failure_reply(failure)];
                }
            }
            let switch = match &request {
                Message::SwitchState(s) => Some((s.session_id.clone(), s.state)),
                _ => None,
            };
            let replies = services.handle(request, context).await;
            if let (Some((token, state)), Some(Message::StateSwitchSuccess(_))) =
                (switch, replies.first())
            {
                *data_session.borrow_mut() =
                    (state == ConnectionState::DataTransfer).then_some(token);
            }
            replies
        })
    }

    fn client_closed(&mut self, peer: Peer) {
        self.services.sessions.do_send(ClientClosed {
            connection_id: peer.connection_id,
        });
    }
}
