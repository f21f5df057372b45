//! The client commands: register, login, logout, workers, quote, info, history, buy, sell,
//! portfolio, trades, account.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use papertrader_client::session_file::{self, StoredSession};
use papertrader_client::{new_order_id, Client, HistoryRange};
use papertrader_protocol::data::{Quote, Side};
use papertrader_protocol::{Money, TradeReceipt};
use serde_json::{json, Value};

use crate::output::{self, money, outln, table, time};
use crate::{session_path, Failed};

/// Where to connect and where the session is kept.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// The master to ask for the worker list.
    #[arg(long, env = "PAPERTRADER_MASTER", default_value = "127.0.0.1:2048")]
    master: String,
    /// Use this worker directly instead of asking the master.
    #[arg(long, env = "PAPERTRADER_WORKER")]
    worker: Option<String>,
    /// Session file [default: ~/.papertrader/session.json, or $PAPERTRADER_HOME/session.json].
    #[arg(long, env = "PAPERTRADER_SESSION_FILE")]
    session_file: Option<PathBuf>,
}

/// How the password is read: `PAPERTRADER_PASSWORD`, else `--password-stdin`, else a prompt
/// without echo.
#[derive(Debug, Clone, Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

/// History range names.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RangeArg {
    /// Intraday points of the 24 hours up to the date.
    Day,
    /// 7 daily bars.
    Week,
    /// 30 daily bars.
    Month,
    /// 12 monthly bars.
    Year,
    /// Every monthly bar.
    All,
}

/// The client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create an account.
    Register {
        /// Username (1-24 of A-Z a-z 0-9 _ . -).
        username: String,
        /// Email address.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Log in and remember the session.
    Login {
        /// Username.
        username: String,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// End the session.
    Logout {
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// The online workers.
    Workers {
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Latest prices.
    Quote {
        /// Symbols.
        #[arg(required = true)]
        symbols: Vec<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// An asset's name and latest price.
    Info {
        /// Symbol.
        symbol: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Price history.
    History {
        /// Symbol.
        symbol: String,
        /// Range.
        #[arg(long, value_enum, default_value = "week")]
        range: RangeArg,
        /// End of the range: YYYY-MM-DD (end of that UTC day) or RFC 3339 [default: now].
        #[arg(long)]
        date: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Buy at the next price update.
    Buy {
        /// Symbol.
        symbol: String,
        /// Whole units.
        quantity: u64,
        /// The order's id (1–64 of A-Z a-z 0-9 . _ : -) [default: a fresh random one]. An order
        /// sent again with the same id is never traded twice: use the id printed by an order
        /// whose outcome was unknown to learn what became of it.
        #[arg(long)]
        order_id: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Sell at the next price update.
    Sell {
        /// Symbol.
        symbol: String,
        /// Whole units.
        quantity: u64,
        /// The order's id (1–64 of A-Z a-z 0-9 . _ : -) [default: a fresh random one]. An order
        /// sent again with the same id is never traded twice: use the id printed by an order
        /// whose outcome was unknown to learn what became of it.
        #[arg(long)]
        order_id: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Holdings (and cash, for your own).
    Portfolio {
        /// Whose [default: you].
        user: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Settled trades (with cash after each, for your own).
    Trades {
        /// Whose [default: you].
        user: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Your account.
    Account {
        #[command(flatten)]
        conn: ConnArgs,
    },
}

async fn connect(conn: &ConnArgs) -> Result<Client, Failed> {
    let client = match &conn.worker {
        Some(worker) => Client::to_worker(worker).await,
        None => Client::via_master(&conn.master).await,
    };
    client.map_err(|e| match Failed::from(e) {
        failed if failed.code == 3 => Failed::unreachable(format!(
            "cannot reach PaperTrader at {}: {}",
            conn.master, failed.message
        )),
        failed => failed,
    })
}

async fn logged_in(conn: &ConnArgs) -> Result<(Client, StoredSession), Failed> {
    let path = session_path(&conn.session_file);
    let stored = session_file::load(&path)
        .map_err(|e| Failed::refused(format!("reading {}: {e}", path.display())))?
        .ok_or_else(|| Failed::refused("not logged in: run `papertrader login USERNAME` first"))?;
    let mut client = connect(conn).await?;
    client.resume(&stored.session_id).await.map_err(|e| {
        let failed = Failed::from(e);
        if failed.code == 1 {
            Failed::refused(format!("{} — log in again", failed.message))
        } else {
            failed
        }
    })?;
    Ok((client, stored))
}

fn read_password(args: &PasswordArgs) -> Result<String, Failed> {
    if let Ok(password) = std::env::var("PAPERTRADER_PASSWORD") {
        return Ok(password);
    }
    if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Failed::refused(e.to_string()))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    rpassword::prompt_password("Password: ")
        .map_err(|e| Failed::refused(format!("reading the password: {e}")))
}

fn parse_date(text: &Option<String>) -> Result<i64, Failed> {
    let Some(text) = text else {
        return Ok(chrono::Utc::now().timestamp_millis());
    };
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let end = day
            .and_hms_milli_opt(23, 59, 59, 999)
            .ok_or_else(|| Failed::refused("bad date"))?;
        return Ok(end.and_utc().timestamp_millis());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            Failed::refused(format!(
                "{text:?} is neither YYYY-MM-DD nor an RFC 3339 time"
            ))
        })
}

fn quote_json(q: &Quote) -> Value {
    json!({"symbol": q.symbol, "price": money(q.close), "open": money(q.open), "high": money(q.high),
           "low": money(q.low), "volume": q.volume, "at": time(q.at_ms), "stale": q.stale})
}

fn receipt_json(side: &str, order_id: &str, r: &TradeReceipt) -> Value {
    json!({"transaction_id": r.transaction_id, "order_id": order_id, "side": side, "symbol": r.symbol,
           "quantity": r.quantity, "price": money(r.price), "cash_after": money(r.cash_after),
           "settled_at": time(r.settled_at_ms)})
}

/// `buy` / `sell`: places the order under its id (resending it with that id while its outcome
/// is unknown) and shows the receipt.
async fn trade(
    side: Side,
    symbol: &str,
    quantity: u64,
    order_id: Option<String>,
    conn: &ConnArgs,
    show: &dyn Fn(Value, &dyn Fn()),
) -> Result<(), Failed> {
    let order_id = order_id.unwrap_or_else(new_order_id);
    if let Err(e) = papertrader_protocol::limits::check_client_order_id(&order_id) {
        return Err(Failed::usage(format!("--order-id: {e}")));
    }
    let (mut client, _) = logged_in(conn).await?;
    let r = client.place(side, symbol, quantity, &order_id).await?;
    let (name, verb) = match side {
        Side::Buy => ("buy", "bought"),
        Side::Sell => ("sell", "sold"),
    };
    show(receipt_json(name, &order_id, &r), &|| {
        outln!(
            "{verb} {} {} at {} (cash now {}), transaction #{}, order id {order_id}",
            r.quantity,
            r.symbol,
            money(r.price),
            money(r.cash_after),
            r.transaction_id
        )
    });
    Ok(())
}

/// Runs one client command.
pub async fn run(command: ClientCommand, as_json: bool) -> Result<(), Failed> {
    let show = |value: Value, human: &dyn Fn()| {
        if as_json {
            output::json(&value)
        } else {
            human()
        }
    };
    match command {
        ClientCommand::Register {
            username,
            email,
            password,
            conn,
        } => {
            let password = read_password(&password)?;
            connect(&conn)
                .await?
                .register(&username, &email, &password)
                .await?;
            show(json!({"registered": username}), &|| {
                outln!("registered {username}; now run: papertrader login {username}")
            });
        }
        ClientCommand::Login {
            username,
            password,
            conn,
        } => {
            let password = read_password(&password)?;
            let mut client = connect(&conn).await?;
            let session_id = client.login(&username, &password, true).await?;
            let path = session_path(&conn.session_file);
            session_file::save(
                &path,
                &StoredSession {
                    session_id,
                    username: username.clone(),
                },
            )
            .map_err(|e| {
                Failed::refused(format!("saving the session to {}: {e}", path.display()))
            })?;
            let worker = client.worker().to_owned();
            show(json!({"username": username, "worker": worker}), &|| {
                outln!("logged in as {username} (via {worker})")
            });
        }
        ClientCommand::Logout { conn } => {
            let (mut client, stored) = logged_in(&conn).await?;
            client.logout().await?;
            session_file::remove(&session_path(&conn.session_file))
                .map_err(|e| Failed::refused(e.to_string()))?;
            show(json!({"logged_out": stored.username}), &|| {
                outln!("logged out")
            });
        }
        ClientCommand::Workers { conn } => {
            let workers = Client::worker_list(&conn.master).await?;
            let rows: Vec<Vec<String>> = workers
                .iter()
                .map(|w| vec![w.name.clone(), w.address.clone()])
                .collect();
            show(
                json!(workers
                    .iter()
                    .map(|w| json!({"name": w.name, "address": w.address}))
                    .collect::<Vec<_>>()),
                &|| table(&["NAME", "ADDRESS"], &rows),
            );
        }
        ClientCommand::Quote { symbols, conn } => {
            let (mut client, _) = logged_in(&conn).await?;
            let mut quotes = Vec::new();
            for symbol in &symbols {
                quotes.push(client.quote(symbol).await?);
            }
            let rows: Vec<Vec<String>> = quotes
                .iter()
                .map(|q| {
                    vec![
                        q.symbol.clone(),
                        money(q.close),
                        money(q.open),
                        money(q.high),
                        money(q.low),
                        time(q.at_ms),
                        if q.stale {
                            "stale".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            show(
                json!(quotes.iter().map(quote_json).collect::<Vec<_>>()),
                &|| {
                    table(
                        &["SYMBOL", "PRICE", "OPEN", "HIGH", "LOW", "AT (UTC)", ""],
                        &rows,
                    )
                },
            );
        }
        ClientCommand::Info { symbol, conn } => {
            let (mut client, _) = logged_in(&conn).await?;
            let info = client.info(&symbol).await?;
            show(
                json!({"symbol": info.symbol, "name": info.name, "currency": info.currency, "latest": quote_json(&info.latest)}),
                &|| {
                    outln!(
                        "{} — {} ({}), last {} at {}",
                        info.symbol,
                        info.name,
                        info.currency,
                        money(info.latest.close),
                        time(info.latest.at_ms)
                    )
                },
            );
        }
        ClientCommand::History {
            symbol,
            range,
            date,
            conn,
        } => {
            let date_ms = parse_date(&date)?;
            let (mut client, _) = logged_in(&conn).await?;
            let range = match range {
                RangeArg::Day => HistoryRange::Day,
                RangeArg::Week => HistoryRange::Week,
                RangeArg::Month => HistoryRange::Month,
                RangeArg::Year => HistoryRange::Year,
                RangeArg::All => HistoryRange::AllTime,
            };
            let bar =
                (!as_json && std::io::stderr().is_terminal()).then(indicatif::ProgressBar::hidden);
            let mut progress = |received: u32, max: u32| {
                if let Some(bar) = &bar {
                    if bar.is_hidden() && max > 1 {
                        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    }
                    bar.set_length(u64::from(max));
                    bar.set_position(u64::from(received));
                }
            };
            let history = client
                .history(&symbol, range, date_ms, &mut progress)
                .await?;
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            let points: Vec<Value> = history
                .bars
                .iter()
                .map(|b| json!({"at": time(b.at_ms), "open": money(b.open), "high": money(b.high), "low": money(b.low), "close": money(b.close), "volume": b.volume}))
                .collect();
            let rows: Vec<Vec<String>> = history
                .bars
                .iter()
                .map(|b| {
                    vec![
                        time(b.at_ms),
                        money(b.open),
                        money(b.high),
                        money(b.low),
                        money(b.close),
                        b.volume.to_string(),
                    ]
                })
                .collect();
            show(
                json!({"symbol": history.symbol, "resolution": format!("{:?}", history.resolution).to_lowercase(), "points": points}),
                &|| {
                    table(
                        &["AT (UTC)", "OPEN", "HIGH", "LOW", "CLOSE", "VOLUME"],
                        &rows,
                    )
                },
            );
        }
        ClientCommand::Buy {
            symbol,
            quantity,
            order_id,
            conn,
        } => trade(Side::Buy, &symbol, quantity, order_id, &conn, &show).await?,
        ClientCommand::Sell {
            symbol,
            quantity,
            order_id,
            conn,
        } => trade(Side::Sell, &symbol, quantity, order_id, &conn, &show).await?,
        ClientCommand::Portfolio { user, conn } => {
            let (mut client, stored) = logged_in(&conn).await?;
            let p = client
                .portfolio(user.as_deref().unwrap_or(&stored.username))
                .await?;
            let value = |quantity: u64, price: Money| {
                price.checked_mul(quantity).map(money).unwrap_or_default()
            };
            let holdings: Vec<Value> = p
                .holdings
                .iter()
                .map(|h| json!({"symbol": h.symbol, "quantity": h.quantity, "price": money(h.price), "value": value(h.quantity, h.price)}))
                .collect();
            let rows: Vec<Vec<String>> = p
                .holdings
                .iter()
                .map(|h| {
                    vec![
                        h.symbol.clone(),
                        h.quantity.to_string(),
                        money(h.price),
                        value(h.quantity, h.price),
                    ]
                })
                .collect();
            show(
                json!({"username": p.username, "cash": p.cash.map(money), "holdings": holdings}),
                &|| {
                    if let Some(cash) = p.cash {
                        outln!("{}: cash {}", p.username, money(cash));
                    }
                    table(&["SYMBOL", "QUANTITY", "PRICE", "VALUE"], &rows);
                },
            );
        }
        ClientCommand::Trades { user, conn } => {
            let (mut client, stored) = logged_in(&conn).await?;
            let t = client
                .trades(user.as_deref().unwrap_or(&stored.username))
                .await?;
            let side = |s: Side| if s == Side::Buy { "buy" } else { "sell" };
            let entries: Vec<Value> = t
                .entries
                .iter()
                .map(|e| json!({"id": e.id, "side": side(e.side), "symbol": e.symbol, "quantity": e.quantity, "price": money(e.price), "settled_at": time(e.settled_at_ms), "cash_after": e.cash_after.map(money)}))
                .collect();
            let rows: Vec<Vec<String>> = t
                .entries
                .iter()
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        side(e.side).into(),
                        e.symbol.clone(),
                        e.quantity.to_string(),
                        money(e.price),
                        time(e.settled_at_ms),
                        e.cash_after.map(money).unwrap_or_default(),
                    ]
                })
                .collect();
            show(json!({"username": t.username, "trades": entries}), &|| {
                table(
                    &[
                        "ID",
                        "SIDE",
                        "SYMBOL",
                        "QUANTITY",
                        "PRICE",
                        "SETTLED (UTC)",
                        "CASH AFTER",
                    ],
                    &rows,
                )
            });
        }
        ClientCommand::Account { conn } => {
            let (mut client, stored) = logged_in(&conn).await?;
            let u = client.user_info(&stored.username).await?;
            show(
                json!({"username": u.username, "email": u.email, "cash": u.cash.map(money), "has_password": u.has_password, "created_at": time(u.created_at_ms)}),
                &|| {
                    outln!("{} <{}>", u.username, u.email.clone().unwrap_or_default());
                    outln!("cash     {}", u.cash.map(money).unwrap_or_default());
                    outln!("created  {}", time(u.created_at_ms));
                },
            );
        }
    }
    Ok(())
}
