//! Diesel table definitions, matching `migrations/{sqlite,postgres}`.
#![allow(missing_docs)]

diesel::table! {
    accounts (id) {
        id -> BigInt,
        username -> Text,
        email -> Text,
        password_hash -> Nullable<Text>,
        is_password -> Bool,
        cash -> BigInt,
        created_at -> BigInt,
        period -> BigInt,
        period_start_cash -> BigInt,
        period_started_at -> BigInt,
        period_first_transaction -> BigInt,
        period_first_order -> BigInt,
    }
}

diesel::table! {
    equity_points (account_id, resolution, at) {
        account_id -> BigInt,
        resolution -> Integer,
        at -> BigInt,
        period -> BigInt,
        equity -> BigInt,
        cash -> BigInt,
    }
}

diesel::table! {
    account_periods (account_id, period) {
        account_id -> BigInt,
        period -> BigInt,
        started_at -> BigInt,
        ended_at -> BigInt,
        starting_cash -> BigInt,
        ending_equity -> BigInt,
        first_transaction -> BigInt,
        end_transaction -> BigInt,
        first_order -> BigInt,
        end_order -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        account_id -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        client_ip -> Text,
        is_active -> Bool,
        is_expirable -> Bool,
    }
}

diesel::table! {
    holdings (account_id, symbol) {
        account_id -> BigInt,
        symbol -> Text,
        quantity -> BigInt,
    }
}

diesel::table! {
    transactions (id) {
        id -> BigInt,
        account_id -> BigInt,
        side -> Integer,
        symbol -> Text,
        quantity -> BigInt,
        price -> BigInt,
        cash_after -> BigInt,
        placed_at -> BigInt,
        settled_at -> BigInt,
        tick -> BigInt,
        client_ip -> Text,
        worker_uuid -> Nullable<Text>,
        order_id -> Nullable<BigInt>,
        commission -> BigInt,
    }
}

diesel::table! {
    orders (id) {
        id -> BigInt,
        account_id -> BigInt,
        side -> Integer,
        symbol -> Text,
        kind -> Integer,
        quantity -> BigInt,
        filled_quantity -> BigInt,
        limit_price -> Nullable<BigInt>,
        stop_price -> Nullable<BigInt>,
        time_in_force -> Integer,
        status -> Integer,
        reason -> Integer,
        triggered -> Bool,
        expires_at -> Nullable<BigInt>,
        reserve_price -> BigInt,
        filled_value -> BigInt,
        commission -> BigInt,
        placed_at -> BigInt,
        updated_at -> BigInt,
        client_order_id -> Nullable<Text>,
        client_ip -> Text,
        worker_uuid -> Nullable<Text>,
    }
}

diesel::table! {
    assets (symbol) {
        symbol -> Text,
        name -> Text,
        currency -> Text,
    }
}

diesel::table! {
    price_ticks (symbol, at) {
        symbol -> Text,
        at -> BigInt,
        open -> BigInt,
        high -> BigInt,
        low -> BigInt,
        close -> BigInt,
        volume -> BigInt,
    }
}

diesel::table! {
    price_bars (symbol, resolution, at) {
        symbol -> Text,
        resolution -> Integer,
        at -> BigInt,
        open -> BigInt,
        high -> BigInt,
        low -> BigInt,
        close -> BigInt,
        volume -> BigInt,
    }
}

diesel::table! {
    order_ids (account_id, client_order_id) {
        account_id -> BigInt,
        client_order_id -> Text,
        side -> Integer,
        symbol -> Text,
        quantity -> BigInt,
        transaction_id -> Nullable<BigInt>,
        reason -> Nullable<Integer>,
        message -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::joinable!(sessions -> accounts (account_id));
diesel::joinable!(holdings -> accounts (account_id));
diesel::joinable!(transactions -> accounts (account_id));
diesel::joinable!(order_ids -> transactions (transaction_id));
diesel::joinable!(orders -> accounts (account_id));
diesel::joinable!(account_periods -> accounts (account_id));
diesel::joinable!(equity_points -> accounts (account_id));
diesel::joinable!(identities -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(
    identities,
    accounts,
    sessions,
    holdings,
    transactions,
    assets,
    price_ticks,
    price_bars,
    workers,
    order_ids,
    orders,
    account_periods,
    equity_points
);

diesel::table! {
    workers (uuid) {
        uuid -> Text,
        name -> Text,
        address -> Text,
        allowed_ips -> Text,
        public_key -> Text,
        enabled -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    identities (id) {
        id -> BigInt,
        account_id -> BigInt,
        provider -> Text,
        issuer -> Text,
        subject -> Text,
        linked_at -> BigInt,
    }
}
