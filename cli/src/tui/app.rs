//! The TUI's state and what keys and pushes do to it. No I/O: keys become [`Action`]s that
//! the driver (`tui/mod.rs`) carries out with the client, and the driver feeds the results
//! back through the `set_…` methods.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use papertrader_client::{HistoryRange, OrderSpec};
use papertrader_protocol::data::{History, OrderRecord, OrderStatus, Portfolio, Side};
use papertrader_protocol::stream::{AccountEvent, AccountEventKind};
use papertrader_protocol::{Money, QuotePush};

use super::form::{describe, describe_lower, terms, OrderForm};
use super::watch::WatchRow;
use crate::commands::orders::reason_name;
use crate::output::money;

/// Account events kept for the feed, newest first.
pub const MAX_EVENTS: usize = 100;

/// Something for the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Place this order (`Client::place_order`).
    PlaceOrder(OrderSpec),
    /// Cancel the open order with this id (`Client::cancel_order`).
    Cancel(u64),
    /// Load a price history for the chart (`Client::history`), reporting progress through
    /// [`App::set_progress`] and the result through [`App::set_history`].
    LoadHistory {
        /// Asset symbol.
        symbol: String,
        /// Day, week, month, year or all.
        range: HistoryRange,
    },
    /// Fetch the portfolio again ([`App::set_portfolio`]).
    RefreshPortfolio,
    /// Fetch the open orders again ([`App::set_orders`]).
    RefreshOrders,
    /// Fetch both the portfolio and the open orders again (the `r` key).
    Refresh,
    /// The session ended: read the session file again and, if it holds a new session (a
    /// `papertrader login` in another shell), go on with it (the `L` key, or `r`).
    Relogin,
    /// Leave the TUI.
    Quit,
}

/// Which list the arrow keys move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The watchlist (its selection is the chart's symbol).
    Watchlist,
    /// The open orders (its selection is what `c` cancels).
    Orders,
}

/// What the keys are for right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Browsing.
    Normal,
    /// The keyboard help is shown; any key closes it.
    Help,
    /// An order is being typed.
    Form(OrderForm),
    /// An order waits for `y` or `n`.
    ConfirmOrder(OrderSpec),
    /// Cancelling the order with this id waits for `y` or `n`.
    ConfirmCancel(u64),
}

/// A history transfer in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loading {
    /// Asset symbol.
    pub symbol: String,
    /// The range asked for.
    pub range: HistoryRange,
    /// Packets received so far.
    pub received: u32,
    /// Packets the transfer has (0 until the first arrives).
    pub max: u32,
}

/// Everything the TUI shows.
#[derive(Debug, Clone)]
pub struct App {
    /// Whose account it is.
    pub(super) username: String,
    /// The watched symbols, in display order.
    pub(super) watchlist: Vec<WatchRow>,
    /// The watchlist's selection.
    pub(super) selected: usize,
    /// Where the arrow keys go.
    pub(super) focus: Focus,
    /// The chart's range.
    pub(super) range: HistoryRange,
    /// The chart's data: the history of the selected symbol in `range`.
    pub(super) history: Option<History>,
    /// A history transfer in flight.
    pub(super) loading: Option<Loading>,
    /// The latest portfolio.
    pub(super) portfolio: Option<Portfolio>,
    /// The open orders, newest first.
    pub(super) orders: Vec<OrderRecord>,
    /// The open orders' selection.
    pub(super) order_selected: usize,
    /// Account events, newest first.
    pub(super) events: VecDeque<AccountEvent>,
    /// What keys do.
    pub(super) mode: Mode,
    /// The status line: the last result, error or connection news.
    pub(super) status: String,
    /// No live prices come (the stream is down or the session ended): the prices shown are
    /// the last ones seen.
    pub(super) prices_stopped: bool,
    /// The session ended: nothing works until `L` finds a new one in the session file.
    pub(super) session_ended: bool,
    /// The order last placed, while the status line is about it: its events update it.
    pub(super) placed: Option<u64>,
}

impl App {
    /// A TUI for `username` watching `symbols` (symbol, name), the first selected, the week
    /// shown.
    pub fn new(username: impl Into<String>, symbols: Vec<(String, String)>) -> Self {
        Self {
            username: username.into(),
            watchlist: symbols
                .into_iter()
                .map(|(symbol, name)| WatchRow::new(symbol, name))
                .collect(),
            selected: 0,
            focus: Focus::Watchlist,
            range: HistoryRange::Week,
            history: None,
            loading: None,
            portfolio: None,
            orders: Vec::new(),
            order_selected: 0,
            events: VecDeque::new(),
            mode: Mode::Normal,
            status: "? for help, q to quit".to_owned(),
            prices_stopped: false,
            session_ended: false,
            placed: None,
        }
    }

    /// Whether the session ended (see [`App::end_session`]).
    pub fn session_ended(&self) -> bool {
        self.session_ended
    }

    /// Marks the prices stopped (the live stream is down) or flowing again.
    pub fn set_prices_stopped(&mut self, stopped: bool) {
        self.prices_stopped = stopped;
    }

    /// The session ended (revoked, expired or logged out): the prices stop, and the status
    /// says how to go on.
    pub fn end_session(&mut self) {
        self.session_ended = true;
        self.prices_stopped = true;
        self.status = format!(
            "your session ended: run `papertrader login {}` in another shell, then press L \
             (q quits)",
            self.username
        );
    }

    /// A new session from the session file replaces the one that ended: what to fetch again.
    pub fn session_resumed(&mut self, username: impl Into<String>) -> Vec<Action> {
        self.username = username.into();
        self.session_ended = false;
        self.status = format!("logged in again as {}", self.username);
        let mut actions = vec![Action::RefreshPortfolio, Action::RefreshOrders];
        if self.history.is_none() {
            actions.extend(self.load_history());
        }
        actions
    }

    /// The watched symbols, in order (what the quote subscription asks for).
    pub fn symbols(&self) -> Vec<String> {
        self.watchlist.iter().map(|r| r.symbol.clone()).collect()
    }

    /// The watchlist's selected symbol.
    pub fn selected_symbol(&self) -> Option<&str> {
        self.watchlist.get(self.selected).map(|r| r.symbol.as_str())
    }

    /// What to do first: fetch the portfolio and orders and load the chart.
    pub fn start(&mut self) -> Vec<Action> {
        let mut actions = vec![Action::RefreshPortfolio, Action::RefreshOrders];
        actions.extend(self.load_history());
        actions
    }

    /// The status line's text.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// Replaces the status line.
    pub fn set_status(&mut self, text: impl Into<String>) {
        self.status = text.into();
        self.placed = None;
    }

    /// The server took the order `spec` as `order_id`, now `status`: the status line says
    /// so, and follows the order's events until something else is said.
    pub fn order_placed(&mut self, order_id: u64, status: OrderStatus, spec: &OrderSpec) {
        let word = match status {
            OrderStatus::New => "accepted",
            other => other.name(),
        };
        self.set_status(format!(
            "order #{order_id} {word}: {}",
            describe_lower(spec)
        ));
        self.placed = Some(order_id);
    }

    /// The status line for an event of the order placed last: `order #2 filled: 2 AAPL at
    /// 182.86`.
    fn follow_order(&mut self, event: &AccountEvent) {
        let Some(id) = self.placed.filter(|id| event.order_id == Some(*id)) else {
            return;
        };
        let price = event
            .fill
            .as_ref()
            .map(|f| format!(" at {}", money(f.price)))
            .unwrap_or_default();
        let status = match event.kind {
            AccountEventKind::Accepted => return,
            AccountEventKind::Filled => format!(
                "order #{id} filled: {} {}{price}",
                event.filled_quantity, event.symbol
            ),
            AccountEventKind::PartiallyFilled => format!(
                "order #{id} partly filled: {} of {} {}{price}",
                event.filled_quantity, event.quantity, event.symbol
            ),
            kind => {
                let why = reason_name(event.reason)
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                format!("order #{id} {}{why}", kind.name())
            }
        };
        self.status = status;
    }

    /// Takes a quote push: each quote of a watched symbol becomes its latest price, and the
    /// portfolio's holdings of it are valued at that price (see [`revalue`]).
    pub fn on_quotes(&mut self, push: &QuotePush) {
        for quote in &push.quotes {
            if let Some(row) = self.watchlist.iter_mut().find(|r| r.symbol == quote.symbol) {
                row.push(quote);
            }
            if let Some(portfolio) = &mut self.portfolio {
                revalue(portfolio, &quote.symbol, quote.close);
            }
        }
    }

    /// Takes an account event: it goes to the top of the feed, and the portfolio and the
    /// open orders are fetched again (a fill changes cash and holdings; any event changes the
    /// open orders and the cash they hold back).
    pub fn on_account_event(&mut self, event: &AccountEvent) -> Vec<Action> {
        if self.events.len() == MAX_EVENTS {
            self.events.pop_back();
        }
        self.events.push_front(event.clone());
        self.follow_order(event);
        vec![Action::RefreshPortfolio, Action::RefreshOrders]
    }

    /// The latest portfolio.
    pub fn set_portfolio(&mut self, portfolio: Portfolio) {
        self.portfolio = Some(portfolio);
    }

    /// The latest orders; only the open ones are kept.
    pub fn set_orders(&mut self, orders: Vec<OrderRecord>) {
        self.orders = orders.into_iter().filter(|o| o.status.is_open()).collect();
        self.order_selected = self.order_selected.min(self.orders.len().saturating_sub(1));
    }

    /// A loaded history: shown when it is still the selected symbol's in the chart's range
    /// (a late answer to an earlier choice is dropped).
    pub fn set_history(&mut self, symbol: &str, range: HistoryRange, history: History) {
        if self
            .loading
            .as_ref()
            .is_some_and(|l| l.symbol == symbol && l.range == range)
        {
            self.loading = None;
        }
        if self.selected_symbol() == Some(symbol) && self.range == range {
            self.history = Some(history);
        }
    }

    /// Progress of the history transfer in flight: `received` of `max` packets.
    pub fn set_progress(&mut self, received: u32, max: u32) {
        if let Some(loading) = &mut self.loading {
            loading.received = received;
            loading.max = max;
        }
    }

    /// The history transfer failed: it is no longer in flight, and the status says why.
    pub fn history_failed(&mut self, message: impl Into<String>) {
        self.loading = None;
        self.status = message.into();
    }

    /// Handles a key; the action, if any, is for the driver.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Action::Quit);
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.normal_key(key),
            Mode::Help => None,
            Mode::Form(form) => self.form_key(form, key),
            Mode::ConfirmOrder(spec) => match key.code {
                KeyCode::Char('y' | 'Y') => {
                    self.status = format!("placing: {}…", describe(&spec));
                    Some(Action::PlaceOrder(spec))
                }
                KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                    self.status = "order not placed".to_owned();
                    None
                }
                _ => {
                    self.mode = Mode::ConfirmOrder(spec);
                    None
                }
            },
            Mode::ConfirmCancel(id) => match key.code {
                KeyCode::Char('y' | 'Y') => {
                    self.status = format!("cancelling order #{id}…");
                    Some(Action::Cancel(id))
                }
                KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                    self.status = format!("order #{id} left open");
                    None
                }
                _ => {
                    self.mode = Mode::ConfirmCancel(id);
                    None
                }
            },
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Char('q') => Some(Action::Quit),
            KeyCode::Char('?') => {
                self.mode = Mode::Help;
                None
            }
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = match self.focus {
                    Focus::Watchlist => Focus::Orders,
                    Focus::Orders => Focus::Watchlist,
                };
                None
            }
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(false),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(true),
            KeyCode::Char(c @ ('d' | 'w' | 'm' | 'y' | 'a')) => {
                self.range = match c {
                    'd' => HistoryRange::Day,
                    'w' => HistoryRange::Week,
                    'm' => HistoryRange::Month,
                    'y' => HistoryRange::Year,
                    _ => HistoryRange::AllTime,
                };
                self.history = None;
                self.load_history()
            }
            KeyCode::Char(c @ ('b' | 's')) => {
                let side = if c == 'b' { Side::Buy } else { Side::Sell };
                match self.selected_symbol() {
                    Some(symbol) => self.mode = Mode::Form(OrderForm::new(side, symbol)),
                    None => self.status = "no symbol to trade: the watchlist is empty".into(),
                }
                None
            }
            KeyCode::Char('c') => {
                match (self.focus, self.orders.get(self.order_selected)) {
                    (Focus::Orders, Some(order)) => self.mode = Mode::ConfirmCancel(order.order_id),
                    (Focus::Orders, None) => self.status = "no open order to cancel".into(),
                    (Focus::Watchlist, _) => {
                        self.status = "Tab to the open orders, pick one, then c".into()
                    }
                }
                None
            }
            KeyCode::Char('r' | 'L') if self.session_ended => Some(Action::Relogin),
            KeyCode::Char('L') => {
                self.status = "the session is still live: nothing to log in again".into();
                None
            }
            KeyCode::Char('r') => Some(Action::Refresh),
            _ => None,
        }
    }

    fn form_key(&mut self, mut form: OrderForm, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Esc => {
                self.status = "order form closed".to_owned();
                return None;
            }
            KeyCode::Enter => match form.spec() {
                Ok(spec) => {
                    self.mode = Mode::ConfirmOrder(spec);
                    return None;
                }
                Err(why) => form.error = Some(why),
            },
            KeyCode::Tab | KeyCode::Down => form.move_field(true),
            KeyCode::BackTab | KeyCode::Up => form.move_field(false),
            KeyCode::Left => form.cycle_time_in_force(false),
            KeyCode::Right => form.cycle_time_in_force(true),
            KeyCode::Backspace => form.backspace(),
            KeyCode::Char(c) => form.type_char(c),
            _ => {}
        }
        self.mode = Mode::Form(form);
        None
    }

    /// Moves the focused list's selection; a new watchlist selection loads its chart.
    fn move_selection(&mut self, down: bool) -> Option<Action> {
        let step = |at: usize, len: usize| match (down, len) {
            (_, 0) => 0,
            (true, _) => (at + 1).min(len - 1),
            (false, _) => at.saturating_sub(1),
        };
        match self.focus {
            Focus::Orders => {
                self.order_selected = step(self.order_selected, self.orders.len());
                None
            }
            Focus::Watchlist => {
                let before = self.selected;
                self.selected = step(self.selected, self.watchlist.len());
                if self.selected == before {
                    return None;
                }
                self.history = None;
                self.load_history()
            }
        }
    }

    /// Asks for the selected symbol's history in the chart's range, marking it in flight.
    fn load_history(&mut self) -> Option<Action> {
        let symbol = self.selected_symbol()?.to_owned();
        self.loading = Some(Loading {
            symbol: symbol.clone(),
            range: self.range,
            received: 0,
            max: 0,
        });
        Some(Action::LoadHistory {
            symbol,
            range: self.range,
        })
    }

    /// The confirmation line of the order or cancel waiting for `y`/`n`, if any.
    pub fn confirmation(&self) -> Option<String> {
        match &self.mode {
            Mode::ConfirmOrder(spec) => {
                let price = self
                    .watchlist
                    .iter()
                    .find(|r| r.symbol == spec.symbol)
                    .and_then(|r| r.quote.as_ref())
                    .map(|q| q.close);
                Some(format!(
                    "{}{} — confirm? y/n",
                    describe(spec),
                    estimate(spec, price)
                ))
            }
            Mode::ConfirmCancel(id) => {
                let what = self
                    .orders
                    .iter()
                    .find(|o| o.order_id == *id)
                    .map(|o| {
                        format!(
                            " ({} {} {} {})",
                            o.side.name(),
                            o.quantity.saturating_sub(o.filled_quantity),
                            o.symbol,
                            terms(o.limit_price, o.stop_price)
                        )
                    })
                    .unwrap_or_default();
                Some(format!("Cancel order #{id}{what} — confirm? y/n"))
            }
            _ => None,
        }
    }
}

/// What an order comes to at the latest `price`, for its confirmation: ` · ≈ 365.72 at
/// 182.86` for one at market (or a stop), ` · now 182.86, at most 380.00` for a limit buy,
/// ` · now 182.86` for a limit sell; nothing without a price or if the sum does not fit.
/// Commission not included. Exact integer money.
pub fn estimate(spec: &OrderSpec, price: Option<Money>) -> String {
    let Some(price) = price else {
        return String::new();
    };
    let times = |p: Money| {
        i128::from(p.micros())
            .checked_mul(i128::from(spec.quantity))
            .and_then(|v| i64::try_from(v).ok())
            .map(Money)
    };
    match (spec.limit_price, spec.side) {
        (None, _) => times(price)
            .map(|sum| format!(" · ≈ {} at {}", money(sum), money(price)))
            .unwrap_or_default(),
        (Some(limit), Side::Buy) => times(limit)
            .map(|most| format!(" · now {}, at most {}", money(price), money(most)))
            .unwrap_or_default(),
        (Some(_), Side::Sell) => format!(" · now {}", money(price)),
    }
}

/// Values `portfolio`'s holding of `symbol` at `price`, as the server would between two
/// fetches: the holding's price and unrealised P&L, the equity, the unrealised total and the
/// return move with it; cash, realised P&L and commissions stay the server's. Exact integer
/// money: price × quantity in i128; a result that does not fit leaves the portfolio as it was.
pub fn revalue(portfolio: &mut Portfolio, symbol: &str, price: Money) {
    let Some(holding) = portfolio.holdings.iter_mut().find(|h| h.symbol == symbol) else {
        return;
    };
    let quantity = i128::from(holding.quantity);
    let times_quantity = |a: Money, b: Money| {
        (i128::from(a.micros()) - i128::from(b.micros())).checked_mul(quantity)
    };
    let fit = |v: Option<i128>| v.and_then(|v| i64::try_from(v).ok()).map(Money);
    // Value moved: (new price − old price) × quantity.
    let moved = times_quantity(price, holding.price);
    let shift = |m: Money| fit(moved.and_then(|d| d.checked_add(i128::from(m.micros()))));
    // Units × price − cost moves by what the value moved; with only the average cost known,
    // it is (price − average cost) × quantity.
    let unrealised = match (holding.unrealised_pnl, holding.average_cost) {
        (Some(pnl), _) => shift(pnl).map(Some),
        (None, Some(cost)) => fit(times_quantity(price, cost)).map(Some),
        (None, None) => Some(None),
    };
    let summary = match &portfolio.summary {
        Some(s) => {
            let (Some(equity), Some(total)) = (shift(s.equity), shift(s.unrealised_pnl)) else {
                return;
            };
            Some((equity, total, return_ppm(equity, s.starting_cash)))
        }
        None => None,
    };
    let Some(unrealised) = unrealised else {
        return;
    };
    holding.price = price;
    holding.unrealised_pnl = unrealised;
    if let (Some(s), Some((equity, total, ppm))) = (&mut portfolio.summary, summary) {
        s.equity = equity;
        s.unrealised_pnl = total;
        s.return_ppm = ppm;
    }
}

/// The return of `equity` on `start` in millionths, rounded toward zero, as the server
/// computes it (0 when the period started with nothing).
fn return_ppm(equity: Money, start: Money) -> i64 {
    if start.micros() <= 0 {
        return 0;
    }
    let ppm = (i128::from(equity.micros()) - i128::from(start.micros())) * 1_000_000
        / i128::from(start.micros());
    ppm.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyEventState, KeyModifiers};
    use papertrader_protocol::data::{OrderKind, OrderStatus, TimeInForce};

    use super::*;
    use crate::tui::testdata::*;

    #[test]
    fn buying_goes_through_the_form_and_a_confirmation() {
        let mut app = app();
        assert_eq!(
            app.on_key(key(KeyCode::Down)),
            Some(load("MSFT", HistoryRange::Week))
        );
        assert_eq!(app.on_key(key(KeyCode::Char('b'))), None);
        assert!(matches!(app.mode, Mode::Form(_)));
        type_text(&mut app, "10");
        app.on_key(key(KeyCode::Tab));
        type_text(&mut app, "190");
        app.on_key(key(KeyCode::Tab));
        app.on_key(key(KeyCode::Tab));
        app.on_key(key(KeyCode::Right));
        assert_eq!(app.on_key(key(KeyCode::Enter)), None);
        assert_eq!(
            app.confirmation().as_deref(),
            Some("Buy 10 MSFT limit 190.00 (gtc) — confirm? y/n")
        );
        // Keys other than y and n leave the question open.
        assert_eq!(app.on_key(key(KeyCode::Char('x'))), None);
        let expected = OrderSpec {
            side: Side::Buy,
            symbol: "MSFT".into(),
            quantity: 10,
            kind: OrderKind::Limit,
            limit_price: Some(m(190, 0)),
            stop_price: None,
            time_in_force: TimeInForce::GoodTillCancelled,
        };
        assert_eq!(
            app.on_key(key(KeyCode::Char('y'))),
            Some(Action::PlaceOrder(expected))
        );
        assert_eq!(app.mode, Mode::Normal);
        assert_eq!(app.confirmation(), None);
    }

    #[test]
    fn a_sale_can_be_declined_and_a_bad_form_explains_itself() {
        let mut app = app();
        app.on_key(key(KeyCode::Char('s')));
        assert_eq!(app.on_key(key(KeyCode::Enter)), None);
        match &app.mode {
            Mode::Form(form) => assert!(form.error.as_deref().unwrap_or("").contains("quantity")),
            other => panic!("expected the form, got {other:?}"),
        }
        type_text(&mut app, "5");
        app.on_key(key(KeyCode::Enter));
        assert_eq!(
            app.confirmation().as_deref(),
            Some("Sell 5 AAPL at market (day) — confirm? y/n")
        );
        assert_eq!(app.on_key(key(KeyCode::Char('n'))), None);
        assert_eq!(app.mode, Mode::Normal);
        assert_eq!(app.status(), "order not placed");
        app.on_key(key(KeyCode::Char('b')));
        assert_eq!(app.on_key(key(KeyCode::Esc)), None);
        assert_eq!(app.mode, Mode::Normal);
    }

    #[test]
    fn an_ended_session_says_how_to_go_on_and_l_logs_in_again() {
        let mut app = app();
        app.start();
        assert_eq!(app.on_key(key(KeyCode::Char('L'))), None, "still live");
        assert_eq!(app.on_key(key(KeyCode::Char('r'))), Some(Action::Refresh));
        app.end_session();
        assert!(app.prices_stopped && app.session_ended());
        assert_eq!(
            app.status(),
            "your session ended: run `papertrader login alice` in another shell, then press L \
             (q quits)"
        );
        assert_eq!(app.on_key(key(KeyCode::Char('L'))), Some(Action::Relogin));
        assert_eq!(app.on_key(key(KeyCode::Char('r'))), Some(Action::Relogin));
        assert_eq!(app.on_key(key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(
            app.session_resumed("bob"),
            vec![
                Action::RefreshPortfolio,
                Action::RefreshOrders,
                load("AAPL", HistoryRange::Week)
            ]
        );
        assert!(!app.session_ended());
        assert_eq!(app.status(), "logged in again as bob");
        assert_eq!(app.on_key(key(KeyCode::Char('r'))), Some(Action::Refresh));
    }

    #[test]
    fn cancelling_needs_the_orders_focus_and_a_yes() {
        let mut app = app();
        app.set_orders(vec![
            order(31, "KO", OrderStatus::New),
            order(30, "AAPL", OrderStatus::Filled),
            order(29, "MSFT", OrderStatus::PartiallyFilled),
        ]);
        assert_eq!(app.orders.len(), 2, "closed orders are not listed");
        assert_eq!(app.on_key(key(KeyCode::Char('c'))), None);
        assert_eq!(app.mode, Mode::Normal, "c in the watchlist cancels nothing");
        app.on_key(key(KeyCode::Tab));
        assert_eq!(app.on_key(key(KeyCode::Down)), None);
        assert_eq!(app.on_key(key(KeyCode::Down)), None);
        assert_eq!(app.on_key(key(KeyCode::Char('c'))), None);
        assert_eq!(
            app.confirmation().as_deref(),
            Some("Cancel order #29 (buy 7 MSFT limit 180.00) — confirm? y/n")
        );
        assert_eq!(
            app.on_key(key(KeyCode::Char('y'))),
            Some(Action::Cancel(29))
        );
        app.on_key(key(KeyCode::Char('c')));
        assert_eq!(app.on_key(key(KeyCode::Esc)), None);
        assert_eq!(app.mode, Mode::Normal);
    }

    fn load(symbol: &str, range: HistoryRange) -> Action {
        Action::LoadHistory {
            symbol: symbol.into(),
            range,
        }
    }

    #[test]
    fn range_keys_load_the_selected_symbols_history() {
        let mut app = app();
        for (c, range) in [
            ('d', HistoryRange::Day),
            ('w', HistoryRange::Week),
            ('m', HistoryRange::Month),
            ('y', HistoryRange::Year),
            ('a', HistoryRange::AllTime),
        ] {
            assert_eq!(app.on_key(key(KeyCode::Char(c))), Some(load("AAPL", range)));
            assert_eq!(app.range, range);
            assert_eq!(app.loading.as_ref().map(|l| l.range), Some(range));
        }
        assert_eq!(app.on_key(key(KeyCode::Up)), None, "already at the top");
    }

    #[test]
    fn histories_and_progress_land_only_where_they_belong() {
        let mut app = app();
        assert_eq!(
            app.start(),
            vec![
                Action::RefreshPortfolio,
                Action::RefreshOrders,
                load("AAPL", HistoryRange::Week)
            ]
        );
        app.set_progress(3, 10);
        assert_eq!(
            app.loading.as_ref().map(|l| (l.received, l.max)),
            Some((3, 10))
        );
        // A late answer for another range is dropped.
        app.set_history("AAPL", HistoryRange::Day, history("AAPL", &[m(1, 0)]));
        assert_eq!(app.history, None);
        assert!(app.loading.is_some());
        app.set_history("AAPL", HistoryRange::Week, history("AAPL", &[m(2, 0)]));
        assert!(app.history.is_some());
        assert_eq!(app.loading, None);
        app.on_key(key(KeyCode::Char('d')));
        app.history_failed("history of AAPL: gone");
        assert_eq!(
            (app.loading.as_ref(), app.status()),
            (None, "history of AAPL: gone")
        );
    }

    #[test]
    fn pushes_update_prices_and_fills_ask_for_a_refresh() {
        let mut app = app();
        app.on_quotes(&push(
            1,
            vec![
                quote("AAPL", m(200, 0), m(190, 0)),
                quote("NOPE", m(1, 0), m(2, 0)),
            ],
        ));
        assert_eq!(app.watchlist[0].change(), Some(m(-10, 0)));
        assert_eq!(app.watchlist[1].quote, None);
        let actions = app.on_account_event(&fill(10, m(190, 0)));
        assert!(actions.contains(&Action::RefreshPortfolio));
        assert!(actions.contains(&Action::RefreshOrders));
        for _ in 0..MAX_EVENTS + 5 {
            app.on_account_event(&fill(1, m(1, 0)));
        }
        assert_eq!(app.events.len(), MAX_EVENTS);
    }

    #[test]
    fn the_portfolio_follows_the_ticks_in_exact_money() {
        let mut app = app();
        app.set_portfolio(portfolio());
        // 10 AAPL from 190.00 to 190.37: +3.70 on the holding, the equity and the total.
        app.on_quotes(&push(1, vec![quote("AAPL", m(200, 0), m(190, 37))]));
        let p = app.portfolio.as_ref().unwrap();
        let h = &p.holdings[0];
        assert_eq!((h.price, h.unrealised_pnl), (m(190, 37), Some(m(52, 60))));
        let s = p.summary.as_ref().unwrap();
        assert_eq!((s.equity, s.unrealised_pnl), (m(10_002, 70), m(52, 60)));
        assert_eq!(s.return_ppm, 270, "(10002.70 − 10000) / 10000 = 0.027 %");
        assert_eq!((s.realised_pnl, s.commissions), (m(-12, -34), m(1, 0)));
        assert_eq!(p.cash, Some(m(8_099, 0)));
        // A symbol not held changes nothing; one that cannot be valued in i64 either.
        let before = app.portfolio.clone();
        app.on_quotes(&push(2, vec![quote("MSFT", m(1, 0), m(2, 0))]));
        assert_eq!(app.portfolio, before);
        let mut huge = portfolio();
        huge.holdings[0].quantity = u64::MAX;
        let kept = huge.clone();
        revalue(&mut huge, "AAPL", Money(i64::MAX));
        revalue(&mut huge, "AAPL", Money(i64::MIN));
        assert_eq!(huge, kept);
        // Only the average cost known: (price − average cost) × quantity.
        let mut p = portfolio();
        p.holdings[0].unrealised_pnl = None;
        revalue(&mut p, "AAPL", m(186, 10));
        assert_eq!(p.holdings[0].unrealised_pnl, Some(m(10, 0)));
    }

    #[test]
    fn the_confirmation_prices_the_order_at_the_latest_quote() {
        let mut app = app();
        app.on_quotes(&push(1, vec![quote("AAPL", m(180, 0), m(182, 86))]));
        app.on_key(key(KeyCode::Char('b')));
        type_text(&mut app, "2");
        app.on_key(key(KeyCode::Enter));
        assert_eq!(
            app.confirmation().as_deref(),
            Some("Buy 2 AAPL at market (day) · ≈ 365.72 at 182.86 — confirm? y/n")
        );
        let mut spec = OrderSpec {
            side: Side::Buy,
            symbol: "AAPL".into(),
            quantity: 3,
            kind: OrderKind::Limit,
            limit_price: Some(m(180, 1)),
            stop_price: None,
            time_in_force: TimeInForce::Day,
        };
        let now = Some(m(182, 86));
        assert_eq!(estimate(&spec, now), " · now 182.86, at most 540.03");
        spec.side = Side::Sell;
        assert_eq!(estimate(&spec, now), " · now 182.86");
        assert_eq!(estimate(&spec, None), "");
        spec.limit_price = None;
        spec.quantity = u64::MAX;
        assert_eq!(estimate(&spec, now), "", "too large to say");
    }

    #[test]
    fn the_status_follows_the_order_placed_last() {
        let mut app = app();
        let spec = OrderSpec {
            side: Side::Buy,
            symbol: "AAPL".into(),
            quantity: 2,
            kind: OrderKind::Market,
            limit_price: None,
            stop_price: None,
            time_in_force: TimeInForce::Day,
        };
        app.order_placed(12, OrderStatus::New, &spec);
        assert_eq!(
            app.status(),
            "order #12 accepted: buy 2 AAPL at market (day)"
        );
        let mut other = fill(2, m(182, 86));
        other.order_id = Some(9);
        app.on_account_event(&other);
        assert_eq!(
            app.status(),
            "order #12 accepted: buy 2 AAPL at market (day)"
        );
        let mut part = fill(2, m(182, 86));
        part.kind = AccountEventKind::PartiallyFilled;
        part.filled_quantity = 1;
        app.on_account_event(&part);
        assert_eq!(
            app.status(),
            "order #12 partly filled: 1 of 2 AAPL at 182.86"
        );
        app.on_account_event(&fill(2, m(182, 86)));
        assert_eq!(app.status(), "order #12 filled: 2 AAPL at 182.86");
        // Once the status says something else, the order's events leave it alone.
        app.set_status("portfolio: gone");
        app.on_account_event(&fill(2, m(182, 86)));
        assert_eq!(app.status(), "portfolio: gone");
    }

    #[test]
    fn help_quit_and_ctrl_c() {
        let mut app = app();
        app.on_key(key(KeyCode::Char('?')));
        assert_eq!(app.mode, Mode::Help);
        assert_eq!(
            app.on_key(key(KeyCode::Char('q'))),
            None,
            "q closes the help"
        );
        assert_eq!(app.mode, Mode::Normal);
        assert_eq!(app.on_key(key(KeyCode::Char('q'))), Some(Action::Quit));
        app.on_key(key(KeyCode::Char('b')));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.on_key(ctrl_c), Some(Action::Quit));
        let release = KeyEvent {
            kind: KeyEventKind::Release,
            state: KeyEventState::NONE,
            ..key(KeyCode::Char('q'))
        };
        assert_eq!(app.on_key(release), None);
        assert_eq!(
            app.on_key(key(KeyCode::Char('r'))),
            None,
            "the form takes r"
        );
    }
}
