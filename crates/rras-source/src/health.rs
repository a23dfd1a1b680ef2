//! Engine health per source instance: what an admin sees in `rasctl
//! server`, `ServerGetInfo` and the metrics — state, the last good read,
//! the last error, restarts. State changes are logged once, not every poll.

use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::{Mutex, RwLock};

use rras_core::SourceId;

/// How an engine is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineState {
    /// Not read yet (just started).
    Starting,
    /// The last read worked completely.
    Ok,
    /// The engine answered, but part of it failed (one of several servers
    /// or interfaces, a reply that did not parse), or the source restarted.
    Degraded,
    /// The engine cannot be reached at all.
    Unreachable,
}

impl EngineState {
    /// Lower-case name for replies, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineState::Starting => "starting",
            EngineState::Ok => "ok",
            EngineState::Degraded => "degraded",
            EngineState::Unreachable => "unreachable",
        }
    }
}

/// One instance's health, as reported.
#[derive(Debug, Clone)]
pub struct HealthReport {
    /// Which instance.
    pub id: SourceId,
    /// Its state.
    pub state: EngineState,
    /// When it last read the engine successfully.
    pub last_ok: Option<SystemTime>,
    /// The last error's text ("" when none yet).
    pub last_error: String,
    /// When the last error happened.
    pub last_error_at: Option<SystemTime>,
    /// How often its task was restarted after failing.
    pub restarts: u32,
}

/// The shared, updatable health of one instance.
#[derive(Debug)]
pub struct SourceHealth {
    report: Mutex<HealthReport>,
}

impl SourceHealth {
    fn new(id: SourceId) -> Self {
        SourceHealth {
            report: Mutex::new(HealthReport {
                id,
                state: EngineState::Starting,
                last_ok: None,
                last_error: String::new(),
                last_error_at: None,
                restarts: 0,
            }),
        }
    }

    /// A copy of the current report.
    pub fn report(&self) -> HealthReport {
        self.report.lock().clone()
    }

    /// A complete, successful read.
    pub fn ok(&self) {
        let mut r = self.report.lock();
        r.last_ok = Some(SystemTime::now());
        Self::set(&mut r, EngineState::Ok, None);
    }

    /// A read that partly failed.
    pub fn degraded(&self, error: impl Into<String>) {
        let mut r = self.report.lock();
        r.last_ok = Some(SystemTime::now());
        Self::set(&mut r, EngineState::Degraded, Some(error.into()));
    }

    /// A read that failed completely.
    pub fn unreachable(&self, error: impl Into<String>) {
        Self::set(&mut self.report.lock(), EngineState::Unreachable, Some(error.into()));
    }

    /// The task failed and is restarted.
    pub fn restarted(&self, error: impl Into<String>) {
        let mut r = self.report.lock();
        r.restarts = r.restarts.saturating_add(1);
        Self::set(&mut r, EngineState::Degraded, Some(error.into()));
    }

    fn set(r: &mut HealthReport, state: EngineState, error: Option<String>) {
        if let Some(e) = &error {
            r.last_error_at = Some(SystemTime::now());
            if *e != r.last_error {
                r.last_error = e.clone();
            }
        }
        if r.state != state {
            let source = r.id.to_string();
            match state {
                EngineState::Ok | EngineState::Starting => tracing::info!(%source, "engine {}", state.as_str()),
                _ => tracing::warn!(%source, error = %r.last_error, "engine {}", state.as_str()),
            }
            r.state = state;
        }
    }
}

/// Every configured instance's health, in configuration order.
#[derive(Debug, Default)]
pub struct HealthRegistry {
    sources: RwLock<Vec<Arc<SourceHealth>>>,
}

impl HealthRegistry {
    /// Adds (or returns the existing) health of `id`.
    pub fn register(&self, id: SourceId) -> Arc<SourceHealth> {
        let mut list = self.sources.write();
        if let Some(h) = list.iter().find(|h| h.report.lock().id == id) {
            return h.clone();
        }
        let h = Arc::new(SourceHealth::new(id));
        list.push(h.clone());
        h
    }

    /// Reports of every instance.
    pub fn reports(&self) -> Vec<HealthReport> {
        self.sources.read().iter().map(|h| h.report()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rras_core::EngineKind;

    #[test]
    fn states_move_and_keep_the_last_error() {
        let reg = HealthRegistry::default();
        let h = reg.register(SourceId::default_of(EngineKind::Openvpn));
        assert_eq!(h.report().state, EngineState::Starting);
        h.unreachable("connection refused");
        h.unreachable("connection refused");
        let r = h.report();
        assert_eq!(
            (r.state, r.last_error.as_str(), r.last_ok),
            (EngineState::Unreachable, "connection refused", None)
        );
        h.ok();
        let r = h.report();
        assert_eq!(r.state, EngineState::Ok);
        assert!(r.last_ok.is_some());
        assert_eq!(r.last_error, "connection refused", "the last error stays visible");
        h.restarted("panic");
        assert_eq!((h.report().restarts, h.report().state), (1, EngineState::Degraded));
        // Registering again finds the same instance.
        assert_eq!(
            reg.register(SourceId::default_of(EngineKind::Openvpn))
                .report()
                .restarts,
            1
        );
        assert_eq!(reg.reports().len(), 1);
    }
}
