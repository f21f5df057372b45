//! Golden byte vectors: the exact frames printed in docs/PROTOCOL.md.
//!
//! Each vector is checked three ways: the message encodes to these bytes, these bytes decode
//! to the message, and the dump below appears verbatim in PROTOCOL.md. Run with
//! `GOLDEN_PRINT=1 cargo test -p papertrader-protocol --test golden -- --nocapture` to print them.

use std::net::{IpAddr, Ipv4Addr};

use bytes::Bytes;
use papertrader_protocol::data::{OrderKind, OrderStatus, Quote, Side, TimeInForce};
use papertrader_protocol::stream::{AccountEvent, AccountEventKind, FillDetail};
use papertrader_protocol::*;

const SESSION: &str = "00112233445566778899aabbccddeeff";
const PASS: &str = "0180f5e03e6f40282e7ea510fcc86e387beaff26122082377c64427109762caa";

/// A stand-in ID token: header `{"alg":"RS256"}`, payload `{}`, signature bytes `sig`.
const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";

/// The one Quote of the examples (the `priceTick` and `quotes` dumps show the same bytes).
fn aapl_quote() -> Quote {
    Quote {
        symbol: "AAPL".into(),
        open: Money(1_000_000),
        high: Money(2_000_000),
        low: Money(500_000),
        close: Money(1_500_000),
        volume: 100,
        at_ms: 1_767_225_600_000,
        stale: false,
    }
}

fn vectors() -> Vec<(&'static str, Message)> {
    vec![
        (
            "login",
            Message::Login(Login {
                username: "alice".into(),
                hashed_password: PASS.into(),
                is_expirable: true,
            }),
        ),
        (
            "loginWithSession",
            Message::LoginWithSession(SessionToken {
                session_id: SESSION.into(),
            }),
        ),
        (
            "register",
            Message::Register(Register {
                username: "alice".into(),
                email: "a@b.io".into(),
                hashed_password: PASS.into(),
            }),
        ),
        (
            "purchaseAsset",
            Message::PurchaseAsset(TradeOrder {
                session_id: SESSION.into(),
                symbol: "AAPL".into(),
                quantity: 10,
                client_order_id: None,
            }),
        ),
        (
            "purchaseAsset with clientOrderId",
            Message::PurchaseAsset(TradeOrder {
                session_id: SESSION.into(),
                symbol: "AAPL".into(),
                quantity: 10,
                client_order_id: Some("order-1".into()),
            }),
        ),
        ("getServerInfo", Message::GetServerInfo(Empty {})),
        (
            "placeOrder",
            Message::PlaceOrder(PlaceOrder {
                session_id: SESSION.into(),
                side: Side::Buy,
                symbol: "AAPL".into(),
                quantity: 10,
                kind: OrderKind::StopLimit,
                limit_price: Some(Money(190_500_000)),
                stop_price: Some(Money(190_000_000)),
                time_in_force: TimeInForce::GoodTillCancelled,
                client_order_id: Some("order-2".into()),
            }),
        ),
        (
            "orderAccepted",
            Message::OrderAccepted(OrderAccepted {
                order_id: 7,
                status: OrderStatus::New,
                placed_at_ms: 1_767_225_600_000,
            }),
        ),
        (
            "cancelOrder",
            Message::CancelOrder(CancelOrder {
                session_id: SESSION.into(),
                order_id: 7,
            }),
        ),
        (
            "cancelSuccess",
            Message::CancelSuccess(OrderCancelled {
                order_id: 7,
                filled_quantity: 4,
            }),
        ),
        (
            "resetAccount",
            Message::ResetAccount(SessionToken {
                session_id: SESSION.into(),
            }),
        ),
        (
            "resetSuccess",
            Message::ResetSuccess(AccountReset {
                period: 1,
                cash: Money(100_000_000_000),
            }),
        ),
        (
            "getPeriods",
            Message::GetPeriods(SessionToken {
                session_id: SESSION.into(),
            }),
        ),
        (
            "getPeriodTransactions",
            Message::GetPeriodTransactions(PeriodQuery {
                session_id: SESSION.into(),
                period: 0,
            }),
        ),
        (
            "getEquityHistory",
            Message::GetEquityHistory(EquityQuery {
                session_id: SESSION.into(),
                from_ms: 1_767_225_600_000,
                to_ms: 1_767_312_000_000,
            }),
        ),
        (
            "getOrders",
            Message::GetOrders(OrdersQuery {
                session_id: SESSION.into(),
                include_closed: true,
            }),
        ),
        (
            "registerWithToken",
            Message::RegisterWithToken(RegisterWithToken {
                username: "dora".into(),
                provider: "google".into(),
                id_token: ID_TOKEN.into(),
                email: None,
            }),
        ),
        (
            "loginWithToken",
            Message::LoginWithToken(LoginWithToken {
                provider: "google".into(),
                id_token: ID_TOKEN.into(),
                is_expirable: true,
            }),
        ),
        (
            "setPassword",
            Message::SetPassword(SetPassword {
                session_id: SESSION.into(),
                new_hashed_password: PASS.into(),
                old_hashed_password: None,
            }),
        ),
        (
            "linkIdentity",
            Message::LinkIdentity(LinkIdentity {
                session_id: SESSION.into(),
                provider: "google".into(),
                id_token: ID_TOKEN.into(),
            }),
        ),
        (
            "unlinkIdentity",
            Message::UnlinkIdentity(UnlinkIdentity {
                session_id: SESSION.into(),
                provider: "google".into(),
            }),
        ),
        (
            "getSignInMethods",
            Message::GetSignInMethods(SessionToken {
                session_id: SESSION.into(),
            }),
        ),
        ("setPasswordSuccess", Message::SetPasswordSuccess(Empty {})),
        (
            "unlinkIdentityFail",
            Message::UnlinkIdentityFail(Failure::new(ReasonCode::LastSignInMethod, "last")),
        ),
        (
            "switchState",
            Message::SwitchState(SwitchState {
                session_id: SESSION.into(),
                state: ConnectionState::DataTransfer,
            }),
        ),
        ("getWorkerList", Message::GetWorkerList(Empty {})),
        (
            "getAssetValueDay",
            Message::GetAssetValueDay(AssetRangeQuery {
                symbol: "AAPL".into(),
                date_ms: 1_767_225_600_000,
            }),
        ),
        (
            "getUserPortfolio",
            Message::GetUserPortfolio(UserQuery {
                session_id: SESSION.into(),
                username: "alice".into(),
            }),
        ),
        (
            "sessionID",
            Message::SessionId(SessionToken {
                session_id: SESSION.into(),
            }),
        ),
        ("registerSuccess", Message::RegisterSuccess(Empty {})),
        (
            "purchaseSuccess",
            Message::PurchaseSuccess(TradeReceipt {
                transaction_id: 7,
                symbol: "AAPL".into(),
                quantity: 10,
                price: Money(189_250_000),
                cash_after: Money(98_106_500_000),
                settled_at_ms: 1_767_225_600_000,
                commission: Money(1_000_000),
            }),
        ),
        (
            "purchaseFail",
            Message::PurchaseFail(Failure::new(ReasonCode::InsufficientCash, "need 1892.50")),
        ),
        (
            "stateSwitchSuccess",
            Message::StateSwitchSuccess(StateSwitched {
                state: ConnectionState::DataTransfer,
            }),
        ),
        (
            "data",
            Message::Data(DataPacket {
                number: 2,
                max: 3,
                chunk: Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]),
            }),
        ),
        (
            "workerList",
            Message::WorkerList(WorkerList {
                workers: vec![WorkerEndpoint {
                    name: "w1".into(),
                    address: "10.0.0.5:2049".into(),
                }],
            }),
        ),
        (
            "workerHello",
            Message::WorkerHello(WorkerHello {
                worker_uuid: [0x11; 16],
                worker_nonce: [0xab; 32],
            }),
        ),
        (
            "forward",
            Message::Forward(Forward {
                request_id: 42,
                worker_uuid: [0x11; 16],
                client_connection: 3,
                client_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
                received_at_ms: 1_767_225_600_000,
                frame: Message::GetWorkerList(Empty {})
                    .to_frame_bytes(DEFAULT_MAX_PAYLOAD)
                    .unwrap(),
            }),
        ),
        (
            "clientClosed",
            Message::ClientClosed(ClientClosed {
                client_connection: 3,
            }),
        ),
        (
            "priceTick",
            Message::PriceTick(PriceTick {
                tick: 1,
                at_ms: 1_767_225_600_000,
                quotes: vec![aapl_quote()],
                published_at_ms: 1_767_225_600_250,
            }),
        ),
        (
            "subscribeQuotes",
            Message::SubscribeQuotes(SubscribeQuotes {
                subscription_id: 1,
                symbols: vec!["AAPL".into(), "MSFT".into()],
            }),
        ),
        (
            "subscribeAccount with sinceTransactionId",
            Message::SubscribeAccount(SubscribeAccount {
                session_id: SESSION.into(),
                subscription_id: 2,
                since_transaction_id: Some(7),
            }),
        ),
        (
            "unsubscribe",
            Message::Unsubscribe(SubscriptionId { subscription_id: 1 }),
        ),
        (
            "subscribeSuccess",
            Message::SubscribeSuccess(Subscribed {
                subscription_id: 2,
                resume_from: 42,
            }),
        ),
        (
            "unsubscribeSuccess",
            Message::UnsubscribeSuccess(Unsubscribed {
                subscription_id: 1,
                last_sequence: 42,
            }),
        ),
        (
            "quotes",
            Message::QuotePush(QuotePush {
                subscription_id: 1,
                sequence: 3,
                tick: 5,
                published_at_ms: 1_767_225_600_000,
                quotes: vec![aapl_quote()],
            }),
        ),
        (
            "accountEvent",
            Message::AccountPush(AccountPush {
                subscription_id: 2,
                sequence: 1,
                event: Box::new(AccountEvent {
                    kind: AccountEventKind::Filled,
                    order_id: Some(7),
                    side: Side::Buy,
                    symbol: "AAPL".into(),
                    quantity: 10,
                    filled_quantity: 10,
                    fill: Some(FillDetail {
                        transaction_id: 8,
                        quantity: 10,
                        price: Money(189_250_000),
                        commission: Money(1_000_000),
                    }),
                    cash_after: Some(Money(98_106_500_000)),
                    reason: 0,
                    at_ms: 1_767_225_600_000,
                    replayed: false,
                }),
            }),
        ),
        (
            "subscriptionEnded",
            Message::SubscriptionEnded(SubscriptionEnded {
                subscription_id: 1,
                last_sequence: 42,
                reason: ReasonCode::SlowConsumer,
                message: "slow".into(),
            }),
        ),
    ]
}

/// The canonical dump: header bytes on one line, payload 16 bytes a line.
fn dump(bytes: &[u8]) -> String {
    let hex = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = format!("header  {}\n", hex(&bytes[..HEADER_LEN]));
    let payload = &bytes[HEADER_LEN..];
    if payload.is_empty() {
        out.push_str("payload (empty)\n");
    }
    for (i, line) in payload.chunks(16).enumerate() {
        out.push_str(if i == 0 { "payload " } else { "        " });
        out.push_str(&hex(line));
        out.push('\n');
    }
    out
}

#[test]
fn golden_vectors_match_the_code_and_the_document() {
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md");
    let doc = std::fs::read_to_string(doc_path).expect("docs/PROTOCOL.md exists");
    let print = std::env::var_os("GOLDEN_PRINT").is_some();
    let mut missing = Vec::new();
    for (name, message) in vectors() {
        assert!(name.starts_with(message.instruction().name()), "{name}");
        let bytes = message.to_bytes(DEFAULT_MAX_PAYLOAD).unwrap();
        assert_eq!(
            Message::from_bytes(&bytes, DEFAULT_MAX_PAYLOAD).unwrap(),
            message
        );
        let text = dump(&bytes);
        if print {
            println!(
                "#### `{name}` (0x{:04x})\n\n```text\n{text}```\n",
                message.instruction() as u16
            );
        }
        if !doc.contains(&format!("```text\n{text}```")) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "PROTOCOL.md lacks the exact dump of: {missing:?}"
    );
}

#[test]
fn every_instruction_and_reason_code_has_its_row_in_the_document() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md"))
        .expect("PROTOCOL.md");
    for &instruction in Instruction::ALL {
        let row = format!(
            "| `0x{:04X}` | {} | ",
            instruction as u16,
            instruction.name()
        );
        assert!(
            doc.contains(&row),
            "PROTOCOL.md has no row starting {row:?}"
        );
        // The documented argument count is the one the codec enforces.
        let line = doc
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_default();
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let counts: Vec<String> = instruction
            .argument_counts()
            .iter()
            .map(u16::to_string)
            .collect();
        let count = counts.join(" or ");
        assert!(
            cells.contains(&count.as_str()),
            "{instruction}: argument count {count} not in {line:?}"
        );
    }
    for &code in ReasonCode::ALL {
        let row = format!("| {} | {} |", code as u16, code.name());
        assert!(doc.contains(&row), "PROTOCOL.md has no reason row {row:?}");
    }
}
