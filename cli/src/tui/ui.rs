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
    TableState, Wrap,
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
    // The status takes a second line when it is too long for one; the fills keep two lines
    // (four rows with the border) and the rest is shared 5:4 by the top and middle panels.
    let (status_text, status_style) = status_content(app);
    let status_rows: u16 = if Span::raw(status_text.as_str()).width() > usize::from(area.width) {
        2
    } else {
        1
    };
    let shared = area.height - 2 - status_rows;
    let bottom_rows = (shared * 2 / 11).max(4);
    let top_rows = (shared - bottom_rows) * 5 / 9;
    let [title, top, middle, bottom, status, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(top_rows),
        Constraint::Fill(1),
        Constraint::Length(bottom_rows),
        Constraint::Length(status_rows),
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
    frame.render_widget(
        Paragraph::new(Line::from(status_text).style(status_style)).wrap(Wrap { trim: false }),
        status,
    );
    frame.render_widget(
        Line::from(key_hints(app, usize::from(keys.width))).style(Style::new().fg(Color::DarkGray)),
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

/// Money with its sign, `+` included: `+0.59`, `-0.59`, `0.00`.
fn signed_money(m: Money) -> String {
    if m.micros() > 0 {
        format!("+{}", money(m))
    } else {
        money(m)
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
                let change = change.map(signed_money).unwrap_or_default();
                cells.push(Cell::from(right(change)).style(style));
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

/// `m` to the nearest whole cent, halves away from zero (for axis labels: `456.185` would
/// read as a price no one quoted).
fn to_cents(m: Money) -> Money {
    const CENT: i128 = 10_000;
    let micros = i128::from(m.micros());
    let half = if micros < 0 { -CENT / 2 } else { CENT / 2 };
    let rounded = (micros + half) / CENT * CENT;
    i64::try_from(rounded).map(Money).unwrap_or(m)
}

/// The x axis' two labels: the first and last bars' times, oldest on the left. Times of
/// day carry the date when the bars span more than one day (a day range runs from
/// yesterday 08:40 to today 08:38); a chart too `narrow` for both shows the dates alone.
fn time_labels(resolution: Resolution, first_ms: i64, last_ms: i64, narrow: bool) -> [String; 2] {
    let day = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.date_naive());
    let format = match resolution {
        Resolution::Tick if day(first_ms) == day(last_ms) => "%H:%M",
        Resolution::Tick if narrow => "%m-%d",
        Resolution::Tick => "%m-%d %H:%M",
        Resolution::Daily => "%m-%d",
        Resolution::Monthly => "%Y-%m",
    };
    [first_ms, last_ms].map(|ms| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format(format).to_string())
            .unwrap_or_default()
    })
}

/// The closes of `history` as a line, oldest on the left; prices become floats here only to
/// be plotted.
fn price_chart(frame: &mut Frame, area: Rect, history: &History) {
    let mut bars: Vec<_> = history.bars.iter().map(|b| (b.at_ms, b.close)).collect();
    bars.sort_by_key(|&(at, _)| at);
    let (Some(&(first_ms, _)), Some(&(last_ms, _))) = (bars.first(), bars.last()) else {
        return;
    };
    let closes: Vec<Money> = bars.iter().map(|&(_, close)| close).collect();
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
    let mut y_labels: Vec<String> = Vec::new();
    for m in [low, middle, high] {
        let label = money(to_cents(m));
        if !y_labels.contains(&label) {
            y_labels.push(label);
        }
    }
    let dataset = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(FOCUSED))
        .data(&points);
    let chart = Chart::new(vec![dataset])
        .x_axis(
            Axis::default()
                .bounds([0.0, (points.len().saturating_sub(1)).max(1) as f64])
                .labels(time_labels(
                    history.resolution,
                    first_ms,
                    last_ms,
                    area.width < 40,
                )),
        )
        .y_axis(Axis::default().bounds([y_low, y_high]).labels(y_labels));
    frame.render_widget(chart, area);
}

/// A figure of the portfolio's summary: its label, a shorter one for narrow panels, its value.
struct Figure {
    label: &'static str,
    short: &'static str,
    value: String,
    style: Style,
}

impl Figure {
    fn new(label: &'static str, short: &'static str, value: String) -> Self {
        Self {
            label,
            short,
            value,
            style: Style::new(),
        }
    }

    fn signed(label: &'static str, short: &'static str, value: Money) -> Self {
        Self {
            style: signed_style(value),
            ..Self::new(label, short, money(value))
        }
    }

    fn width(&self, short: bool) -> usize {
        let label = if short { self.short } else { self.label };
        label.chars().count() + 1 + self.value.chars().count()
    }

    fn spans(&self, short: bool) -> [Span<'static>; 2] {
        let label = if short { self.short } else { self.label };
        [
            Span::raw(format!("{label} ")),
            Span::styled(self.value.clone(), self.style),
        ]
    }
}

/// The summary's figures in lines `width` wide, numbers never cut: two a line when they fit
/// (with the short labels if need be), else one a line; a label that does not fit goes.
fn figure_lines(pairs: &[[Figure; 2]], width: usize) -> Vec<Line<'static>> {
    for short in [false, true] {
        if pairs
            .iter()
            .all(|[a, b]| a.width(short) + 2 + b.width(short) <= width)
        {
            return pairs
                .iter()
                .map(|[a, b]| {
                    let mut spans = a.spans(short).to_vec();
                    spans.push(Span::raw("  "));
                    spans.extend(b.spans(short));
                    Line::from(spans)
                })
                .collect();
        }
    }
    // One a line, the most telling first: equity, buying power, cash, P&L, return.
    let order = [(1, 0), (0, 1), (0, 0), (2, 1), (2, 0), (1, 1)];
    order
        .iter()
        .filter_map(|&(i, j)| pairs.get(i).map(|p| &p[j]))
        .map(|f| {
            if f.width(false) <= width {
                Line::from(f.spans(false).to_vec())
            } else if f.width(true) <= width {
                Line::from(f.spans(true).to_vec())
            } else {
                Line::from(Span::styled(f.value.clone(), f.style))
            }
        })
        .collect()
}

/// A table column: its title, a shorter one for when the values are narrower, and whether
/// it is right-aligned.
type Column = (&'static str, &'static str, bool);

/// How wide each column must be: as wide as its widest value (or its short title).
fn column_widths(header: &[Column], rows: &[Vec<(String, Style)>]) -> Vec<usize> {
    header
        .iter()
        .enumerate()
        .map(|(i, (_, short, _))| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|(text, _)| Span::raw(text.as_str()).width())
                .chain([short.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect()
}

/// The columns kept when columns are dropped (in `drop_order`) until the rest fit `width`,
/// and whether they do.
fn kept_columns(widths: &[usize], drop_order: &[usize], width: u16) -> (Vec<usize>, bool) {
    let total = |kept: &[usize]| {
        kept.iter().map(|&i| widths[i]).sum::<usize>() + kept.len().saturating_sub(1)
    };
    let mut kept: Vec<usize> = (0..widths.len()).collect();
    for &column in drop_order {
        if total(&kept) <= usize::from(width) {
            break;
        }
        kept.retain(|&i| i != column);
    }
    let fits = total(&kept) <= usize::from(width);
    (kept, fits)
}

/// A table whose columns are as wide as their widest value, dropping columns (in
/// `drop_order`) until the rest fit `width`, so no value is cut; titles get the room left,
/// else their short form.
fn fitted_table(
    header: &[Column],
    rows: Vec<Vec<(String, Style)>>,
    drop_order: &[usize],
    width: u16,
) -> Table<'static> {
    let mut widths = column_widths(header, &rows);
    let (kept, _) = kept_columns(&widths, drop_order, width);
    // What is left widens the columns whose full title is wider than their values.
    let used = kept.iter().map(|&i| widths[i]).sum::<usize>() + kept.len().saturating_sub(1);
    let mut spare = usize::from(width).saturating_sub(used);
    for &i in &kept {
        let more = header[i].0.chars().count().saturating_sub(widths[i]);
        if more <= spare {
            widths[i] += more;
            spare -= more;
        }
    }
    let cell = |text: String, right_aligned: bool| {
        if right_aligned {
            Cell::from(right(text))
        } else {
            Cell::from(text)
        }
    };
    let table_rows: Vec<Row> = rows
        .into_iter()
        .map(|row| {
            let mut row: Vec<Option<(String, Style)>> = row.into_iter().map(Some).collect();
            Row::new(kept.iter().map(|&i| {
                let (text, style) = row.get_mut(i).and_then(Option::take).unwrap_or_default();
                cell(text, header[i].2).style(style)
            }))
        })
        .collect();
    let header_row = Row::new(kept.iter().map(|&i| {
        let (title, short, right_aligned) = header[i];
        let title = if title.chars().count() <= widths[i] {
            title
        } else {
            short
        };
        cell(title.to_owned(), right_aligned)
    }))
    .style(Style::new().add_modifier(Modifier::BOLD));
    let constraints: Vec<Constraint> = kept
        .iter()
        .map(|&i| Constraint::Length(u16::try_from(widths[i]).unwrap_or(u16::MAX)))
        .collect();
    Table::new(table_rows, constraints).header(header_row)
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
    let lines = match &p.summary {
        Some(s) => figure_lines(
            &[
                [
                    Figure::new("Cash", "Cash", cash),
                    Figure::new("Buying power", "Buying pwr", money(s.buying_power)),
                ],
                [
                    Figure::new("Equity", "Equity", money(s.equity)),
                    Figure::new("Return", "Return", format!("{}%", percent(s.return_ppm))),
                ],
                [
                    Figure::signed("Realised", "Real.", s.realised_pnl),
                    Figure::signed("Unrealised", "Unreal.", s.unrealised_pnl),
                ],
            ],
            usize::from(inner.width),
        ),
        None => vec![Line::from(format!("Cash {cash}"))],
    };
    let summary_height = (lines.len() as u16).min(inner.height);
    let [summary, holdings] =
        Layout::vertical([Constraint::Length(summary_height), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), summary);
    let rows: Vec<Vec<(String, Style)>> = p
        .holdings
        .iter()
        .map(|h| {
            let pnl = h.unrealised_pnl;
            vec![
                (h.symbol.clone(), Style::new()),
                (h.quantity.to_string(), Style::new()),
                (money(h.price), Style::new()),
                (
                    pnl.map(money).unwrap_or_default(),
                    pnl.map(signed_style).unwrap_or_default(),
                ),
            ]
        })
        .collect();
    let table = fitted_table(
        &[
            ("SYMBOL", "SYM", false),
            ("QTY", "QTY", true),
            ("PRICE", "PRICE", true),
            ("P&L", "P&L", true),
        ],
        rows,
        &[1, 3],
        holdings.width,
    );
    frame.render_widget(table, holdings);
}

/// The open orders' columns; narrow, the time in force goes first, then the filled count,
/// then the side.
const ORDER_COLUMNS: [Column; 6] = [
    ("ID", "ID", false),
    ("SIDE", "SIDE", false),
    ("SYMBOL", "SYM", false),
    ("FILLED", "FILL", false),
    ("TIF", "TIF", false),
    ("PRICE", "PRICE", false),
];
const ORDER_DROP: [usize; 3] = [4, 3, 1];

fn orders_panel(app: &App, frame: &mut Frame, area: Rect) {
    let focused = app.focus == Focus::Orders;
    let title = format!(" Open orders ({}) ", app.orders.len());
    let block = panel(&title, focused);
    let width = block.inner(area).width;
    let rows = |compact: bool| -> Vec<Vec<(String, Style)>> {
        app.orders
            .iter()
            .map(|o| {
                let price = if compact {
                    short_terms(o.limit_price, o.stop_price)
                } else {
                    terms(o.limit_price, o.stop_price)
                };
                [
                    format!("#{}", o.order_id),
                    o.side.name().to_owned(),
                    o.symbol.clone(),
                    format!("{}/{}", o.filled_quantity, o.quantity),
                    o.time_in_force.name().to_owned(),
                    price,
                ]
                .into_iter()
                .map(|text| (text, Style::new()))
                .collect()
            })
            .collect()
    };
    // The prices in full when they fit, else abbreviated: never cut.
    let full = rows(false);
    let (_, fits) = kept_columns(&column_widths(&ORDER_COLUMNS, &full), &ORDER_DROP, width);
    let rows = if fits { full } else { rows(true) };
    let table = fitted_table(&ORDER_COLUMNS, rows, &ORDER_DROP, width)
        .block(block)
        .row_highlight_style(if focused {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        });
    let selected = (!app.orders.is_empty()).then_some(app.order_selected);
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

/// [`terms`] for narrow tables: `mkt`, `lmt 190.00`, `stp 180.00`, `stp 180.00 lmt 181.00`.
fn short_terms(limit: Option<Money>, stop: Option<Money>) -> String {
    match (stop, limit) {
        (None, None) => "mkt".to_owned(),
        (None, Some(limit)) => format!("lmt {}", money(limit)),
        (Some(stop), None) => format!("stp {}", money(stop)),
        (Some(stop), Some(limit)) => format!("stp {} lmt {}", money(stop), money(limit)),
    }
}

/// One account event in a line at most `width` wide: `14:30:01 filled buy 10/10 AAPL @ 190.00
/// #12, commission 1.00, cash 8099.00`, as `papertrader watch --fills` says it. Narrow, the
/// commission and cash are shortened, then the cash goes: never a number cut.
pub fn event_line(event: &AccountEvent, width: usize) -> Line<'static> {
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
    let commission = event.fill.as_ref().map(|f| money(f.commission));
    let cash = event.cash_after.map(money);
    let long = [
        commission.as_ref().map(|c| format!(", commission {c}")),
        cash.as_ref().map(|c| format!(", cash {c}")),
    ];
    let short = [
        commission.as_ref().map(|c| format!(" comm {c}")),
        cash.as_ref().map(|c| format!(" cash {c}")),
    ];
    let fits = |extra: &[Option<String>]| {
        text.chars().count()
            + extra
                .iter()
                .flatten()
                .map(|e| e.chars().count())
                .sum::<usize>()
            <= width
    };
    let extra: Vec<Option<String>> = if fits(&long) {
        long.to_vec()
    } else if fits(&short) {
        short.to_vec()
    } else {
        vec![short[0].clone()]
    };
    if fits(&extra) {
        text.extend(extra.into_iter().flatten());
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
        let width = usize::from(area.width.saturating_sub(2));
        app.events.iter().map(|e| event_line(e, width)).collect()
    };
    frame.render_widget(
        Paragraph::new(lines).block(panel(" Fills & events ", false)),
        area,
    );
}

/// The status line's text and style: the question waiting for y/n, else the status (on
/// yellow while the session has ended).
fn status_content(app: &App) -> (String, Style) {
    let warning = Style::new()
        .fg(Color::Black)
        .bg(Color::Yellow)
        .add_modifier(Modifier::BOLD);
    match app.confirmation() {
        Some(question) => (format!(" {question}"), warning),
        None if app.session_ended() => (format!(" {}", app.status()), warning),
        None => (format!(" {}", app.status()), Style::new()),
    }
}

/// What the keys do now, in one line at most `width` wide: the least needed hints go first.
fn key_hints(app: &App, width: usize) -> String {
    // (hint, rank): the lower the rank, the longer it stays.
    let hints: &[(&str, u8)] = match &app.mode {
        Mode::Normal if app.session_ended() => &[("L log in again", 0), ("q quit", 0)],
        Mode::Normal => &[
            ("b buy", 2),
            ("s sell", 2),
            ("c cancel", 4),
            ("Tab focus", 3),
            ("↑↓ select", 6),
            ("d/w/m/y/a range", 5),
            ("r refresh", 4),
            ("? help", 1),
            ("q quit", 0),
        ],
        Mode::Help => &[("any key closes the help", 0)],
        Mode::Form(_) => &[
            ("Tab/↑↓ field", 2),
            ("←/→ time in force", 3),
            ("Enter review", 0),
            ("Esc close", 1),
        ],
        Mode::ConfirmOrder(_) | Mode::ConfirmCancel(_) => &[("y confirm", 0), ("n or Esc back", 0)],
    };
    let line = |most: u8| {
        let kept: Vec<&str> = hints
            .iter()
            .filter(|(_, rank)| *rank <= most)
            .map(|(hint, _)| *hint)
            .collect();
        format!(" {}", kept.join("  "))
    };
    (0..=u8::MAX)
        .rev()
        .map(line)
        .find(|l| Span::raw(l.as_str()).width() <= width)
        .unwrap_or_else(|| line(0))
}

/// The keyboard help text, one key per line.
pub const HELP: [&str; 12] = [
    "↑/↓ or j/k   move in the focused list",
    "Tab          focus: watchlist / open orders",
    "d w m y a    chart range: day week month year all",
    "b / s        buy / sell the selected symbol",
    "c            cancel the selected open order",
    "r            refresh portfolio and orders",
    "?            this help (any key closes it)",
    "L            log in again after the session ended",
    "q, Ctrl-C    quit",
    "",
    "Order form:  Tab/↑↓ field, ←/→ time in force,",
    "             Enter review, then y confirm, Esc back",
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
    // A long error wraps onto the spare line rather than being cut.
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel(&title, true)),
        at,
    );
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyCode;
    use papertrader_protocol::data::{OrderStatus, Resolution};
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
        let msft = lines.iter().find(|l| l.contains("MSFT")).unwrap();
        assert!(
            msft.contains("+10.50"),
            "the sign, not only the colour: {msft}"
        );
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
        assert_shows(
            &lines,
            "14:30:01 filled buy 10/10 AAPL @ 190.00 #12, commission 1.00, cash 8099.00",
        );
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

    /// An app with large sums, a stop-limit order and two fills.
    fn rich_app() -> App {
        let mut app = busy_app();
        let mut p = portfolio();
        p.cash = Some(m(99_441, 38));
        let s = p.summary.as_mut().unwrap();
        s.buying_power = m(99_441, 38);
        s.equity = m(101_270, 1);
        s.return_ppm = 12_700;
        s.realised_pnl = m(-1_234, -56);
        s.unrealised_pnl = m(12_345, 67);
        p.holdings[0].price = m(182, 86);
        p.holdings[0].unrealised_pnl = Some(m(12_345, 67));
        app.set_portfolio(p);
        let mut stop_limit = order(32, "MSFT", OrderStatus::New);
        stop_limit.stop_price = Some(m(410, 0));
        stop_limit.limit_price = Some(m(412, 50));
        app.set_orders(vec![stop_limit, order(31, "KO", OrderStatus::New)]);
        app.on_account_event(&fill(2, m(182, 86)));
        app
    }

    #[test]
    fn numbers_stay_whole_at_80x24_and_60x16() {
        let app = rich_app();
        for (width, height) in [(80, 24), (60, 16)] {
            let lines = screen(&app, width, height);
            let all = lines.join("\n");
            for whole in ["99441.38", "101270.01", "1.2700%", "-1234.56", "12345.67"] {
                if height == 16 && whole != "99441.38" && whole != "101270.01" {
                    continue; // two lines of portfolio: equity and buying power first
                }
                assert_shows(&lines, whole);
            }
            assert_shows(
                &lines,
                if width == 80 {
                    "limit 180.00"
                } else {
                    "stp 410.00 lmt 412.50"
                },
            );
            assert!(
                !all.contains("99441.\u{2502}") && !all.contains("99441. "),
                "{all}"
            );
            // Narrow, the commission stays and the cash goes, whole.
            if width == 60 {
                assert_shows(&lines, "filled buy 2/2 AAPL @ 182.86 #12 comm 1.00");
            } else {
                assert_shows(&lines, "@ 182.86 #12, commission 1.00, cash 8099.00");
            }
            // The fills keep two lines.
            assert_eq!(
                lines.iter().filter(|l| l.contains("filled buy")).count(),
                2,
                "{width}x{height}:\n{all}"
            );
            // The key hints are cut at a hint, never inside one.
            let keys = lines.last().unwrap();
            assert!(keys.trim_end().ends_with("q quit"), "{keys}");
        }
        let lines = screen(&app, 80, 24);
        assert_shows(&lines, "Cash 99441.38  Buying pwr 99441.38");
        assert_shows(&lines, "Equity 101270.01  Return 1.2700%");
        assert_shows(&lines, "Real. -1234.56  Unreal. 12345.67");
        let stop_limit = lines.iter().find(|l| l.contains("#32")).unwrap();
        for cell in ["buy", "MSFT", "stop 410.00 limit 412.50"] {
            assert!(stop_limit.contains(cell), "{cell} not in {stop_limit}");
        }
        let holding = lines.iter().find(|l| l.contains("182.86")).unwrap();
        assert!(
            holding.contains("AAPL") && holding.contains("12345.67"),
            "{holding}"
        );
        let lines = screen(&app, 60, 16);
        assert_shows(&lines, "Equity 101270.01");
        assert_shows(&lines, "Buying power 99441.38");
        assert_shows(&lines, "stp 410.00 lmt 412.50");
    }

    #[test]
    fn a_long_status_takes_a_second_line() {
        let mut app = busy_app();
        app.end_session();
        let lines = screen(&app, 60, 16);
        let all = lines.join("\n");
        assert!(
            all.contains("your session ended") && all.contains("press L"),
            "{all}"
        );
        assert!(lines.last().unwrap().contains("L log in again  q quit"));
    }

    #[test]
    fn the_chart_labels_whole_cents_and_runs_from_older_to_newer() {
        assert_eq!(to_cents(Money(456_185_000)), m(456, 19));
        assert_eq!(to_cents(Money(-456_185_000)), m(-456, -19));
        assert_eq!(to_cents(Money(456_184_999)), m(456, 18));
        let mut app = app();
        app.on_key(key(KeyCode::Char('d')));
        // A day of ticks from yesterday 08:40 to today 08:38, handed over newest first.
        let yesterday = 1_782_722_400_000; // 2026-06-29 08:40 UTC
        let mut day = history("AAPL", &[m(456, 18), m(456, 19)]);
        day.resolution = Resolution::Tick;
        day.bars[0].at_ms = yesterday + 86_280_000; // 2026-06-30 08:38
        day.bars[1].at_ms = yesterday;
        app.set_history("AAPL", HistoryRange::Day, day);
        let lines = screen(&app, 120, 40);
        assert_hides(&lines, "456.185");
        assert_shows(&lines, "456.19");
        let axis = lines.iter().find(|l| l.contains("06-29 08:40")).unwrap();
        let (older, newer) = (axis.find("06-29 08:40"), axis.find("06-30 08:38"));
        assert!(older < newer && newer.is_some(), "{axis}");
        // Too narrow for times and dates: the dates, whole.
        let lines = screen(&app, 60, 16);
        let axis = lines.iter().find(|l| l.contains("06-29")).unwrap();
        assert!(axis.contains("06-29") && axis.contains("06-30"), "{axis}");
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
        assert_shows(
            &lines,
            "Buy 10 AAPL limit 190.00 (day) · now 190.00, at most 1900.00 — confirm? y/n",
        );
        assert_shows(&lines, "y confirm  n or Esc back");
    }

    #[test]
    fn form_errors_are_in_words_and_whole_at_60x16() {
        let mut app = busy_app();
        app.on_key(key(KeyCode::Char('s')));
        type_text(&mut app, "5");
        app.on_key(key(KeyCode::Tab));
        type_text(&mut app, "-190");
        app.on_key(key(KeyCode::Enter));
        let lines = screen(&app, 60, 16);
        assert_shows(&lines, "▶ Limit price    -190_");
        assert_shows(&lines, "limit price must be above 0: -190 is not");
        app.on_key(key(KeyCode::Tab));
        type_text(&mut app, "180");
        app.on_key(key(KeyCode::BackTab));
        for _ in 0..4 {
            app.on_key(key(KeyCode::Backspace));
        }
        type_text(&mut app, "181");
        app.on_key(key(KeyCode::Enter));
        let lines = screen(&app, 60, 16);
        assert_shows(&lines, "a stop-limit sell's limit must be at or below");
        assert_shows(&lines, "│stop  ");
        assert_hides(&lines, "argument");
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
        let small = screen(&app, 60, 16);
        for line in HELP.iter().filter(|l| !l.is_empty()) {
            assert_shows(&small, line);
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
