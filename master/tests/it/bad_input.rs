//! Malformed frames over raw sockets: the right reply or disconnect, and the master keeps
//! serving everyone else.

use bytes::BufMut;
use papertrader_client::Connection;
use papertrader_protocol::header::RawHeader;
use papertrader_protocol::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

fn raw_frame(
    version: u8,
    message_type: u8,
    instruction: u16,
    argument_count: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    RawHeader {
        version,
        message_type,
        instruction,
        data_size: payload.len() as u32,
        argument_count,
        data_message_number: 1,
        data_message_max: 1,
    }
    .write(&mut out);
    out.put_slice(payload);
    out
}

/// The next frame from `stream`, if one arrives within 10 s (a test fails, never hangs).
async fn read_reply(stream: &mut TcpStream) -> Option<Message> {
    let read = async {
        let mut header = [0u8; HEADER_LEN];
        stream.read_exact(&mut header).await.ok()?;
        let raw = RawHeader::read(&header)?;
        let mut payload = vec![0u8; raw.data_size as usize];
        stream.read_exact(&mut payload).await.ok()?;
        let mut frame = header.to_vec();
        frame.extend(payload);
        Message::from_bytes(&frame, DEFAULT_MAX_PAYLOAD).ok()
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .ok()
        .flatten()
}

fn code(reply: Option<Message>) -> (Instruction, ReasonCode) {
    match reply.expect("a reply") {
        Message::Error(f) => (Instruction::Error, f.code),
        Message::LoginFail(f) => (Instruction::LoginFail, f.code),
        Message::RegisterFail(f) => (Instruction::RegisterFail, f.code),
        Message::DataFail(f) => (Instruction::DataFail, f.code),
        other => panic!("unexpected {other:?}"),
    }
}

#[actix::test]
async fn bad_frames_get_reasons_and_never_stop_the_master() {
    let db = TestDb::sqlite();
    let master = master(&db).await;
    let mut healthy = Connection::connect(master.local_addr).await.unwrap();
    register(&mut healthy, "judy").await.unwrap();

    let mut s = TcpStream::connect(master.local_addr).await.unwrap();
    // Unknown instruction: `error`, connection stays.
    s.write_all(&raw_frame(1, 1, 0x01EE, 0, &[])).await.unwrap();
    assert_eq!(
        code(read_reply(&mut s).await),
        (Instruction::Error, ReasonCode::UnknownInstruction)
    );
    // A known instruction with an undecodable payload: its own Fail reply.
    s.write_all(&raw_frame(
        1,
        1,
        Instruction::LoginWithSession as u16,
        1,
        &[0, 0, 0, 0, 0, 0, 0, 9, b'x'],
    ))
    .await
    .unwrap();
    assert_eq!(
        code(read_reply(&mut s).await),
        (Instruction::LoginFail, ReasonCode::Malformed)
    );
    // Wrong argument count.
    s.write_all(&raw_frame(1, 1, Instruction::Register as u16, 2, &[]))
        .await
        .unwrap();
    assert_eq!(
        code(read_reply(&mut s).await),
        (Instruction::RegisterFail, ReasonCode::Malformed)
    );
    // Non-UTF-8 username.
    let mut payload = Vec::new();
    for field in [&[0xffu8, 0xfe][..], b"a@b.io", pass("x").as_bytes()] {
        payload.put_u64(field.len() as u64);
        payload.put_slice(field);
    }
    s.write_all(&raw_frame(1, 1, Instruction::Register as u16, 3, &payload))
        .await
        .unwrap();
    assert_eq!(
        code(read_reply(&mut s).await),
        (Instruction::RegisterFail, ReasonCode::Malformed)
    );
    // A server return sent by a client.
    s.write_all(
        &Message::RegisterSuccess(Empty {})
            .to_bytes(DEFAULT_MAX_PAYLOAD)
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        code(read_reply(&mut s).await),
        (Instruction::Error, ReasonCode::UnknownInstruction)
    );
    // SQL-looking input is just an invalid username.
    let sql = Register {
        username: "x'; DROP TABLE accounts;--".into(),
        email: "e@x.io".into(),
        hashed_password: pass("e"),
    };
    s.write_all(
        &Message::Register(sql)
            .to_bytes(DEFAULT_MAX_PAYLOAD)
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        code(read_reply(&mut s).await),
        (Instruction::RegisterFail, ReasonCode::InvalidUsername)
    );
    // Still usable.
    s.write_all(
        &Message::GetWorkerList(Empty {})
            .to_bytes(DEFAULT_MAX_PAYLOAD)
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(matches!(
        read_reply(&mut s).await,
        Some(Message::WorkerList(_))
    ));

    // Fatal: a frame announcing 4 GiB gets `error` and the connection closes.
    let mut oversize = raw_frame(1, 1, Instruction::Login as u16, 3, &[]);
    oversize[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    s.write_all(&oversize).await.unwrap();
    assert_eq!(
        code(read_reply(&mut s).await),
        (Instruction::Error, ReasonCode::Malformed)
    );
    let mut rest = Vec::new();
    let closed =
        tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(0))),
        "closed after a fatal error: {closed:?}"
    );

    // Bad version, then a truncated frame and close: no reply needed, master unaffected.
    let mut v = TcpStream::connect(master.local_addr).await.unwrap();
    v.write_all(&raw_frame(9, 1, 0x0107, 0, &[])).await.unwrap();
    assert_eq!(
        code(read_reply(&mut v).await),
        (Instruction::Error, ReasonCode::Malformed)
    );
    let mut t = TcpStream::connect(master.local_addr).await.unwrap();
    t.write_all(&raw_frame(1, 1, 0x0107, 0, &[])[..10])
        .await
        .unwrap();
    drop(t);

    // Nothing was stored from the rejected requests, and the healthy client still works.
    assert_eq!(
        reason(login(&mut healthy, "x'; DROP TABLE accounts;--", true).await),
        ReasonCode::InvalidUsername
    );
    assert!(login(&mut healthy, "judy", true).await.is_ok());
    assert_eq!(
        reason(register(&mut healthy, "judy").await),
        ReasonCode::UsernameTaken
    );
}

#[actix::test]
async fn slow_clients_and_floods_are_cut_off_while_others_are_served() {
    let db = TestDb::sqlite();
    let master = master_with(papertrader_master::config::MasterConfig {
        idle_timeout_secs: 1,
        max_connections: 4,
        session_ttl_secs: 1,
        ..test_config(&db)
    })
    .await;
    let mut healthy = Connection::connect(master.local_addr).await.unwrap();
    register(&mut healthy, "xena").await.unwrap();

    // A client dribbling one byte at a time never completes a frame: closed at the idle timeout.
    let mut slow = TcpStream::connect(master.local_addr).await.unwrap();
    let frame = Message::GetWorkerList(Empty {})
        .to_bytes(DEFAULT_MAX_PAYLOAD)
        .unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    for byte in frame.iter().take(frame.len() - 1) {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        // Meanwhile everyone else is served.
        assert!(healthy
            .call(&Message::GetWorkerList(Empty {}))
            .await
            .is_ok());
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(std::time::Duration::from_millis(1), slow.read(&mut probe)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "the slow client was not disconnected");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    drop(slow);

    // Connection flood: past the limit (4, `healthy` is one) a newcomer gets `error` RateLimited.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await; // the slow client's slot frees
    let mut kept = Vec::new();
    for _ in 0..3 {
        kept.push(TcpStream::connect(master.local_addr).await.unwrap());
    }
    let mut extra = TcpStream::connect(master.local_addr).await.unwrap();
    assert_eq!(
        code(read_reply(&mut extra).await),
        (Instruction::Error, ReasonCode::RateLimited)
    );
    drop(kept);

    // An expired session is refused as such.
    let session = login(&mut healthy, "xena", true).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    // (The idle timeout has closed `healthy` meanwhile, as it should: reconnect.)
    let mut healthy = Connection::connect(master.local_addr).await.unwrap();
    let resume = Message::LoginWithSession(SessionToken {
        session_id: session,
    });
    assert_eq!(
        reason(healthy.call(&resume).await),
        ReasonCode::SessionExpired
    );
}
