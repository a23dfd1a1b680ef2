//! `ScanPool`: where reads that must visit every record run — a console
//! window the indexes cannot answer (a broad search, an unindexed filter).
//!
//! A scan of a million records takes a second of one core. It runs on a
//! blocking thread, never on the runtime the sources and the journal use;
//! at most `total` run at once, and at most `per_caller` for one caller, so
//! one console repeating a heavy request waits for itself and leaves the
//! rest of the machine to ingest and to other callers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Semaphore;

/// How long a scan waits for its turn before the caller is told to retry.
pub const WAIT: Duration = Duration::from_secs(10);

/// Callers remembered for their own limit (beyond, idle ones are dropped).
const CALLERS: usize = 1024;

/// Why a scan did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScanRefused {
    /// Every slot stayed taken for [`WAIT`] (or this caller's own).
    #[error("too many scans running; try again")]
    Busy,
    /// The scan's thread failed (a bug; logged).
    #[error("the scan failed")]
    Failed,
}

/// Bounded room for scans.
#[derive(Debug)]
pub struct ScanPool {
    total: Arc<Semaphore>,
    per_caller: usize,
    callers: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl ScanPool {
    /// Room for `total` scans at once, `per_caller` of them one caller's.
    pub fn new(total: usize, per_caller: usize) -> Self {
        ScanPool {
            total: Arc::new(Semaphore::new(total.max(1))),
            per_caller: per_caller.max(1),
            callers: Mutex::new(HashMap::new()),
        }
    }

    /// One slot per core but one (ingest keeps a core), at least one; two
    /// per caller.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores.saturating_sub(1).max(1), 2)
    }

    fn caller_slots(&self, caller: &str) -> Arc<Semaphore> {
        let mut callers = self.callers.lock();
        if let Some(s) = callers.get(caller) {
            return s.clone();
        }
        if callers.len() >= CALLERS {
            // Forget callers with nothing running.
            let per = self.per_caller;
            callers.retain(|_, s| s.available_permits() < per);
        }
        let slots = Arc::new(Semaphore::new(self.per_caller));
        callers.insert(caller.to_owned(), slots.clone());
        slots
    }

    /// Runs `work` on a blocking thread once `caller` and the pool have
    /// room.
    pub async fn run<T: Send + 'static>(
        &self,
        caller: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ScanRefused> {
        let mine = self.caller_slots(caller);
        let turn = async {
            let own = mine.acquire_owned().await.ok()?;
            let any = self.total.clone().acquire_owned().await.ok()?;
            Some((own, any))
        };
        let Ok(Some(permits)) = tokio::time::timeout(WAIT, turn).await else {
            return Err(ScanRefused::Busy);
        };
        let done = tokio::task::spawn_blocking(move || {
            let _permits = permits;
            work()
        })
        .await;
        done.map_err(|e| {
            tracing::error!("a scan failed: {e}");
            ScanRefused::Failed
        })
    }

    /// Scans running now (for tests and metrics).
    pub fn running(&self) -> usize {
        // Not exact under contention; enough for a gauge.
        self.callers
            .lock()
            .values()
            .map(|s| self.per_caller - s.available_permits())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_caller_waits_for_itself_and_others_still_run() {
        let pool = Arc::new(ScanPool::new(2, 1));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(Mutex::new(wait));
        let running = Arc::new(AtomicUsize::new(0));
        // alice's first scan holds her only slot.
        let first = {
            let (pool, wait, running) = (pool.clone(), wait.clone(), running.clone());
            tokio::spawn(async move {
                pool.run("alice", move || {
                    running.fetch_add(1, Ordering::SeqCst);
                    let _ = wait.lock().recv();
                })
                .await
            })
        };
        while running.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // bob is not held up by alice.
        assert_eq!(pool.run("bob", || 7).await, Ok(7));
        // alice's second waits for her first.
        let second = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run("alice", || 8).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!second.is_finished(), "alice's second scan ran beside her first");
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(()));
        assert_eq!(second.await.unwrap(), Ok(8));
    }
}
