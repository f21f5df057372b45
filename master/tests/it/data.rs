//! Every data instruction: success, failure, public vs private, multi-packet transfers.

use papertrader_client::Connection;
use papertrader_protocol::data::{DataBody, Resolution};
use papertrader_protocol::*;

use crate::support::*;

fn range(symbol: &str, date_ms: i64) -> AssetRangeQuery {
    AssetRangeQuery {
        symbol: symbol.into(),
        date_ms,
    }
}

async fn every_data_instruction_answers_or_fails_with_a_reason(db: TestDb) {
    let master = master(&db).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let grace = new_user(&mut c, "grace").await;
    let heidi = new_user(&mut c, "heidi").await;
    order(&mut c, true, &heidi, "MSFT", 3).await.unwrap();
    switch(&mut c, &grace, ConnectionState::DataTransfer)
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let asset = |s: &str| AssetQuery { symbol: s.into() };

    let DataBody::AssetInfo(info) = c
        .call_data(&Message::GetAssetInfo(asset("AAPL")), |_, _| {})
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (info.symbol.as_str(), info.name.as_str()),
        ("AAPL", "Apple Inc."),
        "{}",
        db.backend
    );
    assert!(info.latest.close.micros() > 0 && info.latest.low <= info.latest.high);
    let DataBody::Quote(q) = c
        .call_data(&Message::GetAssetValueCurrent(asset("KO")), |_, _| {})
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(q.symbol, "KO");

    // Day: intraday points; large enough to need several packets at a 4 KiB payload limit.
    let mut progress = Vec::new();
    let day = c
        .call_data(&Message::GetAssetValueDay(range("AAPL", now)), |n, m| {
            progress.push((n, m))
        })
        .await
        .unwrap();
    let DataBody::History(day) = day else {
        panic!()
    };
    assert_eq!(day.resolution, Resolution::Tick);
    assert!(day.bars.len() >= 288, "{}", day.bars.len());
    assert!(day
        .bars
        .iter()
        .all(|b| b.at_ms >= now - 86_400_000 && b.at_ms <= now));
    assert!(day.bars.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
    let max = progress.first().map(|p| p.1).unwrap_or(0);
    assert!(max >= 4, "a multi-packet transfer, got {progress:?}");
    assert_eq!(progress, (1..max).map(|n| (n, max)).collect::<Vec<_>>());

    let expect = [
        (
            Message::GetAssetValueWeek(range("AAPL", now)),
            Resolution::Daily,
            7,
        ),
        (
            Message::GetAssetValueMonth(range("AAPL", now)),
            Resolution::Daily,
            30,
        ),
        (
            Message::GetAssetValueYear(range("AAPL", now)),
            Resolution::Monthly,
            3,
        ), // 60 backfilled days span 3 months
        (
            Message::GetAssetValueAllTime(asset("AAPL")),
            Resolution::Monthly,
            3,
        ),
    ];
    for (request, resolution, at_least) in expect {
        let DataBody::History(h) = c.call_data(&request, |_, _| {}).await.unwrap() else {
            panic!()
        };
        assert_eq!(h.resolution, resolution, "{}", request.instruction());
        assert!(
            h.bars.len() >= at_least && h.bars.len() <= at_least + 1,
            "{}: {}",
            request.instruction(),
            h.bars.len()
        );
    }

    for bad in [
        Message::GetAssetInfo(asset("NOPE")),
        Message::GetAssetValueCurrent(asset("NOPE")),
        Message::GetAssetValueDay(range("NOPE", now)),
        Message::GetAssetValueAllTime(asset("NOPE")),
    ] {
        assert_eq!(
            reason(c.call_data(&bad, |_, _| {}).await),
            ReasonCode::UnknownAsset,
            "{}",
            bad.instruction()
        );
    }
    let long_ago = now - 5 * 365 * 86_400_000;
    assert_eq!(
        reason(
            c.call_data(
                &Message::GetAssetValueWeek(range("AAPL", long_ago)),
                |_, _| {}
            )
            .await
        ),
        ReasonCode::NoData
    );
    assert_eq!(
        reason(
            c.call_data(
                &Message::GetAssetValueDay(range("AAPL", long_ago)),
                |_, _| {}
            )
            .await
        ),
        ReasonCode::NoData
    );

    // Private data only to the owner.
    let own = c
        .call_data(
            &Message::GetUserInfo(user_query(&grace, "grace")),
            |_, _| {},
        )
        .await
        .unwrap();
    let DataBody::UserInfo(own) = own else {
        panic!()
    };
    assert!(
        own.is_owner && own.email.as_deref() == Some("grace@example.com") && own.cash.is_some()
    );
    let DataBody::UserInfo(other) = c
        .call_data(
            &Message::GetUserInfo(user_query(&grace, "heidi")),
            |_, _| {},
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(
        !other.is_owner
            && other.email.is_none()
            && other.cash.is_none()
            && other.has_password.is_none()
    );
    let p = portfolio(&mut c, &grace, "heidi").await;
    assert_eq!(
        (p.cash, p.holdings.len(), p.holdings[0].quantity),
        (None, 1, 3)
    );
    let t = transactions(&mut c, &grace, "heidi").await;
    assert_eq!(t.entries.len(), 1);
    assert_eq!(t.entries[0].cash_after, None);

    for bad in [
        Message::GetUserInfo(user_query(&grace, "nobody")),
        Message::GetUserPortfolio(user_query(&grace, "nobody")),
        Message::GetUserTransactionHistory(user_query(&grace, "nobody")),
    ] {
        assert_eq!(
            reason(c.call_data(&bad, |_, _| {}).await),
            ReasonCode::UnknownUser
        );
    }
    let stranger = "e".repeat(32);
    assert_eq!(
        reason(
            c.call_data(
                &Message::GetUserPortfolio(user_query(&stranger, "heidi")),
                |_, _| {}
            )
            .await
        ),
        ReasonCode::SessionInvalid
    );
}
on_both_backends!(every_data_instruction_answers_or_fails_with_a_reason);

#[actix::test]
async fn dates_outside_the_calendar_are_refused_and_windows_never_wrap() {
    let db = TestDb::sqlite();
    let mut config = test_config(&db);
    // A symbol that is listed but never priced (the CSV has rows for AAPL only).
    let csv = db.dir.path().join("prices.csv");
    std::fs::write(
        &csv,
        "date,symbol,open,high,low,close,volume\n2024-01-02,AAPL,1,2,0.5,1.5,100\n",
    )
    .unwrap();
    let assets = db.dir.path().join("assets.txt");
    std::fs::write(&assets, "AAPL,Apple Inc.\nNEWCO,Not priced yet\n").unwrap();
    config.provider = papertrader_master::config::ProviderKind::Csv;
    config.csv_file = Some(csv);
    config.assets_file = Some(assets);
    let master = master_with(config).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let session = new_user(&mut c, "ines").await;

    // A trade in a listed asset without a price names the real reason, as a quote does.
    assert_eq!(
        reason(order(&mut c, true, &session, "NEWCO", 1).await),
        ReasonCode::NoData
    );
    switch(&mut c, &session, ConnectionState::DataTransfer)
        .await
        .unwrap();
    let quote = Message::GetAssetValueCurrent(AssetQuery {
        symbol: "NEWCO".into(),
    });
    assert_eq!(
        reason(c.call_data(&quote, |_, _| {}).await),
        ReasonCode::NoData
    );

    // Dates before 1970 or after 9999 are refused; none gives bars "from 1969".
    for date in [
        i64::MAX,
        1 << 62,
        papertrader_protocol::limits::MAX_DATE_MS + 1,
        -1,
        i64::MIN,
    ] {
        for request in [
            Message::GetAssetValueDay(range("AAPL", date)),
            Message::GetAssetValueWeek(range("AAPL", date)),
            Message::GetAssetValueMonth(range("AAPL", date)),
            Message::GetAssetValueYear(range("AAPL", date)),
        ] {
            assert_eq!(
                reason(c.call_data(&request, |_, _| {}).await),
                ReasonCode::InvalidArgument,
                "{request:?}"
            );
        }
    }
    // The calendar's edges themselves are fine, and hold no data.
    for date in [0, papertrader_protocol::limits::MAX_DATE_MS] {
        let year = Message::GetAssetValueYear(range("AAPL", date));
        assert_eq!(
            reason(c.call_data(&year, |_, _| {}).await),
            ReasonCode::NoData
        );
    }
}
