//! `papertrader-load`: drives a running PaperTrader worker with N concurrent connections and
//! reports throughput, latency percentiles (hdrhistogram) and errors by reason code.
//!
//! Each connection registers its own user, then repeats one kind of operation; the mix says
//! how the connections are shared out (`quote=90,trade=10` with 50 connections: 45 read quotes,
//! 5 trade). Setup is not measured.

mod hostile;
mod report;
mod sources;
mod subscribers;
mod workload;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

use report::OpStats;
use workload::{Op, Plan, Stop};

/// Load generator for a running PaperTrader cluster.
#[derive(Debug, Parser)]
#[command(name = "papertrader-load", version, about)]
struct Args {
    /// Worker to load (`host:port`).
    #[arg(long, default_value = "127.0.0.1:2049")]
    target: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Operation mix by weight: quote, history, login, trade.
    #[arg(long, default_value = "quote=100")]
    mix: String,
    /// How long to run, seconds (ignored with --requests).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Requests per connection instead of a duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Symbols to use (the first is the one traded).
    #[arg(long, value_delimiter = ',', default_value = "AAPL,MSFT,GOOG,KO,IBM")]
    symbols: Vec<String>,
    /// Prefix of the users this run creates [default: a fresh one].
    #[arg(long)]
    user_prefix: Option<String>,
    /// Connections set up at once before the timed phase.
    #[arg(long, default_value_t = 32)]
    setup_concurrency: usize,
    /// Instead of a load: time bcrypt at this cost on this machine (ms per hash) and exit.
    #[arg(long)]
    bcrypt_probe: Option<u32>,
    /// Instead of a load: open this many idle connections to the target, hold them for
    /// --duration seconds, then close them.
    #[arg(long)]
    idle: Option<usize>,
    /// Instead of a load: open --connections hostile connections of this kind, hold them for
    /// --duration seconds and report how many the target closed, and when: `one-byte` (one
    /// byte, then silence), `partial` (most of a 1 MiB frame, then silence), `never-read`
    /// (requests sent, replies never read).
    #[arg(long, value_enum)]
    hostile: Option<hostile::Kind>,
    /// Instead of a load: open this many connections subscribed to quotes of --symbols, read
    /// their pushes for --duration seconds and report tick-to-subscriber latency.
    #[arg(long)]
    subscribers: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Threads driving the load: 1 runs every connection on one thread (as redis-benchmark
    /// does), 0 one per core.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn parse_mix(mix: &str) -> anyhow::Result<Vec<(Op, u32)>> {
    mix.split(',')
        .map(|part| {
            let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
            let op = Op::parse(name.trim()).ok_or_else(|| {
                anyhow::anyhow!("unknown operation {name:?} (quote, history, login, trade)")
            })?;
            Ok((op, weight.trim().parse()?))
        })
        .collect()
}

/// Shares `connections` out by weight (every weighted op gets at least one).
fn assign(mix: &[(Op, u32)], connections: usize) -> Vec<Op> {
    let total: u32 = mix.iter().map(|(_, w)| w).sum::<u32>().max(1);
    let mut out = Vec::with_capacity(connections);
    for (op, weight) in mix {
        let n = ((connections as u64 * u64::from(*weight)) / u64::from(total)).max(1) as usize;
        out.extend(std::iter::repeat_n(*op, n));
    }
    out.truncate(connections.max(mix.len()));
    out
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runtime = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    if args.threads > 1 {
        runtime.worker_threads(args.threads);
    }
    runtime.enable_all().build()?.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(cost) = args.bcrypt_probe {
        return bcrypt_probe(cost);
    }
    if let Some(count) = args.idle {
        return hold_idle(&args.target, count, Duration::from_secs(args.duration)).await;
    }
    if let Some(count) = args.subscribers {
        let prefix = args.user_prefix.clone().unwrap_or_else(|| {
            format!("sb{}x", chrono::Utc::now().timestamp_millis() % 100_000_000)
        });
        let report = subscribers::run(
            &args.target,
            count,
            &args.symbols,
            &prefix,
            Duration::from_secs(args.duration),
        )
        .await?;
        println!("{report}");
        return Ok(());
    }
    if let Some(kind) = args.hostile {
        let report = hostile::run(
            &args.target,
            kind,
            args.connections,
            Duration::from_secs(args.duration),
        )
        .await?;
        println!("{report}");
        return Ok(());
    }
    let ops = assign(&parse_mix(&args.mix)?, args.connections);
    let prefix = args
        .user_prefix
        .clone()
        .unwrap_or_else(|| format!("ld{}x", chrono::Utc::now().timestamp_millis() % 100_000_000));
    let mut plan = Plan {
        target: args.target.clone(),
        symbols: args.symbols.clone(),
        user_prefix: prefix,
        stop: Stop::After(0),
    };

    // Setup (register + login, bcrypt on the master) with bounded concurrency, so the master's
    // login-flood guard does not refuse the benchmark's own users; not measured.
    let setups = std::sync::Arc::new(tokio::sync::Semaphore::new(args.setup_concurrency.max(1)));
    let prepared: Vec<_> = ops
        .iter()
        .enumerate()
        .map(|(i, &op)| {
            let (plan, setups) = (plan.clone(), setups.clone());
            (
                op,
                tokio::spawn(async move {
                    let _slot = setups.acquire_owned().await;
                    workload::prepare(&plan, i, op).await
                }),
            )
        })
        .collect();
    let mut by_op: BTreeMap<Op, OpStats> = BTreeMap::new();
    let mut ready = Vec::new();
    for (op, task) in prepared {
        match task.await? {
            Ok(r) => ready.push((op, r)),
            Err(why) => by_op.entry(op).or_insert_with(OpStats::new).fail(why),
        }
    }

    eprintln!("timed phase started ({} connections ready)", ready.len());
    let started = Instant::now();
    plan.stop = match args.requests {
        Some(n) => Stop::After(n),
        None => Stop::At(started + Duration::from_secs(args.duration)),
    };
    let tasks: Vec<_> = ready
        .into_iter()
        .map(|(op, r)| (op, tokio::spawn(workload::drive(plan.clone(), r))))
        .collect();
    for (op, task) in tasks {
        let stats = task.await?;
        by_op.entry(op).or_insert_with(OpStats::new).merge(&stats);
    }
    let elapsed = started.elapsed();
    let rows: Vec<_> = by_op
        .iter()
        .map(|(op, stats)| report::summary(op.name(), stats, elapsed))
        .collect();
    if args.json {
        println!(
            "{}",
            json!({"target": args.target, "connections": ops.len(), "seconds": elapsed.as_secs_f64(), "ops": rows})
        );
    } else {
        println!(
            "{} connections to {} for {:.1} s",
            ops.len(),
            args.target,
            elapsed.as_secs_f64()
        );
        report::print_table(&rows);
    }
    Ok(())
}

/// Prints the time of one bcrypt hash at `cost` (median of 5) and the login bound it implies.
fn bcrypt_probe(cost: u32) -> anyhow::Result<()> {
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let _ = bcrypt::hash(
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                cost,
            );
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let ms = times[2];
    println!(
        "{}",
        json!({"cost": cost, "ms_per_hash": ms, "cores": cores, "logins_per_second_bound": cores as f64 * 1000.0 / ms})
    );
    Ok(())
}

/// Opens `count` client connections, each asking `getServerInfo` once (so it is a client the
/// server has heard from, held to the idle timeout rather than the first-frame deadline), then
/// silent; holds them, closes them. Opened 100 at a time.
async fn hold_idle(target: &str, count: usize, hold: Duration) -> anyhow::Result<()> {
    use papertrader_client::Connection;
    use papertrader_protocol::{Empty, Message};
    let mut open: Vec<Connection> = Vec::with_capacity(count);
    let mut next = 0;
    while next < count {
        let batch: Vec<_> = (next..count.min(next + 100))
            .map(|index| {
                let target = target.to_owned();
                tokio::spawn(async move {
                    let stream = sources::connect(&target, index).await?;
                    let mut connection = Connection::from_stream(stream)?;
                    connection.call(&Message::GetServerInfo(Empty {})).await?;
                    anyhow::Ok(connection)
                })
            })
            .collect();
        for task in batch {
            open.push(task.await??);
        }
        next = open.len();
    }
    eprintln!("holding {} idle connections", open.len());
    tokio::time::sleep(hold).await;
    println!(
        "{}",
        json!({"idle_connections": open.len(), "held_seconds": hold.as_secs()})
    );
    Ok(())
}
