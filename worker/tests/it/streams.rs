//! Live streams (PROTOCOL.md §12) over real sockets: numbering, ordering against replies,
//! account events, conflation, dropping a stuck subscriber, unsubscribe and logout, and
//! re-subscribing on another worker after a failover.

use std::time::{Duration, Instant};

use papertrader_client::{Client, Connection, Push};
use papertrader_protocol::data::{OrderKind, Side, TimeInForce};
use papertrader_protocol::stream::AccountEventKind;
use papertrader_protocol::*;

use crate::support::*;

const SYMBOLS: [&str; 3] = ["AAPL", "KO", "MSFT"];

fn symbols() -> Vec<String> {
    SYMBOLS.iter().map(|s| s.to_string()).collect()
}

/// A master ticking every `interval_ms` and one worker configured by `tune`.
async fn cluster(
    dir: &std::path::Path,
    interval_ms: u64,
    tune: impl FnOnce(&mut papertrader_worker::config::WorkerConfig),
) -> (
    papertrader_master::server::RunningMaster,
    papertrader_worker::server::RunningWorker,
) {
    let mut config = master_config(dir);
    config.update_interval_ms = interval_ms;
    let mut worker_config = worker_config(dir, "a", config.listen);
    tune(&mut worker_config);
    config.max_payload = worker_config.max_payload;
    let master = start_master_with(config).await;
    worker_config.master = master.local_addr.to_string();
    register_worker(&master, "a", &worker_config, &["127.0.0.1"]).await;
    let worker = start_worker(worker_config).await;
    wait_link(&worker.link, up).await;
    (master, worker)
}

/// Logs `session` in on `conn` and enters DataTransfer state.
async fn enter_data(conn: &mut Connection, session: &str) {
    conn.open_data_transfer(session).await.unwrap();
}

async fn subscribe_quotes(conn: &mut Connection, id: u64) {
    let reply = conn
        .call(&Message::SubscribeQuotes(SubscribeQuotes {
            subscription_id: id,
            symbols: symbols(),
        }))
        .await
        .unwrap();
    assert_eq!(
        reply,
        Message::SubscribeSuccess(Subscribed {
            subscription_id: id,
            resume_from: 0,
        })
    );
}

async fn subscribe_account(conn: &mut Connection, session: &str, id: u64, since: Option<u64>) {
    let reply = conn
        .call(&Message::SubscribeAccount(SubscribeAccount {
            session_id: session.into(),
            subscription_id: id,
            since_transaction_id: since,
        }))
        .await
        .unwrap();
    assert!(matches!(reply, Message::SubscribeSuccess(_)), "{reply:?}");
}

/// Every frame that arrives within `wait`.
async fn frames_for(conn: &mut Connection, wait: Duration) -> Vec<Message> {
    let deadline = Instant::now() + wait;
    let mut frames = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match conn.receive_any(left).await {
            Ok(frame) => frames.push(frame),
            Err(_) => break,
        }
    }
    frames
}

/// The next frame matching `wanted` within 10 s (others are skipped).
async fn wait_for(conn: &mut Connection, wanted: impl Fn(&Message) -> bool) -> Message {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("the awaited frame never came");
        let frame = conn.receive_any(left).await.expect("a frame");
        if wanted(&frame) {
            return frame;
        }
    }
}

/// Subscribes `conn` to every symbol the worker has, `count` times over (so that a reader
/// that stops reading backs up within a second or two, loopback buffers notwithstanding).
async fn subscribe_heavily(
    conn: &mut Connection,
    worker: &papertrader_worker::server::RunningWorker,
    count: u64,
) {
    let every: Vec<String> = worker
        .streams
        .latest()
        .unwrap()
        .quotes
        .keys()
        .cloned()
        .collect();
    for id in 1..=count {
        let reply = conn
            .call(&Message::SubscribeQuotes(SubscribeQuotes {
                subscription_id: id,
                symbols: every.clone(),
            }))
            .await
            .unwrap();
        assert!(matches!(reply, Message::SubscribeSuccess(_)));
    }
}

/// A connection whose socket takes few bytes (a 2 KiB receive buffer): it backs up fast.
async fn narrow_connection(to: std::net::SocketAddr) -> Connection {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    Connection::from_stream(socket.connect(to).await.unwrap()).unwrap()
}

fn quote_sequences(frames: &[Message], id: u64) -> Vec<u64> {
    frames
        .iter()
        .filter_map(|m| match m {
            Message::QuotePush(p) if p.subscription_id == id => Some(p.sequence),
            _ => None,
        })
        .collect()
}

#[actix::test]
async fn quote_pushes_are_numbered_and_never_enter_a_reply() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, worker) = cluster(dir.path(), 20, |c| c.max_payload = 4096).await;
    let mut conn = Connection::connect(worker.local_addr).await.unwrap();
    let session = new_user(&mut conn, "quinn").await;
    enter_data(&mut conn, &session).await;
    subscribe_quotes(&mut conn, 7).await;

    // Twelve multi-packet history requests in flight at once while ticks come every 20 ms.
    let now = chrono::Utc::now().timestamp_millis();
    let requested: Vec<&str> = (0..12).map(|i| SYMBOLS[i % 3]).collect();
    for symbol in &requested {
        conn.send(&Message::GetAssetValueDay(AssetRangeQuery {
            symbol: (*symbol).into(),
            date_ms: now,
        }))
        .await
        .unwrap();
    }
    let mut frames = Vec::new();
    let mut completed = 0;
    while completed < requested.len() {
        let frame = conn.receive_any(Duration::from_secs(10)).await.unwrap();
        if let Message::Data(packet) = &frame {
            if packet.number == packet.max {
                completed += 1;
            }
        }
        frames.push(frame);
    }
    frames.extend(frames_for(&mut conn, Duration::from_millis(200)).await);

    // Each transfer's packets are consecutive, 1..max, with no push among them; transfers
    // come in request order.
    let mut replies = Vec::new();
    let mut transfer: Option<(u32, u32, Vec<u8>)> = None;
    for frame in &frames {
        match (frame, &mut transfer) {
            (Message::Data(p), None) => {
                assert_eq!(p.number, 1, "a transfer starts at packet 1");
                transfer = Some((p.number, p.max, p.chunk.to_vec()));
            }
            (Message::Data(p), Some((number, max, bytes))) => {
                assert_eq!((p.number, p.max), (*number + 1, *max), "packets in order");
                *number = p.number;
                bytes.extend_from_slice(&p.chunk);
            }
            (Message::QuotePush(_), Some(_)) => panic!("a push inside a multi-packet reply"),
            (Message::QuotePush(_), None) => {}
            (other, _) => panic!("unexpected {other:?}"),
        }
        if let Some((number, max, bytes)) = &transfer {
            if number == max {
                let DataBody::History(h) = DataBody::decode(bytes).unwrap() else {
                    panic!("not a history")
                };
                replies.push(h.symbol);
                transfer = None;
            }
        }
    }
    assert_eq!(replies, requested, "replies in request order");
    assert!(frames
        .iter()
        .any(|f| matches!(f, Message::Data(p) if p.max > 1)));

    // Numbered from 1, increasing (pushes held back while replies go out may conflate).
    let sequences = quote_sequences(&frames, 7);
    assert!(sequences.len() >= 5, "only {} pushes", sequences.len());
    assert_eq!(sequences[0], 1);
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    // Once nothing else is sent, a reader that keeps up sees every update: no gap.
    let quiet = frames_for(&mut conn, Duration::from_millis(500)).await;
    let calm = quote_sequences(&quiet, 7);
    assert!(calm.len() >= 5, "only {} pushes", calm.len());
    assert!(calm.windows(2).all(|w| w[1] == w[0] + 1), "{calm:?}");
    let ticks: Vec<u64> = frames
        .iter()
        .filter_map(|m| match m {
            Message::QuotePush(p) => Some(p.tick),
            _ => None,
        })
        .collect();
    assert!(ticks.windows(2).all(|w| w[0] < w[1]), "{ticks:?}");
    let first = frames
        .iter()
        .find_map(|m| match m {
            Message::QuotePush(p) => Some(p),
            _ => None,
        })
        .unwrap();
    let mut names: Vec<&str> = first.quotes.iter().map(|q| q.symbol.as_str()).collect();
    names.sort();
    assert_eq!(
        names, SYMBOLS,
        "the first push is the snapshot of every symbol"
    );
}

#[actix::test]
async fn subscribe_requests_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, worker) = cluster(dir.path(), 50, |_| {}).await;
    let mut conn = Connection::connect(worker.local_addr).await.unwrap();
    let session = new_user(&mut conn, "vera").await;
    // Command state: not legal.
    let refused = conn
        .call(&Message::SubscribeQuotes(SubscribeQuotes {
            subscription_id: 1,
            symbols: symbols(),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), Some(ReasonCode::WrongState));
    enter_data(&mut conn, &session).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // the worker has a tick by now
    let unknown = conn
        .call(&Message::SubscribeQuotes(SubscribeQuotes {
            subscription_id: 1,
            symbols: vec!["NOPE".into()],
        }))
        .await
        .unwrap_err();
    assert_eq!(unknown.reason(), Some(ReasonCode::UnknownAsset));
    subscribe_quotes(&mut conn, 1).await;
    let twice = conn
        .call(&Message::SubscribeQuotes(SubscribeQuotes {
            subscription_id: 1,
            symbols: symbols(),
        }))
        .await
        .unwrap_err();
    assert_eq!(twice.reason(), Some(ReasonCode::SubscriptionExists));
    let not_mine = conn
        .call(&Message::SubscribeAccount(SubscribeAccount {
            session_id: "0".repeat(32),
            subscription_id: 2,
            since_transaction_id: None,
        }))
        .await
        .unwrap_err();
    assert_eq!(not_mine.reason(), Some(ReasonCode::SessionInvalid));
    let gone = conn
        .call(&Message::Unsubscribe(SubscriptionId { subscription_id: 9 }))
        .await
        .unwrap_err();
    assert_eq!(gone.reason(), Some(ReasonCode::UnknownSubscription));
}

#[actix::test]
async fn account_events_follow_the_orders_of_their_own_account_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, worker) = cluster(dir.path(), 50, |_| {}).await;
    let mut orders = Connection::connect(worker.local_addr).await.unwrap();
    let session = new_user(&mut orders, "wendy").await;
    let mut other = Connection::connect(worker.local_addr).await.unwrap();
    let other_session = new_user(&mut other, "xavier").await;
    let mut stream = Connection::connect(worker.local_addr).await.unwrap();
    enter_data(&mut stream, &session).await;
    subscribe_account(&mut stream, &session, 3, None).await;

    let limit = |limit: i64, tif| {
        move |session: &str| {
            Message::PlaceOrder(PlaceOrder {
                session_id: session.into(),
                side: Side::Buy,
                symbol: "KO".into(),
                quantity: 2,
                kind: OrderKind::Limit,
                limit_price: Some(Money::from_units(limit)),
                stop_price: None,
                time_in_force: tif,
                client_order_id: None,
            })
        }
    };
    // xavier trades too: none of it may reach wendy's stream.
    other
        .call(&limit(1_000, TimeInForce::GoodTillCancelled)(
            &other_session,
        ))
        .await
        .unwrap();
    // A limit far above the price fills at the next tick; one far below rests, then is
    // cancelled; a queued purchase settles at the next tick.
    let Message::OrderAccepted(filling) = orders
        .call(&limit(1_000, TimeInForce::GoodTillCancelled)(&session))
        .await
        .unwrap()
    else {
        panic!()
    };
    let Message::OrderAccepted(resting) = orders
        .call(&limit(1, TimeInForce::GoodTillCancelled)(&session))
        .await
        .unwrap()
    else {
        panic!()
    };
    let bought = orders
        .call(&Message::PurchaseAsset(TradeOrder {
            session_id: session.clone(),
            symbol: "KO".into(),
            quantity: 1,
            client_order_id: None,
        }))
        .await
        .unwrap();
    assert!(matches!(bought, Message::PurchaseSuccess(_)), "{bought:?}");
    orders
        .call(&Message::CancelOrder(CancelOrder {
            session_id: session.clone(),
            order_id: resting.order_id,
        }))
        .await
        .unwrap();
    // The stream: accepted ×2, filled (the limit), filled (the purchase), cancelled — in
    // some interleaving with the tick — numbered 1…5, and nothing of xavier's.
    let mut pushed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pushed.len() < 5 && Instant::now() < deadline {
        if let Ok(Message::AccountPush(p)) = stream.receive_any(Duration::from_secs(1)).await {
            pushed.push(p);
        }
    }
    pushed.extend(
        frames_for(&mut stream, Duration::from_millis(300))
            .await
            .into_iter()
            .filter_map(|m| match m {
                Message::AccountPush(p) => Some(p),
                _ => None,
            }),
    );
    let sequences: Vec<u64> = pushed.iter().map(|p| p.sequence).collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5]);
    let mut kinds: Vec<(Option<u64>, &str)> = pushed
        .iter()
        .map(|p| (p.event.order_id, p.event.kind.name()))
        .collect();
    kinds.sort();
    let (f, r) = (Some(filling.order_id), Some(resting.order_id));
    let mut expected = vec![
        (None, "filled"),
        (f, "accepted"),
        (f, "filled"),
        (r, "accepted"),
        (r, "cancelled"),
    ];
    expected.sort();
    assert_eq!(kinds, expected);
    let cancelled = pushed
        .iter()
        .find(|p| p.event.kind == AccountEventKind::Cancelled)
        .unwrap();
    assert_eq!(cancelled.event.reason, 0, "cancelled by its owner");
    let mut events = Vec::new();
    // Replays what was read so far: ask again from the start through a second subscription.
    let mut again = Connection::connect(worker.local_addr).await.unwrap();
    enter_data(&mut again, &session).await;
    subscribe_account(&mut again, &session, 4, Some(0)).await;
    for frame in frames_for(&mut again, Duration::from_millis(500)).await {
        if let Message::AccountPush(p) = frame {
            events.push(p);
        }
    }
    let replayed: Vec<(Option<u64>, AccountEventKind, bool)> = events
        .iter()
        .map(|p| (p.event.order_id, p.event.kind, p.event.replayed))
        .collect();
    assert_eq!(
        replayed.len(),
        2,
        "two fills to replay (the limit and the purchase): {replayed:?}"
    );
    assert!(replayed
        .iter()
        .all(|(_, kind, r)| *r && *kind == AccountEventKind::Filled));

    // A third subscription, live only, numbers from 1 again.
    let mut third = Connection::connect(worker.local_addr).await.unwrap();
    enter_data(&mut third, &session).await;
    subscribe_account(&mut third, &session, 5, None).await;
    let Message::OrderAccepted(last) = orders
        .call(&limit(1_000, TimeInForce::GoodTillCancelled)(&session))
        .await
        .unwrap()
    else {
        panic!()
    };
    let filled = wait_for(
        &mut third,
        |m| matches!(m, Message::AccountPush(p) if p.event.kind == AccountEventKind::Filled),
    )
    .await;
    let Message::AccountPush(filled) = filled else {
        panic!()
    };
    assert_eq!(filled.sequence, 2, "accepted was 1, the fill 2");
    assert_eq!(filled.event.order_id, Some(last.order_id));
    let fill = filled.event.fill.clone().expect("a fill");
    assert_eq!((fill.quantity, filled.event.filled_quantity), (2, 2));
    assert!(filled.event.cash_after.is_some());
    assert!(!filled.event.replayed);
    assert!(
        fill.transaction_id
            > events
                .last()
                .unwrap()
                .event
                .fill
                .as_ref()
                .unwrap()
                .transaction_id
    );
    assert_ne!(filling.order_id, last.order_id);
}

#[actix::test]
async fn unsubscribe_and_logout_end_pushes() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, worker) = cluster(dir.path(), 20, |_| {}).await;
    let mut command = Connection::connect(worker.local_addr).await.unwrap();
    let session = new_user(&mut command, "yara").await;
    let mut stream = Connection::connect(worker.local_addr).await.unwrap();
    enter_data(&mut stream, &session).await;
    subscribe_quotes(&mut stream, 1).await;
    subscribe_quotes(&mut stream, 2).await;
    subscribe_account(&mut stream, &session, 3, None).await;
    wait_for(
        &mut stream,
        |m| matches!(m, Message::QuotePush(p) if p.sequence >= 3),
    )
    .await;

    // Unsubscribe while pushes are in flight: none of subscription 1 follows the reply.
    stream
        .send(&Message::Unsubscribe(SubscriptionId { subscription_id: 1 }))
        .await
        .unwrap();
    let mut before = Vec::new();
    let last = loop {
        match stream.receive_any(Duration::from_secs(5)).await.unwrap() {
            Message::UnsubscribeSuccess(done) => break done.last_sequence,
            other => before.push(other),
        }
    };
    let seen = quote_sequences(&before, 1);
    assert!(seen.iter().all(|s| *s <= last), "{seen:?} after {last}");
    let after = frames_for(&mut stream, Duration::from_millis(300)).await;
    assert!(
        quote_sequences(&after, 1).is_empty(),
        "pushes after unsubscribe"
    );
    assert!(
        !quote_sequences(&after, 2).is_empty(),
        "subscription 2 goes on"
    );

    // Logout on the other connection: once it is answered, the stream's subscriptions have
    // ended (with the reason), and nothing follows the notices.
    command
        .call(&Message::Logout(SessionToken {
            session_id: session.clone(),
        }))
        .await
        .unwrap();
    let mut ended = Vec::new();
    let mut after_end = Vec::new();
    for frame in frames_for(&mut stream, Duration::from_millis(600)).await {
        match frame {
            Message::SubscriptionEnded(e) => {
                assert!(after_end.is_empty(), "pushes between the notices");
                assert_eq!(e.reason, ReasonCode::SessionInvalid);
                ended.push(e.subscription_id);
            }
            other if ended.len() == 2 => after_end.push(other),
            _ => {}
        }
    }
    ended.sort();
    assert_eq!(ended, [2, 3]);
    assert!(after_end.is_empty(), "after the end: {after_end:?}");
}

#[actix::test]
async fn a_slow_subscriber_gets_the_latest_quotes_with_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, worker) = cluster(dir.path(), 10, |c| c.push_max_lag_ms = 60_000).await;
    let mut slow = narrow_connection(worker.local_addr).await;
    let session = new_user(&mut slow, "zoe").await;
    enter_data(&mut slow, &session).await;
    subscribe_heavily(&mut slow, &worker, 16).await;
    let mut fast = Connection::connect(worker.local_addr).await.unwrap();
    enter_data(&mut fast, &session).await;
    subscribe_quotes(&mut fast, 1).await;

    // The slow one reads nothing for 3 s; the fast one reads everything meanwhile.
    let fast_frames = frames_for(&mut fast, Duration::from_secs(3)).await;
    let fast_seq = quote_sequences(&fast_frames, 1);
    assert!(
        fast_seq.len() >= 30,
        "the fast reader got {}",
        fast_seq.len()
    );
    assert!(fast_seq.windows(2).all(|w| w[0] < w[1]));

    let frames = frames_for(&mut slow, Duration::from_millis(1500)).await;
    let slow_seq = quote_sequences(&frames, 1);
    let gaps = slow_seq.windows(2).filter(|w| w[1] > w[0] + 1).count();
    assert!(gaps >= 1, "no conflation seen: {slow_seq:?}");
    assert!(slow_seq.windows(2).all(|w| w[0] < w[1]));
    // It caught up: its last push is as recent as the fast reader's.
    let last_tick = |frames: &[Message]| {
        frames
            .iter()
            .filter_map(|m| match m {
                Message::QuotePush(p) => Some(p.tick),
                _ => None,
            })
            .max()
            .unwrap()
    };
    let fresh = frames_for(&mut fast, Duration::from_millis(100)).await;
    assert!(last_tick(&frames) + 20 >= last_tick(&fresh));
}

#[actix::test]
async fn a_stuck_subscriber_is_dropped_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, worker) = cluster(dir.path(), 10, |c| c.push_max_lag_ms = 500).await;
    let mut stuck = narrow_connection(worker.local_addr).await;
    let session = new_user(&mut stuck, "abel").await;
    enter_data(&mut stuck, &session).await;
    subscribe_heavily(&mut stuck, &worker, 16).await;
    let mut fast = Connection::connect(worker.local_addr).await.unwrap();
    enter_data(&mut fast, &session).await;
    subscribe_quotes(&mut fast, 1).await;

    let fast_frames = frames_for(&mut fast, Duration::from_secs(4)).await;
    let fast_seq = quote_sequences(&fast_frames, 1);
    assert!(fast_seq.windows(2).all(|w| w[0] < w[1]));
    assert!(
        fast_seq.len() >= 40,
        "the fast reader got {}",
        fast_seq.len()
    );
    // The stuck one never held the fast one back: it is still being served.
    assert!(!frames_for(&mut fast, Duration::from_millis(200))
        .await
        .is_empty());

    let frames = frames_for(&mut stuck, Duration::from_secs(2)).await;
    let position = frames
        .iter()
        .position(|m| matches!(m, Message::SubscriptionEnded(_)))
        .expect("dropped");
    let Message::SubscriptionEnded(ended) = &frames[position] else {
        unreachable!()
    };
    assert_eq!(ended.reason, ReasonCode::SlowConsumer);
    assert!(ended.message.contains("500 ms"), "{}", ended.message);
    let notices = &frames[position..];
    assert_eq!(
        notices.len(),
        16,
        "one notice per subscription, nothing after them"
    );
    assert!(notices.iter().all(
        |m| matches!(m, Message::SubscriptionEnded(e) if e.reason == ReasonCode::SlowConsumer)
    ));
    // The connection itself still works.
    let reply = stuck
        .call(&Message::GetAssetValueCurrent(AssetQuery {
            symbol: "KO".into(),
        }))
        .await;
    assert!(reply.is_ok());
}

#[actix::test]
async fn a_stream_resubscribes_on_another_worker_and_learns_the_fills_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = master_config(dir.path());
    config.update_interval_ms = 50;
    let master = start_master_with(config).await;
    let master_addr = master.local_addr;
    let (doomed, addr_a, b) = doomed_and_spare(&master, dir.path()).await;
    let mut client = Client::via_master(&master_addr.to_string()).await.unwrap();
    assert_eq!(client.worker(), addr_a.to_string());
    client
        .register("bea", "bea@example.com", "pw")
        .await
        .unwrap();
    client.login("bea", "pw", true).await.unwrap();
    let mut stream = client.open_stream().await.unwrap();
    stream.subscribe_account(1, None).await.unwrap();
    let first = client.buy("KO", 1).await.unwrap();
    let seen = loop {
        match stream.next(Duration::from_secs(5)).await.unwrap() {
            Some(Push::Account(p)) if p.event.fill.is_some() => break p,
            Some(_) => {}
            None => panic!("no fill event"),
        }
    };
    assert_eq!(
        seen.event.fill.as_ref().unwrap().transaction_id,
        first.transaction_id
    );

    doomed.stop();
    // Two more fills while the stream has no worker.
    let missed = [
        client.buy("KO", 2).await.unwrap(),
        client.buy("KO", 3).await.unwrap(),
    ];
    assert!(
        stream.next(Duration::from_secs(5)).await.is_err(),
        "the stream is cut"
    );
    stream.reconnect().await.unwrap();
    assert_eq!(stream.worker(), b.local_addr.to_string());
    let live = client.buy("KO", 4).await.unwrap();
    let mut fills = Vec::new();
    while fills.len() < 3 {
        match stream.next(Duration::from_secs(5)).await.unwrap() {
            Some(Push::Account(p)) => {
                if let Some(fill) = &p.event.fill {
                    fills.push((fill.transaction_id, p.event.replayed, p.sequence));
                }
            }
            Some(_) => {}
            None => panic!("fills missing: {fills:?}"),
        }
    }
    assert_eq!(
        fills,
        [
            (missed[0].transaction_id, true, 1),
            (missed[1].transaction_id, true, 2),
            (live.transaction_id, false, 3),
        ]
    );
}

#[actix::test]
async fn a_reused_subscription_id_never_gets_an_earlier_subscriptions_events() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, worker) = cluster(dir.path(), 50, |_| {}).await;
    let mut first = Connection::connect(worker.local_addr).await.unwrap();
    let first_session = new_user(&mut first, "carl").await;
    let mut second = Connection::connect(worker.local_addr).await.unwrap();
    let second_session = new_user(&mut second, "dina").await;
    let mut stream = Connection::connect(worker.local_addr).await.unwrap();
    enter_data(&mut stream, &first_session).await;
    subscribe_account(&mut stream, &first_session, 2, None).await;
    let resting = |session: &str| {
        Message::PlaceOrder(PlaceOrder {
            session_id: session.into(),
            side: Side::Buy,
            symbol: "KO".into(),
            quantity: 1,
            kind: OrderKind::Limit,
            limit_price: Some(Money::from_units(1)),
            stop_price: None,
            time_in_force: TimeInForce::GoodTillCancelled,
            client_order_id: None,
        })
    };
    first.call(&resting(&first_session)).await.unwrap();
    wait_for(&mut stream, |m| matches!(m, Message::AccountPush(_))).await;

    // Same id, at once, now for dina's account, while carl keeps placing orders.
    let carl = async {
        for _ in 0..10 {
            first.call(&resting(&first_session)).await.unwrap();
        }
    };
    let swap = async {
        stream
            .call(&Message::Unsubscribe(SubscriptionId { subscription_id: 2 }))
            .await
            .unwrap();
        let reply = stream
            .call(&Message::SubscribeAccount(SubscribeAccount {
                session_id: second_session.clone(),
                subscription_id: 2,
                since_transaction_id: None,
            }))
            .await
            .unwrap();
        assert!(matches!(reply, Message::SubscribeSuccess(_)), "{reply:?}");
    };
    futures::join!(carl, swap);
    let Message::OrderAccepted(dinas) = second.call(&resting(&second_session)).await.unwrap()
    else {
        panic!()
    };
    let frames = frames_for(&mut stream, Duration::from_millis(800)).await;
    let events: Vec<(u64, Option<u64>)> = frames
        .iter()
        .filter_map(|m| match m {
            Message::AccountPush(p) if p.subscription_id == 2 => {
                Some((p.sequence, p.event.order_id))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        [(1, Some(dinas.order_id))],
        "only dina's order, numbered from 1"
    );
}

#[actix::test]
async fn an_account_subscription_tells_where_to_resume_from() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, worker) = cluster(dir.path(), 50, |_| {}).await;
    let mut conn = Connection::connect(worker.local_addr).await.unwrap();
    let session = new_user(&mut conn, "emil").await;
    let mut last = 0;
    for quantity in [1, 2] {
        let reply = conn
            .call(&Message::PurchaseAsset(TradeOrder {
                session_id: session.clone(),
                symbol: "KO".into(),
                quantity,
                client_order_id: None,
            }))
            .await
            .unwrap();
        let Message::PurchaseSuccess(receipt) = reply else {
            panic!("{reply:?}")
        };
        last = receipt.transaction_id;
    }
    let mut stream = Connection::connect(worker.local_addr).await.unwrap();
    enter_data(&mut stream, &session).await;
    let reply = stream
        .call(&Message::SubscribeAccount(SubscribeAccount {
            session_id: session.clone(),
            subscription_id: 1,
            since_transaction_id: None,
        }))
        .await
        .unwrap();
    assert_eq!(
        reply,
        Message::SubscribeSuccess(Subscribed {
            subscription_id: 1,
            resume_from: last,
        })
    );
    // Resuming from it replays nothing.
    let again = stream
        .call(&Message::SubscribeAccount(SubscribeAccount {
            session_id: session,
            subscription_id: 2,
            since_transaction_id: Some(last),
        }))
        .await
        .unwrap();
    assert!(matches!(again, Message::SubscribeSuccess(_)));
    let frames = frames_for(&mut stream, Duration::from_millis(400)).await;
    assert!(
        !frames.iter().any(|m| matches!(m, Message::AccountPush(_))),
        "{frames:?}"
    );
}

#[actix::test]
async fn leaving_data_transfer_ends_every_subscription_silently() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, worker) = cluster(dir.path(), 20, |_| {}).await;
    let mut conn = Connection::connect(worker.local_addr).await.unwrap();
    let session = new_user(&mut conn, "fred").await;
    enter_data(&mut conn, &session).await;
    subscribe_quotes(&mut conn, 1).await;
    subscribe_account(&mut conn, &session, 2, None).await;
    wait_for(
        &mut conn,
        |m| matches!(m, Message::QuotePush(p) if p.sequence >= 3),
    )
    .await;
    // Switch while pushes are flowing: the reply comes, then nothing of either subscription.
    conn.send(&Message::SwitchState(SwitchState {
        session_id: session.clone(),
        state: ConnectionState::Command,
    }))
    .await
    .unwrap();
    loop {
        match conn.receive_any(Duration::from_secs(5)).await.unwrap() {
            Message::StateSwitchSuccess(_) => break,
            Message::QuotePush(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let after = frames_for(&mut conn, Duration::from_millis(400)).await;
    assert!(after.is_empty(), "after leaving DataTransfer: {after:?}");
    // The ids are free again once back in DataTransfer.
    enter_data(&mut conn, &session).await;
    subscribe_quotes(&mut conn, 1).await;
}
