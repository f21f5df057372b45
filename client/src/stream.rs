//! A live stream: a second connection to the worker, in DataTransfer state, that carries
//! subscriptions and their pushes (PROTOCOL.md §12).
//!
//! Leaving DataTransfer ends a connection's subscriptions, so pushes get a connection of
//! their own, and the [`crate::Client`] it came from keeps placing orders on the first. When
//! the worker goes away, [`LiveStream::reconnect`] moves to another worker, subscribes again
//! and asks for the fills made since the last one it saw.

use std::collections::BTreeMap;
use std::time::Duration;

use papertrader_protocol::{
    AccountPush, Message, QuotePush, ReasonCode, SubscribeAccount, SubscribeQuotes,
    SubscriptionEnded, SubscriptionId,
};

use crate::connection::{ClientError, Connection, Peer};
use crate::tls::ClientTls;

/// One pushed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// Latest quotes of a quote subscription.
    Quotes(QuotePush),
    /// One event of the account.
    Account(AccountPush),
    /// The server ended a subscription.
    Ended(SubscriptionEnded),
}

impl Push {
    /// The subscription it belongs to.
    pub fn subscription_id(&self) -> u64 {
        match self {
            Push::Quotes(p) => p.subscription_id,
            Push::Account(p) => p.subscription_id,
            Push::Ended(p) => p.subscription_id,
        }
    }

    /// Its sequence number (for `Ended`, that of the last push before it).
    pub fn sequence(&self) -> u64 {
        match self {
            Push::Quotes(p) => p.sequence,
            Push::Account(p) => p.sequence,
            Push::Ended(p) => p.last_sequence,
        }
    }
}

/// What a stream subscribed to, to subscribe again after a reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wanted {
    Quotes(Vec<String>),
    /// The account, resuming after this transaction id: the last fill seen, or where the
    /// subscription started.
    Account(u64),
}

/// A connection carrying subscriptions.
pub struct LiveStream {
    workers: Vec<String>,
    current: usize,
    tls: Option<ClientTls>,
    session: String,
    conn: Connection,
    wanted: BTreeMap<u64, Wanted>,
}

impl LiveStream {
    /// Opens a stream to `workers[current]` (falling back to the others in turn), resuming
    /// `session` there and entering DataTransfer state.
    pub async fn open(
        workers: Vec<String>,
        current: usize,
        tls: Option<ClientTls>,
        session: String,
    ) -> Result<Self, ClientError> {
        let (conn, current) = connect(&workers, current, tls.as_ref(), &session).await?;
        Ok(Self {
            workers,
            current,
            tls,
            session,
            conn,
            wanted: BTreeMap::new(),
        })
    }

    /// The worker this stream is connected to.
    pub fn worker(&self) -> &str {
        &self.workers[self.current]
    }

    /// `subscribeQuotes`: pushes of `symbols`' quotes at every tick from now on.
    pub async fn subscribe_quotes(
        &mut self,
        subscription_id: u64,
        symbols: &[String],
    ) -> Result<(), ClientError> {
        subscribe_quotes(&mut self.conn, subscription_id, symbols).await?;
        self.wanted
            .insert(subscription_id, Wanted::Quotes(symbols.to_vec()));
        Ok(())
    }

    /// `subscribeAccount`: the account's events from now on, after the fills with a
    /// transaction id above `since` (none: no replay). Answers the resume point (the
    /// account's last transaction id when it started).
    pub async fn subscribe_account(
        &mut self,
        subscription_id: u64,
        since: Option<u64>,
    ) -> Result<u64, ClientError> {
        let resume_from =
            subscribe_account(&mut self.conn, &self.session, subscription_id, since).await?;
        // Until a fill is seen, a reconnect resumes from where this subscription started.
        let from = since.unwrap_or(resume_from);
        self.wanted.insert(subscription_id, Wanted::Account(from));
        Ok(resume_from)
    }

    /// `unsubscribe`: the sequence number of the subscription's last push.
    pub async fn unsubscribe(&mut self, subscription_id: u64) -> Result<u64, ClientError> {
        let reply = self
            .conn
            .call(&Message::Unsubscribe(SubscriptionId { subscription_id }))
            .await?;
        self.wanted.remove(&subscription_id);
        match reply {
            Message::UnsubscribeSuccess(done) => Ok(done.last_sequence),
            other => Err(ClientError::Unexpected(other.instruction().name())),
        }
    }

    /// The next push within `wait` (`None` if none came). Fills are remembered, so a
    /// [`LiveStream::reconnect`] asks only for those after the last one seen.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Push>, ClientError> {
        let Some(message) = self.conn.next_push(wait).await? else {
            return Ok(None);
        };
        let push = match message {
            Message::QuotePush(p) => Push::Quotes(p),
            Message::AccountPush(p) => {
                if let (Some(fill), Some(Wanted::Account(since))) =
                    (&p.event.fill, self.wanted.get_mut(&p.subscription_id))
                {
                    *since = (*since).max(fill.transaction_id);
                }
                Push::Account(p)
            }
            // Kept in `wanted`: a reconnect subscribes again (after a session end it cannot).
            Message::SubscriptionEnded(p) => Push::Ended(p),
            other => return Err(ClientError::Unexpected(other.instruction().name())),
        };
        Ok(Some(push))
    }

    /// Connects again and renews every subscription — on this worker if it answers and can
    /// serve them, else on the next that can — on a fresh connection, so nothing of the old
    /// one (a late notice) can follow. Account subscriptions first get the fills made since the
    /// last one seen. Sequence numbers start again at 1.
    pub async fn reconnect(&mut self) -> Result<(), ClientError> {
        let mut last = ClientError::Closed;
        for step in 0..self.workers.len() {
            let index = (self.current + step) % self.workers.len();
            match self.renew_on(index).await {
                Ok(conn) => {
                    self.conn = conn;
                    self.current = index;
                    return Ok(());
                }
                // A session that ended ends everywhere: no other worker will do better.
                Err(e) if session_ended(&e) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn renew_on(&self, index: usize) -> Result<Connection, ClientError> {
        let (mut conn, _) = connect(
            &self.workers[index..=index],
            0,
            self.tls.as_ref(),
            &self.session,
        )
        .await?;
        for (id, wanted) in &self.wanted {
            match wanted {
                Wanted::Quotes(symbols) => subscribe_quotes(&mut conn, *id, symbols).await?,
                Wanted::Account(since) => {
                    subscribe_account(&mut conn, &self.session, *id, Some(*since)).await?;
                }
            }
        }
        Ok(conn)
    }
}

/// True when `error` says the session is over (logged out, expired, revoked).
pub fn session_ended(error: &ClientError) -> bool {
    matches!(
        error.reason(),
        Some(ReasonCode::SessionInvalid | ReasonCode::SessionExpired)
    )
}

async fn connect(
    workers: &[String],
    first: usize,
    tls: Option<&ClientTls>,
    session: &str,
) -> Result<(Connection, usize), ClientError> {
    let mut last = ClientError::Closed;
    for step in 0..workers.len() {
        let index = (first + step) % workers.len();
        match Connection::connect_with(Peer::Worker, &workers[index], tls).await {
            Ok(mut conn) => {
                conn.open_data_transfer(session).await?;
                return Ok((conn, index));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn subscribe_quotes(
    conn: &mut Connection,
    subscription_id: u64,
    symbols: &[String],
) -> Result<(), ClientError> {
    let request = Message::SubscribeQuotes(SubscribeQuotes {
        subscription_id,
        symbols: symbols.to_vec(),
    });
    expect_subscribed(conn.call(&request).await?)
}

async fn subscribe_account(
    conn: &mut Connection,
    session: &str,
    subscription_id: u64,
    since: Option<u64>,
) -> Result<u64, ClientError> {
    let request = Message::SubscribeAccount(SubscribeAccount {
        session_id: session.to_owned(),
        subscription_id,
        since_transaction_id: since,
    });
    match conn.call(&request).await? {
        Message::SubscribeSuccess(done) => Ok(done.resume_from),
        other => Err(ClientError::Unexpected(other.instruction().name())),
    }
}

fn expect_subscribed(reply: Message) -> Result<(), ClientError> {
    match reply {
        Message::SubscribeSuccess(_) => Ok(()),
        other => Err(ClientError::Unexpected(other.instruction().name())),
    }
}
