//! `--subscribers N`: N connections each subscribed to quotes, measuring tick-to-subscriber
//! latency (from the master publishing a tick, `publishedAtMs`, to this process reading the
//! push) over the timed phase. Connections come from many loopback source addresses (see
//! [`crate::sources`]), all with one session.

use std::time::Duration;

use hdrhistogram::Histogram;
use papertrader_client::Connection;
use papertrader_protocol::password::client_password_hash;
use papertrader_protocol::{
    ConnectionState, Login, Message, Register, SessionToken, SubscribeQuotes, SwitchState,
};
use serde_json::{json, Value};

use crate::sources;

/// What the subscribers saw.
struct Seen {
    latency_ms: Histogram<u64>,
    pushes: u64,
    gaps: u64,
}

/// Registers one user, opens `count` subscribed connections (64 at a time), then reads pushes
/// for `hold`; the latency percentiles, pushes and sequence gaps as JSON.
pub async fn run(
    target: &str,
    count: usize,
    symbols: &[String],
    prefix: &str,
    hold: Duration,
) -> anyhow::Result<Value> {
    let session = login(target, prefix).await?;
    let mut connections = Vec::with_capacity(count);
    while connections.len() < count {
        let start = connections.len();
        let batch: Vec<_> = (start..count.min(start + 64))
            .map(|index| {
                let (target, session, symbols) =
                    (target.to_owned(), session.clone(), symbols.to_vec());
                tokio::spawn(async move { subscribed(&target, index, &session, symbols).await })
            })
            .collect();
        for task in batch {
            connections.push(task.await??);
        }
    }
    eprintln!(
        "{count} subscribers ready; measuring for {}s",
        hold.as_secs()
    );
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|conn| tokio::spawn(read_for(conn, hold)))
        .collect();
    let mut all = Seen {
        latency_ms: Histogram::new(3)?,
        pushes: 0,
        gaps: 0,
    };
    for task in tasks {
        let seen = task.await??;
        all.latency_ms.add(&seen.latency_ms)?;
        all.pushes += seen.pushes;
        all.gaps += seen.gaps;
    }
    let h = &all.latency_ms;
    Ok(json!({
        "subscribers": count,
        "pushes": all.pushes,
        "sequence_gaps": all.gaps,
        "latency_ms": {"p50": h.value_at_quantile(0.5), "p99": h.value_at_quantile(0.99),
                        "max": h.max()},
    }))
}

async fn login(target: &str, prefix: &str) -> anyhow::Result<String> {
    let mut conn = Connection::from_stream(sources::connect(target, 0).await?)?;
    let username = format!("{prefix}sub");
    let hashed = client_password_hash(&username, "pw");
    conn.call(&Message::Register(Register {
        username: username.clone(),
        email: format!("{username}@bench.invalid"),
        hashed_password: hashed.clone(),
    }))
    .await?;
    match conn
        .call(&Message::Login(Login {
            username,
            hashed_password: hashed,
            is_expirable: true,
        }))
        .await?
    {
        Message::SessionId(t) => Ok(t.session_id),
        other => anyhow::bail!("login answered {}", other.instruction().name()),
    }
}

async fn subscribed(
    target: &str,
    index: usize,
    session: &str,
    symbols: Vec<String>,
) -> anyhow::Result<Connection> {
    let mut conn = Connection::from_stream(sources::connect(target, index).await?)?;
    conn.call(&Message::LoginWithSession(SessionToken {
        session_id: session.to_owned(),
    }))
    .await?;
    conn.call(&Message::SwitchState(SwitchState {
        session_id: session.to_owned(),
        state: ConnectionState::DataTransfer,
    }))
    .await?;
    conn.call(&Message::SubscribeQuotes(SubscribeQuotes {
        subscription_id: 1,
        symbols,
    }))
    .await?;
    Ok(conn)
}

async fn read_for(mut conn: Connection, hold: Duration) -> anyhow::Result<Seen> {
    let mut seen = Seen {
        latency_ms: Histogram::new(3)?,
        pushes: 0,
        gaps: 0,
    };
    let deadline = tokio::time::Instant::now() + hold;
    let mut last = None;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let Some(push) = conn.next_push(left).await? else {
            break;
        };
        let now = chrono::Utc::now().timestamp_millis();
        if let Message::QuotePush(p) = push {
            // The first push is the snapshot of an earlier tick: not a tick's delivery.
            if last.is_some() {
                seen.latency_ms
                    .record((now - p.published_at_ms).max(0) as u64)?;
                seen.pushes += 1;
            }
            if last.is_some_and(|l: u64| p.sequence > l + 1) {
                seen.gaps += 1;
            }
            last = Some(p.sequence);
        }
    }
    Ok(seen)
}
