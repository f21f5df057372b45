//! What the PaperTrader master and worker run on (the crate lives in `actors/`).
//!
//! - [`connection::ConnectionActor`]: one per TCP peer; protocol codec, state machine, input
//!   limits, ordered replies, bounded output, first-frame and idle deadlines. It routes each
//!   request through a [`connection::Router`], which is what differs between master and worker.
//! - [`listener`], [`slots`], [`frame_budget`], [`outbox`], [`input`]: what keeps a server's
//!   connections bounded (per address, in all, in buffered input and in queued output).
//! - [`threads`]: the arbiters connections are spread over, one per core by default.
//! - [`reply`]: what a router answers with (reply frames, now or as they come); [`push`]:
//!   frames a connection sends on its own for subscriptions, between replies.
//! - [`log::LogActor`], [`log_writer`]: the bounded in-memory log system of spec 3.1.4, fed by
//!   a slog drain and written to its file by a thread of its own.
//! - [`identity`], [`key_validity`]: OpenPGP keys for worker admission.
//! - [`lifecycle`]: one way to run and stop a server; [`signals`]: SIGINT and SIGTERM;
//!   [`admin_socket`]: the admin endpoint's Unix socket; [`files`]: key and identity file helpers.
//! - [`ops`]: the metrics and health endpoint; [`metrics`]: what every connection records.
//! - [`tls`]: rustls on both kinds of links, and a local CA for certificates.
#![warn(missing_docs)]

pub mod admin_socket;
pub mod connection;
pub mod files;
pub mod frame_budget;
pub mod identity;
pub mod input;
pub mod key_validity;
pub mod lifecycle;
pub mod listener;
pub mod log;
pub mod log_writer;
pub mod metrics;
pub mod ops;
pub mod outbox;
pub mod push;
pub mod reply;
pub mod signals;
pub mod slots;
pub mod threads;
pub mod tls;
