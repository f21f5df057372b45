//! Peers that hold resources without playing along — a client that never reads its replies,
//! one-byte and silent connections, incomplete frames — are let go on time, and give back
//! their place, while everyone else is served.

use std::time::{Duration, Instant};

use bytes::BufMut;
use papertrader_client::Connection;
use papertrader_master::config::MasterConfig;
use papertrader_protocol::header::RawHeader;
use papertrader_protocol::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::*;

/// True when a new client is let in and answered now.
async fn served(addr: std::net::SocketAddr) -> bool {
    let Ok(mut conn) = Connection::connect(addr).await else {
        return false;
    };
    let call = conn.call(&Message::GetWorkerList(Empty {}));
    matches!(
        tokio::time::timeout(Duration::from_secs(2), call).await,
        Ok(Ok(Message::WorkerList(_)))
    )
}

/// Waits (at most `within`) until a new client is served; returns how long that took.
async fn until_served(addr: std::net::SocketAddr, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if served(addr).await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[actix::test]
async fn a_client_that_never_reads_is_cut_off_and_gives_back_its_place() {
    let db = TestDb::sqlite();
    let master = master_with(MasterConfig {
        max_connections: 1,
        idle_timeout_secs: 3,
        write_timeout_secs: 1,
        ..test_config(&db)
    })
    .await;

    // A client with a tiny receive buffer sends requests and never reads the replies, until
    // the master stops reading its requests (its replies have nowhere to go).
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut never_reads = socket.connect(master.local_addr).await.unwrap();
    let request = Message::GetWorkerList(Empty {})
        .to_bytes(DEFAULT_MAX_PAYLOAD)
        .unwrap();
    let batch = request.repeat(2_000);
    let started = Instant::now();
    while tokio::time::timeout(Duration::from_millis(500), never_reads.write_all(&batch))
        .await
        .is_ok_and(|written| written.is_ok())
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the master kept reading"
        );
    }

    // It holds the master's only client place until the master gives up on it: within the
    // reply patience (1 s) plus the check interval, not never.
    let freed = until_served(master.local_addr, Duration::from_secs(15))
        .await
        .expect("the non-reader's place was never given back");
    assert!(freed < Duration::from_secs(6), "freed after {freed:?}");
    // The socket itself is closed, not just the actor: the client sees the end.
    assert!(
        closed_within(&mut never_reads, Duration::from_secs(5)).await,
        "the non-reader's socket is still open"
    );
}

#[actix::test]
async fn one_byte_connections_are_read_not_polled_and_silent_ones_dropped_at_the_deadline() {
    let db = TestDb::sqlite();
    let master = master_with(MasterConfig {
        max_connections: 3,
        first_frame_timeout_secs: 1,
        idle_timeout_secs: 5,
        ..test_config(&db)
    })
    .await;

    // Three peers send one byte and close: their places come back at once, not at a timeout.
    for _ in 0..3 {
        let mut peer = TcpStream::connect(master.local_addr).await.unwrap();
        peer.write_all(&[PROTOCOL_VERSION]).await.unwrap();
    }
    let wait = until_served(master.local_addr, Duration::from_secs(3))
        .await
        .expect("places of closed peers never came back");
    assert!(wait < Duration::from_millis(800), "took {wait:?}");

    // Three peers send one byte and stay silent: dropped at the first-frame deadline (1 s),
    // not at the idle timeout (5 s), nor twice it.
    let mut silent = Vec::new();
    for _ in 0..3 {
        let mut peer = TcpStream::connect(master.local_addr).await.unwrap();
        peer.write_all(&[PROTOCOL_VERSION]).await.unwrap();
        silent.push(peer);
    }
    let opened = Instant::now();
    assert!(!served(master.local_addr).await, "all places are taken");
    for peer in &mut silent {
        assert!(closed_within(peer, Duration::from_secs(4)).await);
    }
    let dropped = opened.elapsed();
    assert!(
        dropped >= Duration::from_millis(900) && dropped < Duration::from_secs(3),
        "silent peers dropped after {dropped:?}"
    );
    assert!(served(master.local_addr).await);
}

/// A header announcing a `size`-byte getWorkerList payload (a frame nobody will finish).
fn announce(size: u32) -> Vec<u8> {
    let mut out = Vec::new();
    RawHeader {
        version: PROTOCOL_VERSION,
        message_type: MessageType::Command as u8,
        instruction: Instruction::GetWorkerList as u16,
        data_size: size,
        argument_count: 0,
        data_message_number: 1,
        data_message_max: 1,
    }
    .write(&mut out);
    out
}

#[actix::test]
async fn incomplete_frames_past_the_budget_are_evicted_slowest_first() {
    let db = TestDb::sqlite();
    let master = master_with(MasterConfig {
        max_payload: 1 << 20,
        max_partial_frame_bytes: 1 << 20,
        ..test_config(&db)
    })
    .await;
    let mut healthy = Connection::connect(master.local_addr).await.unwrap();

    // Eight peers each send 200 KiB of a 1 MiB frame and stall, one after the other: the
    // earlier a peer stalled, the slower its frame (bytes per second since it began).
    let mut peers = Vec::new();
    for _ in 0..8 {
        let mut peer = TcpStream::connect(master.local_addr).await.unwrap();
        let mut bytes = announce(1 << 20);
        bytes.put_bytes(0, 200 << 10);
        peer.write_all(&bytes).await.unwrap();
        peers.push(peer);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    // 8 × 200 KiB (more in buffer capacity) is over the 1 MiB budget: the slowest are
    // closed — the earliest, a prefix — until the rest fits; the latest keep their connection.
    let mut closed = Vec::new();
    for peer in peers.iter_mut() {
        let mut probe = [0u8; 1];
        // Open: a read finds nothing to return for a while.
        let open = tokio::time::timeout(Duration::from_millis(200), peer.read(&mut probe))
            .await
            .is_err();
        closed.push(!open);
    }
    let evicted = closed.iter().take_while(|c| **c).count();
    assert!(
        (3..=6).contains(&evicted) && closed[evicted..].iter().all(|c| !c),
        "evicted {closed:?}"
    );
    // Everyone else was served throughout.
    assert!(matches!(
        healthy.call(&Message::GetWorkerList(Empty {})).await,
        Ok(Message::WorkerList(_))
    ));
}
