//! The reassembler's refusals and progress reports.

use bytes::Bytes;
use papertrader_protocol::data::{DataBody, Quote};
use papertrader_protocol::transfer::{split, split_body, Progress, Reassembler, TransferError};
use papertrader_protocol::{DataPacket, Money};

fn body() -> DataBody {
    DataBody::Quote(Quote {
        symbol: "AAPL".into(),
        open: Money(1),
        high: Money(2),
        low: Money(3),
        close: Money(4),
        volume: 5,
        at_ms: 6,
        stale: false,
    })
}

fn packet(number: u32, max: u32, chunk: &[u8]) -> DataPacket {
    DataPacket {
        number,
        max,
        chunk: Bytes::copy_from_slice(chunk),
    }
}

#[test]
fn split_numbers_packets_from_one_and_bounds_their_size() {
    let packets = split(&[9u8; 10], 4);
    assert_eq!(
        packets
            .iter()
            .map(|p| (p.number, p.max, p.chunk.len()))
            .collect::<Vec<_>>(),
        vec![(1, 3, 4), (2, 3, 4), (3, 3, 2)]
    );
    let empty = split(&[], 4);
    assert_eq!(empty.len(), 1);
    assert_eq!((empty[0].number, empty[0].max), (1, 1));
}

#[test]
fn progress_is_reported_and_the_body_comes_back() {
    let packets = split_body(&body(), 7);
    let max = packets.len() as u32;
    assert!(max > 3);
    let mut r = Reassembler::default();
    assert_eq!(r.progress(), (0, 0));
    for p in packets {
        let n = p.number;
        match r.push(p).unwrap() {
            Progress::Partial { received, max: m } => {
                assert_eq!((received, m), (n, max));
                assert_eq!(r.progress(), (n, max));
            }
            Progress::Complete(b) => {
                assert_eq!(n, max);
                assert_eq!(b, body());
            }
        }
    }
    assert_eq!(r.progress(), (0, 0), "ready for the next transfer");
}

#[test]
fn gaps_duplicates_ranges_and_changing_totals_are_refused() {
    let mut r = Reassembler::default();
    assert_eq!(
        r.push(packet(2, 3, b"x")),
        Err(TransferError::Gap {
            expected: 1,
            got: 2
        })
    );

    let mut r = Reassembler::default();
    r.push(packet(1, 3, b"x")).unwrap();
    assert_eq!(
        r.push(packet(1, 3, b"x")),
        Err(TransferError::Duplicate { number: 1 })
    );

    let mut r = Reassembler::default();
    r.push(packet(1, 3, b"x")).unwrap();
    assert_eq!(
        r.push(packet(2, 4, b"x")),
        Err(TransferError::MaxChanged {
            expected: 3,
            got: 4
        })
    );

    let mut r = Reassembler::default();
    assert_eq!(
        r.push(packet(0, 3, b"x")),
        Err(TransferError::OutOfRange { number: 0, max: 3 })
    );
    assert_eq!(
        r.push(packet(4, 3, b"x")),
        Err(TransferError::OutOfRange { number: 4, max: 3 })
    );

    let mut r = Reassembler::new(5);
    r.push(packet(1, 2, b"abc")).unwrap();
    assert_eq!(
        r.push(packet(2, 2, b"def")),
        Err(TransferError::TooLarge { limit: 5 })
    );

    let mut r = Reassembler::default();
    assert!(matches!(
        r.push(packet(1, 1, b"\xff\xff")),
        Err(TransferError::Undecodable(_))
    ));
}
