//! Proptest strategies for every protocol message.
#![allow(dead_code)]

use std::net::IpAddr;

use bytes::Bytes;
use papertrader_protocol::data::*;
use papertrader_protocol::*;
use proptest::prelude::*;

pub fn text() -> impl Strategy<Value = String> {
    ".{0,40}"
}

pub fn money() -> impl Strategy<Value = Money> {
    any::<i64>().prop_map(Money)
}

pub fn failure() -> impl Strategy<Value = Failure> {
    (proptest::sample::select(ReasonCode::ALL), text())
        .prop_map(|(code, message)| Failure { code, message })
}

pub fn state() -> impl Strategy<Value = ConnectionState> {
    prop_oneof![
        Just(ConnectionState::Command),
        Just(ConnectionState::DataTransfer)
    ]
}

pub fn quote() -> impl Strategy<Value = Quote> {
    (
        text(),
        money(),
        money(),
        money(),
        money(),
        any::<u64>(),
        any::<i64>(),
        any::<bool>(),
    )
        .prop_map(
            |(symbol, open, high, low, close, volume, at_ms, stale)| Quote {
                symbol,
                open,
                high,
                low,
                close,
                volume,
                at_ms,
                stale,
            },
        )
}

fn session() -> impl Strategy<Value = SessionToken> {
    text().prop_map(|session_id| SessionToken { session_id })
}
fn order() -> impl Strategy<Value = TradeOrder> {
    (text(), text(), any::<u64>(), proptest::option::of(text())).prop_map(
        |(session_id, symbol, quantity, client_order_id)| TradeOrder {
            session_id,
            symbol,
            quantity,
            client_order_id,
        },
    )
}
fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn kind() -> impl Strategy<Value = OrderKind> {
    prop_oneof![
        Just(OrderKind::Market),
        Just(OrderKind::Limit),
        Just(OrderKind::Stop),
        Just(OrderKind::StopLimit)
    ]
}

fn tif() -> impl Strategy<Value = TimeInForce> {
    prop_oneof![
        Just(TimeInForce::Day),
        Just(TimeInForce::GoodTillCancelled),
        Just(TimeInForce::ImmediateOrCancel),
        Just(TimeInForce::FillOrKill)
    ]
}

fn status() -> impl Strategy<Value = OrderStatus> {
    prop_oneof![
        Just(OrderStatus::New),
        Just(OrderStatus::PartiallyFilled),
        Just(OrderStatus::Filled),
        Just(OrderStatus::Cancelled),
        Just(OrderStatus::Expired),
        Just(OrderStatus::Rejected)
    ]
}

fn place_order() -> impl Strategy<Value = PlaceOrder> {
    (
        (text(), side(), text(), any::<u64>(), kind()),
        (
            proptest::option::of(money()),
            proptest::option::of(money()),
            tif(),
            proptest::option::of(text()),
        ),
    )
        .prop_map(
            |(
                (session_id, side, symbol, quantity, kind),
                (limit_price, stop_price, time_in_force, client_order_id),
            )| PlaceOrder {
                session_id,
                side,
                symbol,
                quantity,
                kind,
                limit_price,
                stop_price,
                time_in_force,
                client_order_id,
            },
        )
}

fn order_record() -> impl Strategy<Value = OrderRecord> {
    (
        (
            any::<u64>(),
            side(),
            text(),
            kind(),
            any::<u64>(),
            any::<u64>(),
        ),
        (
            proptest::option::of(money()),
            proptest::option::of(money()),
            tif(),
            status(),
            proptest::option::of(money()),
            money(),
        ),
        (
            any::<u16>(),
            any::<i64>(),
            any::<i64>(),
            proptest::option::of(text()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (order_id, side, symbol, kind, quantity, filled_quantity),
                (limit_price, stop_price, time_in_force, status, average_price, commission),
                (reason, placed_at_ms, updated_at_ms, client_order_id, triggered),
            )| OrderRecord {
                triggered,
                order_id,
                side,
                symbol,
                kind,
                quantity,
                filled_quantity,
                limit_price,
                stop_price,
                time_in_force,
                status,
                average_price,
                commission,
                reason,
                placed_at_ms,
                updated_at_ms,
                client_order_id,
            },
        )
}

fn summary() -> impl Strategy<Value = AccountSummary> {
    (
        (any::<u64>(), any::<i64>(), money(), money(), money()),
        (money(), money(), any::<i64>(), money(), money()),
    )
        .prop_map(
            |(
                (period, period_started_at_ms, starting_cash, equity, realised_pnl),
                (unrealised_pnl, commissions, return_ppm, reserved_cash, buying_power),
            )| AccountSummary {
                period,
                period_started_at_ms,
                starting_cash,
                equity,
                realised_pnl,
                unrealised_pnl,
                commissions,
                return_ppm,
                reserved_cash,
                buying_power,
            },
        )
}

fn period() -> impl Strategy<Value = PeriodSummary> {
    (
        any::<u64>(),
        any::<i64>(),
        proptest::option::of(any::<i64>()),
        money(),
        proptest::option::of(money()),
        any::<u64>(),
    )
        .prop_map(
            |(period, started_at_ms, ended_at_ms, starting_cash, ending_equity, trades)| {
                PeriodSummary {
                    period,
                    started_at_ms,
                    ended_at_ms,
                    starting_cash,
                    ending_equity,
                    trades,
                }
            },
        )
}

fn receipt() -> impl Strategy<Value = TradeReceipt> {
    (
        any::<u64>(),
        text(),
        any::<u64>(),
        money(),
        money(),
        any::<i64>(),
        money(),
    )
        .prop_map(
            |(transaction_id, symbol, quantity, price, cash_after, settled_at_ms, commission)| {
                TradeReceipt {
                    transaction_id,
                    symbol,
                    quantity,
                    price,
                    cash_after,
                    settled_at_ms,
                    commission,
                }
            },
        )
}
fn asset() -> impl Strategy<Value = AssetQuery> {
    text().prop_map(|symbol| AssetQuery { symbol })
}
fn range() -> impl Strategy<Value = AssetRangeQuery> {
    (text(), any::<i64>()).prop_map(|(symbol, date_ms)| AssetRangeQuery { symbol, date_ms })
}
fn user() -> impl Strategy<Value = UserQuery> {
    (text(), text()).prop_map(|(session_id, username)| UserQuery {
        session_id,
        username,
    })
}
fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from)
    ]
}
fn bytes_vec() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..300)
}

/// A strategy producing messages of exactly `instruction`. The match is exhaustive, so a new
/// instruction does not compile until it has a strategy here.
pub fn message_of(instruction: Instruction) -> BoxedStrategy<Message> {
    use Instruction as I;
    match instruction {
        I::Login => (text(), text(), any::<bool>())
            .prop_map(|(username, hashed_password, is_expirable)| {
                Message::Login(Login {
                    username,
                    hashed_password,
                    is_expirable,
                })
            })
            .boxed(),
        I::LoginWithSession => session().prop_map(Message::LoginWithSession).boxed(),
        I::Register => (text(), text(), text())
            .prop_map(|(username, email, hashed_password)| {
                Message::Register(Register {
                    username,
                    email,
                    hashed_password,
                })
            })
            .boxed(),
        I::PurchaseAsset => order().prop_map(Message::PurchaseAsset).boxed(),
        I::SellAsset => order().prop_map(Message::SellAsset).boxed(),
        I::SwitchState => (text(), state())
            .prop_map(|(session_id, state)| Message::SwitchState(SwitchState { session_id, state }))
            .boxed(),
        I::GetWorkerList => Just(Message::GetWorkerList(Empty {})).boxed(),
        I::GetServerInfo => Just(Message::GetServerInfo(Empty {})).boxed(),
        I::Logout => session().prop_map(Message::Logout).boxed(),
        I::RegisterWithToken => (text(), text(), text(), proptest::option::of(text()))
            .prop_map(|(username, provider, id_token, email)| {
                Message::RegisterWithToken(RegisterWithToken {
                    username,
                    provider,
                    id_token,
                    email,
                })
            })
            .boxed(),
        I::LoginWithToken => (text(), text(), any::<bool>())
            .prop_map(|(provider, id_token, is_expirable)| {
                Message::LoginWithToken(LoginWithToken {
                    provider,
                    id_token,
                    is_expirable,
                })
            })
            .boxed(),
        I::SetPassword => (text(), text(), proptest::option::of(text()))
            .prop_map(|(session_id, new_hashed_password, old_hashed_password)| {
                Message::SetPassword(SetPassword {
                    session_id,
                    new_hashed_password,
                    old_hashed_password,
                })
            })
            .boxed(),
        I::LinkIdentity => (text(), text(), text())
            .prop_map(|(session_id, provider, id_token)| {
                Message::LinkIdentity(LinkIdentity {
                    session_id,
                    provider,
                    id_token,
                })
            })
            .boxed(),
        I::UnlinkIdentity => (text(), text())
            .prop_map(|(session_id, provider)| {
                Message::UnlinkIdentity(UnlinkIdentity {
                    session_id,
                    provider,
                })
            })
            .boxed(),
        I::GetSignInMethods => session().prop_map(Message::GetSignInMethods).boxed(),
        I::PlaceOrder => place_order().prop_map(Message::PlaceOrder).boxed(),
        I::CancelOrder => (text(), any::<u64>())
            .prop_map(|(session_id, order_id)| {
                Message::CancelOrder(CancelOrder {
                    session_id,
                    order_id,
                })
            })
            .boxed(),
        I::GetOrders => (text(), any::<bool>())
            .prop_map(|(session_id, include_closed)| {
                Message::GetOrders(OrdersQuery {
                    session_id,
                    include_closed,
                })
            })
            .boxed(),
        I::OrderAccepted => (any::<u64>(), status(), any::<i64>())
            .prop_map(|(order_id, status, placed_at_ms)| {
                Message::OrderAccepted(OrderAccepted {
                    order_id,
                    status,
                    placed_at_ms,
                })
            })
            .boxed(),
        I::OrderFail => failure().prop_map(Message::OrderFail).boxed(),
        I::CancelSuccess => (any::<u64>(), any::<u64>())
            .prop_map(|(order_id, filled_quantity)| {
                Message::CancelSuccess(OrderCancelled {
                    order_id,
                    filled_quantity,
                })
            })
            .boxed(),
        I::CancelFail => failure().prop_map(Message::CancelFail).boxed(),
        I::ResetAccount => session().prop_map(Message::ResetAccount).boxed(),
        I::GetPeriods => session().prop_map(Message::GetPeriods).boxed(),
        I::GetPeriodTransactions => (text(), any::<u64>())
            .prop_map(|(session_id, period)| {
                Message::GetPeriodTransactions(PeriodQuery { session_id, period })
            })
            .boxed(),
        I::ResetSuccess => (any::<u64>(), money())
            .prop_map(|(period, cash)| Message::ResetSuccess(AccountReset { period, cash }))
            .boxed(),
        I::ResetFail => failure().prop_map(Message::ResetFail).boxed(),
        I::GetEquityHistory => (text(), any::<i64>(), any::<i64>())
            .prop_map(|(session_id, from_ms, to_ms)| {
                Message::GetEquityHistory(EquityQuery {
                    session_id,
                    from_ms,
                    to_ms,
                })
            })
            .boxed(),
        I::SetPasswordSuccess => Just(Message::SetPasswordSuccess(Empty {})).boxed(),
        I::SetPasswordFail => failure().prop_map(Message::SetPasswordFail).boxed(),
        I::LinkIdentitySuccess => Just(Message::LinkIdentitySuccess(Empty {})).boxed(),
        I::LinkIdentityFail => failure().prop_map(Message::LinkIdentityFail).boxed(),
        I::UnlinkIdentitySuccess => Just(Message::UnlinkIdentitySuccess(Empty {})).boxed(),
        I::UnlinkIdentityFail => failure().prop_map(Message::UnlinkIdentityFail).boxed(),
        I::GetAssetInfo => asset().prop_map(Message::GetAssetInfo).boxed(),
        I::GetAssetValueCurrent => asset().prop_map(Message::GetAssetValueCurrent).boxed(),
        I::GetAssetValueDay => range().prop_map(Message::GetAssetValueDay).boxed(),
        I::GetAssetValueWeek => range().prop_map(Message::GetAssetValueWeek).boxed(),
        I::GetAssetValueMonth => range().prop_map(Message::GetAssetValueMonth).boxed(),
        I::GetAssetValueYear => range().prop_map(Message::GetAssetValueYear).boxed(),
        I::GetAssetValueAllTime => asset().prop_map(Message::GetAssetValueAllTime).boxed(),
        I::GetUserInfo => user().prop_map(Message::GetUserInfo).boxed(),
        I::GetUserPortfolio => user().prop_map(Message::GetUserPortfolio).boxed(),
        I::GetUserTransactionHistory => user().prop_map(Message::GetUserTransactionHistory).boxed(),
        I::LoginFail => failure().prop_map(Message::LoginFail).boxed(),
        I::SessionId => session().prop_map(Message::SessionId).boxed(),
        I::RegisterSuccess => Just(Message::RegisterSuccess(Empty {})).boxed(),
        I::RegisterFail => failure().prop_map(Message::RegisterFail).boxed(),
        I::PurchaseSuccess => receipt().prop_map(Message::PurchaseSuccess).boxed(),
        I::PurchaseFail => failure().prop_map(Message::PurchaseFail).boxed(),
        I::SellSuccess => receipt().prop_map(Message::SellSuccess).boxed(),
        I::SellFail => failure().prop_map(Message::SellFail).boxed(),
        I::StateSwitchSuccess => state()
            .prop_map(|state| Message::StateSwitchSuccess(StateSwitched { state }))
            .boxed(),
        I::StateSwitchFail => failure().prop_map(Message::StateSwitchFail).boxed(),
        I::Data => (1u32..50, bytes_vec())
            .prop_flat_map(|(max, chunk)| (1..=max, Just(max), Just(chunk)))
            .prop_map(|(number, max, chunk)| {
                Message::Data(DataPacket {
                    number,
                    max,
                    chunk: Bytes::from(chunk),
                })
            })
            .boxed(),
        I::DataFail => failure().prop_map(Message::DataFail).boxed(),
        I::WorkerList => proptest::collection::vec((text(), text()), 0..5)
            .prop_map(|w| {
                Message::WorkerList(WorkerList {
                    workers: w
                        .into_iter()
                        .map(|(name, address)| WorkerEndpoint { name, address })
                        .collect(),
                })
            })
            .boxed(),
        I::LogoutSuccess => Just(Message::LogoutSuccess(Empty {})).boxed(),
        I::LogoutFail => failure().prop_map(Message::LogoutFail).boxed(),
        I::Error => failure().prop_map(Message::Error).boxed(),
        I::WorkerHello => (any::<[u8; 16]>(), any::<[u8; 32]>())
            .prop_map(|(worker_uuid, worker_nonce)| {
                Message::WorkerHello(WorkerHello {
                    worker_uuid,
                    worker_nonce,
                })
            })
            .boxed(),
        I::AdmissionChallenge => (any::<[u8; 32]>(), bytes_vec())
            .prop_map(|(master_nonce, master_signature)| {
                Message::AdmissionChallenge(AdmissionChallenge {
                    master_nonce,
                    master_signature,
                })
            })
            .boxed(),
        I::AdmissionProof => bytes_vec()
            .prop_map(|signature| Message::AdmissionProof(AdmissionProof { signature }))
            .boxed(),
        I::Admitted => (text(), any::<u64>())
            .prop_map(|(worker_name, update_interval_ms)| {
                Message::Admitted(Admitted {
                    worker_name,
                    update_interval_ms,
                })
            })
            .boxed(),
        I::AdmissionRefused => failure().prop_map(Message::AdmissionRefused).boxed(),
        I::Forward => (
            any::<u64>(),
            any::<[u8; 16]>(),
            any::<u64>(),
            ip(),
            any::<i64>(),
            bytes_vec(),
        )
            .prop_map(
                |(request_id, worker_uuid, client_connection, client_ip, received_at_ms, frame)| {
                    Message::Forward(Forward {
                        request_id,
                        worker_uuid,
                        client_connection,
                        client_ip,
                        received_at_ms,
                        frame: Bytes::from(frame),
                    })
                },
            )
            .boxed(),
        I::ForwardReply => (any::<u64>(), bytes_vec())
            .prop_map(|(request_id, frame)| {
                Message::ForwardReply(ForwardReply {
                    request_id,
                    frame: Bytes::from(frame),
                })
            })
            .boxed(),
        I::PriceTick => (
            any::<u64>(),
            any::<i64>(),
            proptest::collection::vec(quote(), 0..4),
            any::<i64>(),
        )
            .prop_map(|(tick, at_ms, quotes, published_at_ms)| {
                Message::PriceTick(PriceTick {
                    tick,
                    at_ms,
                    quotes,
                    published_at_ms,
                })
            })
            .boxed(),
        I::LinkClosed => failure().prop_map(Message::LinkClosed).boxed(),
        I::ClientClosed => any::<u64>()
            .prop_map(|client_connection| Message::ClientClosed(ClientClosed { client_connection }))
            .boxed(),
        I::DataStateEnded => (
            any::<u64>(),
            proptest::collection::vec(
                (
                    any::<u64>(),
                    any::<u64>(),
                    proptest::sample::select(ReasonCode::ALL),
                ),
                0..5,
            ),
        )
            .prop_map(|(seq, ends)| {
                Message::DataStateEnded(DataStateEnded {
                    seq,
                    ends: ends
                        .into_iter()
                        .map(|(client_connection, grant, reason)| DataStateEnd {
                            client_connection,
                            grant,
                            reason,
                        })
                        .collect(),
                })
            })
            .boxed(),
        I::DataStateEndedAck => any::<u64>()
            .prop_map(|seq| Message::DataStateEndedAck(DataStateEndedAck { seq }))
            .boxed(),
        I::SubscribeQuotes => (any::<u64>(), proptest::collection::vec(text(), 0..4))
            .prop_map(|(subscription_id, symbols)| {
                Message::SubscribeQuotes(SubscribeQuotes {
                    subscription_id,
                    symbols,
                })
            })
            .boxed(),
        I::SubscribeAccount => (text(), any::<u64>(), proptest::option::of(any::<u64>()))
            .prop_map(|(session_id, subscription_id, since_transaction_id)| {
                Message::SubscribeAccount(SubscribeAccount {
                    session_id,
                    subscription_id,
                    since_transaction_id,
                })
            })
            .boxed(),
        I::Unsubscribe => any::<u64>()
            .prop_map(|subscription_id| Message::Unsubscribe(SubscriptionId { subscription_id }))
            .boxed(),
        I::SubscribeSuccess => (any::<u64>(), any::<u64>())
            .prop_map(|(subscription_id, resume_from)| {
                Message::SubscribeSuccess(Subscribed {
                    subscription_id,
                    resume_from,
                })
            })
            .boxed(),
        I::SubscribeFail => failure().prop_map(Message::SubscribeFail).boxed(),
        I::UnsubscribeSuccess => (any::<u64>(), any::<u64>())
            .prop_map(|(subscription_id, last_sequence)| {
                Message::UnsubscribeSuccess(Unsubscribed {
                    subscription_id,
                    last_sequence,
                })
            })
            .boxed(),
        I::UnsubscribeFail => failure().prop_map(Message::UnsubscribeFail).boxed(),
        I::AccountEvents => proptest::collection::vec(
            (
                any::<u64>(),
                any::<u64>(),
                proptest::collection::vec(account_event(), 0..3),
            )
                .prop_map(|(client_connection, watch, events)| WatchedEvents {
                    client_connection,
                    watch,
                    events,
                }),
            0..3,
        )
        .prop_map(|entries| Message::AccountEvents(AccountEvents { entries }))
        .boxed(),
        I::Unwatch => (any::<u64>(), any::<u64>())
            .prop_map(|(client_connection, watch)| {
                Message::Unwatch(Unwatch {
                    client_connection,
                    watch,
                })
            })
            .boxed(),
        I::QuotePush => (
            (any::<u64>(), any::<u64>(), any::<u64>(), any::<i64>()),
            proptest::collection::vec(quote(), 0..4),
        )
            .prop_map(
                |((subscription_id, sequence, tick, published_at_ms), quotes)| {
                    Message::QuotePush(QuotePush {
                        subscription_id,
                        sequence,
                        tick,
                        published_at_ms,
                        quotes,
                    })
                },
            )
            .boxed(),
        I::AccountPush => (any::<u64>(), any::<u64>(), account_event())
            .prop_map(|(subscription_id, sequence, event)| {
                Message::AccountPush(AccountPush {
                    subscription_id,
                    sequence,
                    event: Box::new(event),
                })
            })
            .boxed(),
        I::SubscriptionEnded => (any::<u64>(), any::<u64>(), failure())
            .prop_map(|(subscription_id, last_sequence, failure)| {
                Message::SubscriptionEnded(SubscriptionEnded {
                    subscription_id,
                    last_sequence,
                    reason: failure.code,
                    message: failure.message,
                })
            })
            .boxed(),
    }
}

fn account_event() -> impl Strategy<Value = papertrader_protocol::stream::AccountEvent> {
    use papertrader_protocol::stream::{AccountEvent, AccountEventKind, FillDetail};
    let kind = proptest::sample::select(vec![
        AccountEventKind::Accepted,
        AccountEventKind::PartiallyFilled,
        AccountEventKind::Filled,
        AccountEventKind::Cancelled,
        AccountEventKind::Expired,
        AccountEventKind::Rejected,
    ]);
    let fill = (any::<u64>(), any::<u64>(), money(), money()).prop_map(
        |(transaction_id, quantity, price, commission)| FillDetail {
            transaction_id,
            quantity,
            price,
            commission,
        },
    );
    (
        (kind, proptest::option::of(any::<u64>()), side(), text()),
        (any::<u64>(), any::<u64>(), proptest::option::of(fill)),
        (
            proptest::option::of(money()),
            any::<u16>(),
            any::<i64>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (kind, order_id, side, symbol),
                (quantity, filled_quantity, fill),
                (cash_after, reason, at_ms, replayed),
            )| AccountEvent {
                kind,
                order_id,
                side,
                symbol,
                quantity,
                filled_quantity,
                fill,
                cash_after,
                reason,
                at_ms,
                replayed,
            },
        )
}

/// Any message of any instruction.
pub fn any_message() -> impl Strategy<Value = Message> {
    proptest::strategy::Union::new(Instruction::ALL.iter().map(|&i| message_of(i)))
}

/// Any data body.
pub fn data_body() -> impl Strategy<Value = DataBody> {
    let bar = (
        any::<i64>(),
        money(),
        money(),
        money(),
        money(),
        any::<u64>(),
    )
        .prop_map(|(at_ms, open, high, low, close, volume)| Bar {
            at_ms,
            open,
            high,
            low,
            close,
            volume,
        });
    let resolution = prop_oneof![
        Just(Resolution::Tick),
        Just(Resolution::Daily),
        Just(Resolution::Monthly)
    ];
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let transaction = (
        any::<u64>(),
        side,
        text(),
        any::<u64>(),
        money(),
        any::<i64>(),
        proptest::option::of(money()),
        money(),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(
            |(
                id,
                side,
                symbol,
                quantity,
                price,
                settled_at_ms,
                cash_after,
                commission,
                order_id,
            )| {
                Transaction {
                    id,
                    side,
                    symbol,
                    quantity,
                    price,
                    settled_at_ms,
                    cash_after,
                    commission,
                    order_id,
                }
            },
        );
    prop_oneof![
        (text(), text(), text(), quote()).prop_map(|(symbol, name, currency, latest)| {
            DataBody::AssetInfo(AssetInfo {
                symbol,
                name,
                currency,
                latest,
            })
        }),
        quote().prop_map(DataBody::Quote),
        (
            text(),
            resolution,
            any::<i64>(),
            any::<i64>(),
            proptest::collection::vec(bar, 0..200)
        )
            .prop_map(
                |(symbol, resolution, from_ms, to_ms, bars)| DataBody::History(History {
                    symbol,
                    resolution,
                    from_ms,
                    to_ms,
                    bars
                })
            ),
        (
            text(),
            any::<i64>(),
            any::<bool>(),
            proptest::option::of(text()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(money())
        )
            .prop_map(
                |(username, created_at_ms, is_owner, email, has_password, cash)| DataBody::UserInfo(
                    UserInfo {
                        username,
                        created_at_ms,
                        is_owner,
                        email,
                        has_password,
                        cash,
                    }
                )
            ),
        (
            text(),
            proptest::option::of(money()),
            proptest::collection::vec(
                (
                    text(),
                    any::<u64>(),
                    money(),
                    proptest::option::of(money()),
                    proptest::option::of(money())
                ),
                0..20
            ),
            proptest::option::of(summary())
        )
            .prop_map(
                |(username, cash, h, summary)| DataBody::Portfolio(Portfolio {
                    username,
                    cash,
                    holdings: h
                        .into_iter()
                        .map(
                            |(symbol, quantity, price, average_cost, unrealised_pnl)| Holding {
                                symbol,
                                quantity,
                                price,
                                average_cost,
                                unrealised_pnl,
                            }
                        )
                        .collect(),
                    summary,
                })
            ),
        (text(), proptest::collection::vec(transaction, 0..50)).prop_map(|(username, entries)| {
            DataBody::Transactions(TransactionHistory { username, entries })
        }),
        (
            text(),
            any::<bool>(),
            proptest::collection::vec((text(), text(), text(), any::<i64>()), 0..5)
        )
            .prop_map(|(username, has_password, identities)| {
                DataBody::SignInMethods(SignInMethods {
                    username,
                    has_password,
                    identities: identities
                        .into_iter()
                        .map(|(provider, issuer, subject, linked_at_ms)| LinkedIdentity {
                            provider,
                            issuer,
                            subject,
                            linked_at_ms,
                        })
                        .collect(),
                })
            }),
        (text(), proptest::collection::vec(order_record(), 0..20))
            .prop_map(|(username, orders)| DataBody::Orders(OrderList { username, orders })),
        (text(), proptest::collection::vec(period(), 0..10))
            .prop_map(|(username, periods)| DataBody::Periods(PeriodList { username, periods })),
        (
            text(),
            any::<u64>(),
            proptest::collection::vec((any::<i64>(), any::<bool>(), money(), money()), 0..30)
        )
            .prop_map(
                |(username, period, points)| DataBody::Equity(EquityHistory {
                    username,
                    period,
                    points: points
                        .into_iter()
                        .map(|(at_ms, daily, equity, cash)| EquityPoint {
                            at_ms,
                            daily,
                            equity,
                            cash
                        })
                        .collect(),
                })
            ),
    ]
}
