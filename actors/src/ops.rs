//! The operations endpoint of a server: Prometheus metrics and health over plain HTTP/1, on an
//! address of its own (off unless configured).
//!
//! - `GET /metrics`: every metric of the process in Prometheus text format (one process may run
//!   several servers, as `papertrader up` does: the `server` label tells them apart).
//! - `GET /health/live`: 200 while the process serves requests.
//! - `GET /health/ready`: 200 when every readiness check passes, else 503; the body lists each
//!   check as `name ok` or `name failed: why`.
//!
//! Anything else is 404. The endpoint holds no secret and changes nothing.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;

/// One readiness check's result: its name, and why it failed.
pub type Check = (&'static str, Result<(), String>);

/// What `/health/ready` asks: every check, each answering on its own.
pub type Readiness = Arc<dyn Fn() -> BoxFuture<'static, Vec<Check>> + Send + Sync>;

/// Histogram buckets of durations, seconds: 100 µs to 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Histogram buckets of counts (histograms whose name ends in `_orders`).
const COUNT_BUCKETS: &[f64] = &[1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0];

/// Connections the endpoint serves at once; more are closed on arrival.
const MAX_CONNECTIONS: usize = 64;
/// A request's headers must arrive within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection lives at most this long (one request: keep-alive is off).
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
/// A readiness answer is reused this long, so a flood of probes costs one check a second.
const READINESS_REUSE: Duration = Duration::from_secs(1);
/// How often histograms fold their samples (without it they grow until the next scrape).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The last readiness answer and when it was made.
type LastAnswer = Arc<tokio::sync::Mutex<Option<(Instant, Vec<Check>)>>>;

/// `readiness`, with each answer reused for [`READINESS_REUSE`].
fn cached(readiness: Readiness) -> Readiness {
    let last: LastAnswer = Arc::default();
    Arc::new(move || {
        let (readiness, last) = (readiness.clone(), last.clone());
        Box::pin(async move {
            let mut last = last.lock().await;
            if let Some((at, checks)) = last.as_ref() {
                if at.elapsed() < READINESS_REUSE {
                    return checks.clone();
                }
            }
            let checks = readiness().await;
            *last = Some((Instant::now(), checks.clone()));
            checks
        })
    })
}

/// The process's Prometheus recorder, installed on first use (one per process), with a task
/// folding histogram samples every few seconds. Call it from within a tokio runtime.
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = install()?;
            let upkeep = handle.clone();
            // A thread of its own: the runtime that installed the recorder may end first.
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                })
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets(SECONDS_BUCKETS)
        .ok()?
        .set_buckets_for_metric(Matcher::Suffix("_orders".into()), COUNT_BUCKETS)
        .ok()?
        .install_recorder()
        .ok()
}

/// A running ops endpoint; dropping it stops it.
pub struct OpsEndpoint {
    /// The bound address (the real port when configured with port 0).
    pub local_addr: SocketAddr,
    task: AbortHandle,
}

impl Drop for OpsEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OpsEndpoint {
    /// Binds `addr` and serves until dropped. Installs the process's metrics recorder.
    pub async fn start(addr: SocketAddr, readiness: Readiness) -> std::io::Result<Self> {
        let handle = recorder().cloned();
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let readiness = cached(readiness);
        let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // Out of descriptors: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Past the cap, the newcomer is closed at once (monitoring opens a handful).
                let Ok(place) = places.clone().try_acquire_owned() else {
                    continue;
                };
                let readiness = readiness.clone();
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _place = place;
                    let service = hyper::service::service_fn(move |request| {
                        respond(request, readiness.clone(), handle.clone())
                    });
                    let serving = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .keep_alive(false)
                        .serve_connection(TokioIo::new(stream), service);
                    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, serving).await;
                });
            }
        })
        .abort_handle();
        Ok(Self { local_addr, task })
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn respond(
    request: Request<Incoming>,
    readiness: Readiness,
    handle: Option<PrometheusHandle>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::GET {
        return Ok(text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is served\n".into(),
        ));
    }
    Ok(match request.uri().path() {
        "/metrics" => match handle {
            Some(handle) => text(StatusCode::OK, handle.render()),
            None => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "another metrics recorder is installed in this process\n".into(),
            ),
        },
        "/health/live" => text(StatusCode::OK, "live\n".into()),
        "/health/ready" => {
            let checks = readiness().await;
            let ready = checks.iter().all(|(_, r)| r.is_ok());
            let body: String = checks
                .iter()
                .map(|(name, result)| match result {
                    Ok(()) => format!("{name} ok\n"),
                    Err(why) => format!("{name} failed: {why}\n"),
                })
                .collect();
            let status = if ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            text(
                status,
                format!("{}\n{body}", if ready { "ready" } else { "not ready" }),
            )
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "served: /metrics, /health/live, /health/ready\n".into(),
        ),
    })
}
