//! Supervision: a source task that fails or panics is logged, counted in
//! its health and started again with exponential backoff, so the daemon
//! never loses a source silently.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::health::SourceHealth;

/// First wait before a restart.
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between restarts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A task that ran this long before failing starts over at [`MIN_BACKOFF`].
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Aborts the inner task when the supervisor itself is aborted (daemon
/// shutdown), so no source outlives it.
struct AbortOnDrop(JoinHandle<Result<(), String>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `start()` until the daemon stops; restarts it whenever it returns
/// early, fails or panics.
pub fn supervise<F, Fut>(health: Arc<SourceHealth>, mut stop: watch::Receiver<bool>, mut start: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            let started = Instant::now();
            let mut task = AbortOnDrop(tokio::spawn(start()));
            let outcome = (&mut task.0).await;
            if *stop.borrow() {
                return;
            }
            let why = match outcome {
                Ok(Ok(())) => "stopped on its own".to_owned(),
                Ok(Err(e)) => e,
                Err(join) if join.is_panic() => format!("panicked: {}", panic_text(join.into_panic())),
                Err(join) => join.to_string(),
            };
            if started.elapsed() >= HEALTHY_RUN {
                backoff = MIN_BACKOFF;
            }
            let source = health.report().id.to_string();
            tracing::error!(%source, retry_in = ?backoff, "source failed, restarting: {why}");
            health.restarted(why);
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{EngineState, HealthRegistry};
    use rras_core::EngineKind;
    use rras_core::SourceId;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_panicking_source_is_restarted_with_backoff() {
        let registry = HealthRegistry::default();
        let health = registry.register(SourceId::default_of(EngineKind::Wireguard));
        let (stop_tx, stop) = watch::channel(false);
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let task = supervise(health.clone(), stop, move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => panic!("poller bug"),
                    1 => Err("socket gone".to_owned()),
                    _ => std::future::pending().await,
                }
            }
        });
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "restarted twice");
        let r = health.report();
        assert_eq!((r.restarts, r.state), (2, EngineState::Degraded));
        assert_eq!(r.last_error, "socket gone");
        stop_tx.send(true).unwrap();
        task.abort();
    }
}
