//! `--subscribers N`: N connections each subscribed to quotes, measuring tick-to-subscriber
//! latency (from the master publishing a tick, `publishedAtMs`, to this process reading the
//! push) over the timed phase. Connections come from many loopback source addresses (see
//! [`crate::sources`]), all with one session.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use papertrader_client::Connection;
use papertrader_protocol::password::client_password_hash;
use papertrader_protocol::{Login, Message, Register, SubscribeQuotes};
use serde_json::{json, Value};

use crate::sources;

/// What the subscribers saw.
struct Seen {
    latency_ms: Histogram<u64>,
    pushes: u64,
    gaps: u64,
}

/// Registers one user, opens `count` subscribed connections (64 at a time), each reading its
/// pushes from the moment it is subscribed; once all are, pushes of ticks published from then
/// on are measured for `hold`. The latency percentiles, pushes and sequence gaps as JSON.
pub async fn run(
    target: &str,
    count: usize,
    symbols: &[String],
    prefix: &str,
    hold: Duration,
) -> anyhow::Result<Value> {
    let session = login(target, prefix).await?;
    // 0 until every subscriber is ready: pushes of earlier ticks are read, not measured.
    let measure_from = Arc::new(AtomicI64::new(0));
    let deadline = Arc::new(AtomicI64::new(i64::MAX));
    let mut tasks = Vec::with_capacity(count);
    let mut ready = Vec::with_capacity(count);
    for start in (0..count).step_by(64) {
        let batch: Vec<_> = (start..count.min(start + 64))
            .map(|index| {
                let (target, session, symbols) =
                    (target.to_owned(), session.clone(), symbols.to_vec());
                let (from, until) = (measure_from.clone(), deadline.clone());
                let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
                let task = tokio::spawn(async move {
                    let conn = subscribed(&target, index, &session, symbols).await?;
                    let _ = subscribed_tx.send(());
                    read_until(conn, &from, &until).await
                });
                (task, subscribed_rx)
            })
            .collect();
        for (task, subscribed_rx) in batch {
            ready.push(subscribed_rx.await);
            tasks.push(task);
        }
    }
    if ready.iter().any(Result::is_err) {
        anyhow::bail!("some subscribers failed to subscribe");
    }
    let now = chrono::Utc::now().timestamp_millis();
    measure_from.store(now, Ordering::SeqCst);
    deadline.store(now + hold.as_millis() as i64, Ordering::SeqCst);
    eprintln!(
        "{count} subscribers ready; measuring for {}s",
        hold.as_secs()
    );
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
    conn.open_data_transfer(session).await?;
    conn.call(&Message::SubscribeQuotes(SubscribeQuotes {
        subscription_id: 1,
        symbols,
    }))
    .await?;
    Ok(conn)
}

/// Reads pushes until the deadline, measuring those of ticks published from `from` on.
async fn read_until(
    mut conn: Connection,
    from: &AtomicI64,
    until: &AtomicI64,
) -> anyhow::Result<Seen> {
    let mut seen = Seen {
        latency_ms: Histogram::new(3)?,
        pushes: 0,
        gaps: 0,
    };
    let mut last = None;
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let end = until.load(Ordering::SeqCst);
        if now >= end {
            break;
        }
        let wait = Duration::from_millis((end - now).clamp(1, 1_000) as u64);
        let Some(push) = conn.next_push(wait).await? else {
            continue;
        };
        let read_at = chrono::Utc::now().timestamp_millis();
        if let Message::QuotePush(p) = push {
            let start = from.load(Ordering::SeqCst);
            if start > 0 && p.published_at_ms >= start {
                seen.latency_ms
                    .record((read_at - p.published_at_ms).max(0) as u64)?;
                seen.pushes += 1;
                if last.is_some_and(|l: u64| p.sequence > l + 1) {
                    seen.gaps += 1;
                }
            }
            last = Some(p.sequence);
        }
    }
    Ok(seen)
}
