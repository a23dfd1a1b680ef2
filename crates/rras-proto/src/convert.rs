//! Conversions between protobuf messages and `rras-core` types.
//!
//! Decoding is strict about what would be ambiguous (an address that does
//! not parse, an unknown engine, a handle of 0 where one is required) and
//! lenient about what is merely absent (empty strings and missing messages
//! are "none"/zero), so a hook script can send only what it knows.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rras_core::model::{
    CcpInfo, ConnectionInfo, Ikev2Projection, Ipv4Projection, Ipv6Projection, LcpInfo, PppProjection,
};
use rras_core::{
    Connection, ConnectionHandle, ConnectionStats, EndedConnection, Guid, InterfaceType, Projection, QuarantineState,
    SourceKey, Win32Error,
};

use crate::pb;

/// A message that does not describe a valid core value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// A required sub-message is missing.
    #[error("missing field {0}")]
    Missing(&'static str),
    /// An address field does not parse.
    #[error("field {field}: {value:?} is not an IP address")]
    BadAddress {
        /// The field.
        field: &'static str,
        /// What was sent.
        value: String,
    },
    /// The engine name is unknown.
    #[error(transparent)]
    Engine(#[from] rras_core::model::UnknownEngine),
    /// The source instance name is not a name.
    #[error(transparent)]
    Instance(#[from] rras_core::model::BadInstanceName),
    /// A byte field has the wrong length.
    #[error("field {field} must be {expected} bytes, got {got}")]
    BadLength {
        /// The field.
        field: &'static str,
        /// The expected length.
        expected: usize,
        /// The length sent.
        got: usize,
    },
    /// An enum value is out of range.
    #[error("field {field}: {value} is out of range")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// What was sent.
        value: u32,
    },
    /// The connection handle is 0.
    #[error("connection handle 0 is not a handle")]
    ZeroHandle,
    /// A time is past what a Windows `SYSTEMTIME` can show (year 9999).
    #[error("field {field}: {micros} µs after 1970 is past the year 9999")]
    BadTime {
        /// The field.
        field: &'static str,
        /// What was sent.
        micros: u64,
    },
}

impl ProtoError {
    /// Bad input from a caller is always ERROR_INVALID_PARAMETER.
    pub fn win32(&self) -> Win32Error {
        Win32Error::InvalidParameter
    }
}

/// Microseconds since the Unix epoch (0 for times before it).
pub fn to_micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The time `micros` after the Unix epoch (the epoch itself if the number
/// cannot be a time; for replies from our own daemon).
pub fn from_micros(micros: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_micros(micros))
        .unwrap_or(UNIX_EPOCH)
}

/// A time a caller sent: refused past the year 9999.
fn time_from_pb(field: &'static str, micros: u64) -> Result<SystemTime, ProtoError> {
    let d = Duration::from_micros(micros);
    rras_core::engine_time::from_unix(d.as_secs(), d.subsec_nanos()).ok_or(ProtoError::BadTime { field, micros })
}

fn addr_text<T: ToString>(a: Option<T>) -> String {
    a.map(|a| a.to_string()).unwrap_or_default()
}

fn parse_ip(field: &'static str, s: &str) -> Result<Option<IpAddr>, ProtoError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|_| ProtoError::BadAddress {
        field,
        value: s.to_owned(),
    })
}

fn parse_ipv4(field: &'static str, s: &str) -> Result<Option<Ipv4Addr>, ProtoError> {
    match parse_ip(field, s)? {
        None => Ok(None),
        Some(IpAddr::V4(a)) => Ok(Some(a)),
        Some(IpAddr::V6(_)) => Err(ProtoError::BadAddress {
            field,
            value: s.to_owned(),
        }),
    }
}

fn bytes8(field: &'static str, b: &[u8]) -> Result<[u8; 8], ProtoError> {
    if b.is_empty() {
        return Ok([0; 8]);
    }
    b.try_into().map_err(|_| ProtoError::BadLength {
        field,
        expected: 8,
        got: b.len(),
    })
}

/// GUID in its Windows memory order (little-endian Data1..3).
pub fn guid_bytes(g: &Guid) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&g.data1.to_le_bytes());
    b[4..6].copy_from_slice(&g.data2.to_le_bytes());
    b[6..8].copy_from_slice(&g.data3.to_le_bytes());
    b[8..].copy_from_slice(&g.data4);
    b
}

fn guid_from(b: &[u8]) -> Result<Guid, ProtoError> {
    if b.is_empty() {
        return Ok(Guid::default());
    }
    let b: [u8; 16] = b.try_into().map_err(|_| ProtoError::BadLength {
        field: "guid",
        expected: 16,
        got: b.len(),
    })?;
    let mut data4 = [0u8; 8];
    data4.copy_from_slice(&b[8..]);
    Ok(Guid {
        data1: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        data2: u16::from_le_bytes([b[4], b[5]]),
        data3: u16::from_le_bytes([b[6], b[7]]),
        data4,
    })
}

fn interface_type(v: u32) -> Result<InterfaceType, ProtoError> {
    use InterfaceType::*;
    [
        Client, HomeRouter, FullRouter, Dedicated, Internal, Loopback, Tunnel1, Dialout,
    ]
    .into_iter()
    .find(|t| *t as u32 == v)
    .ok_or(ProtoError::OutOfRange {
        field: "interface_type",
        value: v,
    })
}

fn quarantine_state(v: u32) -> Result<QuarantineState, ProtoError> {
    use QuarantineState::*;
    [Normal, Quarantine, Probation, NotCapable]
        .into_iter()
        .find(|t| *t as u32 == v)
        .ok_or(ProtoError::OutOfRange {
            field: "quarantine_state",
            value: v,
        })
}

impl From<&ConnectionStats> for pb::Stats {
    fn from(s: &ConnectionStats) -> Self {
        pb::Stats {
            bytes_xmited: s.bytes_xmited,
            bytes_rcved: s.bytes_rcved,
            frames_xmited: s.frames_xmited,
            frames_rcved: s.frames_rcved,
            crc_err: s.crc_err,
            timeout_err: s.timeout_err,
            alignment_err: s.alignment_err,
            hardware_overrun_err: s.hardware_overrun_err,
            framing_err: s.framing_err,
            buffer_overrun_err: s.buffer_overrun_err,
            compression_ratio_in: s.compression_ratio_in,
            compression_ratio_out: s.compression_ratio_out,
        }
    }
}

impl From<&pb::Stats> for ConnectionStats {
    fn from(s: &pb::Stats) -> Self {
        ConnectionStats {
            bytes_xmited: s.bytes_xmited,
            bytes_rcved: s.bytes_rcved,
            frames_xmited: s.frames_xmited,
            frames_rcved: s.frames_rcved,
            crc_err: s.crc_err,
            timeout_err: s.timeout_err,
            alignment_err: s.alignment_err,
            hardware_overrun_err: s.hardware_overrun_err,
            framing_err: s.framing_err,
            buffer_overrun_err: s.buffer_overrun_err,
            compression_ratio_in: s.compression_ratio_in,
            compression_ratio_out: s.compression_ratio_out,
        }
    }
}

fn ipv4_to_pb(p: &Ipv4Projection) -> pb::Ipv4Projection {
    pb::Ipv4Projection {
        negotiation_error: p.negotiation_error,
        address: addr_text(p.address),
        remote_address: addr_text(p.remote_address),
        options: p.options,
        remote_options: p.remote_options,
        sub_interface_index: p.sub_interface_index,
    }
}

fn ipv4_from_pb(p: Option<&pb::Ipv4Projection>) -> Result<Ipv4Projection, ProtoError> {
    let Some(p) = p else {
        return Ok(Ipv4Projection::default());
    };
    Ok(Ipv4Projection {
        negotiation_error: p.negotiation_error,
        address: parse_ipv4("ipv4.address", &p.address)?,
        remote_address: parse_ipv4("ipv4.remote_address", &p.remote_address)?,
        options: p.options,
        remote_options: p.remote_options,
        sub_interface_index: p.sub_interface_index,
    })
}

fn ipv6_to_pb(p: &Ipv6Projection) -> pb::Ipv6Projection {
    pb::Ipv6Projection {
        negotiation_error: p.negotiation_error,
        interface_identifier: p.interface_identifier.to_vec(),
        remote_interface_identifier: p.remote_interface_identifier.to_vec(),
        prefix: p.prefix.to_vec(),
        prefix_length: p.prefix_length,
        sub_interface_index: p.sub_interface_index,
    }
}

fn ipv6_from_pb(p: Option<&pb::Ipv6Projection>) -> Result<Ipv6Projection, ProtoError> {
    let Some(p) = p else {
        return Ok(Ipv6Projection::default());
    };
    Ok(Ipv6Projection {
        negotiation_error: p.negotiation_error,
        interface_identifier: bytes8("ipv6.interface_identifier", &p.interface_identifier)?,
        remote_interface_identifier: bytes8("ipv6.remote_interface_identifier", &p.remote_interface_identifier)?,
        prefix: bytes8("ipv6.prefix", &p.prefix)?,
        prefix_length: p.prefix_length,
        sub_interface_index: p.sub_interface_index,
    })
}

fn projection_to_pb(p: &Projection) -> pb::connection::Projection {
    match p {
        Projection::Ppp(p) => pb::connection::Projection::Ppp(pb::PppProjection {
            ipv4: Some(ipv4_to_pb(&p.ipv4)),
            ipv6: Some(ipv6_to_pb(&p.ipv6)),
            lcp: Some(pb::Lcp {
                error: p.lcp.error,
                authentication_protocol: p.lcp.authentication_protocol,
                authentication_data: p.lcp.authentication_data,
                remote_authentication_protocol: p.lcp.remote_authentication_protocol,
                remote_authentication_data: p.lcp.remote_authentication_data,
                terminate_reason: p.lcp.terminate_reason,
                remote_terminate_reason: p.lcp.remote_terminate_reason,
                options: p.lcp.options,
                remote_options: p.lcp.remote_options,
                eap_type_id: p.lcp.eap_type_id,
                embedded_eap_type_id: p.lcp.embedded_eap_type_id,
                remote_eap_type_id: p.lcp.remote_eap_type_id,
            }),
            ccp: Some(pb::Ccp {
                error: p.ccp.error,
                compression_algorithm: p.ccp.compression_algorithm,
                options: p.ccp.options,
                remote_compression_algorithm: p.ccp.remote_compression_algorithm,
                remote_options: p.ccp.remote_options,
            }),
        }),
        Projection::Ikev2(p) => pb::connection::Projection::Ikev2(pb::Ikev2Projection {
            ipv4: Some(ipv4_to_pb(&p.ipv4)),
            ipv6: Some(ipv6_to_pb(&p.ipv6)),
            options: p.options,
            authentication_protocol: p.authentication_protocol,
            eap_type_id: p.eap_type_id,
            embedded_eap_type_id: p.embedded_eap_type_id,
            compression_algorithm: p.compression_algorithm,
            encryption_method: p.encryption_method,
        }),
    }
}

fn projection_from_pb(p: Option<&pb::connection::Projection>) -> Result<Projection, ProtoError> {
    Ok(match p {
        None => Projection::default(),
        Some(pb::connection::Projection::Ppp(p)) => {
            let lcp = p.lcp.unwrap_or_default();
            let ccp = p.ccp.unwrap_or_default();
            Projection::Ppp(PppProjection {
                ipv4: ipv4_from_pb(p.ipv4.as_ref())?,
                ipv6: ipv6_from_pb(p.ipv6.as_ref())?,
                lcp: LcpInfo {
                    error: lcp.error,
                    authentication_protocol: lcp.authentication_protocol,
                    authentication_data: lcp.authentication_data,
                    remote_authentication_protocol: lcp.remote_authentication_protocol,
                    remote_authentication_data: lcp.remote_authentication_data,
                    terminate_reason: lcp.terminate_reason,
                    remote_terminate_reason: lcp.remote_terminate_reason,
                    options: lcp.options,
                    remote_options: lcp.remote_options,
                    eap_type_id: lcp.eap_type_id,
                    embedded_eap_type_id: lcp.embedded_eap_type_id,
                    remote_eap_type_id: lcp.remote_eap_type_id,
                },
                ccp: CcpInfo {
                    error: ccp.error,
                    compression_algorithm: ccp.compression_algorithm,
                    options: ccp.options,
                    remote_compression_algorithm: ccp.remote_compression_algorithm,
                    remote_options: ccp.remote_options,
                },
            })
        }
        Some(pb::connection::Projection::Ikev2(p)) => Projection::Ikev2(Ikev2Projection {
            ipv4: ipv4_from_pb(p.ipv4.as_ref())?,
            ipv6: ipv6_from_pb(p.ipv6.as_ref())?,
            options: p.options,
            authentication_protocol: p.authentication_protocol,
            eap_type_id: p.eap_type_id,
            embedded_eap_type_id: p.embedded_eap_type_id,
            compression_algorithm: p.compression_algorithm,
            encryption_method: p.encryption_method,
        }),
    })
}

/// The wire form of a source key.
pub fn source_to_pb(s: &SourceKey) -> pb::SourceKey {
    pb::SourceKey {
        engine: s.engine.as_str().to_owned(),
        nas: s.nas.clone(),
        session_id: s.session_id.clone(),
        instance: s.instance.clone(),
    }
}

/// A source key from the wire.
pub fn source_from_pb(s: Option<&pb::SourceKey>) -> Result<SourceKey, ProtoError> {
    let s = s.ok_or(ProtoError::Missing("source"))?;
    let engine = s.engine.parse()?;
    Ok(SourceKey {
        engine,
        instance: rras_core::model::instance_id(engine, &s.instance)?,
        nas: s.nas.clone(),
        session_id: s.session_id.clone(),
    })
}

/// The wire form of what a source knows (handle 0, duration as of `now`).
pub fn info_to_pb(info: &ConnectionInfo, now: SystemTime) -> pb::Connection {
    pb::Connection {
        handle: 0,
        interface_handle: info.interface_handle,
        guid: guid_bytes(&info.guid).to_vec(),
        interface_type: info.interface_type as u32,
        flags: info.flags,
        interface_name: info.interface_name.clone(),
        user_name: info.user_name.clone(),
        logon_domain: info.logon_domain.clone(),
        remote_computer: info.remote_computer.clone(),
        started_at_unix_micros: to_micros(info.started_at),
        connect_duration_secs: u32::try_from(info.connect_duration(now).as_secs()).unwrap_or(u32::MAX),
        quarantine_state: info.quarantine_state as u32,
        probation_time_unix_micros: info.probation_time.map(to_micros).unwrap_or(0),
        stats: Some((&info.stats).into()),
        switch_overs: info.switch_overs,
        remote_endpoint: addr_text(info.remote_endpoint),
        local_endpoint: addr_text(info.local_endpoint),
        projection: Some(projection_to_pb(&info.projection)),
        device_type: info.device_type,
        source: Some(source_to_pb(&info.source)),
        engine_attributes: info
            .engine_attributes
            .iter()
            .map(|(name, value)| pb::Attribute {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
    }
}

/// The wire form of a live connection.
pub fn connection_to_pb(c: &Connection, now: SystemTime) -> pb::Connection {
    pb::Connection {
        handle: c.handle.get(),
        ..info_to_pb(&c.info, now)
    }
}

/// What a source reported, from the wire (the handle is ignored).
pub fn info_from_pb(c: &pb::Connection) -> Result<ConnectionInfo, ProtoError> {
    Ok(ConnectionInfo {
        source: source_from_pb(c.source.as_ref())?,
        interface_handle: c.interface_handle,
        guid: guid_from(&c.guid)?,
        interface_type: interface_type(c.interface_type)?,
        flags: c.flags,
        interface_name: c.interface_name.clone(),
        user_name: c.user_name.clone(),
        logon_domain: c.logon_domain.clone(),
        remote_computer: c.remote_computer.clone(),
        started_at: time_from_pb("started_at_unix_micros", c.started_at_unix_micros)?,
        quarantine_state: quarantine_state(c.quarantine_state)?,
        probation_time: (c.probation_time_unix_micros != 0)
            .then(|| time_from_pb("probation_time_unix_micros", c.probation_time_unix_micros))
            .transpose()?,
        stats: c.stats.as_ref().map(ConnectionStats::from).unwrap_or_default(),
        switch_overs: c.switch_overs,
        remote_endpoint: parse_ip("remote_endpoint", &c.remote_endpoint)?,
        local_endpoint: parse_ip("local_endpoint", &c.local_endpoint)?,
        projection: projection_from_pb(c.projection.as_ref())?,
        device_type: c.device_type,
        engine_attributes: c
            .engine_attributes
            .iter()
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect(),
    })
}

/// A live connection from the wire (handle required).
pub fn connection_from_pb(c: &pb::Connection) -> Result<Connection, ProtoError> {
    Ok(Connection {
        handle: ConnectionHandle::new(c.handle).ok_or(ProtoError::ZeroHandle)?,
        info: info_from_pb(c)?,
    })
}

/// The port view of `c` (both levels) as of `now`.
pub fn port_to_pb(c: &Connection, now: SystemTime) -> pb::Port {
    let p = rras_core::port::port(c, now);
    let l0 = p.level0;
    pb::Port {
        port_handle: l0.port,
        connection_handle: l0.connection,
        condition: l0.condition,
        total_calls: l0.total_calls,
        connect_duration_secs: l0.connect_duration,
        port_name: l0.port_name,
        media_name: l0.media_name,
        device_name: l0.device_name,
        device_type: l0.device_type,
        hardware_condition: p.hardware_condition,
        line_speed: p.line_speed,
        stats: Some((&p.stats).into()),
    }
}

/// A port from the wire. The strings are the server's; a client shows
/// them as they are.
pub fn port_from_pb(p: &pb::Port) -> rras_core::port::Port {
    rras_core::port::Port {
        level0: rras_core::port::Port0 {
            port: p.port_handle,
            connection: p.connection_handle,
            condition: p.condition,
            total_calls: p.total_calls,
            connect_duration: p.connect_duration_secs,
            port_name: p.port_name.clone(),
            media_name: p.media_name.clone(),
            device_name: p.device_name.clone(),
            device_type: p.device_type.clone(),
        },
        hardware_condition: p.hardware_condition,
        line_speed: p.line_speed,
        stats: p.stats.as_ref().map(Into::into).unwrap_or_default(),
    }
}

/// The wire form of an ended connection.
pub fn ended_to_pb(e: &EndedConnection) -> pb::EndedConnection {
    pb::EndedConnection {
        connection: Some(connection_to_pb(&e.connection, e.ended_at)),
        ended_at_unix_micros: to_micros(e.ended_at),
        reason: e.reason.clone(),
        seq: 0,
    }
}

/// An ended connection from the wire.
pub fn ended_from_pb(e: &pb::EndedConnection) -> Result<EndedConnection, ProtoError> {
    Ok(EndedConnection {
        connection: connection_from_pb(e.connection.as_ref().ok_or(ProtoError::Missing("connection"))?)?,
        ended_at: from_micros(e.ended_at_unix_micros),
        reason: e.reason.clone(),
    })
}

/// The filters of a history query as the request carries them (`limit`,
/// `before_seq` and `include_live` are the caller's to set).
pub fn history_query_to_pb(q: &rras_core::HistoryQuery) -> pb::HistoryRequest {
    pb::HistoryRequest {
        user: q.user.clone().unwrap_or_default(),
        address: q.address.map(|a| a.to_string()).unwrap_or_default(),
        from_unix_micros: q.from.map_or(0, to_micros),
        to_unix_micros: q.to.map_or(0, to_micros),
        nas: q.nas.clone().unwrap_or_default(),
        engine: q.engine.map(|e| e.as_str().to_owned()).unwrap_or_default(),
        instance: q.instance.clone().unwrap_or_default(),
        ..Default::default()
    }
}

/// The filters of a history request; an address or engine that does not
/// parse is an error, not "no filter".
pub fn history_query_from_pb(r: &pb::HistoryRequest) -> Result<rras_core::HistoryQuery, ProtoError> {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let time = |field, micros: u64| match micros {
        0 => Ok(None),
        m => time_from_pb(field, m).map(Some),
    };
    Ok(rras_core::HistoryQuery {
        user: text(&r.user),
        address: match r.address.as_str() {
            "" => None,
            a => Some(a.parse().map_err(|_| ProtoError::BadAddress {
                field: "address",
                value: a.to_owned(),
            })?),
        },
        from: time("from_unix_micros", r.from_unix_micros)?,
        to: time("to_unix_micros", r.to_unix_micros)?,
        nas: text(&r.nas),
        engine: match r.engine.as_str() {
            "" => None,
            e => Some(e.parse()?),
        },
        instance: text(&r.instance),
    })
}

fn totals_to_pb(t: &rras_core::usage::UsageTotals) -> pb::UsageTotals {
    pb::UsageTotals {
        sessions: t.sessions,
        unique_users: t.unique_users,
        duration_secs: t.duration_secs,
        bytes_in: t.bytes_in,
        bytes_out: t.bytes_out,
    }
}

fn totals_from_pb(t: Option<&pb::UsageTotals>) -> rras_core::usage::UsageTotals {
    t.map(|t| rras_core::usage::UsageTotals {
        sessions: t.sessions,
        unique_users: t.unique_users,
        duration_secs: t.duration_secs,
        bytes_in: t.bytes_in,
        bytes_out: t.bytes_out,
    })
    .unwrap_or_default()
}

/// The wire form of a usage report.
pub fn usage_to_pb(r: &rras_core::usage::UsageReport) -> pb::UsageReply {
    pb::UsageReply {
        status: 0,
        from_unix_micros: to_micros(r.from),
        to_unix_micros: to_micros(r.to),
        totals: Some(totals_to_pb(&r.totals)),
        average_sessions_per_day: r.average_sessions_per_day,
        max_concurrent: r.max_concurrent,
        max_concurrent_at_unix_micros: r.max_concurrent_at.map_or(0, to_micros),
        per_engine: r
            .per_engine
            .iter()
            .map(|(e, t)| pb::EngineUsage {
                engine: e.as_str().to_owned(),
                totals: Some(totals_to_pb(t)),
            })
            .collect(),
        top_users: r
            .top_users
            .iter()
            .map(|u| pb::UserUsage {
                user: u.user.clone(),
                totals: Some(totals_to_pb(&u.totals)),
            })
            .collect(),
        per_day: r
            .per_day
            .iter()
            .map(|d| pb::DayUsage {
                day_unix: d.day,
                totals: Some(totals_to_pb(&d.totals)),
            })
            .collect(),
    }
}

/// A usage report from the wire; an unknown engine is an error.
pub fn usage_from_pb(r: &pb::UsageReply) -> Result<rras_core::usage::UsageReport, ProtoError> {
    Ok(rras_core::usage::UsageReport {
        from: from_micros(r.from_unix_micros),
        to: from_micros(r.to_unix_micros),
        totals: totals_from_pb(r.totals.as_ref()),
        average_sessions_per_day: r.average_sessions_per_day,
        max_concurrent: r.max_concurrent,
        max_concurrent_at: (r.max_concurrent_at_unix_micros != 0).then(|| from_micros(r.max_concurrent_at_unix_micros)),
        per_engine: r
            .per_engine
            .iter()
            .map(|e| Ok((e.engine.parse()?, totals_from_pb(e.totals.as_ref()))))
            .collect::<Result<_, ProtoError>>()?,
        top_users: r
            .top_users
            .iter()
            .map(|u| rras_core::usage::UserUsage {
                user: u.user.clone(),
                totals: totals_from_pb(u.totals.as_ref()),
            })
            .collect(),
        per_day: r
            .per_day
            .iter()
            .map(|d| rras_core::usage::DayUsage {
                day: d.day_unix,
                totals: totals_from_pb(d.totals.as_ref()),
            })
            .collect(),
    })
}

/// The wire form of an audit record.
pub fn audit_to_pb(r: &rras_core::AuditRecord) -> pb::AuditEntry {
    pb::AuditEntry {
        at_unix_micros: to_micros(r.at),
        caller: r.caller.clone(),
        method: r.method.clone(),
        target: r.target.clone(),
        result: r.result,
    }
}

/// An audit record from the wire.
pub fn audit_from_pb(e: &pb::AuditEntry) -> rras_core::AuditRecord {
    rras_core::AuditRecord {
        at: from_micros(e.at_unix_micros),
        caller: e.caller.clone(),
        method: e.method.clone(),
        target: e.target.clone(),
        result: e.result,
    }
}

/// One hook report (`rasctl report`, the engines' hook scripts) as a
/// source event; malformed input is ERROR_INVALID_PARAMETER.
pub fn report_event(r: &pb::Report) -> Result<rras_source::SourceEvent, rras_core::Win32Error> {
    let connection = r.connection.as_ref().ok_or(rras_core::Win32Error::InvalidParameter)?;
    let bad = |e: ProtoError| e.win32();
    match pb::ReportKind::try_from(r.kind) {
        Ok(pb::ReportKind::Started) => Ok(rras_source::SourceEvent::Started(Box::new(
            info_from_pb(connection).map_err(bad)?,
        ))),
        Ok(pb::ReportKind::Updated) => Ok(rras_source::SourceEvent::Updated {
            key: source_from_pb(connection.source.as_ref()).map_err(bad)?,
            stats: connection.stats.as_ref().map(Into::into).unwrap_or_default(),
        }),
        Ok(pb::ReportKind::Ended) => Ok(rras_source::SourceEvent::Ended {
            key: source_from_pb(connection.source.as_ref()).map_err(bad)?,
            reason: if r.end_reason.is_empty() {
                "user-request".into()
            } else {
                r.end_reason.clone()
            },
            stats: connection.stats.as_ref().map(Into::into),
            at: None,
        }),
        _ => Err(rras_core::Win32Error::InvalidParameter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rras_core::synthetic;

    #[test]
    fn every_field_round_trips() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        for i in 0..16 {
            let mut info = synthetic::connection(i, now);
            info.probation_time = Some(now);
            info.quarantine_state = QuarantineState::Probation;
            info.stats.crc_err = 3;
            info.engine_attributes.push(("Class".into(), "0a0b".into()));
            let c = Connection {
                handle: ConnectionHandle::new(i as u32 + 1).unwrap(),
                info,
            };
            let wire = connection_to_pb(&c, now);
            assert_eq!(connection_from_pb(&wire).unwrap(), c);
        }
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let now = SystemTime::now();
        let mut wire = info_to_pb(&synthetic::connection(1, now), now);
        wire.remote_endpoint = "not-an-ip".into();
        assert!(matches!(info_from_pb(&wire), Err(ProtoError::BadAddress { .. })));
        let mut wire = info_to_pb(&synthetic::connection(1, now), now);
        wire.guid = vec![1, 2, 3];
        assert!(matches!(info_from_pb(&wire), Err(ProtoError::BadLength { .. })));
        wire.guid.clear();
        wire.source.as_mut().unwrap().engine = "pptp".into();
        assert!(matches!(info_from_pb(&wire), Err(ProtoError::Engine(_))));
        wire.source = None;
        assert_eq!(info_from_pb(&wire), Err(ProtoError::Missing("source")));
        let mut wire = info_to_pb(&synthetic::connection(1, now), now);
        wire.interface_type = 99;
        assert!(matches!(info_from_pb(&wire), Err(ProtoError::OutOfRange { .. })));
        let mut wire = info_to_pb(&synthetic::connection(1, now), now);
        wire.started_at_unix_micros = u64::MAX;
        assert!(matches!(info_from_pb(&wire), Err(ProtoError::BadTime { .. })));
        wire.started_at_unix_micros = 1;
        wire.probation_time_unix_micros = 253_402_300_800_000_000;
        assert!(matches!(info_from_pb(&wire), Err(ProtoError::BadTime { .. })));
        assert!(from_micros(u64::MAX) > UNIX_EPOCH, "no panic on the largest number");
        assert_eq!(
            connection_from_pb(&info_to_pb(&synthetic::connection(1, now), now)),
            Err(ProtoError::ZeroHandle)
        );
    }
}
