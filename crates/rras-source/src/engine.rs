//! `Engine`: what makes a VPN engine one of rrasd's sources — its kind,
//! its configuration section, and how an instance is checked, described
//! and started. The daemon knows engines only through this: a
//! `[softether]` section or a `[[source]] kind = "softether"` entry is
//! parsed by the engine's own [`EngineConfig`], checked by it, shown by
//! `--check-config` from its [`Description`], and started with a [`Sink`].

use std::path::PathBuf;
use std::sync::Arc;

use rras_core::{EngineKind, SourceId};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::SourceError;
use crate::sink::Sink;

/// What `rrasd --check-config` says of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description {
    /// One line: what the instance reads, e.g. "SoftEther JSON-RPC
    /// https://127.0.0.1:5555/api/ (every hub)".
    pub summary: String,
    /// Sockets or files the engine must find when it starts; a missing one
    /// is a warning (the engine may start later).
    pub paths: Vec<PathBuf>,
    /// Files holding secrets, by the key that names them: each must be
    /// private to the daemon, or it refuses to start.
    pub secret_files: Vec<(String, PathBuf)>,
}

/// Something an instance reads alone: a `place` (a socket, a directory)
/// and optionally the `part` of it (an interface); two claims overlap when
/// their places are equal and either has no part or the parts are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The socket, directory or device.
    pub place: String,
    /// The part of it, or None for all of it.
    pub part: Option<String>,
    /// What the operator should do about an overlap.
    pub hint: &'static str,
}

impl Claim {
    /// True when both cannot be read by two instances.
    pub fn overlaps(&self, other: &Claim) -> bool {
        self.place == other.place && (self.part.is_none() || other.part.is_none() || self.part == other.part)
    }
}

/// A VPN engine, implemented by its settings type: one instance's
/// section, parsed (`deny_unknown_fields`, defaults for every key: an
/// empty section is the engine switched off). The daemon sees it as a
/// `dyn` [`EngineConfig`], which every `Engine` is.
pub trait Engine: std::fmt::Debug + DeserializeOwned + Default + Send + Sync + 'static {
    /// Which engine; its name is the configuration section's and the
    /// `[[source]] kind`'s.
    const KIND: EngineKind;

    /// The key that switches an instance on, for the error when a
    /// `[[source]]` entry lacks it.
    const ON_KEY: &'static str;

    /// The instance's name (`[[source]] name`; "" for the section's
    /// default instance).
    fn name(&self) -> &str;

    /// True when [`ON_KEY`](Self::ON_KEY) is set (for a shorthand
    /// section: the engine runs; for a `[[source]]` entry it must be).
    fn is_on(&self) -> bool;

    /// What the instance reads that no other instance may read too (two
    /// instances on one socket would report, and end, each other's
    /// sessions). Most engines claim nothing.
    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    /// What serde cannot check, and a key the instance cannot run without
    /// (the error names it).
    fn validate(&self) -> Result<(), String>;

    /// For `--check-config`.
    fn describe(&self) -> Description;

    /// Starts the instance: it reports to `sink` as `id` until `stop`
    /// turns true. The tasks are the daemon's to abort on shutdown.
    fn start(
        &self,
        id: SourceId,
        sink: Arc<dyn Sink>,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<JoinHandle<()>>, SourceError>;
}

/// One configured instance of some engine, as the daemon holds it.
pub trait EngineConfig: std::fmt::Debug + Send + Sync + 'static {
    /// The engine.
    fn kind(&self) -> EngineKind;
    /// See [`Engine::name`].
    fn name(&self) -> &str;
    /// See [`Engine::is_on`].
    fn is_on(&self) -> bool;
    /// See [`Engine::ON_KEY`].
    fn on_key(&self) -> &'static str;
    /// See [`Engine::claims`].
    fn claims(&self) -> Vec<Claim>;
    /// See [`Engine::validate`].
    fn validate(&self) -> Result<(), String>;
    /// See [`Engine::describe`].
    fn describe(&self) -> Description;
    /// See [`Engine::start`].
    fn start(
        &self,
        id: SourceId,
        sink: Arc<dyn Sink>,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<JoinHandle<()>>, SourceError>;

    /// The instance's id.
    fn id(&self) -> Result<SourceId, String> {
        SourceId::new(self.kind(), self.name()).map_err(|e| e.to_string())
    }
}

impl<E: Engine> EngineConfig for E {
    fn kind(&self) -> EngineKind {
        E::KIND
    }

    fn name(&self) -> &str {
        Engine::name(self)
    }

    fn is_on(&self) -> bool {
        Engine::is_on(self)
    }

    fn on_key(&self) -> &'static str {
        E::ON_KEY
    }

    fn claims(&self) -> Vec<Claim> {
        Engine::claims(self)
    }

    fn validate(&self) -> Result<(), String> {
        Engine::validate(self)
    }

    fn describe(&self) -> Description {
        Engine::describe(self)
    }

    fn start(
        &self,
        id: SourceId,
        sink: Arc<dyn Sink>,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<JoinHandle<()>>, SourceError> {
        Engine::start(self, id, sink, stop)
    }
}

/// An engine as the list of engines holds it: no generics, so the daemon
/// can go through the list.
#[derive(Clone, Copy)]
pub struct EngineEntry {
    /// Which engine.
    pub kind: EngineKind,
    /// Parses one section or `[[source]]` entry (without its `kind` key).
    pub parse: fn(toml::Table) -> Result<Box<dyn EngineConfig>, String>,
    /// The default instance when its section is absent (switched off).
    pub absent: fn() -> Box<dyn EngineConfig>,
}

impl std::fmt::Debug for EngineEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineEntry").field("kind", &self.kind).finish()
    }
}

impl EngineEntry {
    /// The entry of engine `E` (its settings type).
    pub const fn of<E: Engine>() -> Self {
        EngineEntry {
            kind: E::KIND,
            parse: parse::<E>,
            absent: || Box::new(E::default()),
        }
    }

    /// The section's name (`[softether]`, `kind = "softether"`).
    pub fn section(&self) -> &'static str {
        self.kind.as_str()
    }
}

fn parse<E: Engine>(table: toml::Table) -> Result<Box<dyn EngineConfig>, String> {
    let config: E = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_owned())?;
    Ok(Box::new(config))
}
