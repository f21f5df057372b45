//! Actors shared by the PaperTrader master and worker.
//!
//! - [`connection::ConnectionActor`]: one per TCP peer; protocol codec, state machine, input
//!   limits, ordered replies, bounded output, idle timeout. It routes each request through a
//!   [`connection::Router`], which is what differs between master and worker.
//! - [`log::LogActor`]: the bounded in-memory log system of spec 3.1.4, fed by a slog drain.
#![warn(missing_docs)]

pub mod admin_socket;
pub mod connection;
pub mod files;
pub mod identity;
pub mod listener;
pub mod log;
pub mod outbox;
pub mod signals;
