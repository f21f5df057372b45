//! `papertrader probe URL`: ask a server's ops endpoint (usually `/health/ready`) and exit 0 on
//! HTTP 200, 1 on any other status (the body says which check failed), 3 when nothing answers.
//! For container healthchecks: the image needs no HTTP client of its own.

use std::time::Duration;

use clap::Args;

use crate::failed::Failed;
use crate::output::outln;

/// `probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The URL, e.g. http://127.0.0.1:9090/health/ready.
    url: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    timeout_secs: u64,
}

/// Fetches the URL.
pub async fn run(args: ProbeArgs) -> Result<(), Failed> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_secs.max(1)))
        .build()
        .map_err(|e| Failed::refused(format!("HTTP client: {e}")))?;
    let response = client
        .get(&args.url)
        .send()
        .await
        .map_err(|e| Failed::unreachable(format!("{}: {e}", args.url)))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        outln!("{}", body.trim_end());
        Ok(())
    } else {
        Err(Failed::refused(format!(
            "{} answered {status}: {}",
            args.url,
            body.trim_end().replace('\n', "; ")
        )))
    }
}
