//! Orders with a client order id are idempotent (PROTOCOL.md §5.1): the same id returns the
//! stored outcome — receipt or refusal — instead of trading again, whether the repeat comes in
//! a later batch or the same one.

use papertrader_client::Connection;
use papertrader_protocol::*;

use crate::support::*;

fn keyed(buy: bool, session: &str, symbol: &str, quantity: u64, id: &str) -> Message {
    let order = TradeOrder {
        session_id: session.into(),
        symbol: symbol.into(),
        quantity,
        client_order_id: Some(id.into()),
    };
    if buy {
        Message::PurchaseAsset(order)
    } else {
        Message::SellAsset(order)
    }
}

fn receipt(reply: Message) -> TradeReceipt {
    match reply {
        Message::PurchaseSuccess(r) | Message::SellSuccess(r) => r,
        other => panic!("not a receipt: {other:?}"),
    }
}

async fn history_len(conn: &mut Connection, session: &str) -> usize {
    switch(conn, session, ConnectionState::DataTransfer)
        .await
        .unwrap();
    let history = transactions(conn, session, "omar").await;
    switch(conn, session, ConnectionState::Command)
        .await
        .unwrap();
    history.entries.len()
}

async fn the_same_client_order_id_returns_the_stored_outcome_and_never_trades_twice(db: TestDb) {
    let master = master(&db).await;
    let mut conn = Connection::connect(master.local_addr).await.unwrap();
    let session = new_user(&mut conn, "omar").await;

    // A settled order, repeated: the same receipt, no second trade.
    let first = receipt(
        conn.call(&keyed(true, &session, "AAPL", 2, "a1"))
            .await
            .unwrap(),
    );
    let again = receipt(
        conn.call(&keyed(true, &session, "AAPL", 2, "a1"))
            .await
            .unwrap(),
    );
    assert_eq!(first, again, "{}", db.backend);
    assert_eq!(history_len(&mut conn, &session).await, 1);

    // The id of another order: refused, nothing traded.
    for different in [
        keyed(false, &session, "AAPL", 2, "a1"),
        keyed(true, &session, "AAPL", 3, "a1"),
        keyed(true, &session, "MSFT", 2, "a1"),
    ] {
        let refused = reason(conn.call(&different).await);
        assert_eq!(refused, ReasonCode::InvalidArgument);
    }
    assert_eq!(history_len(&mut conn, &session).await, 1);

    // A refusal at settlement is an outcome too: the repeat gets it even when the
    // account could now pay.
    let too_big = keyed(true, &session, "AAPL", 1_000_000, "big");
    assert_eq!(
        reason(conn.call(&too_big).await),
        ReasonCode::InsufficientCash
    );
    assert_eq!(
        reason(conn.call(&too_big).await),
        ReasonCode::InsufficientCash
    );

    // Two sends of one id racing into the same batch: one trade, one receipt for both.
    let mut other = Connection::connect(master.local_addr).await.unwrap();
    let twice = keyed(true, &session, "KO", 1, "twice");
    let (a, b) = futures::join!(conn.call(&twice), other.call(&twice));
    assert_eq!(receipt(a.unwrap()), receipt(b.unwrap()));
    assert_eq!(history_len(&mut conn, &session).await, 2);

    // Refused before it reached the queue: nothing stored, the id is still free.
    let unknown = keyed(true, &session, "NOPE", 1, "u1");
    assert_eq!(reason(conn.call(&unknown).await), ReasonCode::UnknownAsset);
    receipt(
        conn.call(&keyed(true, &session, "KO", 1, "u1"))
            .await
            .unwrap(),
    );

    // Ids are per account: another account may use the same one.
    let mut third = Connection::connect(master.local_addr).await.unwrap();
    let other_session = new_user(&mut third, "pia").await;
    let theirs = receipt(
        third
            .call(&keyed(true, &other_session, "AAPL", 2, "a1"))
            .await
            .unwrap(),
    );
    assert_ne!(theirs.transaction_id, first.transaction_id);

    // An id outside the rules is refused by the input limits.
    let bad = keyed(true, &session, "KO", 1, "has space");
    assert_eq!(reason(conn.call(&bad).await), ReasonCode::InvalidArgument);
}
on_both_backends!(the_same_client_order_id_returns_the_stored_outcome_and_never_trades_twice);
