//! The PaperTrader master server.
#![warn(missing_docs)]

pub mod db;
