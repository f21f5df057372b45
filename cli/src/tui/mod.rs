//! `papertrader tui`: a terminal UI with live prices, a chart, the portfolio, order entry,
//! open orders and a feed of fills.
//!
//! [`app`] holds the state and turns keys into [`Action`]s, [`ui`] draws it, and this module
//! is the driver: it owns the terminal, the [`Client`] and the [`LiveStream`], waits for keys
//! and pushes on one current-thread runtime, and carries the actions out.

pub mod app;
pub mod form;
pub mod terminal;
#[cfg(test)]
mod testdata;
pub mod ui;
pub mod watch;

use std::cell::Cell;
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::rc::Rc;
use std::time::Duration;

use clap::Args;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use papertrader_client::{Client, ClientError, LiveStream, Push};
use papertrader_protocol::data::Listing;
use papertrader_protocol::stream::MAX_SUBSCRIBED_SYMBOLS;
use papertrader_protocol::ReasonCode;
use tokio::time::Instant;

use self::app::{Action, App};
use self::terminal::{Screen, Term};
use crate::commands::common::{logged_in, session_ended, stored_session, symbol, SessionArgs};
use crate::failed::Failed;

/// The subscription id of the watchlist's quotes.
const QUOTES: u64 = 1;
/// The subscription id of the account's events.
const ACCOUNT: u64 = 2;
/// The first pause before the live stream is tried again; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest pause between tries of the live stream.
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How often a history transfer's progress is drawn.
const PROGRESS_REDRAW: Duration = Duration::from_millis(100);

/// `tui`.
#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Symbols to watch, comma-separated (e.g. AAPL,MSFT) [default: every traded asset, up
    /// to 64].
    #[arg(long, value_delimiter = ',')]
    symbols: Vec<String>,
    #[command(flatten)]
    session: SessionArgs,
}

/// Runs the TUI until `q` or Ctrl-C.
pub async fn run(args: TuiArgs) -> Result<(), Failed> {
    if !std::io::stdout().is_terminal() {
        return Err(Failed::usage(
            "`papertrader tui` draws on a terminal: standard output is not one",
        ));
    }
    let (mut client, stored) = logged_in(&args.session).await?;
    let info = client.server_info().await?;
    let mut watched = watchlist(&args.symbols, &info.assets)?;
    let dropped = watched.len().saturating_sub(MAX_SUBSCRIBED_SYMBOLS);
    watched.truncate(MAX_SUBSCRIBED_SYMBOLS);
    let mut app = App::new(stored.username.clone(), watched);
    if dropped > 0 {
        app.set_status(format!(
            "watching the first {MAX_SUBSCRIBED_SYMBOLS} symbols ({dropped} more: use --symbols)"
        ));
    }
    let mut screen =
        Screen::enter().map_err(|e| Failed::refused(format!("preparing the terminal: {e}")))?;
    let mut driver = Driver {
        client: &mut client,
        username: stored.username,
        session_id: stored.session_id,
        session: args.session,
        live: Live::new(),
        events: EventStream::new(),
        queue: VecDeque::new(),
    };
    let result = driver.run(&mut screen.terminal, &mut app).await;
    drop(screen);
    result
}

/// The watchlist: the symbols typed (`--symbols`), or every traded asset when none was.
/// Symbols all empty (`--symbols ,`) are bad usage (exit 2); one not traded is refused as the
/// server refuses it to `papertrader watch` (exit 1).
fn watchlist(typed: &[String], assets: &[Listing]) -> Result<Vec<(String, String)>, Failed> {
    if typed.is_empty() {
        return Ok(assets
            .iter()
            .map(|l| (l.symbol.clone(), l.name.clone()))
            .collect());
    }
    let mut chosen: Vec<(String, String)> = Vec::new();
    for typed in typed.iter().map(|s| symbol(s)).filter(|s| !s.is_empty()) {
        let listing = assets.iter().find(|l| l.symbol == typed).ok_or_else(|| {
            Failed::refused(format!(
                "{typed} is not traded here (`papertrader assets` lists them)"
            ))
        })?;
        if !chosen.iter().any(|(s, _)| *s == typed) {
            chosen.push((typed, listing.name.clone()));
        }
    }
    if chosen.is_empty() {
        return Err(Failed::usage(
            "--symbols: no symbols given (e.g. --symbols AAPL,MSFT; leave it out to watch \
             every asset)",
        ));
    }
    Ok(chosen)
}

/// The live stream and when to try it again after it failed.
struct Live {
    /// The stream, once opened.
    stream: Option<LiveStream>,
    /// When it is down: when to try again (`None`: not again, e.g. the session ended).
    retry_at: Option<Instant>,
    /// Whether pushes can be read from `stream`.
    up: bool,
    /// The next pause after a failed try.
    delay: Duration,
    /// Subscriptions the server ended, to subscribe again once the stream is back.
    ended: Vec<u64>,
    /// The transaction id of the last fill seen, so a new subscription asks for the fills
    /// made since (PROTOCOL.md §12.7).
    last_fill: Option<u64>,
    /// Whether a stream was up once: after that, a new account subscription asks for the
    /// fills it missed instead of starting from now.
    opened: bool,
    /// A stream was up before, though `opened` was reset (see [`Driver::reconnect`]).
    reopened: bool,
}

impl Live {
    fn new() -> Self {
        Self {
            stream: None,
            retry_at: Some(Instant::now()),
            up: false,
            delay: FIRST_RETRY,
            ended: Vec::new(),
            last_fill: None,
            opened: false,
            reopened: false,
        }
    }

    /// Drops the stream (its session ended) and tries no more.
    fn stop(&mut self) {
        self.stream = None;
        self.up = false;
        self.retry_at = None;
        self.ended.clear();
    }

    /// Opens a new stream now (after a new session replaced the one that ended).
    fn restart(&mut self) {
        self.stop();
        self.retry_at = Some(Instant::now());
        self.delay = FIRST_RETRY;
    }

    /// Where a new account subscription starts: after the last fill seen (or the first
    /// stream's resume point) once a stream was up, from now the first time.
    fn since(&self) -> Option<u64> {
        self.opened.then_some(self.last_fill).flatten()
    }

    /// Marks the stream down; it is tried again after the current pause, which doubles.
    fn failed(&mut self) -> Duration {
        let delay = self.delay;
        self.up = false;
        self.retry_at = Some(Instant::now() + delay);
        self.delay = (delay * 2).min(MAX_RETRY);
        delay
    }

    /// The next push, when the stream is up; never resolves otherwise.
    async fn next(&mut self) -> Result<Option<Push>, ClientError> {
        match (&mut self.stream, self.up) {
            (Some(stream), true) => stream.next(Duration::from_secs(1)).await,
            _ => std::future::pending().await,
        }
    }

    /// When to try the stream again, if it is down and to be tried.
    fn retry_due(&self) -> Option<Instant> {
        self.retry_at.filter(|_| !self.up)
    }
}

/// What the loop waits for.
enum Woken {
    Terminal(Option<std::io::Result<Event>>),
    Push(Result<Option<Push>, ClientError>),
    Retry,
}

/// Owns the connections and carries out the actions.
struct Driver<'c> {
    client: &'c mut Client,
    username: String,
    /// The session in use (to tell a new one in the session file from the one that ended).
    session_id: String,
    /// Where the session file and the servers are.
    session: SessionArgs,
    live: Live,
    events: EventStream,
    queue: VecDeque<Action>,
}

impl Driver<'_> {
    async fn run(&mut self, terminal: &mut Term, app: &mut App) -> Result<(), Failed> {
        for action in app.start() {
            self.enqueue(action);
        }
        loop {
            while let Some(action) = self.queue.pop_front() {
                draw(terminal, app)?;
                if !self.execute(action, terminal, app).await? {
                    return Ok(());
                }
            }
            draw(terminal, app)?;
            let retry = self.live.retry_due();
            let woken = tokio::select! {
                event = self.events.next() => Woken::Terminal(event),
                push = self.live.next() => Woken::Push(push),
                () = at(retry) => Woken::Retry,
            };
            match woken {
                // A resize needs nothing but the redraw at the top of the loop.
                Woken::Terminal(Some(Ok(Event::Key(key)))) => {
                    if let Some(action) = app.on_key(key) {
                        self.enqueue(action);
                    }
                }
                Woken::Terminal(Some(Ok(_))) => {}
                Woken::Terminal(Some(Err(e))) => {
                    return Err(Failed::refused(format!("reading the terminal: {e}")))
                }
                Woken::Terminal(None) => return Ok(()),
                Woken::Push(Ok(Some(push))) => self.on_push(push, app),
                Woken::Push(Ok(None)) => {}
                Woken::Push(Err(e)) => {
                    let failed = Failed::from(e);
                    if session_ended(&failed) {
                        self.session_over(app);
                    } else {
                        let delay = self.live.failed();
                        app.set_prices_stopped(true);
                        app.set_status(format!(
                            "live stream lost ({}); reconnecting in {}s",
                            explain_failed(&failed),
                            delay.as_secs()
                        ));
                    }
                }
                Woken::Retry => self.reconnect(app).await,
            }
        }
    }

    /// Queues `action`, once: a refresh already waiting is not asked for twice.
    fn enqueue(&mut self, action: Action) {
        match action {
            Action::Refresh => {
                self.enqueue(Action::RefreshPortfolio);
                self.enqueue(Action::RefreshOrders);
            }
            Action::RefreshPortfolio | Action::RefreshOrders if self.queue.contains(&action) => {}
            action => self.queue.push_back(action),
        }
    }

    fn on_push(&mut self, push: Push, app: &mut App) {
        match push {
            Push::Quotes(quotes) => app.on_quotes(&quotes),
            Push::Account(account) => {
                if let Some(fill) = &account.event.fill {
                    self.live.last_fill =
                        Some(self.live.last_fill.unwrap_or(0).max(fill.transaction_id));
                }
                for action in app.on_account_event(&account.event) {
                    self.enqueue(action);
                }
            }
            Push::Ended(ended) => {
                let which = if ended.subscription_id == QUOTES {
                    "prices"
                } else {
                    "account events"
                };
                if matches!(
                    ended.reason,
                    ReasonCode::SessionInvalid | ReasonCode::SessionExpired
                ) {
                    self.session_over(app);
                } else {
                    // The stream is reconnected after a pause, and the ended subscription
                    // renewed (the account's from the last fill seen).
                    if !self.live.ended.contains(&ended.subscription_id) {
                        self.live.ended.push(ended.subscription_id);
                    }
                    let delay = self.live.failed();
                    app.set_prices_stopped(true);
                    app.set_status(format!(
                        "live {which} stopped ({}); reconnecting in {}s",
                        ended.message,
                        delay.as_secs()
                    ));
                }
            }
        }
    }

    /// The session ended: the stream stops and the status says how to go on (`L`).
    fn session_over(&mut self, app: &mut App) {
        self.live.stop();
        app.end_session();
    }

    /// Shows why a request failed; a session that ended gets the way back instead.
    fn request_failed(&mut self, app: &mut App, what: &str, e: ClientError) {
        let unreachable = e.is_unreachable();
        let failed = Failed::from(e);
        if session_ended(&failed) {
            self.session_over(app);
        } else if unreachable {
            // Nothing answered: the next request reconnects by itself.
            app.set_status(format!(
                "{what}: the server cannot be reached right now ({}); try again in a moment",
                failed.message()
            ));
        } else {
            app.set_status(format!("{what}: {}", explain_failed(&failed)));
        }
    }

    /// Tries the live stream again: reconnects the one there is (which subscribes again by
    /// itself, the account from the last fill it saw), or opens and subscribes a new one.
    /// Once it is back, the portfolio and the orders are fetched again for the fills made
    /// meanwhile.
    async fn reconnect(&mut self, app: &mut App) {
        let symbols = app.symbols();
        let since = self.live.since();
        let result = match &mut self.live.stream {
            // The stream subscribes again by itself, the account from the last fill it saw.
            Some(stream) => stream.reconnect().await,
            None => open_live(self.client, &symbols, since)
                .await
                .map(|(stream, resume_from)| {
                    self.live.last_fill = Some(self.live.last_fill.unwrap_or(resume_from));
                    self.live.stream = Some(stream);
                }),
        };
        match result {
            Ok(()) => {
                let again = self.live.opened || std::mem::take(&mut self.live.reopened);
                self.live.opened = true;
                self.live.up = true;
                self.live.retry_at = None;
                self.live.delay = FIRST_RETRY;
                self.live.ended.clear();
                app.set_prices_stopped(false);
                if again {
                    app.set_status("live prices and fills are back");
                    self.enqueue(Action::Refresh);
                }
            }
            Err(e) => {
                let failed = Failed::from(e);
                if session_ended(&failed) {
                    self.session_over(app);
                    return;
                }
                // A new stream that saw no fill asks for every fill (0), which the server
                // refuses past its replay limit: then it starts from now, and the refresh
                // once it is up brings the portfolio and orders up to date.
                if self.live.stream.is_none()
                    && since == Some(0)
                    && failed.reason() == Some(ReasonCode::InvalidArgument)
                {
                    self.live.opened = false;
                    self.live.reopened = true;
                }
                // The stream (if any) is kept: the next try reconnects it, so it still
                // asks for the fills made meanwhile.
                let delay = self.live.failed();
                app.set_prices_stopped(true);
                app.set_status(format!(
                    "no live prices ({}); trying again in {}s",
                    explain_failed(&failed),
                    delay.as_secs()
                ));
            }
        }
    }

    /// Reads the session file again: a new session there (`papertrader login` in another
    /// shell) replaces the one that ended, and the stream is opened with it.
    async fn relogin(&mut self, app: &mut App) {
        let stored = match stored_session(&self.session) {
            Ok(stored) => stored,
            // Not logged in yet (no session file): still the same advice.
            Err(_) => return self.session_over(app),
        };
        if stored.session_id == self.session_id {
            app.set_status(format!(
                "the saved session is still the one that ended: run `papertrader login {}` in \
                 another shell first, then press L (q quits)",
                stored.username
            ));
            return;
        }
        match logged_in(&self.session).await {
            Ok((client, stored)) => {
                *self.client = client;
                self.session_id = stored.session_id;
                self.username = stored.username;
                self.live.restart();
                for action in app.session_resumed(self.username.clone()) {
                    self.enqueue(action);
                }
            }
            Err(failed) if session_ended(&failed) => self.session_over(app),
            Err(failed) => app.set_status(failed.message().to_owned()),
        }
    }

    /// Carries out `action`; false to quit.
    async fn execute(
        &mut self,
        action: Action,
        terminal: &mut Term,
        app: &mut App,
    ) -> Result<bool, Failed> {
        match action {
            Action::Quit => return Ok(false),
            Action::PlaceOrder(spec) => match self.client.place_order(spec.clone()).await {
                Ok(accepted) => {
                    app.order_placed(accepted.order_id, accepted.status, &spec);
                    self.enqueue(Action::Refresh);
                }
                Err(e) => self.request_failed(app, "order", e),
            },
            Action::Cancel(id) => match self.client.cancel_order(id).await {
                Ok(c) => {
                    app.set_status(format!(
                        "order #{} cancelled ({} had filled)",
                        c.order_id, c.filled_quantity
                    ));
                    self.enqueue(Action::Refresh);
                }
                Err(e) => self.request_failed(app, "cancel refused", e),
            },
            Action::LoadHistory { symbol, range } => {
                return self.load_history(terminal, app, symbol, range).await;
            }
            Action::RefreshPortfolio => match self.client.portfolio(&self.username).await {
                Ok(portfolio) => app.set_portfolio(portfolio),
                Err(e) => self.request_failed(app, "portfolio", e),
            },
            Action::RefreshOrders => match self.client.orders(false).await {
                Ok(list) => app.set_orders(list.orders),
                Err(e) => self.request_failed(app, "orders", e),
            },
            Action::Relogin => self.relogin(app).await,
            Action::Refresh => {
                self.enqueue(Action::Refresh);
            }
        }
        Ok(true)
    }

    /// Loads a history, drawing its progress and taking keys meanwhile (keys that need the
    /// client wait in the queue); false to quit.
    async fn load_history(
        &mut self,
        terminal: &mut Term,
        app: &mut App,
        symbol: String,
        range: papertrader_client::HistoryRange,
    ) -> Result<bool, Failed> {
        let progress = Rc::new(Cell::new((0u32, 0u32)));
        let mut report = {
            let progress = Rc::clone(&progress);
            move |received: u32, max: u32| progress.set((received, max))
        };
        let now = chrono::Utc::now().timestamp_millis();
        let result = {
            let transfer = self.client.history(&symbol, range, now, &mut report);
            tokio::pin!(transfer);
            let mut redraw = tokio::time::interval(PROGRESS_REDRAW);
            loop {
                tokio::select! {
                    result = &mut transfer => break result,
                    _ = redraw.tick() => {
                        let (received, max) = progress.get();
                        app.set_progress(received, max);
                        draw(terminal, app)?;
                    }
                    event = self.events.next() => match event {
                        Some(Ok(Event::Key(key))) => match app.on_key(key) {
                            Some(Action::Quit) => return Ok(false),
                            Some(action) => self.queue.push_back(action),
                            None => {}
                        },
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            return Err(Failed::refused(format!("reading the terminal: {e}")))
                        }
                        None => return Ok(false),
                    },
                }
            }
        };
        match result {
            Ok(history) => app.set_history(&symbol, range, history),
            Err(e) => {
                app.history_failed(format!("history of {symbol} ({})", range.name()));
                let what = app.status().to_owned();
                self.request_failed(app, &what, e);
            }
        }
        Ok(true)
    }
}

/// Resolves at `instant`; never without one.
async fn at(instant: Option<Instant>) {
    match instant {
        Some(instant) => tokio::time::sleep_until(instant).await,
        None => std::future::pending().await,
    }
}

/// Opens a live stream and subscribes the watchlist's quotes and the account's events
/// (after the fill `since`; none: from now, the first time only).
async fn open_live(
    client: &Client,
    symbols: &[String],
    since: Option<u64>,
) -> Result<(LiveStream, u64), ClientError> {
    let mut stream = client.open_stream().await?;
    if !symbols.is_empty() {
        stream.subscribe_quotes(QUOTES, symbols).await?;
    }
    let resume_from = stream.subscribe_account(ACCOUNT, since).await?;
    Ok((stream, resume_from))
}

fn draw(terminal: &mut Term, app: &App) -> Result<(), Failed> {
    terminal
        .draw(|frame| ui::render(app, frame))
        .map(|_| ())
        .map_err(|e| Failed::refused(format!("drawing: {e}")))
}

/// A failure for the status line: the message and the reason code, if any.
fn explain_failed(failed: &Failed) -> String {
    match failed.reason() {
        Some(reason) => format!("{} [{}]", failed.message(), reason.name()),
        None => failed.message().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assets() -> Vec<Listing> {
        ["AAPL", "MSFT"]
            .map(|symbol| Listing {
                symbol: symbol.into(),
                name: format!("{symbol} Inc."),
            })
            .to_vec()
    }

    #[test]
    fn the_watchlist_is_the_symbols_typed_or_every_asset() {
        let typed = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(watchlist(&[], &assets()).unwrap().len(), 2);
        assert_eq!(
            watchlist(&typed(&["msft", "", " MSFT "]), &assets()).unwrap(),
            vec![("MSFT".to_owned(), "MSFT Inc.".to_owned())]
        );
        let empty = watchlist(&typed(&["", ""]), &assets()).unwrap_err();
        assert_eq!(empty.code, 2);
        assert!(
            empty.message().contains("no symbols given"),
            "{}",
            empty.message()
        );
        let nope = watchlist(&typed(&["AAPL", "nope"]), &assets()).unwrap_err();
        assert_eq!(nope.code, 1, "as `papertrader watch NOPE`");
        assert!(nope.message().starts_with("NOPE is not traded here"));
    }
}
