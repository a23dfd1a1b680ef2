//! The admin RPC's own thread: a current-thread tokio runtime that runs both
//! admin listeners (the Unix socket and TLS), their connections and every
//! call on them.
//!
//! Why not the daemon's multi-thread runtime: there a call hops between
//! workers. hyper runs each HTTP/2 stream as a task of its own beside the
//! connection's task, and the two are woken on whichever worker is free, so
//! one call costs several cross-core wake-ups. Under ingest load every
//! wake-up waits for a core: at 10k updates/s a 100-entry page's p99 was
//! 0.53–0.63 ms on two workers and is 0.36–0.41 ms on this thread (docs/
//! benchmarks-notebook.md, "The admin thread and quiet sockets").
//!
//! It also keeps the admin plane apart from the sources: a long listing or
//! a slow store read occupies this thread, not a worker that sources need,
//! and a source that hogs the workers does not hold up admin calls. Calls
//! still interleave: a listing streams in chunks and yields between them.
//! The price is one core for all admin work: fanning changes out to 100
//! watchers is ~1 ms slower at the median.
//!
//! Everything the calls touch (the table, the journal's channel, the
//! change feed) is shared across runtimes, so nothing else moves.
//!
//! The web console runs on a thread of the same kind, `rrasd-web`, at a
//! lower priority (nice 10, its scans' blocking threads too): when readers
//! and RADIUS want the same cores, the kernel gives them to RADIUS, and
//! when the cores are free the console has them all.

use std::future::Future;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long stopping waits for blocking work started by admin tasks.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// The admin thread. Dropping it stops the runtime and joins the thread;
/// tasks still on it are dropped (callers drain their listeners first).
#[derive(Debug)]
pub struct AdminRuntime {
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AdminRuntime {
    /// Starts the thread `rrasd-admin` with its runtime, at niceness
    /// `nice` (`admin_nice`, -5 by default).
    pub fn start(nice: i32) -> std::io::Result<Self> {
        Self::start_named("rrasd-admin", nice)
    }

    /// Starts a thread `name` with its runtime, it and its blocking
    /// threads at niceness `nice` (0: as the daemon).
    pub fn start_named(name: &str, nice: i32) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_start(move || set_priority(nice))
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            set_priority(nice);
            // Tasks spawned through the handle run only while this thread
            // drives the runtime: it does so until the owner is dropped.
            let _ = runtime.block_on(stopped);
            runtime.shutdown_timeout(SHUTDOWN_WAIT);
        })?;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Runs `future` on the admin thread; the handle can be awaited from
    /// any runtime.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }
}

/// Gives the calling thread niceness `nice` (Linux: a thread's own
/// priority). Failing is harmless: the thread runs as the daemon does. A
/// negative niceness needs root or CAP_SYS_NICE (the unit file grants it).
fn set_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    let me = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(me), nice) {
        tracing::info!("cannot give a thread niceness {nice} ({e}); it runs at the daemon's");
    }
}

impl Drop for AdminRuntime {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_tasks_on_its_own_named_thread() {
        let admin = AdminRuntime::start(0).unwrap();
        let caller = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let name = caller
            .block_on(admin.spawn(async { std::thread::current().name().map(str::to_owned) }))
            .unwrap();
        assert_eq!(name.as_deref(), Some("rrasd-admin"));
    }

    #[test]
    fn runs_at_the_niceness_asked_for_when_allowed() {
        let mine = rustix::process::getpriority_process(None).unwrap();
        // Raising niceness is always allowed; lowering it needs privilege.
        let asked = if rustix::process::geteuid().is_root() {
            -5
        } else {
            (mine + 3).min(19)
        };
        let admin = AdminRuntime::start(asked).unwrap();
        let caller = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let got = caller
            .block_on(
                admin.spawn(async { rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap() }),
            )
            .unwrap();
        assert_eq!(got, asked);
    }

    #[test]
    fn dropping_it_ends_the_thread_and_drops_unfinished_tasks() {
        struct Flag(std::sync::mpsc::Sender<()>);
        impl Drop for Flag {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let admin = AdminRuntime::start(0).unwrap();
        let (dropped, was_dropped) = std::sync::mpsc::channel();
        let (started, has_started) = std::sync::mpsc::channel();
        let _never = admin.spawn(async move {
            let _flag = Flag(dropped);
            let _ = started.send(());
            std::future::pending::<()>().await;
        });
        has_started.recv_timeout(Duration::from_secs(5)).unwrap();
        drop(admin);
        // Drop joined the thread, so the task is gone by now.
        assert!(was_dropped.try_recv().is_ok());
    }
}
