//! Tick settlement with many resting limit orders: the cost of a tick must grow with the
//! orders that fill, not with those that rest.
//!
//! For each book size (10,000 and 100,000 resting limit orders on 10 symbols, none of which
//! crosses), every tick gets `FILLS` fresh crossing orders; the tick's plan
//! (`OrderBook::plan`) and its settlement transaction (`db::settlement::settle`) are timed,
//! `TICKS` times, and the median reported with the settled orders per second.
//!
//! `cargo bench -p papertrader-master --bench resting_orders` (SQLite in a temp dir; set
//! `PAPERTRADER_BENCH_POSTGRES_URL` to a database URL to run it on PostgreSQL as well — its
//! tables are dropped and made anew).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use papertrader_master::db::accounts::{self, NewAccount};
use papertrader_master::db::orders::{self as order_rows, OrderRow, PlacedBy};
use papertrader_master::db::settlement::{self, BookTick};
use papertrader_master::db::{AnyConnection, Db};
use papertrader_master::domain::costs::CostModel;
use papertrader_master::domain::order_book::{OpenOrder, OrderBook};
use papertrader_master::domain::settlement::{SettlementPrice, Terms};
use papertrader_protocol::data::{OrderKind, Side, TimeInForce};
use papertrader_protocol::Money;

const SYMBOLS: [&str; 10] = [
    "AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "IBM", "KO", "BRK.B",
];
const ACCOUNTS: i64 = 1_000;
const FILLS: usize = 1_000;
const TICKS: usize = 15;
const PRICE: i64 = 100_000_000;

fn order(id: u64, account_id: i64, symbol: &str, limit: i64) -> OpenOrder {
    OpenOrder {
        id,
        account_id,
        side: Side::Buy,
        symbol: symbol.to_owned(),
        kind: OrderKind::Limit,
        quantity: 1,
        filled: 0,
        limit: Some(Money(limit)),
        stop: None,
        time_in_force: TimeInForce::GoodTillCancelled,
        triggered: false,
        expires_at: None,
        reserve_price: limit,
        filled_value: 0,
        commission: 0,
        placed_at: 0,
        client_ip: "192.0.2.1".to_owned(),
        worker_uuid: None,
    }
}

fn placed_by() -> PlacedBy {
    PlacedBy {
        placed_at: 0,
        client_order_id: None,
        client_ip: "192.0.2.1".to_owned(),
        worker_uuid: None,
    }
}

fn insert_orders(conn: &mut AnyConnection, orders: &[OpenOrder]) {
    let by = placed_by();
    let rows: Vec<OrderRow> = orders.iter().map(|o| OrderRow::placed(o, &by)).collect();
    conn.transaction(|conn| order_rows::insert_many(conn, &rows))
        .expect("orders inserted");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// One book size: returns (median plan time, median settle time).
fn run(url: &str, resting: usize) -> (Duration, Duration) {
    let db = Db::open(url, 2).expect("database opens");
    db.run_blocking(|c| {
        for a in 0..ACCOUNTS {
            let name = format!("bench{a}");
            let email = format!("bench{a}@example.com");
            accounts::insert(
                c,
                &NewAccount::new(&name, &email, None, 1_000_000_000_000_000, 0),
            )?
            .expect("a fresh account");
        }
        Ok(())
    })
    .expect("accounts");
    let account_ids: Vec<i64> = db
        .run_blocking(|c| {
            Ok(papertrader_master::db::schema::accounts::table
                .select(papertrader_master::db::schema::accounts::id)
                .order(papertrader_master::db::schema::accounts::id.asc())
                .load::<i64>(c)?)
        })
        .expect("ids");
    let costs = CostModel::default();
    let mut book = OrderBook::new();
    // Resting: limits 1 %–50 % below the price, spread over accounts and symbols.
    let rest: Vec<OpenOrder> = (0..resting)
        .map(|i| {
            let limit = PRICE - PRICE / 100 - (i as i64 % 4_900) * (PRICE / 10_000);
            order(
                i as u64 + 1,
                account_ids[i % account_ids.len()],
                SYMBOLS[i % SYMBOLS.len()],
                limit,
            )
        })
        .collect();
    db.run_blocking(|c| {
        insert_orders(c, &rest);
        Ok(())
    })
    .expect("resting orders");
    for o in rest {
        book.insert(o, &costs);
    }
    let prices: HashMap<String, SettlementPrice> = SYMBOLS
        .iter()
        .map(|s| {
            let price = SettlementPrice {
                price: Money(PRICE),
                stale: false,
            };
            (s.to_string(), price)
        })
        .collect();
    let mut next_id = resting as u64 + 1;
    let (mut plans, mut settles) = (Vec::new(), Vec::new());
    for tick in 0..TICKS {
        let crossing: Vec<OpenOrder> = (0..FILLS)
            .map(|i| {
                order(
                    next_id + i as u64,
                    account_ids[(i * 7) % account_ids.len()],
                    SYMBOLS[i % SYMBOLS.len()],
                    PRICE + PRICE / 100,
                )
            })
            .collect();
        next_id += FILLS as u64;
        db.run_blocking(|c| {
            insert_orders(c, &crossing);
            Ok(())
        })
        .expect("crossing orders");
        for o in crossing {
            book.insert(o, &costs);
        }
        let started = Instant::now();
        let plan = book.plan(tick as i64, &prices);
        let holdings: BTreeSet<(i64, String)> = plan
            .candidates
            .iter()
            .map(|o| (o.account_id, o.symbol.clone()))
            .collect();
        let accounts: BTreeSet<i64> = holdings.iter().map(|(a, _)| *a).collect();
        let reserved = book.reservations().subset(&accounts, &holdings);
        plans.push(started.elapsed());
        assert_eq!(plan.candidates.len(), FILLS, "only the crossing orders act");
        let work = BookTick {
            plan,
            reserved,
            allowance: None,
        };
        let terms = Terms {
            tick: tick as u64,
            prices: &prices,
            costs: &costs,
        };
        let started = Instant::now();
        let settled = db
            .run_blocking(|c| settlement::settle(c, &[], &terms, work, 0))
            .expect("settles");
        settles.push(started.elapsed());
        let filled = settled.updates.iter().filter(|u| u.fill.is_some()).count();
        assert_eq!(filled, FILLS);
        for u in settled.updates {
            book.remove(u.order.id, &costs);
        }
        assert_eq!(book.len(), resting);
    }
    (median(plans), median(settles))
}

fn report(backend: &str, url_for: impl Fn(usize) -> String) {
    let mut rows = Vec::new();
    for resting in [10_000, 100_000] {
        let (plan, settle) = run(&url_for(resting), resting);
        let total = plan + settle;
        let per_sec = FILLS as f64 / total.as_secs_f64();
        println!(
            "{backend:<10} resting {resting:>7}  plan {:>8.2} ms  settle {:>8.2} ms  tick {:>8.2} ms  {:>9.0} settled orders/s",
            plan.as_secs_f64() * 1e3,
            settle.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3,
            per_sec
        );
        rows.push(total);
    }
    println!(
        "{backend:<10} tick time at 100k resting / at 10k resting: {:.2}x (target ≤ 1.5x)",
        rows[1].as_secs_f64() / rows[0].as_secs_f64()
    );
}

fn main() {
    println!("{FILLS} crossing orders filled per tick, median of {TICKS} ticks");
    let dir = tempfile::tempdir().expect("temp dir");
    report("sqlite", |resting| {
        dir.path()
            .join(format!("bench{resting}.db"))
            .to_string_lossy()
            .into_owned()
    });
    if let Ok(base) = std::env::var("PAPERTRADER_BENCH_POSTGRES_URL") {
        report("postgres", |resting| {
            fresh_postgres(&base, resting);
            format!("{base}_resting{resting}")
        });
    } else {
        println!("postgres   skipped: set PAPERTRADER_BENCH_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)");
    }
}

/// Makes the database `{base}_resting{n}` anew (connecting to `base` to do it).
fn fresh_postgres(base: &str, resting: usize) {
    let name = format!(
        "{}_resting{resting}",
        base.rsplit('/').next().unwrap_or("bench")
    );
    let mut admin = diesel::PgConnection::establish(base).expect("PostgreSQL reachable");
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\""))
        .execute(&mut admin)
        .expect("drop");
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .expect("create");
}
