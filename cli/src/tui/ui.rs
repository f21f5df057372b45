//! Drawing the [`App`]: [`render`] lays the panels out, one function draws each panel, and
//! the help, the order form and the confirmation line go on top.

use papertrader_protocol::data::{History, Resolution};
use papertrader_protocol::stream::{AccountEvent, AccountEventKind};
use papertrader_protocol::Money;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Clear, Dataset, GraphType, LineGauge, Paragraph, Row, Table,
    TableState,
};
use ratatui::Frame;

use super::app::{App, Focus, Mode};
use super::form::{terms, Field, OrderForm};
use crate::commands::orders::reason_name;
use crate::commands::portfolio::percent;
use crate::output::money;

/// The smallest terminal the panels are drawn in; below it only a message is.
pub const MIN_WIDTH: u16 = 60;
/// See [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 16;

const UP: Color = Color::Green;
const DOWN: Color = Color::Red;
const FOCUSED: Color = Color::Cyan;

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    let [title, top, middle, bottom, status, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(5),
        Constraint::Fill(4),
        Constraint::Fill(2),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    // The watchlist keeps room for its prices; the chart takes what is left.
    let [watch, chart] = Layout::horizontal([
        Constraint::Min(NARROW_WATCHLIST),
        Constraint::Percentage(55),
    ])
    .areas(top);
    let [portfolio, orders] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(middle);
    let events = bottom;
    frame.render_widget(
        Line::from(format!(
            " PaperTrader · {} · {} symbols · ? help · q quit",
            app.username,
            app.watchlist.len()
        ))
        .style(Style::new().add_modifier(Modifier::BOLD)),
        title,
    );
    watchlist_panel(app, frame, watch);
    chart_panel(app, frame, chart);
    portfolio_panel(app, frame, portfolio);
    orders_panel(app, frame, orders);
    events_panel(app, frame, events);
    status_line(app, frame, status);
    frame.render_widget(
        Line::from(key_hints(&app.mode)).style(Style::new().fg(Color::DarkGray)),
        keys,
    );
    match &app.mode {
        Mode::Help => help_overlay(frame, area),
        Mode::Form(form) => form_overlay(frame, area, form),
        _ => {}
    }
}

/// Only the size and the minimum, centred.
fn too_small(frame: &mut Frame, area: Rect) {
    let lines = vec![
        Line::from(format!(
            "terminal too small: {}x{}",
            area.width, area.height
        )),
        Line::from(format!("need at least {MIN_WIDTH}x{MIN_HEIGHT}")),
    ];
    let at = centred(area, area.width, 2);
    frame.render_widget(Paragraph::new(lines).centered(), at);
}

/// A `width`×`height` rectangle in the middle of `area` (smaller if `area` is).
fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// A bordered panel, its border coloured when it has the focus.
fn panel(title: &str, focused: bool) -> Block<'_> {
    let style = if focused {
        Style::new().fg(FOCUSED)
    } else {
        Style::new()
    };
    Block::bordered().title(title).border_style(style)
}

/// Green above zero, red below.
fn signed_style(m: Money) -> Style {
    match m.micros() {
        0 => Style::new(),
        x if x > 0 => Style::new().fg(UP),
        _ => Style::new().fg(DOWN),
    }
}

fn right(text: String) -> Line<'static> {
    Line::from(text).right_aligned()
}

/// The watchlist's width with its symbol, price and percent columns only.
const NARROW_WATCHLIST: u16 = 2 + 2 + 8 + 1 + 11 + 1 + 8;
/// The narrow watchlist plus its change column and a sparkline at least this wide.
const WIDE_WATCHLIST: u16 = NARROW_WATCHLIST + 1 + 10 + 1 + 6;

fn watchlist_panel(app: &App, frame: &mut Frame, area: Rect) {
    // Too narrow for every column: the change and the trend go, never a price's digits.
    let wide = area.width >= WIDE_WATCHLIST;
    let trend_width = area.width.saturating_sub(WIDE_WATCHLIST - 6);
    let rows: Vec<Row> = app
        .watchlist
        .iter()
        .map(|row| {
            let change = row.change();
            let style = change.map(signed_style).unwrap_or_default();
            let last = match &row.quote {
                Some(q) if q.stale => format!("{}*", money(q.close)),
                Some(q) => money(q.close),
                None => "…".to_owned(),
            };
            let mut cells = vec![
                Cell::from(row.symbol.clone()),
                Cell::from(right(last)),
                Cell::from(right(row.change_percent().unwrap_or_default())).style(style),
            ];
            if wide {
                cells.push(Cell::from(right(change.map(money).unwrap_or_default())).style(style));
                cells.push(Cell::from(row.sparkline(usize::from(trend_width))).style(style));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Length(8),
    ];
    let mut header = vec![
        Cell::from("SYMBOL"),
        Cell::from(right("LAST".into())),
        Cell::from(right("CHG%".into())),
    ];
    if wide {
        widths.extend([Constraint::Length(10), Constraint::Min(0)]);
        header.extend([Cell::from(right("CHANGE".into())), Cell::from("TREND")]);
    }
    // Stale prices say so in the title, not only by standing still.
    let title = if app.prices_stopped {
        " Watchlist · prices stopped "
    } else {
        " Watchlist "
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(panel(title, app.focus == Focus::Watchlist))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn chart_panel(app: &App, frame: &mut Frame, area: Rect) {
    let symbol = app.selected_symbol().unwrap_or("no symbol");
    let block = panel("", false).title(format!(" {symbol} · {} ", app.range.name()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let plot = match &app.loading {
        Some(loading) if inner.height >= 2 => {
            let [plot, gauge] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
            // A ratio for drawing the gauge, not money.
            let ratio = if loading.max == 0 {
                0.0
            } else {
                (f64::from(loading.received) / f64::from(loading.max)).clamp(0.0, 1.0)
            };
            let label = format!(
                "loading {} {}: {}/{} packets",
                loading.symbol,
                loading.range.name(),
                loading.received,
                loading.max
            );
            frame.render_widget(
                LineGauge::default()
                    .ratio(ratio)
                    .label(label)
                    .filled_style(Style::new().fg(FOCUSED)),
                gauge,
            );
            plot
        }
        _ => inner,
    };
    match &app.history {
        Some(history) if !history.bars.is_empty() => price_chart(frame, plot, history),
        Some(_) => frame.render_widget(Paragraph::new("no prices in this range"), plot),
        None if app.loading.is_some() => {}
        None => frame.render_widget(
            Paragraph::new("no history: choose a range with d w m y a"),
            plot,
        ),
    }
}

/// The closes of `history` as a line; prices become floats here only to be plotted.
fn price_chart(frame: &mut Frame, area: Rect, history: &History) {
    let closes: Vec<Money> = history.bars.iter().map(|b| b.close).collect();
    let (Some(&low), Some(&high)) = (closes.iter().min(), closes.iter().max()) else {
        return;
    };
    let plot = |m: Money| m.micros() as f64 / 1_000_000.0;
    let points: Vec<(f64, f64)> = closes
        .iter()
        .enumerate()
        .map(|(i, &c)| (i as f64, plot(c)))
        .collect();
    let (mut y_low, mut y_high) = (plot(low), plot(high));
    if low == high {
        y_low -= 1.0;
        y_high += 1.0;
    }
    let middle = Money(low.micros() / 2 + high.micros() / 2);
    let format = match history.resolution {
        Resolution::Tick => "%H:%M",
        Resolution::Daily => "%m-%d",
        Resolution::Monthly => "%Y-%m",
    };
    let at = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format(format).to_string())
            .unwrap_or_default()
    };
    let first = history
        .bars
        .first()
        .map(|b| at(b.at_ms))
        .unwrap_or_default();
    let last = history.bars.last().map(|b| at(b.at_ms)).unwrap_or_default();
    let dataset = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(FOCUSED))
        .data(&points);
    let chart = Chart::new(vec![dataset])
        .x_axis(
            Axis::default()
                .bounds([0.0, (points.len().saturating_sub(1)).max(1) as f64])
                .labels([first, last]),
        )
        .y_axis(Axis::default().bounds([y_low, y_high]).labels([
            money(low),
            money(middle),
            money(high),
        ]));
    frame.render_widget(chart, area);
}

fn portfolio_panel(app: &App, frame: &mut Frame, area: Rect) {
    let block = panel(" Portfolio ", false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(p) = &app.portfolio else {
        frame.render_widget(Paragraph::new("loading…"), inner);
        return;
    };
    let cash = p.cash.map(money).unwrap_or_else(|| "—".into());
    let mut lines = vec![];
    match &p.summary {
        Some(s) => {
            lines.push(Line::from(format!(
                "Cash {cash}  Buying power {}",
                money(s.buying_power)
            )));
            lines.push(Line::from(format!(
                "Equity {}  Return {}%",
                money(s.equity),
                percent(s.return_ppm)
            )));
            lines.push(Line::from(vec![
                Span::raw("Realised "),
                Span::styled(money(s.realised_pnl), signed_style(s.realised_pnl)),
                Span::raw("  Unrealised "),
                Span::styled(money(s.unrealised_pnl), signed_style(s.unrealised_pnl)),
            ]));
        }
        None => lines.push(Line::from(format!("Cash {cash}"))),
    }
    let summary_height = lines.len() as u16;
    let [summary, holdings] =
        Layout::vertical([Constraint::Length(summary_height), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), summary);
    let rows: Vec<Row> = p
        .holdings
        .iter()
        .map(|h| {
            let pnl = h.unrealised_pnl;
            Row::new(vec![
                Cell::from(h.symbol.clone()),
                Cell::from(right(h.quantity.to_string())),
                Cell::from(right(money(h.price))),
                Cell::from(right(pnl.map(money).unwrap_or_default()))
                    .style(pnl.map(signed_style).unwrap_or_default()),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Min(8),
        ],
    )
    .header(
        Row::new(vec![
            Cell::from("SYMBOL"),
            Cell::from(right("QTY".into())),
            Cell::from(right("PRICE".into())),
            Cell::from(right("P&L".into())),
        ])
        .style(Style::new().add_modifier(Modifier::BOLD)),
    );
    frame.render_widget(table, holdings);
}

fn orders_panel(app: &App, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Focus::Orders;
    let rows: Vec<Row> = app
        .orders
        .iter()
        .map(|o| {
            Row::new(vec![
                Cell::from(format!("#{}", o.order_id)),
                Cell::from(o.side.name()),
                Cell::from(o.symbol.clone()),
                Cell::from(format!("{}/{}", o.filled_quantity, o.quantity)),
                Cell::from(o.time_in_force.name()),
                Cell::from(terms(o.limit_price, o.stop_price)),
            ])
        })
        .collect();
    let title = format!(" Open orders ({}) ", app.orders.len());
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(4),
            Constraint::Length(8),
            Constraint::Length(11),
            Constraint::Length(3),
            Constraint::Min(6),
        ],
    )
    .header(
        Row::new(vec!["ID", "SIDE", "SYMBOL", "FILLED", "TIF", "PRICE"])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    .block(panel(&title, focused))
    .row_highlight_style(if focused {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new()
    });
    let selected = (!app.orders.is_empty()).then_some(app.order_selected);
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

/// One account event in a line: `14:30:01 filled buy 10/10 AAPL @ 190.00 #12`.
pub fn event_line(event: &AccountEvent) -> Line<'static> {
    let at = chrono::DateTime::from_timestamp_millis(event.at_ms)
        .map(|t| t.format("%H:%M:%S").to_string())
        .unwrap_or_default();
    let mut text = format!(
        "{at} {} {} {}/{} {}",
        event.kind.name(),
        event.side.name(),
        event.filled_quantity,
        event.quantity,
        event.symbol
    );
    if let Some(fill) = &event.fill {
        text.push_str(&format!(" @ {}", money(fill.price)));
    }
    if let Some(id) = event.order_id {
        text.push_str(&format!(" #{id}"));
    }
    if let Some(reason) = reason_name(event.reason) {
        text.push_str(&format!(" ({reason})"));
    }
    if event.replayed {
        text.push_str(" (replayed)");
    }
    let style = match event.kind {
        AccountEventKind::Filled => Style::new().fg(UP),
        AccountEventKind::PartiallyFilled => Style::new().fg(Color::Yellow),
        AccountEventKind::Rejected => Style::new().fg(DOWN),
        AccountEventKind::Cancelled | AccountEventKind::Expired => Style::new().fg(Color::DarkGray),
        AccountEventKind::Accepted => Style::new(),
    };
    Line::from(text).style(style)
}

fn events_panel(app: &App, frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> = if app.events.is_empty() {
        vec![Line::from("no fills yet").style(Style::new().fg(Color::DarkGray))]
    } else {
        app.events.iter().map(event_line).collect()
    };
    frame.render_widget(
        Paragraph::new(lines).block(panel(" Fills & events ", false)),
        area,
    );
}

fn status_line(app: &App, frame: &mut Frame, area: Rect) {
    let line = match app.confirmation() {
        Some(question) => Line::from(format!(" {question}")).style(
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ),
        None if app.session_ended() => Line::from(format!(" {}", app.status())).style(
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ),
        None => Line::from(format!(" {}", app.status())),
    };
    frame.render_widget(line, area);
}

/// What the keys do now, in one line.
fn key_hints(mode: &Mode) -> &'static str {
    match mode {
        Mode::Normal => {
            " b buy  s sell  c cancel  Tab focus  ↑↓ select  d/w/m/y/a range  r refresh  ? help  q quit"
        }
        Mode::Help => " any key closes the help",
        Mode::Form(_) => " Tab/↑↓ field  ←/→ time in force  Enter review  Esc close",
        Mode::ConfirmOrder(_) | Mode::ConfirmCancel(_) => " y confirm  n or Esc back",
    }
}

/// The keyboard help text, one key per line.
pub const HELP: [&str; 10] = [
    "↑/↓ or j/k   move in the focused list",
    "Tab          focus: watchlist / open orders",
    "d w m y a    chart range: day week month year all",
    "b / s        buy / sell the selected symbol",
    "c            cancel the selected open order",
    "r            refresh portfolio and orders",
    "?            this help (any key closes it)",
    "q, Ctrl-C    quit",
    "",
    "Order form: Tab fields, ←/→ time in force, Enter",
];

fn help_overlay(frame: &mut Frame, area: Rect) {
    let at = centred(area, 56, HELP.len() as u16 + 2);
    frame.render_widget(Clear, at);
    let lines: Vec<Line> = HELP.iter().map(|l| Line::from(*l)).collect();
    frame.render_widget(Paragraph::new(lines).block(panel(" Keys ", true)), at);
}

fn form_overlay(frame: &mut Frame, area: Rect, form: &OrderForm) {
    let at = centred(area, 52, 9);
    frame.render_widget(Clear, at);
    let side = match form.side {
        papertrader_protocol::data::Side::Buy => "Buy",
        papertrader_protocol::data::Side::Sell => "Sell",
    };
    let field = |label: &str, which: Field, value: String| {
        let current = form.field == which;
        let marker = if current { "▶ " } else { "  " };
        let cursor = if current && which != Field::TimeInForce {
            "_"
        } else {
            ""
        };
        let style = if current {
            Style::new().fg(FOCUSED).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        Line::from(format!("{marker}{label:<15}{value}{cursor}")).style(style)
    };
    let mut lines = vec![
        field("Quantity", Field::Quantity, form.quantity.clone()),
        field("Limit price", Field::Limit, form.limit.clone()),
        field("Stop price", Field::Stop, form.stop.clone()),
        field(
            "Time in force",
            Field::TimeInForce,
            format!("{} (←/→)", form.time_in_force.name()),
        ),
        Line::from(""),
    ];
    lines.push(match &form.error {
        Some(error) => Line::from(error.clone()).style(Style::new().fg(DOWN)),
        None => Line::from("empty prices: a market order").style(Style::new().fg(Color::DarkGray)),
    });
    let title = format!(" {side} {} ", form.symbol);
    frame.render_widget(Paragraph::new(lines).block(panel(&title, true)), at);
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyCode;
    use papertrader_protocol::data::OrderStatus;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::tui::testdata::*;

    /// The screen's lines after drawing `app` on a `width`×`height` terminal.
    fn screen(app: &App, width: u16, height: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| render(app, frame)).unwrap();
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect()
    }

    fn assert_shows(lines: &[String], text: &str) {
        assert!(
            lines.iter().any(|l| l.contains(text)),
            "{text:?} not on screen:\n{}",
            lines.join("\n")
        );
    }

    fn assert_hides(lines: &[String], text: &str) {
        assert!(
            !lines.iter().any(|l| l.contains(text)),
            "{text:?} on screen:\n{}",
            lines.join("\n")
        );
    }

    /// An app with prices, a portfolio, an open order, a fill and a chart.
    fn busy_app() -> App {
        let mut app = app();
        for (i, close) in [195, 192, 190].into_iter().enumerate() {
            app.on_quotes(&push(
                i as u64 + 1,
                vec![
                    quote("AAPL", m(200, 0), m(close, 0)),
                    quote("MSFT", m(400, 0), m(410, 50)),
                ],
            ));
        }
        app.set_portfolio(portfolio());
        app.set_orders(vec![order(31, "KO", OrderStatus::New)]);
        app.on_account_event(&fill(10, m(190, 0)));
        app.start();
        app.set_history(
            "AAPL",
            HistoryRange::Week,
            history("AAPL", &[m(180, 0), m(200, 0), m(190, 0)]),
        );
        app
    }

    use papertrader_client::HistoryRange;

    #[test]
    fn the_panels_show_prices_portfolio_orders_and_fills() {
        let lines = screen(&busy_app(), 120, 40);
        assert_shows(&lines, "PaperTrader · alice · 3 symbols");
        // Watchlist: last price, change since the open, percent, sparkline.
        let aapl = lines.iter().find(|l| l.contains("> AAPL")).unwrap();
        assert!(aapl.contains("190.00"), "{aapl}");
        assert!(aapl.contains("-10.00"), "{aapl}");
        assert!(aapl.contains("-5.00%"), "{aapl}");
        assert!(aapl.contains("█▃▁"), "{aapl}");
        let msft = lines.iter().find(|l| l.contains("MSFT")).unwrap();
        assert!(msft.contains("410.50") && msft.contains("+2.62%"), "{msft}");
        let ko = lines.iter().find(|l| l.contains(" KO ")).unwrap();
        assert!(ko.contains('…'), "no price yet: {ko}");
        // Chart: title and the price axis.
        assert_shows(&lines, "AAPL · week");
        assert_shows(&lines, "180.00");
        assert_shows(&lines, "200.00");
        // Portfolio.
        assert_shows(&lines, "Cash 8099.00  Buying power 8000.00");
        assert_shows(&lines, "Equity 9999.00  Return -0.0100%");
        assert_shows(&lines, "Realised -12.34  Unrealised 48.90");
        let holding = lines
            .iter()
            .find(|l| l.contains("AAPL") && l.contains("48.90") && !l.contains("Unrealised"))
            .unwrap();
        assert!(
            holding.contains("10") && holding.contains("190.00"),
            "{holding}"
        );
        // Open orders and the fills feed.
        assert_shows(&lines, "Open orders (1)");
        let open = lines.iter().find(|l| l.contains("#31")).unwrap();
        for cell in ["buy", "KO", "3/10", "gtc", "limit 180.00"] {
            assert!(open.contains(cell), "{cell} not in {open}");
        }
        assert_shows(&lines, "14:30:01 filled buy 10/10 AAPL @ 190.00 #12");
        assert_shows(&lines, "? for help");
    }

    #[test]
    fn an_ended_session_marks_the_prices_stopped_and_says_what_to_do() {
        let mut app = busy_app();
        assert_hides(&screen(&app, 120, 40), "prices stopped");
        app.end_session();
        let lines = screen(&app, 120, 40);
        assert_shows(&lines, "Watchlist · prices stopped");
        assert_shows(
            &lines,
            "your session ended: run `papertrader login alice` in another",
        );
        for protocol_word in ["DataTransfer", "switchState"] {
            assert_hides(&lines, protocol_word);
        }
        app.session_resumed("alice");
        app.set_prices_stopped(false);
        assert_hides(&screen(&app, 120, 40), "prices stopped");
    }

    #[test]
    fn a_history_in_flight_shows_its_progress() {
        let mut app = app();
        app.on_key(key(KeyCode::Char('m')));
        app.set_progress(3, 10);
        let lines = screen(&app, 120, 40);
        assert_shows(&lines, "loading AAPL month: 3/10 packets");
        app.set_history("AAPL", HistoryRange::Month, history("AAPL", &[]));
        let lines = screen(&app, 120, 40);
        assert_hides(&lines, "loading AAPL");
        assert_shows(&lines, "no prices in this range");
    }

    #[test]
    fn the_order_form_and_its_confirmation_are_drawn() {
        let mut app = busy_app();
        app.on_key(key(KeyCode::Char('b')));
        type_text(&mut app, "10");
        app.on_key(key(KeyCode::Tab));
        type_text(&mut app, "190");
        let lines = screen(&app, 120, 40);
        assert_shows(&lines, " Buy AAPL ");
        assert_shows(&lines, "  Quantity       10");
        assert_shows(&lines, "▶ Limit price    190_");
        assert_shows(&lines, "Time in force  day (←/→)");
        app.on_key(key(KeyCode::Enter));
        let lines = screen(&app, 120, 40);
        assert_hides(&lines, " Buy AAPL ");
        assert_shows(&lines, "Buy 10 AAPL limit 190.00 day — confirm? y/n");
        assert_shows(&lines, "y confirm  n or Esc back");
    }

    #[test]
    fn the_cancel_confirmation_names_the_order() {
        let mut app = busy_app();
        app.on_key(key(KeyCode::Tab));
        app.on_key(key(KeyCode::Char('c')));
        let lines = screen(&app, 120, 40);
        assert_shows(
            &lines,
            "Cancel order #31 (buy 7 KO limit 180.00) — confirm? y/n",
        );
    }

    #[test]
    fn the_help_overlay_lists_the_keys() {
        let mut app = busy_app();
        assert_hides(
            &screen(&app, 120, 40),
            "chart range: day week month year all",
        );
        app.on_key(key(KeyCode::Char('?')));
        let lines = screen(&app, 120, 40);
        for line in HELP.iter().filter(|l| !l.is_empty()) {
            assert_shows(&lines, line);
        }
        assert_shows(&lines, "any key closes the help");
    }

    #[test]
    fn a_tiny_terminal_gets_a_message_and_no_panic() {
        let lines = screen(&busy_app(), 40, 10);
        assert_shows(&lines, "terminal too small: 40x10");
        assert_shows(&lines, "need at least 60x16");
        assert_hides(&lines, "Watchlist");
        let lines = screen(&busy_app(), 59, 16);
        assert_shows(&lines, "terminal too small: 59x16");
        let lines = screen(&busy_app(), 60, 16);
        assert_shows(&lines, "Watchlist");
        // Narrow: the change and trend columns go, the prices stay whole.
        let aapl = lines.iter().find(|l| l.contains("> AAPL")).unwrap();
        assert!(
            aapl.contains(" 190.00") && aapl.contains("-5.00%"),
            "{aapl}"
        );
        assert_hides(&lines, "CHANGE");
        let mut app = busy_app();
        app.on_key(key(KeyCode::Char('?')));
        for (width, height) in [(1, 1), (0, 0), (1, 40), (200, 1), (60, 16), (61, 17)] {
            screen(&app, width, height);
            screen(&busy_app(), width, height);
        }
        app.on_key(key(KeyCode::Char('x')));
        app.on_key(key(KeyCode::Char('b')));
        screen(&app, 60, 16);
    }
}
