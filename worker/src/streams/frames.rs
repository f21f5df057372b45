//! Quote pushes built from bytes encoded once per tick: a push to ten thousand subscribers
//! encodes each quote once and copies bytes for the rest.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use papertrader_protocol::header::RawHeader;
use papertrader_protocol::{Instruction, MessageType, PriceTick, HEADER_LEN, PROTOCOL_VERSION};

/// A tick's quotes, each encoded once (bincode, as inside a `quotes` push).
#[derive(Debug, Clone, Default)]
pub struct EncodedTick {
    /// The master's tick number.
    pub tick: u64,
    /// When the master published it, ms.
    pub published_at_ms: i64,
    /// Each symbol's encoded quote.
    pub quotes: BTreeMap<String, Bytes>,
}

impl EncodedTick {
    /// Encodes the quotes of `tick`.
    pub fn new(tick: &PriceTick) -> Self {
        let quotes = tick
            .quotes
            .iter()
            .filter_map(|quote| {
                let bytes = papertrader_protocol::arguments::encode(quote).ok()?;
                Some((quote.symbol.clone(), Bytes::from(bytes)))
            })
            .collect();
        Self {
            tick: tick.tick,
            published_at_ms: tick.published_at_ms,
            quotes,
        }
    }
}

/// The frame of a `quotes` push: the same bytes as encoding
/// `Message::QuotePush(QuotePush { .. })`, built from pre-encoded quotes. `None` if it would
/// exceed `max_payload`.
pub fn quote_push_frame(
    subscription_id: u64,
    sequence: u64,
    tick: u64,
    published_at_ms: i64,
    quotes: &[&Bytes],
    max_payload: u32,
) -> Option<Bytes> {
    let payload = 8 * 5 + quotes.iter().map(|q| q.len()).sum::<usize>();
    if payload > max_payload as usize {
        return None;
    }
    let mut out = BytesMut::with_capacity(HEADER_LEN + payload);
    RawHeader {
        version: PROTOCOL_VERSION,
        message_type: MessageType::Push as u8,
        instruction: Instruction::QuotePush as u16,
        data_size: payload as u32,
        argument_count: 5,
        data_message_number: 1,
        data_message_max: 1,
    }
    .write(&mut out);
    out.put_u64(subscription_id);
    out.put_u64(sequence);
    out.put_u64(tick);
    out.put_i64(published_at_ms);
    out.put_u64(quotes.len() as u64);
    for quote in quotes {
        out.extend_from_slice(quote);
    }
    Some(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use papertrader_protocol::data::Quote;
    use papertrader_protocol::{Message, Money, QuotePush};

    fn quote(symbol: &str, close: i64) -> Quote {
        Quote {
            symbol: symbol.into(),
            open: Money(close - 5),
            high: Money(close + 7),
            low: Money(close - 9),
            close: Money(close),
            volume: 1234,
            at_ms: 1_700_000_000_000,
            stale: false,
        }
    }

    #[test]
    fn a_built_push_is_byte_for_byte_the_encoded_message() {
        let tick = PriceTick {
            tick: 42,
            at_ms: 1_700_000_000_123,
            quotes: vec![quote("AAPL", 190_000_000), quote("MSFT", 410_500_000)],
            published_at_ms: 1_700_000_000_123,
        };
        let encoded = EncodedTick::new(&tick);
        let quotes: Vec<&Bytes> = encoded.quotes.values().collect();
        let built = quote_push_frame(7, 3, 42, tick.at_ms, &quotes, 1 << 20).unwrap();
        let expected = Message::QuotePush(QuotePush {
            subscription_id: 7,
            sequence: 3,
            tick: 42,
            published_at_ms: tick.at_ms,
            quotes: tick.quotes.clone(),
        })
        .to_frame_bytes(1 << 20)
        .unwrap();
        assert_eq!(built, expected);
        assert!(quote_push_frame(7, 3, 42, 0, &quotes, 50).is_none());
    }
}
