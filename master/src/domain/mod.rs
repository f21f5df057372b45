//! The trading domain, free of the wire and of the database: orders and the rules that settle
//! them, sessions and third-party identities as the rest of the master sees them, OHLCV points and bars, the UTC
//! calendar. From the protocol crate it takes only value types (`Money`, `Side`); its errors
//! are its own enums, turned into reason codes in one place, [`crate::reasons`].

pub mod bars;
pub mod calendar;
pub mod costs;
pub mod fills;
pub mod identities;
pub mod order_book;
pub mod orders;
pub mod pnl;
pub mod sessions;
pub mod settlement;
