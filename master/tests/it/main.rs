//! Master integration tests: a real master on an ephemeral port, real TCP, a real database
//! (SQLite always; PostgreSQL when `PAPERTRADER_TEST_POSTGRES_URL` is set).

mod accounts;
mod admin;
mod bad_input;
mod boundary;
mod crash;
mod data;
mod identities;
mod invariants;
mod ops;
mod order_ids;
mod orders;
mod overload;
mod peers;
mod periods;
mod providers;
mod race;
mod restart;
mod revocation;
mod shutdown;
mod storage;
mod support;
mod throttle;
mod trading;
