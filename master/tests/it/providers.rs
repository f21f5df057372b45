//! Price providers against a local HTTP server serving the providers' documented shapes:
//! success, 429, 5xx, timeout, malformed bodies, unknown symbols, old prices; and what the
//! master makes of failures (stale prices, refused trades, one log line per episode).

use std::time::Duration;

use papertrader_client::Connection;
use papertrader_master::config::{MasterConfig, ProviderKind};
use papertrader_master::db::prices;
use papertrader_master::market::finnhub::Finnhub;
use papertrader_master::market::provider::{check_rate_limit, DayFigures};
use papertrader_master::market::yahoo::Yahoo;
use papertrader_master::market::{build_provider, AssetSpec, PriceProvider, ProviderError};
use papertrader_protocol::*;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const LONG: Duration = Duration::from_secs(10 * 365 * 86_400);

fn fixture(name: &str) -> String {
    fixture_at(name, chrono::Utc::now().timestamp())
}

/// A fixture whose price was made at `seconds` (Unix time).
fn fixture_at(name: &str, seconds: i64) -> String {
    let at = seconds.to_string();
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/providers/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("REGULAR_MARKET_TIME", &at)
    .replace("QUOTE_TIME", &at)
}

fn assets(symbols: &[&str]) -> Vec<AssetSpec> {
    symbols
        .iter()
        .map(|s| AssetSpec::new(*s, *s, Money::from_units(1)))
        .collect()
}

async fn serve(server: &MockServer, route: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(response)
        .mount(server)
        .await;
}

/// Serves the chart of each of `symbols` with `body` (a chart fixture about AAPL), renamed.
async fn serve_charts(server: &MockServer, symbols: &[&str], body: &str) {
    for symbol in symbols {
        serve(
            server,
            &format!("/v8/finance/chart/{symbol}"),
            ResponseTemplate::new(200).set_body_string(body.replace("AAPL", symbol)),
        )
        .await;
    }
}

/// Answers 500 for the chart of each of `symbols`.
async fn fail_charts(server: &MockServer, symbols: &[&str]) {
    for symbol in symbols {
        serve(
            server,
            &format!("/v8/finance/chart/{symbol}"),
            ResponseTemplate::new(500),
        )
        .await;
    }
}

/// Request arrival times, as a [`timed`] responder records them.
type Arrivals = std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>;

/// A responder that records each request's arrival in `arrivals` and answers the n-th
/// (counting from 1) with `answer(n)`.
fn timed(
    arrivals: &Arrivals,
    answer: impl Fn(usize) -> ResponseTemplate + Send + Sync + 'static,
) -> impl wiremock::Respond {
    let seen = arrivals.clone();
    move |_: &wiremock::Request| {
        let mut seen = seen.lock().unwrap();
        seen.push(std::time::Instant::now());
        answer(seen.len())
    }
}

/// Fetches `times` more times at `now`: each finds the provider backing off for `symbol`.
async fn backs_off(
    provider: &mut dyn PriceProvider,
    list: &[AssetSpec],
    now: i64,
    symbol: &str,
    times: usize,
) {
    for _ in 0..times {
        let waiting = provider.fetch(list, now).await;
        assert!(matches!(
            failure(&waiting, symbol),
            ProviderError::BackingOff(_)
        ));
    }
}

async fn requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .map(|r| r.len())
        .unwrap_or(0)
}

fn failure<'a>(
    outcome: &'a papertrader_master::market::FetchOutcome,
    symbol: &str,
) -> &'a ProviderError {
    &outcome
        .failed
        .iter()
        .find(|(s, _)| s == symbol)
        .unwrap_or_else(|| panic!("{symbol} did not fail: {outcome:?}"))
        .1
}

#[actix::test]
async fn yahoo_prices_what_it_can_and_says_why_for_the_rest() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/v8/finance/chart/AAPL",
        ResponseTemplate::new(200).set_body_string(fixture("yahoo_chart_aapl.json")),
    )
    .await;
    serve(
        &server,
        "/v8/finance/chart/NOPE",
        ResponseTemplate::new(404).set_body_string(fixture("yahoo_chart_not_found.json")),
    )
    .await;
    serve(
        &server,
        "/v8/finance/chart/KO",
        ResponseTemplate::new(200).set_body_string("{\"chart\": {\"result\": ["),
    )
    .await;
    serve(&server, "/v8/finance/chart/IBM", ResponseTemplate::new(503)).await;
    let mut yahoo = Yahoo::new(&server.uri(), Duration::from_secs(2), LONG).unwrap();

    let outcome = yahoo
        .fetch(
            &assets(&["AAPL", "NOPE", "KO", "IBM"]),
            chrono::Utc::now().timestamp_millis(),
        )
        .await;
    assert_eq!(outcome.quotes.len(), 1);
    // 189.25000762939453 in the JSON text becomes exactly 189.250008: no float on the way.
    assert_eq!(
        (outcome.quotes[0].symbol.as_str(), outcome.quotes[0].price),
        ("AAPL", Money(189_250_008))
    );
    // No day figures in the meta: the day's 1-minute bars, each counted once.
    assert_eq!(
        outcome.quotes[0].day,
        Some(DayFigures {
            open: Money(188_500_000),
            high: Money(189_400_000),
            low: Money(188_400_000),
            volume: Some(120_345 + 98_000),
        })
    );
    assert_eq!(failure(&outcome, "NOPE"), &ProviderError::UnknownSymbol);
    assert!(matches!(
        failure(&outcome, "KO"),
        ProviderError::Malformed(_)
    ));
    assert!(matches!(
        failure(&outcome, "IBM"),
        ProviderError::Unavailable(_)
    ));

    // One symbol's 5xx does not stop the others: the next fetch asks again.
    let before = requests(&server).await;
    let again = yahoo
        .fetch(
            &assets(&["AAPL", "IBM"]),
            chrono::Utc::now().timestamp_millis(),
        )
        .await;
    assert_eq!(again.quotes.len(), 1);
    assert_eq!(requests(&server).await, before + 2);

    // An old price is refused (and so kept stale by the fetcher).
    let mut strict = Yahoo::new(
        &server.uri(),
        Duration::from_secs(2),
        Duration::from_secs(3600),
    )
    .unwrap();
    let later = chrono::Utc::now().timestamp_millis() + 2 * 3_600_000;
    assert!(matches!(
        failure(&strict.fetch(&assets(&["AAPL"]), later).await, "AAPL"),
        ProviderError::BadPrice(_)
    ));
}

#[actix::test]
async fn rate_limits_and_outages_back_off_without_more_requests() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/v8/finance/chart/AAPL",
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
    )
    .await;
    let mut yahoo = Yahoo::new(&server.uri(), Duration::from_secs(2), LONG).unwrap();
    let now = || chrono::Utc::now().timestamp_millis();
    let first = yahoo.fetch(&assets(&["AAPL"]), now()).await;
    assert_eq!(
        failure(&first, "AAPL"),
        &ProviderError::RateLimited(Some(Duration::from_secs(1)))
    );
    let waiting = yahoo.fetch(&assets(&["AAPL"]), now()).await;
    assert!(matches!(
        failure(&waiting, "AAPL"),
        ProviderError::BackingOff(_)
    ));
    assert_eq!(requests(&server).await, 1, "no request while backing off");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    yahoo.fetch(&assets(&["AAPL"]), now()).await;
    assert_eq!(requests(&server).await, 2, "asks again after Retry-After");

    // A provider that does not answer in time: Timeout, then backing off.
    let slow = MockServer::start().await;
    serve(
        &slow,
        "/v8/finance/chart/AAPL",
        ResponseTemplate::new(200)
            .set_body_string(fixture("yahoo_chart_aapl.json"))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    let mut yahoo = Yahoo::new(&slow.uri(), Duration::from_millis(200), LONG).unwrap();
    assert_eq!(
        failure(&yahoo.fetch(&assets(&["AAPL"]), now()).await, "AAPL"),
        &ProviderError::Timeout
    );
    assert!(matches!(
        failure(&yahoo.fetch(&assets(&["AAPL"]), now()).await, "AAPL"),
        ProviderError::BackingOff(_)
    ));
}

#[actix::test]
async fn an_unknown_symbol_in_the_list_does_not_keep_an_outage_from_backing_off() {
    // Every request fails with 500, and one symbol is unknown (404) as well.
    let server = MockServer::start().await;
    fail_charts(&server, &["AAPL", "MSFT"]).await;
    serve(
        &server,
        "/v8/finance/chart/NOPE",
        ResponseTemplate::new(404).set_body_string(fixture("yahoo_chart_not_found.json")),
    )
    .await;
    let mut yahoo = Yahoo::new(&server.uri(), Duration::from_secs(2), LONG).unwrap();
    let list = assets(&["AAPL", "NOPE", "MSFT"]);
    let now = chrono::Utc::now().timestamp_millis();
    let first = yahoo.fetch(&list, now).await;
    assert!(matches!(
        failure(&first, "AAPL"),
        ProviderError::Unavailable(_)
    ));
    assert_eq!(failure(&first, "NOPE"), &ProviderError::UnknownSymbol);
    // Ten more ticks within the first back-off second: not one request (before: 3 each).
    backs_off(&mut yahoo, &list, now, "MSFT", 10).await;
    assert_eq!(requests(&server).await, 3);
}

#[actix::test]
async fn the_built_in_class_b_share_is_asked_of_yahoo_as_it_spells_it() {
    // Yahoo knows Berkshire's class B as BRK-B; BRK.B is a 404 there.
    let server = MockServer::start().await;
    serve(
        &server,
        "/v8/finance/chart/BRK-B",
        ResponseTemplate::new(200)
            .set_body_string(fixture("yahoo_chart_aapl.json").replace("AAPL", "BRK-B")),
    )
    .await;
    let mut yahoo = Yahoo::new(&server.uri(), Duration::from_secs(2), LONG).unwrap();
    let builtin = papertrader_master::market::assets::default_assets();
    let brk: Vec<AssetSpec> = builtin
        .into_iter()
        .filter(|a| a.symbol == "BRK.B")
        .collect();
    assert_eq!(brk.len(), 1, "BRK.B is in the built-in list");
    let now = chrono::Utc::now().timestamp_millis();
    let outcome = yahoo.fetch(&brk, now).await;
    assert_eq!(outcome.failed, vec![]);
    assert_eq!(outcome.quotes[0].symbol, "BRK.B");
}

#[actix::test]
async fn every_request_backfills_included_keeps_to_the_rate_budget() {
    let server = MockServer::start().await;
    let arrivals = Arrivals::default();
    let body = fixture("yahoo_chart_aapl.json");
    Mock::given(method("GET"))
        .respond_with(timed(&arrivals, move |_| {
            ResponseTemplate::new(200).set_body_string(body.clone())
        }))
        .mount(&server)
        .await;
    let mut yahoo = Yahoo::new(&server.uri(), Duration::from_secs(2), LONG).unwrap();
    let budget = papertrader_master::market::provider::RateLimit {
        requests: 3,
        per: Duration::from_secs(1),
    };
    yahoo.hold_to(budget);
    let list = assets(&["AAPL", "MSFT", "IBM"]);
    let now = chrono::Utc::now().timestamp_millis();
    // Backfill (2 requests a symbol) then a fetch (1 a symbol): 9 requests, 3 a second.
    yahoo.backfill(&list, now, 30, 300_000).await;
    let outcome = yahoo.fetch(&list, now).await;
    assert_eq!(outcome.quotes.len(), 3, "{outcome:?}");
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 9);
    // Before: all 9 at once, the backfill's 6 outside any budget.
    for (i, window) in arrivals.windows(4).enumerate() {
        let span = window[3] - window[0];
        assert!(
            span >= Duration::from_millis(950),
            "requests {}..{} within {span:?}",
            i + 1,
            i + 4
        );
    }
}

#[actix::test]
async fn yahoo_backfills_daily_and_monthly_bars() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .and(query_param("interval", "1d"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("yahoo_chart_daily.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .and(query_param("interval", "5m"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("yahoo_chart_aapl.json")))
        .mount(&server)
        .await;
    let mut yahoo = Yahoo::new(&server.uri(), Duration::from_secs(2), LONG).unwrap();
    let history = yahoo.backfill(&assets(&["AAPL"]), 0, 730, 300_000).await;
    let days: Vec<i64> = history.daily.iter().map(|(_, b)| b.at).collect();
    assert_eq!(
        days,
        [
            1_706_659_200_000,
            1_706_745_600_000,
            1_706_832_000_000,
            1_709_164_800_000
        ]
    ); // Jan 31, Feb 1, Feb 2, Feb 29 2024
    let months: Vec<(i64, i64, i64)> = history
        .monthly
        .iter()
        .map(|(_, b)| (b.at, b.open, b.close))
        .collect();
    assert_eq!(
        months,
        [
            (1_704_067_200_000, 186_000_000, 184_400_000),
            (1_706_745_600_000, 184_000_000, 180_750_000)
        ]
    );
    assert_eq!(
        history.ticks.len(),
        2,
        "intraday rows with a null are skipped"
    );
}

#[actix::test]
async fn yahoo_float32_values_are_read_as_the_exchange_printed_them() {
    // Yahoo keeps prices as float32 and sends them widened to double: 117.64 arrives as
    // 117.63999938964844, 189.3 as 189.30000305175781 (the fixture's intraday high).
    let server = MockServer::start().await;
    let body = fixture("yahoo_chart_aapl.json").replace("189.25000762939453", "117.63999938964844");
    serve(
        &server,
        "/v8/finance/chart/AAPL",
        ResponseTemplate::new(200).set_body_string(body),
    )
    .await;
    let mut yahoo = Yahoo::new(&server.uri(), Duration::from_secs(2), LONG).unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let outcome = yahoo.fetch(&assets(&["AAPL"]), now).await;
    assert_eq!(outcome.quotes[0].price, Money(117_640_000));
    let history = yahoo.backfill(&assets(&["AAPL"]), now, 1, 300_000).await;
    let highs: Vec<i64> = history.ticks.iter().map(|(_, t)| t.high).collect();
    assert_eq!(highs, [189_300_000, 189_400_000]);
    let closes: Vec<i64> = history.ticks.iter().map(|(_, t)| t.close).collect();
    assert_eq!(closes, [189_000_000, 117_640_000]);
}

#[actix::test]
async fn a_refused_api_key_is_a_configuration_error_for_the_whole_provider() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/quote"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string(r#"{"error":"Invalid API key. Please contact support."}"#),
        )
        .mount(&server)
        .await;
    let mut finnhub =
        Finnhub::new(&server.uri(), "wrong".into(), Duration::from_secs(2), LONG).unwrap();
    let list = assets(&["AAPL", "MSFT"]);
    let now = chrono::Utc::now().timestamp_millis();
    let first = finnhub.fetch(&list, now).await;
    for symbol in ["AAPL", "MSFT"] {
        let error = failure(&first, symbol);
        assert!(matches!(error, ProviderError::Refused(_)), "{error:?}");
        assert!(error.to_string().contains("API key"), "{error}");
    }
    // Not retried every tick (before: "malformed answer" and two requests a tick, forever).
    backs_off(&mut finnhub, &list, now, "AAPL", 5).await;
    assert_eq!(requests(&server).await, 2);
}

#[actix::test]
async fn finnhub_sends_its_key_in_a_header_and_refuses_zero_and_old_prices() {
    let server = MockServer::start().await;
    let key = "test-key-123";
    Mock::given(method("GET"))
        .and(path("/api/v1/quote"))
        .and(query_param("symbol", "AAPL"))
        .and(header("X-Finnhub-Token", key))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("finnhub_quote.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/quote"))
        .and(query_param("symbol", "ZZZZ"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("finnhub_unknown.json")))
        .mount(&server)
        .await;
    let mut finnhub =
        Finnhub::new(&server.uri(), key.into(), Duration::from_secs(2), LONG).unwrap();
    let outcome = finnhub
        .fetch(
            &assets(&["AAPL", "ZZZZ"]),
            chrono::Utc::now().timestamp_millis(),
        )
        .await;
    assert_eq!(outcome.quotes[0].price, Money(261_740_000));
    // The day's open, high and low from `o`, `h`, `l`; the quote endpoint has no volume.
    assert_eq!(
        outcome.quotes[0].day,
        Some(DayFigures {
            open: Money(261_070_000),
            high: Money(263_310_000),
            low: Money(260_680_000),
            volume: None,
        })
    );
    assert_eq!(failure(&outcome, "ZZZZ"), &ProviderError::UnknownSymbol);
    for request in server.received_requests().await.unwrap() {
        assert!(
            !request.url.as_str().contains(key),
            "the key stays out of URLs"
        );
    }
    assert!(!format!("{finnhub:?}").contains(key), "nor in Debug output");
    let mut strict = Finnhub::new(
        &server.uri(),
        key.into(),
        Duration::from_secs(2),
        Duration::from_secs(60),
    )
    .unwrap();
    let later = chrono::Utc::now().timestamp_millis() + 3_600_000;
    assert!(matches!(
        failure(&strict.fetch(&assets(&["AAPL"]), later).await, "AAPL"),
        ProviderError::BadPrice(_)
    ));
}

#[test]
fn configurations_beyond_a_rate_limit_are_refused_with_the_way_out() {
    let finnhub = Finnhub::new(
        "http://127.0.0.1:9",
        "k".into(),
        Duration::from_secs(1),
        LONG,
    )
    .unwrap();
    assert!(
        check_rate_limit(&finnhub, 10, Duration::from_secs(10), None).is_ok(),
        "60 requests a minute exactly"
    );
    let refused = check_rate_limit(&finnhub, 10, Duration::from_secs(5), None).unwrap_err();
    assert!(refused.contains("at least 10000"), "{refused}");
    assert!(
        check_rate_limit(&finnhub, 10, Duration::from_secs(5), Some(300)).is_ok(),
        "a paid plan's limit"
    );

    std::env::remove_var(papertrader_master::market::API_KEY_ENV);
    let config = MasterConfig {
        provider: ProviderKind::Finnhub,
        ..MasterConfig::default()
    };
    let missing_key = build_provider(&config, &assets(&["AAPL"]))
        .err()
        .expect("refused")
        .to_string();
    assert!(
        missing_key.contains("PAPERTRADER_PROVIDER_API_KEY"),
        "{missing_key}"
    );
    let no_file = MasterConfig {
        provider: ProviderKind::Csv,
        ..MasterConfig::default()
    };
    assert!(build_provider(&no_file, &assets(&["AAPL"])).is_err());
}

/// Waits (at most 10 s) until `master` has ticked `n` more times.
async fn wait_ticks(master: &papertrader_master::server::RunningMaster, n: u64) {
    let started = master.services.book.snapshot().tick;
    let waited = std::time::Instant::now();
    while master.services.book.snapshot().tick < started + n {
        assert!(waited.elapsed() < Duration::from_secs(10), "ticks stopped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends `n` admin ticks to `master`, each awaited.
async fn tick(master: &papertrader_master::server::RunningMaster, n: u64) {
    for _ in 0..n {
        let before = master.services.book.snapshot().tick;
        master
            .fetcher
            .send(papertrader_master::actors::asset_fetcher::TickNow)
            .await
            .unwrap();
        let waited = std::time::Instant::now();
        while master.services.book.snapshot().tick == before {
            assert!(waited.elapsed() < Duration::from_secs(10), "no tick");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[actix::test]
async fn a_csv_replay_is_a_market_clock_whose_history_is_the_file_and_resumes_after_a_restart() {
    let db = TestDb::sqlite();
    let csv = db.dir.path().join("prices.csv");
    // AAPL from 2000-01-03; GOOG listed two days later (its own start date).
    let rows = [
        "2000-01-03,AAPL,104.87,112.5,101.69,111.94,4783900",
        "2000-01-04,AAPL,108.25,110.62,101.19,102.5,4574800",
        "2000-01-05,AAPL,103.75,110.56,103,104,6949300",
        "2000-01-05,GOOG,50,52,49,51,1000",
        "2000-01-06,AAPL,106.12,107,95,95,6856900",
        "2000-01-06,GOOG,51,53,50,52.5,1200",
    ];
    std::fs::write(
        &csv,
        format!(
            "date,symbol,open,high,low,close,volume\n{}\n",
            rows.join("\n")
        ),
    )
    .unwrap();
    let assets_file = db.dir.path().join("assets.txt");
    std::fs::write(&assets_file, "AAPL,Apple\nGOOG,Google\n").unwrap();
    let config = MasterConfig {
        provider: ProviderKind::Csv,
        csv_file: Some(csv),
        csv_loop: false,
        assets_file: Some(assets_file),
        update_interval_ms: 3_600_000, // ticks only when told
        ..test_config(&db)
    };
    let day = |d: i64| 946_857_600_000 + (d - 3) * 86_400_000; // 2000-01-0d
    let first = master_with(config.clone()).await;
    tick(&first, 3).await;
    // Every symbol at the same replayed date (before: each at its own k-th row).
    let book = &first.services.book;
    let at = |s: &str| book.quote(s).map(|q| (q.at_ms, q.close));
    assert_eq!(at("AAPL"), Some((day(5), Money(104_000_000))));
    assert_eq!(at("GOOG"), Some((day(5), Money(51_000_000))));
    drop(first);

    // A restart continues after the last replayed date (before: from the first row again).
    // (The first master stays idle: it ticks only when told.)
    let second = master_with(MasterConfig {
        admin_socket: db.dir.path().join("second.sock"),
        ..config
    })
    .await;
    tick(&second, 1).await;
    let at = |s: &str| second.services.book.quote(s).map(|q| (q.at_ms, q.close));
    assert_eq!(at("AAPL"), Some((day(6), Money(95_000_000))));

    // History is the file: one daily bar per replayed row, with its date and values.
    let bars = second
        .services
        .db
        .run(move |c| prices::bars_between(c, "AAPL", prices::DAILY, 0, day(31)))
        .await
        .unwrap();
    let got: Vec<(i64, i64, i64, i64, i64, i64)> = bars
        .iter()
        .map(|b| (b.at, b.open, b.high, b.low, b.close, b.volume))
        .collect();
    let m = |text: &str| Money::from_decimal_rounded(text).unwrap().micros();
    let expected: Vec<(i64, i64, i64, i64, i64, i64)> = rows
        .iter()
        .filter(|r| r.contains("AAPL"))
        .enumerate()
        .map(|(i, r)| {
            let f: Vec<&str> = r.split(',').collect();
            (
                day(3 + i as i64),
                m(f[2]),
                m(f[3]),
                m(f[4]),
                m(f[5]),
                f[6].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
}

/// A master on Yahoo-shaped prices served locally, trading AAPL and MSFT.
async fn master_on(server: &MockServer, db: &TestDb) -> papertrader_master::server::RunningMaster {
    master_listing(server, db, "AAPL,Apple\nMSFT,Microsoft\n").await
}

/// A master on Yahoo-shaped prices served locally, trading the assets of `list` (an asset
/// list file's text), with a budget that never holds requests back.
async fn master_listing(
    server: &MockServer,
    db: &TestDb,
    list: &str,
) -> papertrader_master::server::RunningMaster {
    let assets_file = db.dir.path().join("assets.txt");
    std::fs::write(&assets_file, list).unwrap();
    master_with(MasterConfig {
        provider: ProviderKind::Yahoo,
        provider_base_url: Some(server.uri()),
        assets_file: Some(assets_file),
        update_interval_ms: 100,
        provider_requests_per_minute: Some(10_000),
        ..test_config(db)
    })
    .await
}

#[actix::test]
async fn after_a_slow_spell_missed_ticks_are_skipped_not_fetched_back_to_back() {
    let db = TestDb::sqlite();
    let server = MockServer::start().await;
    // Every tick's request (interval=1m) is timed; the 3rd and 4th take 700 ms (7 intervals).
    let arrivals = Arrivals::default();
    let body = fixture("yahoo_chart_aapl.json");
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .and(query_param("interval", "1m"))
        .respond_with(timed(&arrivals, move |n| {
            let slow = matches!(n, 3 | 4);
            ResponseTemplate::new(200)
                .set_body_string(body.clone())
                .set_delay(Duration::from_millis(if slow { 700 } else { 0 }))
        }))
        .with_priority(1)
        .mount(&server)
        .await;
    serve(
        &server,
        "/v8/finance/chart/AAPL",
        ResponseTemplate::new(200).set_body_string(fixture("yahoo_chart_aapl.json")),
    )
    .await;
    let _master = master_listing(&server, &db, "AAPL,Apple\n").await;
    let waited = std::time::Instant::now();
    while arrivals.lock().unwrap().len() < 12 {
        assert!(waited.elapsed() < Duration::from_secs(10), "ticks stopped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrivals = arrivals.lock().unwrap().clone();
    // Before: the 7 ticks missed during each slow fetch were fetched at once after it.
    for (i, pair) in arrivals.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(60),
            "fetch {} came {gap:?} after the one before: {:?}",
            i + 2,
            arrivals.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>()
        );
    }
}

#[actix::test]
async fn a_failed_history_backfill_is_a_warning_naming_the_symbols() {
    let db = TestDb::sqlite();
    let server = MockServer::start().await;
    // Live quotes work; both history requests (daily and 5-minute) fail.
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .and(query_param("interval", "1m"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("yahoo_chart_aapl.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    fail_charts(&server, &["AAPL", "MSFT"]).await;
    let master = master_on(&server, &db).await;
    let log = master_log(&master, &db).await;
    let warning = log
        .lines()
        .find(|l| l.contains("history backfill failed"))
        .unwrap_or_else(|| panic!("no warning in:\n{log}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("symbols=AAPL,MSFT"), "{warning}");
    assert!(warning.contains("HTTP 500"), "{warning}");
}

#[actix::test]
async fn quotes_and_todays_bar_carry_the_sources_day_figures_and_volume_counted_once() {
    let db = TestDb::sqlite();
    let server = MockServer::start().await;
    // The source's day: open 188.50 (the first bar), high 190.50, low 187.25, 31,021,210 units.
    let body = fixture("yahoo_chart_aapl.json").replace(
        "\"chartPreviousClose\":188.01",
        "\"chartPreviousClose\":188.01,\"regularMarketDayHigh\":190.5,\
         \"regularMarketDayLow\":187.25,\"regularMarketVolume\":31021210",
    );
    serve_charts(&server, &["AAPL", "MSFT"], &body).await;
    let master = master_on(&server, &db).await;
    wait_ticks(&master, 6).await;
    let quote = master.services.book.quote("AAPL").expect("a quote");
    let day = (quote.open, quote.high, quote.low, quote.close, quote.volume);
    let expected = (
        Money(188_500_000),
        Money(190_500_000),
        Money(187_250_000),
        Money(189_250_008),
        31_021_210,
    );
    // Before: open was the first polled price, high/low the polled prices, and the latest
    // 1-minute bar's volume was added every tick (98,000 × ticks).
    assert_eq!(day, expected);
    let today = papertrader_master::domain::calendar::day_start(quote.at_ms);
    let bars = master
        .services
        .db
        .run(move |c| prices::bars_between(c, "AAPL", prices::DAILY, today, today))
        .await
        .unwrap();
    assert_eq!(bars.len(), 1, "{bars:?}");
    let bar = bars[0];
    assert_eq!(
        (bar.open, bar.high, bar.low, bar.close, bar.volume),
        (
            expected.0.micros(),
            expected.1.micros(),
            expected.2.micros(),
            expected.3.micros(),
            31_021_210
        ),
        "today's bar is the quote's day"
    );
}

#[actix::test]
async fn a_weekend_old_price_keeps_its_time_and_makes_no_bars_of_days_without_trading() {
    let db = TestDb::sqlite();
    let server = MockServer::start().await;
    // The market closed 50 hours ago: the source keeps answering with that last price.
    let made = chrono::Utc::now().timestamp() - 50 * 3600;
    serve_charts(
        &server,
        &["AAPL", "MSFT"],
        &fixture_at("yahoo_chart_aapl.json", made),
    )
    .await;
    let master = master_on(&server, &db).await;
    wait_ticks(&master, 6).await;
    // Before: the quote said "now", a point was stored every tick, and today got a bar.
    let quote = master.services.book.quote("AAPL").expect("a quote");
    assert_eq!((quote.at_ms, quote.stale), (made * 1000, false));
    let now = chrono::Utc::now().timestamp_millis();
    let (points, today) = master
        .services
        .db
        .run(move |c| {
            let today = papertrader_master::domain::calendar::day_start(now);
            Ok((
                prices::ticks_between(c, "AAPL", made * 1000, now)?,
                prices::bars_between(c, "AAPL", prices::DAILY, today, now)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(
        points.len(),
        1,
        "one point, at the time the price was made: {points:?}"
    );
    assert_eq!(points[0].at, made * 1000);
    assert!(
        today.is_empty(),
        "a bar for a day without trading: {today:?}"
    );

    // Orders settle at that last price, and say so.
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let s = new_user(&mut c, "wes").await;
    match order(&mut c, true, &s, "AAPL", 1).await.unwrap() {
        Message::PurchaseSuccess(receipt) => assert_eq!(receipt.price, quote.close),
        other => panic!("{other:?}"),
    }
}

#[actix::test]
async fn a_rate_limit_one_request_hit_does_not_make_healthy_symbols_flap_stale() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let db = TestDb::sqlite();
    let server = MockServer::start().await;
    // MSFT's third live request gets a 429 (retry after 1 s); everything else answers.
    let msft_calls = Arc::new(AtomicUsize::new(0));
    let calls = msft_calls.clone();
    let msft_body = fixture("yahoo_chart_aapl.json").replace("AAPL", "MSFT");
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/MSFT"))
        .and(query_param("interval", "1m"))
        .respond_with(move |_: &wiremock::Request| {
            if calls.fetch_add(1, Ordering::SeqCst) == 2 {
                ResponseTemplate::new(429).insert_header("Retry-After", "1")
            } else {
                ResponseTemplate::new(200).set_body_string(msft_body.clone())
            }
        })
        .with_priority(1)
        .mount(&server)
        .await;
    serve_charts(
        &server,
        &["AAPL", "MSFT"],
        &fixture("yahoo_chart_aapl.json"),
    )
    .await;
    let master = master_on(&server, &db).await;
    // Watch AAPL through the 429 and the second of back-off after it.
    let waited = std::time::Instant::now();
    let mut aapl_stale = 0;
    while msft_calls.load(Ordering::SeqCst) < 5 {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "MSFT never asked again"
        );
        if master.services.book.quote("AAPL").is_some_and(|q| q.stale) {
            aapl_stale += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Before: AAPL went stale for the whole back-off, then fresh again (and logged both).
    assert_eq!(aapl_stale, 0, "AAPL was seen stale");
    let log = master_log(&master, &db).await;
    let unavailable: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("prices unavailable"))
        .collect();
    assert_eq!(unavailable.len(), 1, "{unavailable:?}");
    assert!(unavailable[0].contains("symbols=MSFT"), "{unavailable:?}");
}

#[actix::test]
async fn a_failing_symbol_goes_stale_its_trades_are_refused_and_it_is_logged_once() {
    let db = TestDb::sqlite();
    let server = MockServer::start().await;
    serve(
        &server,
        "/v8/finance/chart/AAPL",
        ResponseTemplate::new(200).set_body_string(fixture("yahoo_chart_aapl.json")),
    )
    .await;
    // MSFT answers twice (backfill and first tick), then fails.
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/MSFT"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(fixture("yahoo_chart_aapl.json").replace("AAPL", "MSFT")),
        )
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    serve(
        &server,
        "/v8/finance/chart/MSFT",
        ResponseTemplate::new(500),
    )
    .await;
    let master = master_on(&server, &db).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let s = new_user(&mut c, "uma").await;
    // Wait (bounded) until MSFT is stale in the book.
    for _ in 0..100 {
        if master.services.book.quote("MSFT").is_some_and(|q| q.stale) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        master
            .services
            .book
            .quote("MSFT")
            .expect("had a price")
            .stale
    );
    assert_eq!(
        reason(order(&mut c, true, &s, "MSFT", 1).await),
        ReasonCode::StalePrice
    );
    assert!(
        matches!(
            order(&mut c, true, &s, "AAPL", 1).await.unwrap(),
            Message::PurchaseSuccess(_)
        ),
        "other symbols trade on"
    );
    // Several more failing ticks (waited for, bounded), one log line for the episode.
    wait_ticks(&master, 5).await;
    let log = master_log(&master, &db).await;
    let episodes = log
        .lines()
        .filter(|l| l.contains("prices unavailable") && l.contains("MSFT"))
        .count();
    assert_eq!(episodes, 1, "{log}");
}

#[actix::test]
async fn provider_calls_do_not_grow_with_the_number_of_clients() {
    let db = TestDb::sqlite();
    let server = MockServer::start().await;
    serve_charts(
        &server,
        &["AAPL", "MSFT"],
        &fixture("yahoo_chart_aapl.json"),
    )
    .await;
    let master = master_on(&server, &db).await;
    let calls_per_tick = |clients: usize| {
        let master = &master;
        let server = &server;
        async move {
            let (tick0, calls0) = (master.services.book.snapshot().tick, requests(server).await);
            let mut tasks = Vec::new();
            for i in 0..clients {
                let addr = master.local_addr;
                tasks.push(tokio::spawn(async move {
                    let mut c = Connection::connect(addr).await.unwrap();
                    let s = new_user(&mut c, &format!("c{clients}x{i}")).await;
                    switch(&mut c, &s, ConnectionState::DataTransfer)
                        .await
                        .unwrap();
                    for _ in 0..5 {
                        c.call_data(
                            &Message::GetAssetValueCurrent(AssetQuery {
                                symbol: "AAPL".into(),
                            }),
                            |_, _| {},
                        )
                        .await
                        .unwrap();
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            // Measure over at least 10 ticks, so a fetch in flight at either end barely counts.
            while master.services.book.snapshot().tick < tick0 + 10 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let (tick1, calls1) = (master.services.book.snapshot().tick, requests(server).await);
            (calls1 - calls0) as f64 / (tick1 - tick0).max(1) as f64
        }
    };
    let one = calls_per_tick(1).await;
    let hundred = calls_per_tick(100).await;
    // Two assets: two provider calls per tick, whether 1 or 100 clients read prices.
    assert!((1.5..=2.5).contains(&one), "{one}");
    assert!((1.5..=2.5).contains(&hundred), "{hundred}");
}

#[actix::test]
async fn history_answers_at_range_edges_first_day_month_boundary_and_leap_day() {
    let db = TestDb::sqlite();
    let server = MockServer::start().await;
    for symbol in ["AAPL", "MSFT"] {
        let route = format!("/v8/finance/chart/{symbol}");
        Mock::given(method("GET"))
            .and(path(route.as_str()))
            .and(query_param("interval", "1d"))
            .respond_with(
                ResponseTemplate::new(200).set_body_string(fixture("yahoo_chart_daily.json")),
            )
            .with_priority(1)
            .mount(&server)
            .await;
        serve(
            &server,
            &route,
            ResponseTemplate::new(200).set_body_string(fixture("yahoo_chart_aapl.json")),
        )
        .await;
    }
    let master = master_on(&server, &db).await;
    let mut c = Connection::connect(master.local_addr).await.unwrap();
    let s = new_user(&mut c, "vera").await;
    switch(&mut c, &s, ConnectionState::DataTransfer)
        .await
        .unwrap();
    let ms = |y: i32, m: u32, d: u32, h: u32| {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    };
    let day = 86_400_000;
    let (jan31, feb1, feb2, feb29) = (
        ms(2024, 1, 31, 0),
        ms(2024, 2, 1, 0),
        ms(2024, 2, 2, 0),
        ms(2024, 2, 29, 0),
    );
    async fn bar_times(c: &mut Connection, request: Message) -> Result<Vec<i64>, ReasonCode> {
        match c.call_data(&request, |_, _| {}).await {
            Ok(papertrader_protocol::DataBody::History(h)) => {
                Ok(h.bars.iter().map(|b| b.at_ms).collect())
            }
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.reason().expect("a Fail reply")),
        }
    }
    let q = |date_ms| AssetRangeQuery {
        symbol: "AAPL".into(),
        date_ms,
    };
    // The first stored day: a week ending there holds just that day.
    assert_eq!(
        bar_times(&mut c, Message::GetAssetValueWeek(q(jan31 + day - 1))).await,
        Ok(vec![jan31])
    );
    // Across a month boundary, and the leap day.
    assert_eq!(
        bar_times(&mut c, Message::GetAssetValueWeek(q(feb1 + 12 * 3_600_000))).await,
        Ok(vec![jan31, feb1])
    );
    assert_eq!(
        bar_times(&mut c, Message::GetAssetValueWeek(q(feb29 + day - 1))).await,
        Ok(vec![feb29])
    );
    assert_eq!(
        bar_times(&mut c, Message::GetAssetValueMonth(q(feb29 + day - 1))).await,
        Ok(vec![jan31, feb1, feb2, feb29])
    );
    assert_eq!(
        bar_times(&mut c, Message::GetAssetValueYear(q(feb29))).await,
        Ok(vec![ms(2024, 1, 1, 0), feb1])
    );
    // A week with no data, and a day with no intraday points: dataFail(NoData).
    assert_eq!(
        bar_times(&mut c, Message::GetAssetValueWeek(q(jan31 - 2 * day))).await,
        Err(ReasonCode::NoData)
    );
    assert_eq!(
        bar_times(&mut c, Message::GetAssetValueDay(q(feb29 + 12 * 3_600_000))).await,
        Err(ReasonCode::NoData)
    );
    // All time: every monthly bar, the backfilled months first.
    let all = bar_times(
        &mut c,
        Message::GetAssetValueAllTime(AssetQuery {
            symbol: "AAPL".into(),
        }),
    )
    .await
    .unwrap();
    assert_eq!(&all[..2], &[ms(2024, 1, 1, 0), feb1]);
}

#[actix::test]
async fn finnhub_faults_map_to_the_same_errors() {
    type Case = (ResponseTemplate, fn(&ProviderError) -> bool);
    let cases: Vec<Case> = vec![
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "30"),
            |e| *e == ProviderError::RateLimited(Some(Duration::from_secs(30))),
        ),
        (ResponseTemplate::new(429), |e| {
            *e == ProviderError::RateLimited(None)
        }),
        (ResponseTemplate::new(502), |e| {
            matches!(e, ProviderError::Unavailable(_))
        }),
        (
            ResponseTemplate::new(200).set_body_string("{\"c\": 1"),
            |e| matches!(e, ProviderError::Malformed(_)),
        ),
        (
            ResponseTemplate::new(200).set_body_string("{\"c\": \"abc\", \"t\": 5}"),
            |e| matches!(e, ProviderError::Malformed(_)),
        ),
        (
            ResponseTemplate::new(200)
                .set_body_string(fixture("finnhub_quote.json"))
                .set_delay(Duration::from_secs(3)),
            |e| *e == ProviderError::Timeout,
        ),
    ];
    for (response, expected) in cases {
        let server = MockServer::start().await;
        serve(&server, "/api/v1/quote", response).await;
        let mut finnhub =
            Finnhub::new(&server.uri(), "k".into(), Duration::from_millis(300), LONG).unwrap();
        let outcome = finnhub
            .fetch(&assets(&["AAPL"]), chrono::Utc::now().timestamp_millis())
            .await;
        let error = failure(&outcome, "AAPL");
        assert!(expected(error), "unexpected {error:?}");
        // Each of these pauses the provider: the next fetch makes no request.
        let before = requests(&server).await;
        let next = finnhub
            .fetch(&assets(&["AAPL"]), chrono::Utc::now().timestamp_millis())
            .await;
        let paused = matches!(failure(&next, "AAPL"), ProviderError::BackingOff(_));
        assert_eq!(paused, http_provider_wide(error), "{error:?}");
        if paused {
            assert_eq!(requests(&server).await, before);
        }
    }
}

fn http_provider_wide(error: &ProviderError) -> bool {
    papertrader_master::market::http::is_provider_wide(error)
}

#[actix::test]
async fn readiness_says_not_ready_while_every_price_is_stale_and_recovers() {
    let db = TestDb::sqlite();
    let server = MockServer::start().await;
    let body = fixture("yahoo_chart_aapl.json");
    serve_charts(&server, &["AAPL", "MSFT"], &body).await;
    let assets_file = db.dir.path().join("assets.txt");
    std::fs::write(&assets_file, "AAPL,Apple\nMSFT,Microsoft\n").unwrap();
    let master = master_with(MasterConfig {
        provider: ProviderKind::Yahoo,
        provider_base_url: Some(server.uri()),
        assets_file: Some(assets_file),
        update_interval_ms: 100,
        provider_requests_per_minute: Some(10_000),
        ops_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..test_config(&db)
    })
    .await;
    let ready = |status| crate::ops::ready_becomes(&master, status);
    ready(200).await;
    // The source fails for every symbol: prices go stale, the master is not ready.
    server.reset().await;
    fail_charts(&server, &["AAPL", "MSFT"]).await;
    let body = ready(503).await;
    assert!(
        body.contains("prices failed: every price is stale"),
        "{body}"
    );
    // Back: ready again.
    server.reset().await;
    serve_charts(
        &server,
        &["AAPL", "MSFT"],
        &fixture("yahoo_chart_aapl.json"),
    )
    .await;
    ready(200).await;
}
