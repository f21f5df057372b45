//! The PaperTrader worker server: faces clients on TCP 2049, forwards their requests to the
//! master over one authenticated link, and answers price reads from its cache.
#![warn(missing_docs)]

pub mod admin;
pub mod cache;
pub mod config;
pub mod grants;
pub mod link;
pub mod router;
pub mod server;
pub mod streams;
