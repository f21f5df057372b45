//! Hostile peers for measuring what they cost a server: connections that send one byte and
//! fall silent, that send most of a large frame and stall, or that send requests and never
//! read the replies. The server's CPU and memory are read from outside (`scripts/hostile.sh`);
//! this reports how many connections the server closed, and how soon.

use std::time::{Duration, Instant};

use papertrader_protocol::header::RawHeader;
use papertrader_protocol::{Empty, Instruction, Message, MessageType, DEFAULT_MAX_PAYLOAD};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// What the hostile connections do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// One byte of a header, then silence.
    OneByte,
    /// A header announcing 1 MiB and 900 KiB of it, then silence.
    Partial,
    /// Requests without end, replies never read (a 4 KiB receive buffer).
    NeverRead,
}

async fn open(target: &str, kind: Kind) -> anyhow::Result<TcpStream> {
    let addr = tokio::net::lookup_host(target)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{target} resolves to nothing"))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if kind == Kind::NeverRead {
        socket.set_recv_buffer_size(4096)?;
    }
    let mut stream = socket.connect(addr).await?;
    match kind {
        Kind::OneByte => stream.write_all(&[1]).await?,
        Kind::Partial => {
            let mut bytes = Vec::new();
            RawHeader {
                version: 1,
                message_type: MessageType::Command as u8,
                instruction: Instruction::GetWorkerList as u16,
                data_size: 1 << 20,
                argument_count: 0,
                data_message_number: 1,
                data_message_max: 1,
            }
            .write(&mut bytes);
            bytes.resize(bytes.len() + (900 << 10), 0);
            stream.write_all(&bytes).await?;
        }
        Kind::NeverRead => {}
    }
    Ok(stream)
}

/// Keeps a never-reading connection writing requests until the server stops taking them.
async fn flood(mut stream: TcpStream) -> TcpStream {
    let request = Message::GetWorkerList(Empty {})
        .to_bytes(DEFAULT_MAX_PAYLOAD)
        .unwrap_or_default()
        .repeat(1000);
    while let Ok(Ok(())) =
        tokio::time::timeout(Duration::from_millis(500), stream.write_all(&request)).await
    {}
    stream
}

/// Waits until the server closes a never-reading `stream` (or `until`), without reading:
/// a write fails once the server has dropped the connection.
async fn write_fails_at(mut stream: TcpStream, until: Instant) -> Option<Instant> {
    let request = Message::GetWorkerList(Empty {})
        .to_bytes(DEFAULT_MAX_PAYLOAD)
        .unwrap_or_default();
    while Instant::now() < until {
        let write = tokio::time::timeout(Duration::from_millis(200), stream.write_all(&request));
        if let Ok(Err(_)) = write.await {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Waits until the server closes `stream` (or `until`); returns when it did.
async fn closed_at(mut stream: TcpStream, until: Instant) -> Option<Instant> {
    let mut buf = vec![0u8; 64 * 1024];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout_at(until.into(), read_to_end)
        .await
        .ok()
}

/// Opens `count` connections of `kind`, holds them for `hold`, and reports (JSON) how many
/// were refused at once, how many the server closed during the hold, and the median and
/// maximum time it took.
pub async fn run(
    target: &str,
    kind: Kind,
    count: usize,
    hold: Duration,
) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let mut streams = Vec::with_capacity(count);
    let mut refused = 0;
    for _ in 0..count {
        match open(target, kind).await {
            Ok(stream) => streams.push(stream),
            Err(_) => refused += 1,
        }
    }
    eprintln!("{} {kind:?} connections open", streams.len());
    let until = started + hold;
    let waits: Vec<_> = streams
        .into_iter()
        .map(|stream| {
            tokio::spawn(async move {
                if kind == Kind::NeverRead {
                    write_fails_at(flood(stream).await, until).await
                } else {
                    closed_at(stream, until).await
                }
            })
        })
        .collect();
    let mut closed: Vec<Duration> = Vec::new();
    for wait in waits {
        if let Ok(Some(at)) = wait.await {
            closed.push(at - started);
        }
    }
    closed.sort();
    let secs = |d: Option<&Duration>| d.map(|d| d.as_secs_f64());
    Ok(json!({
        "kind": format!("{kind:?}"),
        "connections": count,
        "refused_at_once": refused,
        "closed_by_server": closed.len(),
        "closed_median_s": secs(closed.get(closed.len() / 2)),
        "closed_max_s": secs(closed.last()),
        "held_s": hold.as_secs(),
    }))
}
