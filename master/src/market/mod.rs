//! Market data: the asset list, price providers and the shared book of latest prices.

pub mod assets;
pub mod book;
pub mod provider;
pub mod simulated;

pub use assets::AssetSpec;
pub use book::PriceBook;
pub use provider::{PriceProvider, ProviderError, ProviderQuote};
