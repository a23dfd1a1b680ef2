//! Frozen copies of what older store formats wrote with postcard, so a store
//! from any earlier release still opens after the in-memory model changes.
//!
//! postcard is not self-describing: it decodes only into the exact shape it
//! was written from. Formats 1 and 2 wrote `Connection` (format 1's active
//! rows) and `EndedConnection` (history) straight from the model of their
//! day; those shapes are fixed here, forever. The leaf types below are
//! still shared with the live model because they have not changed since;
//! **before changing one of them in `rras-core`, copy it here first** (the
//! fixture test in `tests/fixture.rs` fails if you forget).

use std::net::IpAddr;
use std::time::SystemTime;

use rras_core::{
    Connection, ConnectionHandle, ConnectionInfo, ConnectionStats, EndedConnection, EngineKind, Guid, InterfaceType,
    Projection, QuarantineState, SourceKey,
};
use serde::Deserialize;

/// `SourceKey` of formats 1–2 (no instance).
#[derive(Debug, Deserialize)]
struct SourceKeyV1 {
    engine: EngineKind,
    nas: String,
    session_id: String,
}

/// `ConnectionInfo` of formats 1–2.
#[derive(Debug, Deserialize)]
struct ConnectionInfoV1 {
    source: SourceKeyV1,
    interface_handle: u32,
    guid: Guid,
    interface_type: InterfaceType,
    flags: u32,
    interface_name: String,
    user_name: String,
    logon_domain: String,
    remote_computer: String,
    started_at: SystemTime,
    quarantine_state: QuarantineState,
    probation_time: Option<SystemTime>,
    stats: ConnectionStats,
    switch_overs: u32,
    remote_endpoint: Option<IpAddr>,
    local_endpoint: Option<IpAddr>,
    projection: Projection,
    device_type: u32,
    engine_attributes: Vec<(String, String)>,
}

/// `Connection` of formats 1–2 (format 1's active rows).
#[derive(Debug, Deserialize)]
pub(crate) struct ConnectionV1 {
    handle: ConnectionHandle,
    info: ConnectionInfoV1,
}

/// `EndedConnection` of formats 1–2 (their history entries).
#[derive(Debug, Deserialize)]
pub(crate) struct EndedConnectionV1 {
    connection: ConnectionV1,
    ended_at: SystemTime,
    reason: String,
}

impl From<ConnectionV1> for Connection {
    fn from(old: ConnectionV1) -> Self {
        let i = old.info;
        let mut info = ConnectionInfo::new(
            // Rows from before source instances belong to the default one.
            SourceKey::new(i.source.engine, i.source.nas, i.source.session_id),
            i.user_name,
            i.started_at,
        );
        info.interface_handle = i.interface_handle;
        info.guid = i.guid;
        info.interface_type = i.interface_type;
        info.flags = i.flags;
        info.interface_name = i.interface_name;
        info.logon_domain = i.logon_domain;
        info.remote_computer = i.remote_computer;
        info.quarantine_state = i.quarantine_state;
        info.probation_time = i.probation_time;
        info.stats = i.stats;
        info.switch_overs = i.switch_overs;
        info.remote_endpoint = i.remote_endpoint;
        info.local_endpoint = i.local_endpoint;
        info.projection = i.projection;
        info.device_type = i.device_type;
        info.engine_attributes = i.engine_attributes;
        Connection {
            handle: old.handle,
            info,
        }
    }
}

impl From<EndedConnectionV1> for EndedConnection {
    fn from(old: EndedConnectionV1) -> Self {
        EndedConnection {
            connection: old.connection.into(),
            ended_at: old.ended_at,
            reason: old.reason,
        }
    }
}

/// Writes a format-1 row, for the migration tests.
#[cfg(test)]
pub(crate) fn encode_connection_v1(c: &Connection) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Key<'a> {
        engine: EngineKind,
        nas: &'a str,
        session_id: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Info<'a> {
        source: Key<'a>,
        interface_handle: u32,
        guid: Guid,
        interface_type: InterfaceType,
        flags: u32,
        interface_name: &'a str,
        user_name: &'a str,
        logon_domain: &'a str,
        remote_computer: &'a str,
        started_at: SystemTime,
        quarantine_state: QuarantineState,
        probation_time: Option<SystemTime>,
        stats: ConnectionStats,
        switch_overs: u32,
        remote_endpoint: Option<IpAddr>,
        local_endpoint: Option<IpAddr>,
        projection: Projection,
        device_type: u32,
        engine_attributes: &'a [(String, String)],
    }
    #[derive(serde::Serialize)]
    struct Row<'a> {
        handle: ConnectionHandle,
        info: Info<'a>,
    }
    let i = &c.info;
    let row = Row {
        handle: c.handle,
        info: Info {
            source: Key {
                engine: i.source.engine,
                nas: &i.source.nas,
                session_id: &i.source.session_id,
            },
            interface_handle: i.interface_handle,
            guid: i.guid,
            interface_type: i.interface_type,
            flags: i.flags,
            interface_name: &i.interface_name,
            user_name: &i.user_name,
            logon_domain: &i.logon_domain,
            remote_computer: &i.remote_computer,
            started_at: i.started_at,
            quarantine_state: i.quarantine_state,
            probation_time: i.probation_time,
            stats: i.stats,
            switch_overs: i.switch_overs,
            remote_endpoint: i.remote_endpoint,
            local_endpoint: i.local_endpoint,
            projection: i.projection,
            device_type: i.device_type,
            engine_attributes: &i.engine_attributes,
        },
    };
    postcard::to_stdvec(&row).unwrap_or_default()
}
