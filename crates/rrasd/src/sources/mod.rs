//! Sources: the VPN engines rrasd learns connections from. Each configured
//! **instance** of an engine (`[[source]]`, or an engine's shorthand
//! section) is identified by its [`SourceId`], owns exactly the rows it
//! created, and registers its own hang-up.
//!
//! Every engine lives in `rras-sources`. All but RADIUS are known here
//! only through their `rras_source::EngineConfig`: parsed, checked,
//! described and started the same way. RADIUS is started by name, with
//! the daemon's metrics as its counters. ARCHITECTURE.md, "Adding an
//! engine".

use std::sync::Arc;

use rras_source::EngineConfig;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::DaemonError;
use crate::manager::ConnectionManager;
use crate::metrics::Metrics;
pub use rras_core::SourceId;
pub use rras_sources::{ocserv, openvpn, radius, softether, strongswan, wireguard};

/// One source instance to run: `kind` picks the engine, the other keys are
/// that engine's settings (the same as its shorthand section), plus `name`.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// RADIUS accounting listener.
    Radius(Box<radius::RadiusConfig>),
    /// An engine of `rras_sources::ENGINES`, known only through the
    /// source API.
    Engine(Arc<dyn EngineConfig>),
}

impl<'de> Deserialize<'de> for SourceConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(deserializer)?;
        let kind = match table.remove("kind") {
            Some(toml::Value::String(k)) => k,
            Some(_) => return Err(D::Error::custom("`kind` must be a string")),
            None => return Err(D::Error::custom("missing field `kind`")),
        };
        if let Some(engine) = rras_sources::engine(&kind) {
            return (engine.parse)(table)
                .map(|c| SourceConfig::Engine(Arc::from(c)))
                .map_err(|e| D::Error::custom(format!("[[source]] kind = {kind:?}: {e}")));
        }
        if kind == "radius" {
            return radius::RadiusConfig::deserialize(toml::Value::Table(table))
                .map(|c| SourceConfig::Radius(Box::new(c)))
                .map_err(|e| D::Error::custom(format!("[[source]] kind = \"radius\": {}", e.message())));
        }
        let mut all = vec!["radius"];
        all.extend(rras_sources::ENGINES.iter().map(|e| e.section()));
        Err(D::Error::custom(format!(
            "unknown source kind {kind:?} (expected one of {})",
            all.join(", ")
        )))
    }
}

impl SourceConfig {
    /// The instance's id.
    pub fn id(&self) -> Result<SourceId, String> {
        match self {
            SourceConfig::Radius(c) => SourceId::new(rras_core::EngineKind::Radius, &c.name).map_err(|e| e.to_string()),
            SourceConfig::Engine(c) => c.id(),
        }
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        self.id()?;
        match self {
            SourceConfig::Radius(c) => c.validate(),
            SourceConfig::Engine(c) => c.validate(),
        }
    }

    /// The key a `[[source]]` entry of this kind cannot run without, when
    /// it is missing.
    pub fn missing_key(&self) -> Option<&'static str> {
        match self {
            SourceConfig::Radius(c) => c.listen.is_none().then_some("listen"),
            SourceConfig::Engine(c) => (!c.is_on()).then(|| c.on_key()),
        }
    }
}

/// Starts every source instance (`Config::source_instances`); returns
/// their tasks.
pub async fn start(
    instances: Vec<SourceConfig>,
    manager: Arc<ConnectionManager>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, DaemonError> {
    let mut tasks = Vec::new();
    let sink: Arc<dyn rras_source::Sink> = manager.clone();
    for source in instances {
        let name = source.id().map(|id| id.to_string()).unwrap_or_default();
        let invalid = |message: String| DaemonError::Source {
            instance: name.clone(),
            message,
        };
        match source {
            SourceConfig::Radius(c) => tasks.extend(
                radius::start(&c, sink.clone(), metrics.clone(), stop.clone())
                    .await
                    .map_err(|e| invalid(e.to_string()))?,
            ),
            SourceConfig::Engine(c) => {
                let id = c.id().map_err(&invalid)?;
                tasks.extend(
                    c.start(id, sink.clone(), stop.clone())
                        .map_err(|e| invalid(e.to_string()))?,
                )
            }
        }
    }
    Ok(tasks)
}
