//! The log system (spec 3.1.4): slog records with date, time, file, module and line, kept in
//! a buffer of at most *log memory size* entries and appended to a file when the buffer is
//! full, on an interval, on shutdown and from the panic hook.
//!
//! The slog [`LogDrain`] writes into the buffer shared with [`LogActor`]; when a record fills
//! the buffer, the drain hands the full buffer to the log's writer thread on the spot (see
//! [`crate::log_writer`]), so memory stays bounded, no record is dropped and no actor thread
//! waits for the disk. The actor hands over on its interval, and flushes (waits for the disk)
//! on request and when it stops.
//!
//! A log file path of [`STDOUT_PATH`] (`-`) writes the same lines to standard output instead,
//! as containers expect (`docker compose logs`).

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};

use crate::log_writer::LogWriter;

/// The log file path that means standard output.
pub const STDOUT_PATH: &str = "-";

/// One log record (spec 2.4.4 LogEntry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// When it was logged (date and time).
    pub at: DateTime<Utc>,
    /// Severity name (`INFO`, `ERRO`, …).
    pub level: &'static str,
    /// Source file.
    pub file: &'static str,
    /// Module path (Rust has no runtime function names; the module is the closest stable name).
    pub function: &'static str,
    /// Line number.
    pub line: u32,
    /// The formatted message with its key-value pairs.
    pub message: String,
}

impl LogEntry {
    /// One line as written to the log file.
    pub fn to_line(&self) -> String {
        format!(
            "{} {:<4} {}:{} {} | {}",
            self.at.format("%Y-%m-%d %H:%M:%S%.3f"),
            self.level,
            self.file,
            self.line,
            self.function,
            self.message
        )
    }
}

/// How long an explicit flush waits for the writer thread.
const FLUSH_WAIT: Duration = Duration::from_secs(10);

struct Buffer {
    entries: Vec<LogEntry>,
    capacity: usize,
    writer: LogWriter,
    high_water: usize,
}

impl Buffer {
    /// Hands the entries to the writer thread without waiting for the disk.
    fn hand_off(&mut self) {
        let entries = std::mem::replace(
            &mut self.entries,
            Vec::with_capacity(self.capacity.min(4096)),
        );
        self.writer.write(entries);
    }

    /// Hands the entries over and waits (at most `within`) until they are written.
    fn flush(&mut self, within: Duration) -> io::Result<()> {
        self.hand_off();
        self.writer.sync(within)
    }

    fn push(&mut self, entry: LogEntry) {
        self.entries.push(entry);
        self.high_water = self.high_water.max(self.entries.len());
        if self.entries.len() >= self.capacity {
            self.hand_off();
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // The last handle is gone (normal process exit): nothing buffered may be lost. The
        // writer, dropped next, writes what is queued before its thread ends.
        self.hand_off();
    }
}

/// The shared log buffer. Cloning shares it.
#[derive(Clone)]
pub struct LogSystem {
    inner: Arc<Mutex<Buffer>>,
}

impl std::fmt::Debug for LogSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSystem").finish_non_exhaustive()
    }
}

/// Counters of a [`LogSystem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStats {
    /// Entries in memory now.
    pub buffered: usize,
    /// The most entries ever held in memory at once.
    pub high_water: usize,
    /// The cap (spec 2.3.3 memory size of the log system).
    pub capacity: usize,
    /// Entries written to the file so far.
    pub flushed: u64,
}

impl LogSystem {
    /// A log system keeping at most `capacity` (≥ 1) entries in memory, appending to `path`
    /// (or writing to standard output when `path` is [`STDOUT_PATH`]).
    pub fn new(path: impl AsRef<Path>, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Buffer {
                entries: Vec::with_capacity(capacity.clamp(1, 4096)),
                capacity: capacity.max(1),
                writer: LogWriter::start(path.as_ref().to_path_buf()),
                high_water: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // A panic while holding the lock leaves the buffer consistent (push and flush never
        // leave it half-updated), so a poisoned lock is still safe to use.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds an entry, flushing first if the buffer is full.
    pub fn push(&self, entry: LogEntry) {
        self.lock().push(entry);
    }

    /// Writes all buffered entries to the file, waiting until they are written.
    pub fn flush(&self) -> io::Result<()> {
        self.lock().flush(FLUSH_WAIT)
    }

    /// Hands the buffered entries to the writer thread, without waiting for the disk.
    pub fn hand_off(&self) {
        self.lock().hand_off();
    }

    /// Counters.
    pub fn stats(&self) -> LogStats {
        let b = self.lock();
        LogStats {
            buffered: b.entries.len(),
            high_water: b.high_water,
            capacity: b.capacity,
            flushed: b.writer.written(),
        }
    }

    /// The entries still in memory (not yet flushed), oldest first.
    pub fn buffered(&self) -> Vec<LogEntry> {
        self.lock().entries.clone()
    }

    /// A slog logger writing into this system.
    pub fn logger(&self) -> slog::Logger {
        slog::Logger::root(
            LogDrain {
                system: self.clone(),
            }
            .fuse(),
            slog::o!(),
        )
    }

    /// Installs a panic hook that logs the panic and flushes the buffer, then runs the
    /// previous hook.
    pub fn install_panic_hook(&self) {
        let system = self.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info.location();
            let entry = LogEntry {
                at: Utc::now(),
                level: "CRIT",
                file: "panic",
                function: "panic",
                line: location.map(|l| l.line()).unwrap_or(0),
                message: format!("panic: {info}"),
            };
            // The lock may be held on the panicking thread: never wait for it, and wait for the
            // writer a little only (the panic may be on the writer's own thread).
            if let Ok(mut buffer) = system.inner.try_lock() {
                buffer.push(entry);
                let _ = buffer.flush(Duration::from_secs(2));
            }
            previous(info);
        }));
    }
}

/// The slog drain of a [`LogSystem`].
pub struct LogDrain {
    system: LogSystem,
}

use slog::Drain as _;

impl slog::Drain for LogDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        values: &slog::OwnedKVList,
    ) -> Result<(), slog::Never> {
        let mut message = record.msg().to_string();
        let mut kv = KvText(String::new());
        let _ = slog::KV::serialize(&record.kv(), record, &mut kv);
        let _ = slog::KV::serialize(values, record, &mut kv);
        message.push_str(&kv.0);
        self.system.push(LogEntry {
            at: Utc::now(),
            level: record.level().as_short_str(),
            file: record.file(),
            function: record.module(),
            line: record.line(),
            message,
        });
        Ok(())
    }
}

struct KvText(String);

impl slog::Serializer for KvText {
    fn emit_arguments(&mut self, key: slog::Key, value: &std::fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}

/// Owns the periodic and final flushes of a [`LogSystem`].
pub struct LogActor {
    system: LogSystem,
    interval: Duration,
}

impl LogActor {
    /// An actor flushing `system` every `interval`.
    pub fn new(system: LogSystem, interval: Duration) -> Self {
        Self { system, interval }
    }
}

impl Actor for LogActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.interval, |act, _| act.system.hand_off());
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if let Err(e) = self.system.flush() {
            eprintln!("log system: final flush failed: {e}");
        }
    }
}

/// Write every buffered entry to the file now.
#[derive(Message)]
#[rtype(result = "Result<LogStats, String>")]
pub struct Flush;

impl Handler<Flush> for LogActor {
    type Result = Result<LogStats, String>;

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> Self::Result {
        self.system.flush().map_err(|e| e.to_string())?;
        Ok(self.system.stats())
    }
}

/// Flush and stop the actor (at shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for LogActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// The entries still in memory, for the admin `log dump`.
#[derive(Message)]
#[rtype(result = "Vec<LogEntry>")]
pub struct Dump;

impl Handler<Dump> for LogActor {
    type Result = MessageResult<Dump>;

    fn handle(&mut self, _: Dump, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.system.buffered())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_never_exceeds_its_cap_and_every_record_reaches_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/master.log");
        let system = LogSystem::new(&path, 7);
        let log = system.logger();
        for i in 0..100 {
            slog::info!(log, "record {}", i; "k" => i * 2);
            assert!(system.stats().buffered < 7, "at {i}: {:?}", system.stats());
        }
        let stats = system.stats();
        assert_eq!(
            stats.high_water,
            7 - 1 + 1,
            "fills to the cap, then flushes"
        );
        system.flush().expect("flush");
        let text = std::fs::read_to_string(&path).expect("log file");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 100);
        for (i, line) in lines.iter().enumerate() {
            assert!(line.contains(&format!("record {i} k={}", i * 2)), "{line}");
            assert!(line.contains("actors/src/log.rs:"), "file and line: {line}");
            assert!(line.contains("papertrader_runtime::log"), "module: {line}");
            assert!(line.contains(" INFO "), "level: {line}");
        }
    }

    #[test]
    fn an_unwritable_file_is_reported_by_the_next_flush() {
        let system = LogSystem::new("/proc/no-such-dir/master.log", 4);
        slog::info!(system.logger(), "lost");
        assert!(system.flush().is_err());
    }

    #[test]
    fn records_handed_off_reach_the_file_when_the_last_handle_drops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("drop.log");
        {
            let system = LogSystem::new(&path, 3);
            for i in 0..10 {
                slog::info!(system.logger(), "record {}", i);
            }
        }
        let text = std::fs::read_to_string(&path).expect("log file");
        assert_eq!(text.lines().count(), 10, "{text}");
    }

    #[actix::test]
    async fn the_actor_flushes_on_request_and_on_stop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.log");
        let system = LogSystem::new(&path, 1000);
        let addr = LogActor::new(system.clone(), Duration::from_secs(3600)).start();
        slog::warn!(system.logger(), "one");
        assert_eq!(addr.send(Dump).await.expect("dump").len(), 1);
        let stats = addr.send(Flush).await.expect("mailbox").expect("flush");
        assert_eq!((stats.buffered, stats.flushed), (0, 1));
        slog::error!(system.logger(), "two");
        addr.send(Shutdown).await.expect("shutdown");
        let text = std::fs::read_to_string(&path).expect("file");
        assert!(text.contains("one") && text.contains("two"), "{text}");
    }
}
