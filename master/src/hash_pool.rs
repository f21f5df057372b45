//! Low-priority threads for password hashing.
//!
//! bcrypt is meant to be slow (≈0.2 s a hash at cost 12 here). Run on ordinary threads, a login
//! burst takes every core and the threads serving quotes and trades wait for CPU. These threads
//! run at nice +10, so the kernel gives the serving threads the CPU whenever they are runnable
//! and hashing gets the rest: logins still use all spare capacity.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed pool of hashing threads.
#[derive(Clone)]
pub struct HashPool {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool").finish_non_exhaustive()
    }
}

/// Nice value of the hashing threads.
const NICE: libc::c_int = 10;

fn lower_priority() {
    // SAFETY: setpriority only reads its integer arguments. On Linux, PRIO_PROCESS with who = 0
    // applies to the calling thread alone. Failure (no permission) leaves the default priority.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, NICE);
    }
}

impl HashPool {
    /// Starts `threads` (≥ 1) hashing threads.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("bcrypt-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every sender gone: the master is stopping
                        }
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on a hashing thread; `None` if the pool has stopped.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done, result) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .ok()?;
        result.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_on_niced_threads() {
        let pool = HashPool::new(2).unwrap();
        let (name, nice) = pool
            .run(|| {
                // SAFETY: getpriority only reads its arguments; errno is not consulted because
                // 10 is not -1.
                let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
                (std::thread::current().name().map(str::to_owned), nice)
            })
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("bcrypt-"));
        assert_eq!(nice, NICE);
        let results = futures::future::join_all((0..8).map(|i| pool.run(move || i * 2))).await;
        assert_eq!(results, (0..8).map(|i| Some(i * 2)).collect::<Vec<_>>());
    }
}
