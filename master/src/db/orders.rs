//! The `orders` table: placing, ending and listing orders, and loading the open ones at start.

use diesel::prelude::*;
use papertrader_protocol::data::{OrderKind, OrderRecord, OrderStatus, TimeInForce};
use papertrader_protocol::Money;

use super::fixed::{fixed_sql, Bind, Fixed};
use super::schema::{accounts, orders};
use super::settlement::{side_code, side_from_code};
use super::{AnyConnection, DbError};
use crate::domain::fills::OrderUpdate;
use crate::domain::order_book::OpenOrder;

/// One `orders` row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders, treat_none_as_null = true)]
pub struct OrderRow {
    /// Order id.
    pub id: i64,
    /// Owner.
    pub account_id: i64,
    /// 0 buy, 1 sell.
    pub side: i32,
    /// Asset symbol.
    pub symbol: String,
    /// [`kind_code`].
    pub kind: i32,
    /// Units ordered.
    pub quantity: i64,
    /// Units filled.
    pub filled_quantity: i64,
    /// Limit price, micro-units.
    pub limit_price: Option<i64>,
    /// Stop price, micro-units.
    pub stop_price: Option<i64>,
    /// [`tif_code`].
    pub time_in_force: i32,
    /// [`status_code`].
    pub status: i32,
    /// Why it ended (a reason code), 0 otherwise.
    pub reason: i32,
    /// A stop whose stop price was reached.
    pub triggered: bool,
    /// When a day order expires, ms.
    pub expires_at: Option<i64>,
    /// Price per unit a buy reserves cash at.
    pub reserve_price: i64,
    /// Σ price × units of its fills.
    pub filled_value: i64,
    /// Commission paid.
    pub commission: i64,
    /// When it was placed, ms.
    pub placed_at: i64,
    /// When it last changed, ms.
    pub updated_at: i64,
    /// The client's id for it.
    pub client_order_id: Option<String>,
    /// The client's address.
    pub client_ip: String,
    /// The forwarding worker, if any.
    pub worker_uuid: Option<String>,
}

/// `orders.kind` of a kind.
pub fn kind_code(kind: OrderKind) -> i32 {
    match kind {
        OrderKind::Market => 0,
        OrderKind::Limit => 1,
        OrderKind::Stop => 2,
        OrderKind::StopLimit => 3,
    }
}

fn kind_from_code(code: i32) -> OrderKind {
    match code {
        1 => OrderKind::Limit,
        2 => OrderKind::Stop,
        3 => OrderKind::StopLimit,
        _ => OrderKind::Market,
    }
}

/// `orders.time_in_force` of a time in force.
pub fn tif_code(tif: TimeInForce) -> i32 {
    match tif {
        TimeInForce::Day => 0,
        TimeInForce::GoodTillCancelled => 1,
        TimeInForce::ImmediateOrCancel => 2,
        TimeInForce::FillOrKill => 3,
    }
}

fn tif_from_code(code: i32) -> TimeInForce {
    match code {
        0 => TimeInForce::Day,
        2 => TimeInForce::ImmediateOrCancel,
        3 => TimeInForce::FillOrKill,
        _ => TimeInForce::GoodTillCancelled,
    }
}

/// `orders.status` of a status.
pub fn status_code(status: OrderStatus) -> i32 {
    match status {
        OrderStatus::New => 0,
        OrderStatus::PartiallyFilled => 1,
        OrderStatus::Filled => 2,
        OrderStatus::Cancelled => 3,
        OrderStatus::Expired => 4,
        OrderStatus::Rejected => 5,
    }
}

fn status_from_code(code: i32) -> OrderStatus {
    match code {
        0 => OrderStatus::New,
        1 => OrderStatus::PartiallyFilled,
        2 => OrderStatus::Filled,
        3 => OrderStatus::Cancelled,
        4 => OrderStatus::Expired,
        _ => OrderStatus::Rejected,
    }
}

const OPEN: [i32; 2] = [0, 1];

impl OrderRow {
    /// The row of a newly placed order.
    pub fn placed(order: &OpenOrder, client: &PlacedBy) -> Self {
        Self {
            id: order.id as i64,
            account_id: order.account_id,
            side: side_code(order.side),
            symbol: order.symbol.clone(),
            kind: kind_code(order.kind),
            quantity: order.quantity as i64,
            filled_quantity: 0,
            limit_price: order.limit.map(Money::micros),
            stop_price: order.stop.map(Money::micros),
            time_in_force: tif_code(order.time_in_force),
            status: status_code(OrderStatus::New),
            reason: 0,
            triggered: false,
            expires_at: order.expires_at,
            reserve_price: order.reserve_price,
            filled_value: 0,
            commission: 0,
            placed_at: client.placed_at,
            updated_at: client.placed_at,
            client_order_id: client.client_order_id.clone(),
            client_ip: client.client_ip.clone(),
            worker_uuid: client.worker_uuid.clone(),
        }
    }

    /// The book's view of this row.
    pub fn open_order(&self) -> OpenOrder {
        OpenOrder {
            id: self.id as u64,
            account_id: self.account_id,
            side: side_from_code(self.side),
            symbol: self.symbol.clone(),
            kind: kind_from_code(self.kind),
            quantity: self.quantity.max(0) as u64,
            filled: self.filled_quantity.max(0) as u64,
            limit: self.limit_price.map(Money),
            stop: self.stop_price.map(Money),
            time_in_force: tif_from_code(self.time_in_force),
            triggered: self.triggered,
            expires_at: self.expires_at,
            reserve_price: self.reserve_price,
            filled_value: self.filled_value,
            commission: self.commission,
            placed_at: self.placed_at,
            client_ip: self.client_ip.clone(),
            worker_uuid: self.worker_uuid.clone(),
        }
    }

    /// Where the order stands.
    pub fn status(&self) -> OrderStatus {
        status_from_code(self.status)
    }

    /// The owner's view of this row.
    pub fn record(&self) -> OrderRecord {
        let filled = self.filled_quantity.max(0) as u64;
        OrderRecord {
            order_id: self.id as u64,
            side: side_from_code(self.side),
            symbol: self.symbol.clone(),
            kind: kind_from_code(self.kind),
            quantity: self.quantity.max(0) as u64,
            filled_quantity: filled,
            limit_price: self.limit_price.map(Money),
            stop_price: self.stop_price.map(Money),
            time_in_force: tif_from_code(self.time_in_force),
            status: self.status(),
            triggered: self.triggered,
            average_price: (filled > 0).then(|| Money(self.filled_value / filled as i64)),
            commission: Money(self.commission),
            reason: u16::try_from(self.reason).unwrap_or(0),
            placed_at_ms: self.placed_at,
            updated_at_ms: self.updated_at,
            client_order_id: self.client_order_id.clone(),
        }
    }
}

/// Who placed an order, from where and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedBy {
    /// When it reached the master (or the worker), ms.
    pub placed_at: i64,
    /// The client's id for it.
    pub client_order_id: Option<String>,
    /// The client's address.
    pub client_ip: String,
    /// The forwarding worker, if any.
    pub worker_uuid: Option<String>,
}

/// The largest order id used so far (0 with none).
pub fn last_id(conn: &mut AnyConnection) -> Result<u64, DbError> {
    let max: Option<i64> = orders::table
        .select(diesel::dsl::max(orders::id))
        .first(conn)?;
    Ok(max.unwrap_or(0).max(0) as u64)
}

/// Every open order, by id.
pub fn load_open(conn: &mut AnyConnection) -> Result<Vec<OrderRow>, DbError> {
    Ok(orders::table
        .filter(orders::status.eq_any(OPEN))
        .order(orders::id.asc())
        .select(OrderRow::as_select())
        .load(conn)?)
}

/// The account's cash and its units of `symbol`.
pub fn funds(conn: &mut AnyConnection, account: i64, symbol: &str) -> Result<(i64, i64), DbError> {
    use super::schema::holdings;
    let cash: i64 = accounts::table
        .filter(accounts::id.eq(account))
        .select(accounts::cash)
        .first(conn)?;
    let held: Option<i64> = holdings::table
        .filter(holdings::account_id.eq(account))
        .filter(holdings::symbol.eq(symbol))
        .select(holdings::quantity)
        .first(conn)
        .optional()?;
    Ok((cash, held.unwrap_or(0)))
}

/// Inserts a newly placed order.
pub fn insert(conn: &mut AnyConnection, row: &OrderRow) -> Result<(), DbError> {
    diesel::insert_into(orders::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Inserts many orders, 1,000 rows per statement (loading a book, benchmarks).
pub fn insert_many(conn: &mut AnyConnection, rows: &[OrderRow]) -> Result<(), DbError> {
    for chunk in rows.chunks(1_000) {
        super::with_backend!(conn, |c| diesel::insert_into(orders::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// The account's order with `client_order_id`, if any.
pub fn by_client_id(
    conn: &mut AnyConnection,
    account: i64,
    client_order_id: &str,
) -> Result<Option<OrderRow>, DbError> {
    Ok(orders::table
        .filter(orders::account_id.eq(account))
        .filter(orders::client_order_id.eq(client_order_id))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?)
}

/// The order `id` if it belongs to `account`.
pub fn of_account(
    conn: &mut AnyConnection,
    account: i64,
    id: u64,
) -> Result<Option<OrderRow>, DbError> {
    Ok(orders::table
        .filter(orders::id.eq(id as i64))
        .filter(orders::account_id.eq(account))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?)
}

/// The orders among `ids` that belong to `account`, in one query.
pub fn of_account_many(
    conn: &mut AnyConnection,
    account: i64,
    ids: &[i64],
) -> Result<Vec<OrderRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(orders::table
        .filter(orders::id.eq_any(ids))
        .filter(orders::account_id.eq(account))
        .select(OrderRow::as_select())
        .load(conn)?)
}

/// Ends an open order with `status` and `reason` (cancel, expiry). Returns false when it was
/// not open any more.
pub fn end(
    conn: &mut AnyConnection,
    id: u64,
    status: OrderStatus,
    reason: u16,
    now_ms: i64,
) -> Result<bool, DbError> {
    let changed = diesel::update(orders::table)
        .filter(orders::id.eq(id as i64))
        .filter(orders::status.eq_any(OPEN))
        .set((
            orders::status.eq(status_code(status)),
            orders::reason.eq(i32::from(reason)),
            orders::updated_at.eq(now_ms),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

fixed_sql!(
    /// What a tick did to orders: fills, trigger, status.
    WriteOrderUpdate,
    sqlite: "UPDATE orders SET filled_quantity = ?, filled_value = ?, commission = ?, \
             triggered = ?, status = ?, reason = ?, updated_at = ? WHERE id = ?",
    postgres: "UPDATE orders SET filled_quantity = v.f, filled_value = v.fv, commission = v.c, \
               triggered = (v.t <> 0), status = v.s, reason = v.r, updated_at = ? \
               FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::int[], \
               ?::int[], ?::int[]) AS v(id, f, fv, c, t, s, r) WHERE orders.id = v.id",
);

/// Writes what a tick did to orders (inside the settlement's transaction): one prepared
/// statement per row on SQLite, one statement for all of them on PostgreSQL.
pub fn write_updates(
    conn: &mut AnyConnection,
    updates: &[OrderUpdate],
    now_ms: i64,
) -> Result<(), DbError> {
    use Bind::{BigInt, BigInts, Integer, Integers};
    match conn {
        AnyConnection::Sqlite(c) => {
            for u in updates {
                let o = &u.order;
                Fixed::<WriteOrderUpdate>::new(vec![
                    BigInt(o.filled as i64),
                    BigInt(o.filled_value),
                    BigInt(o.commission),
                    Integer(i32::from(o.triggered)),
                    Integer(status_code(u.status)),
                    Integer(i32::from(u.reason)),
                    BigInt(now_ms),
                    BigInt(o.id as i64),
                ])
                .execute(c)?;
            }
        }
        AnyConnection::Postgresql(c) => {
            if updates.is_empty() {
                return Ok(());
            }
            let column = |f: fn(&OrderUpdate) -> i64| BigInts(updates.iter().map(f).collect());
            let small = |f: fn(&OrderUpdate) -> i32| Integers(updates.iter().map(f).collect());
            Fixed::<WriteOrderUpdate>::new(vec![
                BigInt(now_ms),
                column(|u| u.order.id as i64),
                column(|u| u.order.filled as i64),
                column(|u| u.order.filled_value),
                column(|u| u.order.commission),
                small(|u| i32::from(u.order.triggered)),
                small(|u| status_code(u.status)),
                small(|u| i32::from(u.reason)),
            ])
            .execute(c)?;
        }
    }
    Ok(())
}

/// The account's orders with ids from `from_id` on (its current period's), newest first: open
/// ones only, or all.
pub fn list(
    conn: &mut AnyConnection,
    account: i64,
    from_id: i64,
    include_closed: bool,
    limit: i64,
) -> Result<Vec<OrderRecord>, DbError> {
    let mut query = orders::table
        .filter(orders::account_id.eq(account))
        .filter(orders::id.ge(from_id))
        .into_boxed();
    if !include_closed {
        query = query.filter(orders::status.eq_any(OPEN));
    }
    let rows: Vec<OrderRow> = query
        .order(orders::id.desc())
        .limit(limit)
        .select(OrderRow::as_select())
        .load(conn)?;
    Ok(rows.iter().map(OrderRow::record).collect())
}
