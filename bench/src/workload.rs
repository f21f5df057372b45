//! One connection's work: set up a user, then repeat one kind of operation until the deadline
//! or the request count.

use std::time::Instant;

use papertrader_client::{ClientError, Connection};
use papertrader_protocol::password::client_password_hash;
use papertrader_protocol::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::report::OpStats;

/// What a connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    /// getAssetValueCurrent of a random symbol.
    Quote,
    /// getAssetValueDay of a random symbol.
    History,
    /// login (a bcrypt verification on the master).
    Login,
    /// purchaseAsset then sellAsset of one unit, alternating (each waits for settlement).
    Trade,
}

impl Op {
    /// Its name in the mix and the report.
    pub fn name(self) -> &'static str {
        match self {
            Op::Quote => "quote",
            Op::History => "history",
            Op::Login => "login",
            Op::Trade => "trade",
        }
    }

    /// From a mix name.
    pub fn parse(name: &str) -> Option<Op> {
        [Op::Quote, Op::History, Op::Login, Op::Trade]
            .into_iter()
            .find(|op| op.name() == name)
    }
}

/// When a connection stops.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// At this instant.
    At(Instant),
    /// After this many requests.
    After(u64),
}

/// Settings shared by all connections.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Worker address.
    pub target: String,
    /// Symbols to use.
    pub symbols: Vec<String>,
    /// Prefix of the users this run creates.
    pub user_prefix: String,
    /// When to stop.
    pub stop: Stop,
}

fn reason(error: &ClientError) -> String {
    match error.reason() {
        Some(code) => code.name().to_owned(),
        None => match error {
            ClientError::Io(_) | ClientError::Closed => "Disconnected".to_owned(),
            _ => "Protocol".to_owned(),
        },
    }
}

/// Registers and logs in this connection's user, switching to the state `op` needs.
async fn setup(
    conn: &mut Connection,
    plan: &Plan,
    index: usize,
    op: Op,
) -> Result<(String, String, String), ClientError> {
    let username = format!("{}{index}", plan.user_prefix);
    let password = client_password_hash(&username, "bench");
    let register = Register {
        username: username.clone(),
        email: format!("{username}@bench.test"),
        hashed_password: password.clone(),
    };
    conn.call(&Message::Register(register)).await?;
    let Message::SessionId(token) = conn
        .call(&Message::Login(Login {
            username: username.clone(),
            hashed_password: password.clone(),
            is_expirable: true,
        }))
        .await?
    else {
        return Err(ClientError::Unexpected("login"));
    };
    if matches!(op, Op::Quote | Op::History) {
        conn.call(&Message::SwitchState(SwitchState {
            session_id: token.session_id.clone(),
            state: ConnectionState::DataTransfer,
        }))
        .await?;
    }
    Ok((username, password, token.session_id))
}

/// A connection ready for the timed phase.
pub struct Ready {
    conn: Connection,
    op: Op,
    index: usize,
    username: String,
    password: String,
    session: String,
}

/// Connects and sets up connection `index` (not measured). `Err` holds the setup failure.
pub async fn prepare(plan: &Plan, index: usize, op: Op) -> Result<Ready, String> {
    let stream = crate::sources::connect(&plan.target, index)
        .await
        .map_err(|e| format!("connect:{}", e.kind()))?;
    let mut conn =
        Connection::from_stream(stream).map_err(|e| format!("connect:{}", reason(&e)))?;
    let (username, password, session) = setup(&mut conn, plan, index, op)
        .await
        .map_err(|e| format!("setup:{}", reason(&e)))?;
    Ok(Ready {
        conn,
        op,
        index,
        username,
        password,
        session,
    })
}

/// The timed phase of one prepared connection; returns what it recorded.
pub async fn drive(plan: Plan, ready: Ready) -> OpStats {
    let Ready {
        mut conn,
        op,
        index,
        username,
        password,
        session,
    } = ready;
    let mut stats = OpStats::new();
    let mut rng = StdRng::seed_from_u64(index as u64);
    let mut holding = false;
    let mut done = 0u64;
    loop {
        match plan.stop {
            Stop::At(deadline) if Instant::now() >= deadline => break,
            Stop::After(n) if done >= n => break,
            _ => {}
        }
        let symbol = plan.symbols[rng.gen_range(0..plan.symbols.len())].clone();
        let started = Instant::now();
        let result = match op {
            Op::Quote => conn
                .call_data(
                    &Message::GetAssetValueCurrent(AssetQuery { symbol }),
                    |_, _| {},
                )
                .await
                .map(|_| ()),
            Op::History => {
                let date_ms = chrono::Utc::now().timestamp_millis();
                conn.call_data(
                    &Message::GetAssetValueDay(AssetRangeQuery { symbol, date_ms }),
                    |_, _| {},
                )
                .await
                .map(|_| ())
            }
            Op::Login => {
                let login = Login {
                    username: username.clone(),
                    hashed_password: password.clone(),
                    is_expirable: true,
                };
                conn.call(&Message::Login(login)).await.map(|_| ())
            }
            Op::Trade => {
                let order = TradeOrder {
                    session_id: session.clone(),
                    symbol: plan.symbols[0].clone(),
                    quantity: 1,
                    client_order_id: None,
                };
                let message = if holding {
                    Message::SellAsset(order)
                } else {
                    Message::PurchaseAsset(order)
                };
                let result = conn.call(&message).await.map(|_| ());
                if result.is_ok() {
                    holding = !holding;
                }
                result
            }
        };
        done += 1;
        match result {
            Ok(()) => stats.record(started.elapsed()),
            Err(e) => {
                let lost = matches!(e, ClientError::Io(_) | ClientError::Closed);
                stats.fail(reason(&e));
                if lost {
                    break;
                }
            }
        }
    }
    stats
}
