//! PaperTrader client library: a connection speaking the wire protocol, request by request.
#![warn(missing_docs)]

pub mod connection;

pub use connection::{ClientError, Connection};
