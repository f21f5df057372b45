//! Asking a server's ops endpoint (metrics, health) over HTTP.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// GETs `path` from the ops endpoint at `addr`: (status, body); status 0 when nothing answered.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    match reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(3))
        .send()
        .await
    {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// Waits (at most 10 s) until `path` answers `status`; returns the body.
pub async fn status_becomes(addr: SocketAddr, path: &str, status: u16) -> String {
    let started = Instant::now();
    loop {
        let (now, body) = get(addr, path).await;
        if now == status {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{path} stayed {now}, not {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
