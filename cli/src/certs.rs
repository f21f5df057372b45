//! `papertrader certs --dir DIR --name NAME --host HOST…`: a local CA in DIR (made on first use,
//! `ca.pem` and `ca.key.pem`) and a server certificate `NAME.pem` / `NAME.key.pem` for the given
//! host names and addresses, signed by it. For deployments that run the servers themselves
//! (docker-compose does); `papertrader up --tls` makes its own.

use std::path::PathBuf;

use clap::Args;
use papertrader_runtime::tls::certs::Authority;
use serde_json::json;

use crate::failed::Failed;
use crate::output::{outln, Output};

/// `certs`.
#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Directory of the CA and the certificates.
    #[arg(long)]
    dir: PathBuf,
    /// The certificate's file name (without .pem).
    #[arg(long, default_value = "server")]
    name: String,
    /// A DNS name or IP address clients use to reach the server (repeat for each).
    #[arg(long = "host", required = true)]
    hosts: Vec<String>,
    /// Days the certificate is valid.
    #[arg(long, default_value_t = 365)]
    days: i64,
}

/// Makes the CA if needed and issues the certificate.
pub fn run(args: CertsArgs, out: Output) -> Result<(), Failed> {
    let authority =
        Authority::load_or_create(&args.dir).map_err(|e| Failed::refused(e.to_string()))?;
    let now = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let (cert, key) = authority
        .issue(&args.dir, &args.name, &args.hosts, now, args.days.max(1))
        .map_err(|e| Failed::usage(e.to_string()))?;
    let ca = args.dir.join("ca.pem");
    out.show(
        json!({"ca": ca, "certificate": cert, "key": key, "hosts": args.hosts}),
        || {
            outln!("certificate {} (key {})", cert.display(), key.display());
            outln!(
                "signed by the CA {}: give it to clients (--ca-file)",
                ca.display()
            );
        },
    );
    Ok(())
}
