//! The storage layer's own statements, on both backends: prices folded into bars, and a
//! settlement batch's balances written and read back.

use papertrader_master::db::accounts::{self, NewAccount, TransactionRow};
use papertrader_master::db::balances::{self, Changes};
use papertrader_master::db::prices::{self, DAILY, MONTHLY};
use papertrader_master::db::Db;
use papertrader_master::domain::bars::Ohlcv;

use crate::support::*;

fn open(db: &TestDb) -> Db {
    Db::open(&db.url, 2).expect("database opens")
}

async fn prices_fold_into_bars(db: TestDb) {
    let pool = open(&db);
    let bar = |at, open, high, low, close, volume| Ohlcv {
        at,
        open,
        high,
        low,
        close,
        volume,
    };
    // One price as a point: open = high = low = close.
    let price = |close, volume| bar(0, close, close, close, close, volume);
    let bars = pool
        .run_blocking(move |c| {
            prices::fold_into_bars(
                c,
                DAILY,
                1_000,
                &[("AAA", price(10, 5)), ("BBB", price(7, 1))],
            )?;
            prices::fold_into_bars(c, DAILY, 1_000, &[("AAA", price(12, 5))])?;
            prices::fold_into_bars(c, DAILY, 1_000, &[("AAA", price(8, i64::MAX))])?;
            prices::fold_into_bars(c, DAILY, 2_000, &[("AAA", price(9, 3))])?;
            prices::fold_into_bars(c, MONTHLY, 1_000, &[("AAA", price(11, 2))])?;
            // A source's day figures: its open, high and low, whatever the price.
            prices::fold_into_bars(c, DAILY, 3_000, &[("AAA", bar(0, 20, 25, 15, 21, 7))])?;
            prices::fold_into_bars(c, DAILY, 3_000, &[("AAA", bar(0, 19, 26, 16, 22, 1))])?;
            Ok((
                prices::bars_between(c, "AAA", DAILY, 0, 5_000)?,
                prices::bars_between(c, "BBB", DAILY, 0, 5_000)?,
                prices::bars_between(c, "AAA", MONTHLY, 0, 5_000)?,
            ))
        })
        .unwrap();
    // Open stays the first, high and low widen, close is the last, volume adds and saturates.
    assert_eq!(
        bars.0,
        vec![
            bar(1_000, 10, 12, 8, 8, i64::MAX),
            bar(2_000, 9, 9, 9, 9, 3),
            bar(3_000, 20, 26, 15, 22, 8),
        ]
    );
    assert_eq!(bars.1, vec![bar(1_000, 7, 7, 7, 7, 1)]);
    assert_eq!(bars.2, vec![bar(1_000, 11, 11, 11, 11, 2)]);
}
on_both_backends!(prices_fold_into_bars);

fn trade(id: i64, account_id: i64, symbol: &str, worker: Option<&str>) -> TransactionRow {
    TransactionRow {
        id,
        account_id,
        side: 0,
        symbol: symbol.into(),
        quantity: 3,
        price: 1_500_000,
        cash_after: 5_000_000,
        placed_at: 10,
        settled_at: 20,
        tick: 7,
        client_ip: "192.0.2.1".into(),
        worker_uuid: worker.map(str::to_owned),
        order_id: None,
        commission: id * 7,
    }
}

async fn balances_are_written_and_read_back(db: TestDb) {
    let pool = open(&db);
    let read = pool
        .run_blocking(|c| {
            let mut ids = Vec::new();
            for name in ["ann", "bob", "cid"] {
                let email = format!("{name}@example.com");
                let new = NewAccount::new(name, &email, Some("x"), 100, 0);
                ids.push(accounts::insert(c, &new)?.expect("new names"));
            }
            let (ann, bob) = (ids[0], ids[1]);
            let trades = [
                trade(1, ann, "AAA", Some("w-1")),
                trade(2, bob, "BBB", None),
            ];
            balances::write(
                c,
                &Changes {
                    cash: vec![(ann, 40), (bob, 70)],
                    holdings: vec![(ann, "AAA", 3), (ann, "CCC", 2), (bob, "BBB", 3)],
                    trades: &trades,
                },
            )?;
            // A holding sold to zero disappears; the others are updated in place.
            balances::write(
                c,
                &Changes {
                    cash: vec![(ann, 45)],
                    holdings: vec![(ann, "CCC", 0), (ann, "AAA", 5)],
                    trades: &[],
                },
            )?;
            let balances = balances::read(c, &ids)?;
            let history = (
                accounts::transactions_of(c, ann)?,
                accounts::transactions_of(c, bob)?,
            );
            Ok((ids, balances, history, trades))
        })
        .unwrap();
    let (ids, balances, (ann_history, bob_history), trades) = read;
    let (ann, bob, cid) = (ids[0], ids[1], ids[2]);
    assert_eq!(balances.cash.len(), 3);
    assert_eq!(
        (
            balances.cash[&ann],
            balances.cash[&bob],
            balances.cash[&cid]
        ),
        (45, 70, 100)
    );
    let mut held: Vec<_> = balances.holdings.into_iter().collect();
    held.sort();
    assert_eq!(
        held,
        vec![((ann, "AAA".to_owned()), 5), ((bob, "BBB".to_owned()), 3)]
    );
    assert_eq!(ann_history, vec![trades[0].clone()]);
    assert_eq!(bob_history, vec![trades[1].clone()]);
}
on_both_backends!(balances_are_written_and_read_back);
