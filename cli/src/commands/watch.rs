//! `papertrader watch SYMBOL…`: live prices (and, with `--fills`, the account's order events)
//! as the worker pushes them. On a terminal, a table redrawn in place; otherwise one line per
//! quote; with `--json`, one object per line. A lost worker is replaced (the stream
//! re-subscribes, asking for the fills it missed); a session that ended stops it.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use papertrader_client::stream::session_ended;
use papertrader_client::{LiveStream, Push};
use papertrader_protocol::data::Quote;
use papertrader_protocol::stream::AccountEvent;
use papertrader_protocol::{AccountPush, QuotePush, ReasonCode};
use serde_json::{json, Value};

use super::common::{logged_in, symbol, JsonArg, SessionArgs};
use crate::failed::Failed;
use crate::output::{money, outln, render_table, rfc3339, time, Column, Output};

const QUOTES: u64 = 1;
const FILLS: u64 = 2;

/// `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Symbols, in any case; `papertrader assets` lists them.
    #[arg(required = true)]
    symbols: Vec<String>,
    /// Also show your orders' events (accepted, fills with cash after, cancels) as they happen.
    #[arg(long)]
    fills: bool,
    /// Stop after this many price updates (default: until Ctrl-C).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    count: Option<u64>,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    pub output: JsonArg,
}

/// `--count`: a whole number from 1.
fn at_least_one(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{text} is not a count: give a whole number from 1")),
    }
}

/// How updates are shown.
enum Display {
    /// A table redrawn in place (standard output is a terminal).
    Live,
    /// One line per quote.
    Lines,
    /// One JSON object per line.
    Json,
}

/// Runs until Ctrl-C (or `--count` updates).
pub async fn run(args: WatchArgs, out: Output) -> Result<(), Failed> {
    let symbols: Vec<String> = args.symbols.iter().map(|s| symbol(s)).collect();
    let (client, _) = logged_in(&args.session).await?;
    let mut stream = client.open_stream().await.map_err(Failed::from)?;
    stream
        .subscribe_quotes(QUOTES, &symbols)
        .await
        .map_err(Failed::from)?;
    if args.fills {
        stream
            .subscribe_account(FILLS, None)
            .await
            .map_err(Failed::from)?;
    }
    let display = if out.json {
        Display::Json
    } else if std::io::stdout().is_terminal() {
        Display::Live
    } else {
        Display::Lines
    };
    let mut view = View::new(symbols, display);
    let mut updates = 0u64;
    loop {
        let next = tokio::select! {
            next = stream.next(Duration::from_secs(1)) => next,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        match next {
            Ok(Some(Push::Quotes(push))) => {
                view.quotes(&push);
                updates += 1;
                if args.count.is_some_and(|n| updates >= n) {
                    return Ok(());
                }
            }
            Ok(Some(Push::Account(push))) => view.event(&push),
            Ok(Some(Push::Ended(ended))) => {
                if matches!(
                    ended.reason,
                    ReasonCode::SessionInvalid | ReasonCode::SessionExpired
                ) {
                    return Err(session_over());
                }
                view.note(&format!(
                    "live updates stopped ({}); reconnecting",
                    ended.message
                ));
                if keep_trying(&mut stream, &mut view).await? {
                    return Ok(());
                }
            }
            Ok(None) => {}
            Err(e) => {
                view.note(&format!("the connection was lost ({e}); reconnecting"));
                if keep_trying(&mut stream, &mut view).await? {
                    return Ok(());
                }
            }
        }
    }
}

fn session_over() -> Failed {
    Failed::refused(
        "your session ended (logged out, expired or revoked): log in again with \
         `papertrader login`",
    )
}

/// Reconnects (to another worker if need be), renewing the subscriptions, with a pause that
/// grows to 5 s, until it works, the session turns out to be over, or Ctrl-C (`Ok(true)`).
async fn keep_trying(stream: &mut LiveStream, view: &mut View) -> Result<bool, Failed> {
    let mut pause = Duration::from_millis(200);
    let mut attempts = 0u32;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = tokio::signal::ctrl_c() => return Ok(true),
        }
        match stream.reconnect().await {
            Ok(()) => {
                view.note("reconnected: live again");
                return Ok(false);
            }
            Err(e) if session_ended(&e) => return Err(session_over()),
            Err(e) => {
                attempts += 1;
                if attempts % 10 == 1 {
                    view.note(&format!("still reconnecting ({e})"));
                }
            }
        }
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// What has been seen, and how to show it.
struct View {
    symbols: Vec<String>,
    display: Display,
    latest: BTreeMap<String, (Quote, u64)>,
    events: Vec<String>,
}

impl View {
    fn new(symbols: Vec<String>, display: Display) -> Self {
        Self {
            symbols,
            display,
            latest: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    fn quotes(&mut self, push: &QuotePush) {
        for quote in &push.quotes {
            self.latest
                .insert(quote.symbol.clone(), (quote.clone(), push.sequence));
            match self.display {
                Display::Json => outln!("{}", quote_json(push, quote)),
                Display::Lines => outln!("{}", quote_line(quote)),
                Display::Live => {}
            }
        }
        if matches!(self.display, Display::Live) {
            self.redraw();
        }
    }

    fn event(&mut self, push: &AccountPush) {
        match self.display {
            Display::Json => outln!("{}", event_json(push)),
            Display::Lines => outln!("{}", event_line(&push.event)),
            Display::Live => {
                self.events.push(event_line(&push.event));
                let keep = self.events.len().saturating_sub(5);
                self.events.drain(..keep);
                self.redraw();
            }
        }
    }

    fn note(&mut self, text: &str) {
        match self.display {
            Display::Json => outln!("{}", json!({"type": "notice", "message": text})),
            _ => eprintln!("{text}"),
        }
    }

    /// Clears the terminal and draws the table and the latest events.
    fn redraw(&self) {
        let rows: Vec<Vec<String>> = self
            .symbols
            .iter()
            .map(|symbol| match self.latest.get(symbol) {
                Some((q, _)) => vec![
                    symbol.clone(),
                    money(q.close),
                    change(q),
                    money(q.high),
                    money(q.low),
                    q.volume.to_string(),
                    time(q.at_ms),
                ],
                None => vec![symbol.clone(), "…".into()],
            })
            .collect();
        let columns = [
            Column::text("SYMBOL"),
            Column::number("PRICE"),
            Column::number("CHANGE"),
            Column::number("HIGH"),
            Column::number("LOW"),
            Column::number("VOLUME"),
            Column::text("AT (UTC)"),
        ];
        let mut screen = String::from("\x1b[H\x1b[2J");
        for line in render_table(&columns, &rows) {
            screen.push_str(&line);
            screen.push('\n');
        }
        if !self.events.is_empty() {
            screen.push_str("\nyour orders:\n");
            for line in &self.events {
                screen.push_str(line);
                screen.push('\n');
            }
        }
        screen.push_str("\nCtrl-C to stop");
        outln!("{screen}");
    }
}

/// The change since the day's open, with its sign.
fn change(q: &Quote) -> String {
    let delta = q.close.micros() - q.open.micros();
    let sign = if delta > 0 { "+" } else { "" };
    format!("{sign}{}", money(papertrader_protocol::Money(delta)))
}

fn quote_line(q: &Quote) -> String {
    format!(
        "{}  {}  {}  {}",
        time(q.at_ms),
        q.symbol,
        money(q.close),
        change(q)
    )
}

fn quote_json(push: &QuotePush, q: &Quote) -> Value {
    json!({"type": "quote", "sequence": push.sequence, "tick": push.tick,
           "symbol": q.symbol, "price": money(q.close), "open": money(q.open),
           "high": money(q.high), "low": money(q.low), "volume": q.volume,
           "at": rfc3339(q.at_ms), "stale": q.stale})
}

fn event_line(e: &AccountEvent) -> String {
    let order = e
        .order_id
        .map_or_else(|| "trade".to_owned(), |id| format!("order #{id}"));
    let fill = e.fill.as_ref().map_or_else(String::new, |f| {
        format!(
            ": {} at {}, commission {}",
            f.quantity,
            money(f.price),
            money(f.commission)
        )
    });
    let cash = e
        .cash_after
        .map_or_else(String::new, |c| format!(", cash {}", money(c)));
    format!(
        "{}  {} {} {} {} {}{}{}",
        time(e.at_ms),
        order,
        e.kind.name(),
        e.side.name(),
        e.quantity,
        e.symbol,
        fill,
        cash
    )
}

fn event_json(push: &AccountPush) -> Value {
    let e = &push.event;
    json!({"type": "account", "sequence": push.sequence, "event": e.kind.name(),
           "order_id": e.order_id, "side": e.side.name(), "symbol": e.symbol,
           "quantity": e.quantity, "filled_quantity": e.filled_quantity,
           "fill": e.fill.as_ref().map(|f| json!({"transaction_id": f.transaction_id,
               "quantity": f.quantity, "price": money(f.price), "commission": money(f.commission)})),
           "cash_after": e.cash_after.map(money), "reason": e.reason,
           "at": rfc3339(e.at_ms), "replayed": e.replayed})
}
