//! `Record`: the compact binary form of one live connection.
//!
//! A connection is encoded once, when it changes, and those bytes are what
//! the table keeps, what the store writes and what an enumeration sends:
//! reading a million connections is copying shared bytes, not building a
//! million structures. The wire client (libmprapi, rras-client) decodes a
//! record straight into its own shape.
//!
//! Layout (version 2; integers are LEB128 varints unless said otherwise,
//! strings a varint length and UTF-8 bytes):
//!
//! ```text
//! u8 version=2 · u32 LE handle · u8 engine · str instance · str nas · str session_id   ← the identity
//! varint interface_handle · 16 B guid · u8 interface_type · varint flags
//! str interface_name · str user_name · str logon_domain · str remote_computer
//! zigzag started_at (µs since 1970) · u8 quarantine · u8 has_probation [zigzag µs]
//! 12 × varint stats · varint switch_overs · addr remote_endpoint · addr local_endpoint
//! u8 projection (1 PPP, 2 IKEv2) · ipv4 · ipv6 · PPP: 12 × lcp, 5 × ccp | IKEv2: 6 × varint
//! varint device_type · varint n · n × (str name, str value)
//! ```
//!
//! Version 1 is the same without `instance` (its rows belong to the
//! engine's default instance); both are read.
//!
//! `addr` is a tag (0 none, 4, 6) and 4 or 16 bytes; `ipv4` is varint error,
//! addr, addr, three varints; `ipv6` a presence byte and, when 1, varint error,
//! 3 × 8 bytes, two varints. Times are kept to the microsecond, like the RPC.
//!
//! Decoding never trusts the bytes: every length is checked against what is
//! left, every number against its field's width, and a bad record is a
//! [`RecordError`], never a panic (the client decodes what a server sent).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::model::{
    CcpInfo, Connection, ConnectionHandle, ConnectionInfo, ConnectionStats, EndedConnection, EngineKind, Guid,
    Ikev2Projection, InterfaceType, Ipv4Projection, Ipv6Projection, LcpInfo, PppProjection, Projection,
    QuarantineState, SourceKey,
};

/// The format version this code writes (first byte of every record).
pub const RECORD_VERSION: u8 = 2;

/// Why bytes are not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes end inside a field.
    #[error("record truncated at byte {0}")]
    Truncated(usize),
    /// A version this code does not read.
    #[error("record version {0} is not supported (expected 1 to {RECORD_VERSION})")]
    Version(u8),
    /// A field holds a value outside its range.
    #[error("record field {0} out of range")]
    Invalid(&'static str),
    /// Bytes after the last field.
    #[error("record has {0} trailing bytes")]
    Trailing(usize),
}

/// One connection's record: immutable shared bytes (cloning is a reference
/// count), whose first bytes give handle and identity without decoding.
#[derive(Clone, PartialEq, Eq)]
pub struct Record(Arc<[u8]>);

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Record(handle {}, {} bytes)", self.handle_raw(), self.0.len())
    }
}

impl AsRef<[u8]> for Record {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// The early text fields of a record, borrowed, read without decoding the
/// rest: what a column index compares when two keys tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names<'a> {
    /// The engine's session id.
    pub session_id: &'a str,
    /// The interface name.
    pub interface_name: &'a str,
    /// The user name (without the domain).
    pub user_name: &'a str,
}

impl Record {
    /// The session id, interface and user name, read in place (a few
    /// varints and three strings from the start of the record).
    pub fn names(&self) -> Names<'_> {
        let read = || -> Result<Names<'_>, RecordError> {
            let mut r = Reader::new(&self.0);
            let version = r.u8()?;
            r.pos = 5;
            let source = read_source(&mut r, version)?;
            r.u32("interface handle")?;
            r.array::<16>()?;
            r.u8()?;
            r.u32("flags")?;
            let interface_name = r.str("interface name")?;
            let user_name = r.str("user name")?;
            Ok(Names {
                session_id: source.session_id,
                interface_name,
                user_name,
            })
        };
        // Checked at construction; the fallback is unreachable for a Record.
        read().unwrap_or(Names {
            session_id: "",
            interface_name: "",
            user_name: "",
        })
    }

    /// Encodes a connection.
    pub fn encode(connection: &Connection) -> Self {
        Self::encode_info(connection.handle, &connection.info)
    }

    /// Encodes `info` under `handle`.
    pub fn encode_info(handle: ConnectionHandle, info: &ConnectionInfo) -> Self {
        let mut out = Vec::with_capacity(160);
        write_record(&mut out, handle, info);
        Record(out.into())
    }

    /// Checks `bytes` (fully, once) and keeps them as a record.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut scratch = empty_connection();
        decode_into(bytes, &mut scratch)?;
        Ok(Record(bytes.into()))
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn handle_raw(&self) -> u32 {
        self.0
            .get(1..5)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .unwrap_or(0)
    }

    /// The connection handle.
    pub fn handle(&self) -> ConnectionHandle {
        // A Record is only ever made from a checked or freshly encoded
        // connection, whose handle is non-zero.
        ConnectionHandle::new(self.handle_raw()).unwrap_or(ConnectionHandle::MIN)
    }

    /// The identity prefix: engine, NAS, session id, as borrowed parts.
    pub fn source(&self) -> SourceRef<'_> {
        let mut r = Reader::new(&self.0);
        r.pos = 5;
        let version = self.0.first().copied().unwrap_or(RECORD_VERSION);
        // Checked at construction; the fallback is unreachable for a Record.
        read_source(&mut r, version).unwrap_or(SourceRef {
            engine: EngineKind::Report,
            instance: "",
            nas: "",
            session_id: "",
        })
    }

    /// The whole connection.
    pub fn decode(&self) -> Connection {
        let mut c = empty_connection();
        // A Record's bytes were checked when it was made.
        let _ = decode_into(&self.0, &mut c);
        c
    }
}

/// A [`SourceKey`] borrowed from a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceRef<'a> {
    /// The engine.
    pub engine: EngineKind,
    /// The owning source instance ("" = the engine's default).
    pub instance: &'a str,
    /// The NAS / reporter.
    pub nas: &'a str,
    /// The engine's session id.
    pub session_id: &'a str,
}

impl<'a> SourceRef<'a> {
    /// Borrows an owned key.
    pub fn of(key: &'a SourceKey) -> Self {
        SourceRef {
            engine: key.engine,
            instance: &key.instance,
            nas: &key.nas,
            session_id: &key.session_id,
        }
    }

    /// An owned copy.
    pub fn to_owned_key(self) -> SourceKey {
        SourceKey {
            engine: self.engine,
            instance: self.instance.to_owned(),
            nas: self.nas.to_owned(),
            session_id: self.session_id.to_owned(),
        }
    }
}

impl ConnectionHandle {
    /// Handle 1 (a placeholder where a handle must exist).
    pub const MIN: ConnectionHandle = match ConnectionHandle::new(1) {
        Some(h) => h,
        None => unreachable!(),
    };
}

/// A connection with every field empty, the start of [`decode_into`].
pub fn empty_connection() -> Connection {
    Connection {
        handle: ConnectionHandle::MIN,
        info: ConnectionInfo::new(
            SourceKey::new(EngineKind::Report, String::new(), String::new()),
            "",
            UNIX_EPOCH,
        ),
    }
}

// ---------------------------------------------------------------- encoding

/// Appends `v` as a LEB128 varint (the integers of every record).
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads the LEB128 varint at the start of `bytes`: its value and how many
/// bytes it took; None when it is cut short or longer than a u64.
pub fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut r = Reader::new(bytes);
    let v = r.varint().ok()?;
    Some((v, r.pos))
}

pub(crate) fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

#[inline]
fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

#[inline]
fn put_addr(out: &mut Vec<u8>, a: Option<IpAddr>) {
    match a {
        None => out.push(0),
        Some(IpAddr::V4(a)) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            out.push(6);
            out.extend_from_slice(&a.octets());
        }
    }
}

/// Microseconds since 1970 (negative before), saturating far outside any
/// plausible clock.
fn micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |m| -m),
    }
}

fn engine_code(e: EngineKind) -> u8 {
    match e {
        EngineKind::Radius => 1,
        EngineKind::Wireguard => 2,
        EngineKind::Openvpn => 3,
        EngineKind::Ocserv => 4,
        EngineKind::Strongswan => 5,
        EngineKind::Report => 6,
        EngineKind::Softether => 7,
    }
}

fn put_ipv4(out: &mut Vec<u8>, p: &Ipv4Projection) {
    put_varint(out, u64::from(p.negotiation_error));
    put_addr(out, p.address.map(IpAddr::V4));
    put_addr(out, p.remote_address.map(IpAddr::V4));
    put_varint(out, u64::from(p.options));
    put_varint(out, u64::from(p.remote_options));
    put_varint(out, p.sub_interface_index);
}

fn put_ipv6(out: &mut Vec<u8>, p: &Ipv6Projection) {
    if *p == Ipv6Projection::default() {
        out.push(0);
        return;
    }
    out.push(1);
    put_varint(out, u64::from(p.negotiation_error));
    out.extend_from_slice(&p.interface_identifier);
    out.extend_from_slice(&p.remote_interface_identifier);
    out.extend_from_slice(&p.prefix);
    put_varint(out, u64::from(p.prefix_length));
    put_varint(out, p.sub_interface_index);
}

#[inline]
fn put_u32s(out: &mut Vec<u8>, values: &[u32]) {
    for v in values {
        put_varint(out, u64::from(*v));
    }
}

fn write_record(out: &mut Vec<u8>, handle: ConnectionHandle, info: &ConnectionInfo) {
    out.push(RECORD_VERSION);
    out.extend_from_slice(&handle.get().to_le_bytes());
    out.push(engine_code(info.source.engine));
    put_str(out, &info.source.instance);
    put_str(out, &info.source.nas);
    put_str(out, &info.source.session_id);
    put_varint(out, u64::from(info.interface_handle));
    let g = &info.guid;
    out.extend_from_slice(&g.data1.to_le_bytes());
    out.extend_from_slice(&g.data2.to_le_bytes());
    out.extend_from_slice(&g.data3.to_le_bytes());
    out.extend_from_slice(&g.data4);
    out.push(info.interface_type as u8);
    put_varint(out, u64::from(info.flags));
    put_str(out, &info.interface_name);
    put_str(out, &info.user_name);
    put_str(out, &info.logon_domain);
    put_str(out, &info.remote_computer);
    put_zigzag(out, micros(info.started_at));
    out.push(info.quarantine_state as u8);
    match info.probation_time {
        None => out.push(0),
        Some(t) => {
            out.push(1);
            put_zigzag(out, micros(t));
        }
    }
    let s = &info.stats;
    put_varint(out, s.bytes_xmited);
    put_varint(out, s.bytes_rcved);
    put_u32s(
        out,
        &[
            s.frames_xmited,
            s.frames_rcved,
            s.crc_err,
            s.timeout_err,
            s.alignment_err,
            s.hardware_overrun_err,
            s.framing_err,
            s.buffer_overrun_err,
            s.compression_ratio_in,
            s.compression_ratio_out,
        ],
    );
    put_varint(out, u64::from(info.switch_overs));
    put_addr(out, info.remote_endpoint);
    put_addr(out, info.local_endpoint);
    match &info.projection {
        Projection::Ppp(p) => {
            out.push(1);
            put_ipv4(out, &p.ipv4);
            put_ipv6(out, &p.ipv6);
            let l = &p.lcp;
            put_u32s(
                out,
                &[
                    l.error,
                    l.authentication_protocol,
                    l.authentication_data,
                    l.remote_authentication_protocol,
                    l.remote_authentication_data,
                    l.terminate_reason,
                    l.remote_terminate_reason,
                    l.options,
                    l.remote_options,
                    l.eap_type_id,
                    l.embedded_eap_type_id,
                    l.remote_eap_type_id,
                ],
            );
            let c = &p.ccp;
            put_u32s(
                out,
                &[
                    c.error,
                    c.compression_algorithm,
                    c.options,
                    c.remote_compression_algorithm,
                    c.remote_options,
                ],
            );
        }
        Projection::Ikev2(p) => {
            out.push(2);
            put_ipv4(out, &p.ipv4);
            put_ipv6(out, &p.ipv6);
            put_u32s(
                out,
                &[
                    p.options,
                    p.authentication_protocol,
                    p.eap_type_id,
                    p.embedded_eap_type_id,
                    p.compression_algorithm,
                    p.encryption_method,
                ],
            );
        }
    }
    put_varint(out, u64::from(info.device_type));
    put_varint(out, info.engine_attributes.len() as u64);
    for (name, value) in &info.engine_attributes {
        put_str(out, name);
        put_str(out, value);
    }
}

// ---------------------------------------------------------------- decoding

/// A cursor over untrusted bytes.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        let end = self.pos.checked_add(n).ok_or(RecordError::Truncated(self.pos))?;
        let s = self.bytes.get(self.pos..end).ok_or(RecordError::Truncated(self.pos))?;
        self.pos = end;
        Ok(s)
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.take(1)?[0])
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64, RecordError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if shift == 63 && b > 1 {
                    return Err(RecordError::Invalid("varint"));
                }
                return Ok(v);
            }
        }
        Err(RecordError::Invalid("varint"))
    }

    #[inline]
    fn u32(&mut self, what: &'static str) -> Result<u32, RecordError> {
        u32::try_from(self.varint()?).map_err(|_| RecordError::Invalid(what))
    }

    #[inline]
    pub(crate) fn zigzag(&mut self) -> Result<i64, RecordError> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    #[inline]
    fn str(&mut self, what: &'static str) -> Result<&'a str, RecordError> {
        let n = usize::try_from(self.varint()?).map_err(|_| RecordError::Invalid(what))?;
        std::str::from_utf8(self.take(n)?).map_err(|_| RecordError::Invalid(what))
    }

    #[inline]
    fn addr(&mut self) -> Result<Option<IpAddr>, RecordError> {
        match self.u8()? {
            0 => Ok(None),
            4 => Ok(Some(IpAddr::V4(Ipv4Addr::from(self.array::<4>()?)))),
            6 => Ok(Some(IpAddr::V6(Ipv6Addr::from(self.array::<16>()?)))),
            _ => Err(RecordError::Invalid("address tag")),
        }
    }

    #[inline]
    fn addr4(&mut self) -> Result<Option<Ipv4Addr>, RecordError> {
        match self.addr()? {
            None => Ok(None),
            Some(IpAddr::V4(a)) => Ok(Some(a)),
            Some(IpAddr::V6(_)) => Err(RecordError::Invalid("IPv4 address")),
        }
    }

    #[inline]
    fn time(&mut self) -> Result<SystemTime, RecordError> {
        let us = self.zigzag()?;
        let d = Duration::from_micros(us.unsigned_abs());
        if us >= 0 {
            UNIX_EPOCH.checked_add(d)
        } else {
            UNIX_EPOCH.checked_sub(d)
        }
        .ok_or(RecordError::Invalid("time"))
    }
}

#[inline]
fn set_string(dst: &mut String, s: &str) {
    dst.clear();
    dst.push_str(s);
}

#[inline]
fn read_source<'a>(r: &mut Reader<'a>, version: u8) -> Result<SourceRef<'a>, RecordError> {
    let engine = match r.u8()? {
        1 => EngineKind::Radius,
        2 => EngineKind::Wireguard,
        3 => EngineKind::Openvpn,
        4 => EngineKind::Ocserv,
        5 => EngineKind::Strongswan,
        6 => EngineKind::Report,
        7 => EngineKind::Softether,
        _ => return Err(RecordError::Invalid("engine")),
    };
    // Version 1 predates source instances: its rows belong to the default.
    let instance = if version >= 2 { r.str("instance")? } else { "" };
    Ok(SourceRef {
        engine,
        instance,
        nas: r.str("nas")?,
        session_id: r.str("session id")?,
    })
}

#[inline]
fn read_ipv4(r: &mut Reader<'_>) -> Result<Ipv4Projection, RecordError> {
    Ok(Ipv4Projection {
        negotiation_error: r.u32("ipv4 error")?,
        address: r.addr4()?,
        remote_address: r.addr4()?,
        options: r.u32("ipv4 options")?,
        remote_options: r.u32("ipv4 remote options")?,
        sub_interface_index: r.varint()?,
    })
}

#[inline]
fn read_ipv6(r: &mut Reader<'_>) -> Result<Ipv6Projection, RecordError> {
    match r.u8()? {
        0 => Ok(Ipv6Projection::default()),
        1 => Ok(Ipv6Projection {
            negotiation_error: r.u32("ipv6 error")?,
            interface_identifier: r.array()?,
            remote_interface_identifier: r.array()?,
            prefix: r.array()?,
            prefix_length: r.u32("ipv6 prefix length")?,
            sub_interface_index: r.varint()?,
        }),
        _ => Err(RecordError::Invalid("ipv6 presence")),
    }
}

#[inline]
fn read_u32s<const N: usize>(r: &mut Reader<'_>, what: &'static str) -> Result<[u32; N], RecordError> {
    let mut a = [0; N];
    for v in &mut a {
        *v = r.u32(what)?;
    }
    Ok(a)
}

/// The format version of [`encode_ended`] (first byte of a history entry).
pub const ENDED_VERSION: u8 = 1;

/// A history entry: `u8 version=1 · zigzag ended_at µs · str reason ·
/// record` (the connection's final [`Record`], whose own version byte lets
/// the model grow without making old history unreadable).
pub fn encode_ended(ended: &EndedConnection) -> Vec<u8> {
    let mut out = Vec::with_capacity(200);
    out.push(ENDED_VERSION);
    put_zigzag(&mut out, micros(ended.ended_at));
    put_str(&mut out, &ended.reason);
    write_record(&mut out, ended.connection.handle, &ended.connection.info);
    out
}

/// Reads what [`encode_ended`] wrote; a bad entry is an error, never a panic.
pub fn decode_ended(bytes: &[u8]) -> Result<EndedConnection, RecordError> {
    let mut r = Reader::new(bytes);
    let version = r.u8()?;
    if version != ENDED_VERSION {
        return Err(RecordError::Version(version));
    }
    let ended_at = r.time()?;
    let reason = r.str("reason")?.to_owned();
    let mut connection = empty_connection();
    decode_into(&bytes[r.pos..], &mut connection)?;
    Ok(EndedConnection {
        connection,
        ended_at,
        reason,
    })
}

/// Decodes `bytes` into `c`, reusing its strings' and vector's memory (a
/// client decoding a million records allocates only for the first).
pub fn decode_into(bytes: &[u8], c: &mut Connection) -> Result<(), RecordError> {
    let mut r = Reader::new(bytes);
    let version = r.u8()?;
    if !(1..=RECORD_VERSION).contains(&version) {
        return Err(RecordError::Version(version));
    }
    c.handle = ConnectionHandle::new(u32::from_le_bytes(r.array()?)).ok_or(RecordError::Invalid("handle"))?;
    let info = &mut c.info;
    let source = read_source(&mut r, version)?;
    info.source.engine = source.engine;
    set_string(&mut info.source.instance, source.instance);
    set_string(&mut info.source.nas, source.nas);
    set_string(&mut info.source.session_id, source.session_id);
    info.interface_handle = r.u32("interface handle")?;
    let g = r.array::<16>()?;
    info.guid = Guid {
        data1: u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
        data2: u16::from_le_bytes([g[4], g[5]]),
        data3: u16::from_le_bytes([g[6], g[7]]),
        data4: [g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]],
    };
    info.interface_type = match r.u8()? {
        0 => InterfaceType::Client,
        1 => InterfaceType::HomeRouter,
        2 => InterfaceType::FullRouter,
        3 => InterfaceType::Dedicated,
        4 => InterfaceType::Internal,
        5 => InterfaceType::Loopback,
        6 => InterfaceType::Tunnel1,
        7 => InterfaceType::Dialout,
        _ => return Err(RecordError::Invalid("interface type")),
    };
    info.flags = r.u32("flags")?;
    set_string(&mut info.interface_name, r.str("interface name")?);
    set_string(&mut info.user_name, r.str("user name")?);
    set_string(&mut info.logon_domain, r.str("logon domain")?);
    set_string(&mut info.remote_computer, r.str("remote computer")?);
    info.started_at = r.time()?;
    info.quarantine_state = match r.u8()? {
        0 => QuarantineState::Normal,
        1 => QuarantineState::Quarantine,
        2 => QuarantineState::Probation,
        3 => QuarantineState::NotCapable,
        _ => return Err(RecordError::Invalid("quarantine state")),
    };
    info.probation_time = match r.u8()? {
        0 => None,
        1 => Some(r.time()?),
        _ => return Err(RecordError::Invalid("probation presence")),
    };
    let bytes_xmited = r.varint()?;
    let bytes_rcved = r.varint()?;
    let [frames_xmited, frames_rcved, crc_err, timeout_err, alignment_err, hardware_overrun_err, framing_err, buffer_overrun_err, compression_ratio_in, compression_ratio_out] =
        read_u32s(&mut r, "counter")?;
    info.stats = ConnectionStats {
        bytes_xmited,
        bytes_rcved,
        frames_xmited,
        frames_rcved,
        crc_err,
        timeout_err,
        alignment_err,
        hardware_overrun_err,
        framing_err,
        buffer_overrun_err,
        compression_ratio_in,
        compression_ratio_out,
    };
    info.switch_overs = r.u32("switch overs")?;
    info.remote_endpoint = r.addr()?;
    info.local_endpoint = r.addr()?;
    info.projection = match r.u8()? {
        1 => {
            let ipv4 = read_ipv4(&mut r)?;
            let ipv6 = read_ipv6(&mut r)?;
            let [error, authentication_protocol, authentication_data, remote_authentication_protocol, remote_authentication_data, terminate_reason, remote_terminate_reason, options, remote_options, eap_type_id, embedded_eap_type_id, remote_eap_type_id] =
                read_u32s(&mut r, "lcp")?;
            let [c_error, compression_algorithm, c_options, remote_compression_algorithm, c_remote_options] =
                read_u32s(&mut r, "ccp")?;
            Projection::Ppp(PppProjection {
                ipv4,
                ipv6,
                lcp: LcpInfo {
                    error,
                    authentication_protocol,
                    authentication_data,
                    remote_authentication_protocol,
                    remote_authentication_data,
                    terminate_reason,
                    remote_terminate_reason,
                    options,
                    remote_options,
                    eap_type_id,
                    embedded_eap_type_id,
                    remote_eap_type_id,
                },
                ccp: CcpInfo {
                    error: c_error,
                    compression_algorithm,
                    options: c_options,
                    remote_compression_algorithm,
                    remote_options: c_remote_options,
                },
            })
        }
        2 => {
            let ipv4 = read_ipv4(&mut r)?;
            let ipv6 = read_ipv6(&mut r)?;
            let [options, authentication_protocol, eap_type_id, embedded_eap_type_id, compression_algorithm, encryption_method] =
                read_u32s(&mut r, "ikev2")?;
            Projection::Ikev2(Ikev2Projection {
                ipv4,
                ipv6,
                options,
                authentication_protocol,
                eap_type_id,
                embedded_eap_type_id,
                compression_algorithm,
                encryption_method,
            })
        }
        _ => return Err(RecordError::Invalid("projection")),
    };
    info.device_type = r.u32("device type")?;
    let n = r.varint()?;
    // Each attribute takes at least two bytes: a count beyond that is a lie
    // (and must not size an allocation).
    if n > (bytes.len() - r.pos) as u64 / 2 {
        return Err(RecordError::Invalid("attribute count"));
    }
    let n = n as usize;
    info.engine_attributes.truncate(n);
    for i in 0..n {
        let name = r.str("attribute name")?;
        let value = r.str("attribute value")?;
        match info.engine_attributes.get_mut(i) {
            Some((k, v)) => {
                set_string(k, name);
                set_string(v, value);
            }
            None => info.engine_attributes.push((name.to_owned(), value.to_owned())),
        }
    }
    if r.pos != bytes.len() {
        return Err(RecordError::Trailing(bytes.len() - r.pos));
    }
    Ok(())
}

/// Splits a run of length-prefixed records (varint length, then the record)
/// as an enumeration chunk carries them.
#[derive(Debug)]
pub struct RecordFrames<'a> {
    reader: FrameReader<'a>,
}

#[derive(Debug)]
struct FrameReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> RecordFrames<'a> {
    /// Frames over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        RecordFrames {
            reader: FrameReader { bytes, pos: 0 },
        }
    }
}

impl<'a> Iterator for RecordFrames<'a> {
    type Item = Result<&'a [u8], RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let fr = &mut self.reader;
        if fr.pos >= fr.bytes.len() {
            return None;
        }
        let mut r = Reader {
            bytes: fr.bytes,
            pos: fr.pos,
        };
        let frame = r
            .varint()
            .and_then(|n| usize::try_from(n).map_err(|_| RecordError::Invalid("frame length")))
            .and_then(|n| r.take(n));
        match frame {
            Ok(f) => {
                fr.pos = r.pos;
                Some(Ok(f))
            }
            Err(e) => {
                fr.pos = fr.bytes.len();
                Some(Err(e))
            }
        }
    }
}

/// Appends `record` to a chunk as one frame (varint length, bytes).
pub fn push_frame(out: &mut Vec<u8>, record: &Record) {
    put_varint(out, record.0.len() as u64);
    out.extend_from_slice(&record.0);
}

#[cfg(test)]
mod tests;
