//! The log system's writer thread: it formats entries and appends them to the log file (or
//! standard output), so no actor thread waits for the disk.
//!
//! At most [`BATCHES_IN_FLIGHT`] batches wait for the thread; a full buffer that finds them all
//! waiting blocks until the disk catches up, so memory stays bounded and nothing is dropped.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::log::{LogEntry, STDOUT_PATH};

/// Batches handed to the writer and not yet written, at most.
pub const BATCHES_IN_FLIGHT: usize = 2;

enum Job {
    /// Append these entries.
    Write(Vec<LogEntry>),
    /// Answer once everything before is written: the first error since the last answer.
    Sync(mpsc::Sender<io::Result<()>>),
}

/// The handle of a writer thread; dropping it writes what is queued and ends the thread.
pub(crate) struct LogWriter {
    jobs: Option<SyncSender<Job>>,
    written: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl LogWriter {
    /// Starts the thread writing to `path` (created with its directory on first write).
    pub(crate) fn start(path: PathBuf) -> Self {
        let (jobs, queue) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || run(path, queue, &counter))
            .ok();
        Self {
            jobs: thread.is_some().then_some(jobs),
            written,
            thread,
        }
    }

    /// Hands `entries` to the thread (waits only while [`BATCHES_IN_FLIGHT`] are queued).
    pub(crate) fn write(&self, entries: Vec<LogEntry>) {
        if entries.is_empty() {
            return;
        }
        if let Some(jobs) = &self.jobs {
            if jobs.send(Job::Write(entries)).is_err() {
                eprintln!("log system: the writer thread is gone; records lost");
            }
        }
    }

    /// Waits (at most `within`) until everything handed over so far is written.
    pub(crate) fn sync(&self, within: Duration) -> io::Result<()> {
        let Some(jobs) = &self.jobs else {
            return Err(io::Error::other("the log writer thread could not start"));
        };
        let (done, answer) = mpsc::channel();
        jobs.send(Job::Sync(done))
            .map_err(|_| io::Error::other("the log writer thread is gone"))?;
        answer
            .recv_timeout(within)
            .map_err(|_| io::Error::other("the log writer did not answer in time"))?
    }

    /// Entries written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.jobs = None; // the thread drains the queue, then ends
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(path: PathBuf, queue: Receiver<Job>, written: &AtomicU64) {
    let mut file: Option<File> = None;
    let mut failed: Option<io::Error> = None;
    for job in queue {
        match job {
            Job::Write(entries) => match append(&path, &mut file, &entries) {
                Ok(()) => {
                    written.fetch_add(entries.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    eprintln!("log system: cannot write {}: {e}", path.display());
                    file = None; // reopen next time
                    failed.get_or_insert(e);
                }
            },
            Job::Sync(done) => {
                let _ = done.send(failed.take().map_or(Ok(()), Err));
            }
        }
    }
}

fn append(path: &PathBuf, file: &mut Option<File>, entries: &[LogEntry]) -> io::Result<()> {
    let mut text = String::new();
    for entry in entries {
        text.push_str(&entry.to_line());
        text.push('\n');
    }
    if path.as_os_str() == STDOUT_PATH {
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        return out.flush();
    }
    if file.is_none() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        *file = Some(OpenOptions::new().create(true).append(true).open(path)?);
    }
    match file.as_mut() {
        Some(f) => {
            f.write_all(text.as_bytes())?;
            f.flush()
        }
        None => Ok(()),
    }
}
