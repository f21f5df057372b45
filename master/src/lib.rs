//! The PaperTrader master server: accounts, sessions, prices, the trade queue and the
//! worker registry, behind the binary protocol on TCP 2048.
//!
//! [`server::start`] wires everything; `docs/ARCHITECTURE.md` shows the actors and their
//! messages.
#![warn(missing_docs)]

pub mod accept;
pub mod actors;
pub mod admin;
pub mod config;
pub mod data_states;
pub mod db;
pub mod domain;
pub mod ended_sessions;
pub mod hash_pool;
pub mod health;
pub mod login_throttle;
pub mod market;
pub mod oidc;
pub mod queries;
pub mod reasons;
pub mod router;
pub mod server;
