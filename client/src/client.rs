//! A typed client: finds a worker through the master, logs in, switches states as needed and
//! fails over to another worker (resuming the session) when one dies.
//!
//! Reads are retried once on another worker after a lost connection. Every order carries a
//! client order id, so an order whose outcome is unknown (the connection or the master went
//! away after it was sent) is sent again with the same id: it is never traded twice.

use papertrader_protocol::data::{
    AssetInfo, DataBody, EquityHistory, History, OrderKind, OrderList, PeriodList, Portfolio,
    Quote, ServerInfo, Side, SignInMethods, TimeInForce, TransactionHistory, UserInfo,
};
use papertrader_protocol::password::client_password_hash;
use papertrader_protocol::*;

use crate::connection::{ClientError, Connection, Peer};
use crate::tls::ClientTls;

/// A client session with a worker.
pub struct Client {
    master: Option<String>,
    workers: Vec<String>,
    current: usize,
    conn: Connection,
    state: ConnectionState,
    session: Option<String>,
    tls: Option<ClientTls>,
    /// The connection was lost by the last request: the next one reconnects first.
    broken: bool,
}

fn unexpected(reply: Message) -> ClientError {
    ClientError::Unexpected(reply.instruction().name())
}

fn lost(error: &ClientError) -> bool {
    error.is_unreachable()
}

impl Client {
    /// Asks the master for the online workers and connects to the first that answers. When
    /// none answers, the error is the last worker's [`ClientError::Unreachable`].
    pub async fn via_master(master: &str) -> Result<Self, ClientError> {
        Self::via_master_with(master, None).await
    }

    /// [`Client::via_master`] trusting `tls`'s CA for the master and workers whose address is
    /// `tls://host:port`.
    pub async fn via_master_with(
        master: &str,
        tls: Option<ClientTls>,
    ) -> Result<Self, ClientError> {
        let workers = Self::worker_list_with(master, tls.as_ref()).await?;
        if workers.is_empty() {
            return Err(ClientError::Failed {
                instruction: "workerList",
                failure: Failure::new(ReasonCode::Unavailable, "no worker is online"),
            });
        }
        let addresses = workers.into_iter().map(|w| w.address).collect();
        Self::with_workers(Some(master.to_owned()), addresses, tls).await
    }

    /// Connects to one worker directly (no failover).
    pub async fn to_worker(address: &str) -> Result<Self, ClientError> {
        Self::to_worker_with(address, None).await
    }

    /// [`Client::to_worker`] trusting `tls`'s CA when the address is `tls://host:port`.
    pub async fn to_worker_with(
        address: &str,
        tls: Option<ClientTls>,
    ) -> Result<Self, ClientError> {
        Self::with_workers(None, vec![address.to_owned()], tls).await
    }

    async fn with_workers(
        master: Option<String>,
        workers: Vec<String>,
        tls: Option<ClientTls>,
    ) -> Result<Self, ClientError> {
        let mut last = ClientError::Closed;
        for (index, address) in workers.iter().enumerate() {
            match Connection::connect_with(Peer::Worker, address, tls.as_ref()).await {
                Ok(conn) => {
                    return Ok(Self {
                        master,
                        workers,
                        current: index,
                        conn,
                        state: ConnectionState::Command,
                        session: None,
                        tls,
                        broken: false,
                    })
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The online workers, from the master.
    pub async fn worker_list(master: &str) -> Result<Vec<WorkerEndpoint>, ClientError> {
        Self::worker_list_with(master, None).await
    }

    /// [`Client::worker_list`] from a master whose address may be `tls://host:port`.
    pub async fn worker_list_with(
        master: &str,
        tls: Option<&ClientTls>,
    ) -> Result<Vec<WorkerEndpoint>, ClientError> {
        let mut conn = Connection::connect_with(Peer::Master, master, tls).await?;
        match conn.call(&Message::GetWorkerList(Empty {})).await? {
            Message::WorkerList(list) => Ok(list.workers),
            other => Err(unexpected(other)),
        }
    }

    /// The worker in use.
    pub fn worker(&self) -> &str {
        &self.workers[self.current]
    }

    /// A [`LiveStream`](crate::LiveStream) on this client's worker with its session (a
    /// connection of its own: this one keeps serving requests).
    pub async fn open_stream(&self) -> Result<crate::LiveStream, ClientError> {
        let session = self.session.clone().ok_or_else(not_logged_in)?;
        crate::LiveStream::open(
            self.workers.clone(),
            self.current,
            self.tls.clone(),
            session,
        )
        .await
    }

    /// The session id, once logged in.
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// Moves to the next worker that answers (asking the master again for a fresh list when
    /// there is one), resuming the session there.
    async fn fail_over(&mut self) -> Result<(), ClientError> {
        if let Some(master) = &self.master {
            if let Ok(fresh) = Self::worker_list_with(master, self.tls.as_ref()).await {
                let fresh: Vec<String> = fresh.into_iter().map(|w| w.address).collect();
                if !fresh.is_empty() {
                    self.workers = fresh;
                }
            }
        }
        let count = self.workers.len();
        let mut last = ClientError::Closed;
        for step in 1..=count {
            let index = (self.current + step) % count;
            match Connection::connect_with(Peer::Worker, &self.workers[index], self.tls.as_ref())
                .await
            {
                Ok(conn) => {
                    self.conn = conn;
                    self.current = index;
                    self.state = ConnectionState::Command;
                    if let Some(session) = self.session.clone() {
                        self.resume(&session).await?;
                    }
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn switch_to(&mut self, state: ConnectionState) -> Result<(), ClientError> {
        if self.state == state {
            return Ok(());
        }
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        self.conn
            .call(&Message::SwitchState(SwitchState { session_id, state }))
            .await?;
        self.state = state;
        Ok(())
    }

    /// Reconnects (resuming the session) when the last request lost the connection, so one
    /// outage costs one failed request, not every request after it.
    async fn repair(&mut self) -> Result<(), ClientError> {
        if self.broken {
            self.fail_over().await?;
            self.broken = false;
        }
        Ok(())
    }

    /// Notes whether `result` lost the connection.
    fn note<T>(&mut self, result: Result<T, ClientError>) -> Result<T, ClientError> {
        if result.as_ref().is_err_and(lost) {
            self.broken = true;
        }
        result
    }

    /// A Command-state request; not retried on another worker (but a connection it finds lost
    /// is made again first).
    async fn command(&mut self, request: Message) -> Result<Message, ClientError> {
        self.repair().await?;
        let result = async {
            self.switch_to(ConnectionState::Command).await?;
            self.conn.call(&request).await
        }
        .await;
        self.note(result)
    }

    /// A data request, retried once on another worker if the connection was lost.
    async fn data(
        &mut self,
        request: Message,
        progress: &mut dyn FnMut(u32, u32),
    ) -> Result<DataBody, ClientError> {
        for attempt in 0..2 {
            self.repair().await?;
            let result = async {
                self.switch_to(ConnectionState::DataTransfer).await?;
                self.conn.call_data(&request, &mut *progress).await
            }
            .await;
            match self.note(result) {
                // A read is safe to repeat: once, on a new connection (another worker if
                // there is one).
                Err(e) if lost(&e) && attempt == 0 => continue,
                other => return other,
            }
        }
        Err(ClientError::Closed)
    }

    /// `register(username, email, hashedPass)`; the password is hashed here.
    pub async fn register(
        &mut self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<(), ClientError> {
        let hashed_password = client_password_hash(username, password);
        self.command(Message::Register(Register {
            username: username.into(),
            email: email.into(),
            hashed_password,
        }))
        .await?;
        Ok(())
    }

    /// `login(username, hashedPass, isExpirable)`; returns the session id.
    pub async fn login(
        &mut self,
        username: &str,
        password: &str,
        is_expirable: bool,
    ) -> Result<String, ClientError> {
        let hashed_password = client_password_hash(username, password);
        self.start_session(Message::Login(Login {
            username: username.into(),
            hashed_password,
            is_expirable,
        }))
        .await
    }

    /// Sends a login request and keeps the session id it answers with.
    async fn start_session(&mut self, login: Message) -> Result<String, ClientError> {
        match self.command(login).await? {
            Message::SessionId(t) => {
                self.session = Some(t.session_id.clone());
                Ok(t.session_id)
            }
            other => Err(unexpected(other)),
        }
    }

    /// `registerWithToken`: a password-less account that signs in with the identity of
    /// `id_token` from `provider`; `email` `None` takes the token's verified email.
    pub async fn register_with_token(
        &mut self,
        username: &str,
        provider: &str,
        id_token: &str,
        email: Option<&str>,
    ) -> Result<(), ClientError> {
        self.command(Message::RegisterWithToken(RegisterWithToken {
            username: username.into(),
            provider: provider.into(),
            id_token: id_token.into(),
            email: email.map(str::to_owned),
        }))
        .await?;
        Ok(())
    }

    /// `loginWithToken`; returns the session id.
    pub async fn login_with_token(
        &mut self,
        provider: &str,
        id_token: &str,
        is_expirable: bool,
    ) -> Result<String, ClientError> {
        self.start_session(Message::LoginWithToken(LoginWithToken {
            provider: provider.into(),
            id_token: id_token.into(),
            is_expirable,
        }))
        .await
    }

    /// `setPassword`: gives the account of the session (named `username`, which the password
    /// hash covers) the password `new`; `old` is its current one, if it has one.
    pub async fn set_password(
        &mut self,
        username: &str,
        new: &str,
        old: Option<&str>,
    ) -> Result<(), ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        self.command(Message::SetPassword(SetPassword {
            session_id,
            new_hashed_password: client_password_hash(username, new),
            old_hashed_password: old.map(|old| client_password_hash(username, old)),
        }))
        .await?;
        Ok(())
    }

    /// `linkIdentity`: the identity of `id_token` also signs in to the session's account.
    pub async fn link_identity(
        &mut self,
        provider: &str,
        id_token: &str,
    ) -> Result<(), ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        self.command(Message::LinkIdentity(LinkIdentity {
            session_id,
            provider: provider.into(),
            id_token: id_token.into(),
        }))
        .await?;
        Ok(())
    }

    /// `unlinkIdentity`: removes the account's identity from `provider`.
    pub async fn unlink_identity(&mut self, provider: &str) -> Result<(), ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        self.command(Message::UnlinkIdentity(UnlinkIdentity {
            session_id,
            provider: provider.into(),
        }))
        .await?;
        Ok(())
    }

    /// `getSignInMethods`: the session's account name, password flag and identities.
    pub async fn sign_in_methods(&mut self) -> Result<SignInMethods, ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        match self
            .data(
                Message::GetSignInMethods(SessionToken { session_id }),
                &mut |_, _| {},
            )
            .await?
        {
            DataBody::SignInMethods(m) => Ok(m),
            _ => Err(ClientError::Unexpected("data")),
        }
    }

    /// `login(sessionID)`: resume a stored session.
    pub async fn resume(&mut self, session_id: &str) -> Result<(), ClientError> {
        self.state = ConnectionState::Command;
        self.conn
            .call(&Message::LoginWithSession(SessionToken {
                session_id: session_id.into(),
            }))
            .await?;
        self.session = Some(session_id.to_owned());
        Ok(())
    }

    /// `logout`.
    pub async fn logout(&mut self) -> Result<(), ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        self.command(Message::Logout(SessionToken { session_id }))
            .await?;
        self.session = None;
        Ok(())
    }

    /// Places an order with the client id `order_id` (see [`new_order_id`]) and waits for its
    /// settlement. The id makes the order idempotent, so when its outcome is unknown — the
    /// connection or the master went away after it was sent (`OutcomeUnknown`), or it could not
    /// be placed right now (`Unavailable`) — it is sent again with the same id, on another
    /// worker if need be, for up to about ten seconds: the answer is then the original outcome
    /// if it settled, or the trade, placed once, if it did not.
    pub async fn place(
        &mut self,
        side: Side,
        symbol: &str,
        quantity: u64,
        order_id: &str,
    ) -> Result<TradeReceipt, ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        let order = TradeOrder {
            session_id,
            symbol: symbol.into(),
            quantity,
            client_order_id: Some(order_id.to_owned()),
        };
        let request = match side {
            Side::Buy => Message::PurchaseAsset(order),
            Side::Sell => Message::SellAsset(order),
        };
        let instruction = match side {
            Side::Buy => "purchaseFail",
            Side::Sell => "sellFail",
        };
        self.resend(request, instruction, order_id, |reply| match reply {
            Message::PurchaseSuccess(r) | Message::SellSuccess(r) => Ok(r),
            other => Err(other),
        })
        .await
    }

    /// Sends an idempotent `request` (it carries the client order id `order_id`) until it is
    /// answered: on a lost connection (after failing over), `OutcomeUnknown` or `Unavailable`
    /// it is sent again, up to [`RESEND_ATTEMPTS`] times with a growing pause. `accept` takes
    /// the success reply apart; `instruction` names the Fail reply of a final error.
    async fn resend<T>(
        &mut self,
        request: Message,
        instruction: &'static str,
        order_id: &str,
        accept: impl Fn(Message) -> Result<T, Message>,
    ) -> Result<T, ClientError> {
        let mut pause = std::time::Duration::from_millis(200);
        let mut last = None;
        for _ in 0..RESEND_ATTEMPTS {
            let result = match self.command(request.clone()).await {
                Ok(reply) => return accept(reply).map_err(unexpected),
                Err(e) => e,
            };
            let resend = match &result {
                // The next attempt reconnects first (another worker when there is one).
                e if lost(e) => true,
                e => matches!(
                    e.reason(),
                    Some(ReasonCode::OutcomeUnknown | ReasonCode::Unavailable)
                ),
            };
            if !resend {
                return Err(result);
            }
            last = Some(result);
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(3));
        }
        let reason = match last.as_ref().and_then(ClientError::reason) {
            Some(ReasonCode::Unavailable) => ReasonCode::Unavailable,
            _ => ReasonCode::OutcomeUnknown,
        };
        let message = if reason == ReasonCode::Unavailable {
            format!("the order (id {order_id}) could not be placed: nothing was traded")
        } else {
            format!(
                "no answer for the order (id {order_id}): it may have settled; check your trades, \
                 or send it again with this id"
            )
        };
        Err(ClientError::Failed {
            instruction,
            failure: Failure::new(reason, message),
        })
    }

    /// `placeOrder` with a fresh client order id: the order is accepted at once and trades at
    /// later ticks. Sent again like [`Client::place`] when its outcome is unknown; a repeat
    /// answers the order the first one placed.
    pub async fn place_order(&mut self, order: OrderSpec) -> Result<OrderAccepted, ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        let order_id = new_order_id();
        let request = Message::PlaceOrder(order.message(session_id, Some(order_id.clone())));
        self.resend(request, "orderFail", &order_id, |reply| match reply {
            Message::OrderAccepted(a) => Ok(a),
            other => Err(other),
        })
        .await
    }

    /// `cancelOrder`: cancels an open order of the session's account.
    pub async fn cancel_order(&mut self, order_id: u64) -> Result<OrderCancelled, ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        match self
            .command(Message::CancelOrder(CancelOrder {
                session_id,
                order_id,
            }))
            .await?
        {
            Message::CancelSuccess(c) => Ok(c),
            other => Err(unexpected(other)),
        }
    }

    /// `resetAccount`: closes the current period (its trades stay readable) and starts a new
    /// one at the starting cash; open orders are cancelled and holdings removed.
    pub async fn reset_account(&mut self) -> Result<AccountReset, ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        match self
            .command(Message::ResetAccount(SessionToken { session_id }))
            .await?
        {
            Message::ResetSuccess(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    /// `getEquityHistory`: the session's account's equity points from `from_ms` to `to_ms`.
    pub async fn equity(&mut self, from_ms: i64, to_ms: i64) -> Result<EquityHistory, ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        let request = Message::GetEquityHistory(EquityQuery {
            session_id,
            from_ms,
            to_ms,
        });
        match self.data(request, &mut |_, _| {}).await? {
            DataBody::Equity(e) => Ok(e),
            _ => Err(ClientError::Unexpected("data")),
        }
    }

    /// `getPeriods`: the session's account's trading periods, oldest first.
    pub async fn periods(&mut self) -> Result<PeriodList, ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        match self
            .data(
                Message::GetPeriods(SessionToken { session_id }),
                &mut |_, _| {},
            )
            .await?
        {
            DataBody::Periods(p) => Ok(p),
            _ => Err(ClientError::Unexpected("data")),
        }
    }

    /// `getPeriodTransactions`: the trades of one of the session's account's periods.
    pub async fn period_trades(&mut self, period: u64) -> Result<TransactionHistory, ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        let request = Message::GetPeriodTransactions(PeriodQuery { session_id, period });
        match self.data(request, &mut |_, _| {}).await? {
            DataBody::Transactions(t) => Ok(t),
            _ => Err(ClientError::Unexpected("data")),
        }
    }

    /// `getOrders`: the session's account's open orders, or (`include_closed`) all of them,
    /// newest first.
    pub async fn orders(&mut self, include_closed: bool) -> Result<OrderList, ClientError> {
        let session_id = self.session.clone().ok_or_else(not_logged_in)?;
        let request = Message::GetOrders(OrdersQuery {
            session_id,
            include_closed,
        });
        match self.data(request, &mut |_, _| {}).await? {
            DataBody::Orders(o) => Ok(o),
            _ => Err(ClientError::Unexpected("data")),
        }
    }

    /// `purchaseAsset` with a fresh order id; resolves after settlement (see [`Client::place`]).
    pub async fn buy(&mut self, symbol: &str, quantity: u64) -> Result<TradeReceipt, ClientError> {
        self.place(Side::Buy, symbol, quantity, &new_order_id())
            .await
    }

    /// `sellAsset` with a fresh order id; resolves after settlement (see [`Client::place`]).
    pub async fn sell(&mut self, symbol: &str, quantity: u64) -> Result<TradeReceipt, ClientError> {
        self.place(Side::Sell, symbol, quantity, &new_order_id())
            .await
    }

    /// `getServerInfo`: the server's settings, limits and traded assets. Needs no login and
    /// works in either state.
    pub async fn server_info(&mut self) -> Result<ServerInfo, ClientError> {
        let request = Message::GetServerInfo(Empty {});
        match self.conn.call_data(&request, |_, _| {}).await? {
            DataBody::ServerInfo(info) => Ok(info),
            _ => Err(ClientError::Unexpected("data")),
        }
    }

    /// `getAssetValueCurrent`.
    pub async fn quote(&mut self, symbol: &str) -> Result<Quote, ClientError> {
        match self
            .data(
                Message::GetAssetValueCurrent(AssetQuery {
                    symbol: symbol.into(),
                }),
                &mut |_, _| {},
            )
            .await?
        {
            DataBody::Quote(q) => Ok(q),
            _ => Err(ClientError::Unexpected("data")),
        }
    }

    /// `getAssetInfo`.
    pub async fn info(&mut self, symbol: &str) -> Result<AssetInfo, ClientError> {
        match self
            .data(
                Message::GetAssetInfo(AssetQuery {
                    symbol: symbol.into(),
                }),
                &mut |_, _| {},
            )
            .await?
        {
            DataBody::AssetInfo(i) => Ok(i),
            _ => Err(ClientError::Unexpected("data")),
        }
    }

    /// A history range ending at `date_ms`, with progress `(received, max)` per packet.
    pub async fn history(
        &mut self,
        symbol: &str,
        range: HistoryRange,
        date_ms: i64,
        progress: &mut dyn FnMut(u32, u32),
    ) -> Result<History, ClientError> {
        let request = range.request(symbol.into(), date_ms);
        match self.data(request, progress).await? {
            DataBody::History(h) => Ok(h),
            _ => Err(ClientError::Unexpected("data")),
        }
    }

    fn user_query(&self, username: &str) -> Result<UserQuery, ClientError> {
        Ok(UserQuery {
            session_id: self.session.clone().ok_or_else(not_logged_in)?,
            username: username.into(),
        })
    }

    /// `getUserInfo`.
    pub async fn user_info(&mut self, username: &str) -> Result<UserInfo, ClientError> {
        match self
            .data(
                Message::GetUserInfo(self.user_query(username)?),
                &mut |_, _| {},
            )
            .await?
        {
            DataBody::UserInfo(u) => Ok(u),
            _ => Err(ClientError::Unexpected("data")),
        }
    }

    /// `getUserPortfolio`.
    pub async fn portfolio(&mut self, username: &str) -> Result<Portfolio, ClientError> {
        match self
            .data(
                Message::GetUserPortfolio(self.user_query(username)?),
                &mut |_, _| {},
            )
            .await?
        {
            DataBody::Portfolio(p) => Ok(p),
            _ => Err(ClientError::Unexpected("data")),
        }
    }

    /// `getUserTransactionHistory`.
    pub async fn trades(&mut self, username: &str) -> Result<TransactionHistory, ClientError> {
        match self
            .data(
                Message::GetUserTransactionHistory(self.user_query(username)?),
                &mut |_, _| {},
            )
            .await?
        {
            DataBody::Transactions(t) => Ok(t),
            _ => Err(ClientError::Unexpected("data")),
        }
    }
}

/// Times an order whose outcome is unknown is sent again (pauses 0.2 s doubling to 3 s).
const RESEND_ATTEMPTS: usize = 6;

/// An order to place with [`Client::place_order`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSpec {
    /// Buy or sell.
    pub side: Side,
    /// Asset symbol.
    pub symbol: String,
    /// Units.
    pub quantity: u64,
    /// Market, limit, stop or stop-limit.
    pub kind: OrderKind,
    /// The limit price (limit, stop-limit).
    pub limit_price: Option<Money>,
    /// The stop price (stop, stop-limit).
    pub stop_price: Option<Money>,
    /// Time in force.
    pub time_in_force: TimeInForce,
}

impl OrderSpec {
    /// The `placeOrder` arguments of this order.
    pub fn message(self, session_id: String, client_order_id: Option<String>) -> PlaceOrder {
        PlaceOrder {
            session_id,
            side: self.side,
            symbol: self.symbol,
            quantity: self.quantity,
            kind: self.kind,
            limit_price: self.limit_price,
            stop_price: self.stop_price,
            time_in_force: self.time_in_force,
            client_order_id,
        }
    }

    /// The kind that a limit price and a stop price make: neither a market order, a limit
    /// price a limit order, a stop price a stop order, both a stop-limit order.
    pub fn kind_of(limit: Option<Money>, stop: Option<Money>) -> OrderKind {
        match (limit, stop) {
            (None, None) => OrderKind::Market,
            (Some(_), None) => OrderKind::Limit,
            (None, Some(_)) => OrderKind::Stop,
            (Some(_), Some(_)) => OrderKind::StopLimit,
        }
    }
}

/// A fresh client order id: 32 random lowercase hex characters.
pub fn new_order_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn not_logged_in() -> ClientError {
    ClientError::Failed {
        instruction: "loginFail",
        failure: Failure::new(
            ReasonCode::SessionInvalid,
            "not logged in: run `papertrader login` first",
        ),
    }
}
