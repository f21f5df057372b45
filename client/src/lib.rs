//! PaperTrader client library: a protocol [`Connection`], a typed [`Client`] with worker
//! discovery and failover, the stored-session file, and TLS to servers that require it.
#![warn(missing_docs)]

pub mod client;
pub mod connection;
pub mod session_file;
pub mod stream;
pub mod tls;

pub use client::{new_order_id, Client, OrderSpec};
pub use connection::{ClientError, Connection, Peer};
pub use papertrader_protocol::HistoryRange;
pub use stream::{LiveStream, Push};
