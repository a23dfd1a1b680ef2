//! How connections look to an admin: a width-aware table, or stable JSON
//! (documented in docs/rasctl-json.md).

use std::time::{Duration, SystemTime};

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use rras_core::{Connection, EndedConnection, Projection};
use serde::Serialize;

/// The JSON shape of one connection (stable: fields are only ever added).
/// It borrows from the connection and formats times and addresses while
/// being written: streaming a million of them allocates nothing per entry.
#[derive(Debug, Serialize)]
pub(crate) struct ConnectionJson<'a> {
    /// hConnection.
    pub(crate) handle: u32,
    /// Connection GUID.
    #[serde(serialize_with = "as_text")]
    pub(crate) guid: rras_core::Guid,
    /// wszUserName.
    pub(crate) user: &'a str,
    /// wszLogonDomain.
    pub(crate) domain: &'a str,
    /// wszRemoteComputer.
    pub(crate) remote_computer: &'a str,
    /// wszInterfaceName.
    pub(crate) interface: &'a str,
    /// radius, wireguard, …
    pub(crate) engine: &'static str,
    /// The source instance that owns it (the engine's name for a default
    /// instance).
    pub(crate) instance: &'a str,
    /// NAS identity.
    pub(crate) nas: &'a str,
    /// The engine's session id.
    pub(crate) session_id: &'a str,
    /// RFC 3339.
    #[serde(serialize_with = "as_rfc3339")]
    pub(crate) started_at: SystemTime,
    /// dwConnectDuration.
    pub(crate) duration_secs: u64,
    /// "ppp" or "ikev2".
    pub(crate) projection: &'static str,
    /// The tunnel type in words, from dwDeviceType: pptp, l2tp, sstp,
    /// ikev2, pppoe or other.
    pub(crate) vpn_type: &'static str,
    /// dwDeviceType (RAS_CONNECTION_4): the RDT_* number.
    pub(crate) device_type: u32,
    /// dwConnectionFlags.
    pub(crate) flags: u32,
    /// Client's tunnel IPv4 address.
    #[serde(serialize_with = "as_opt_text")]
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// Client's tunnel IPv6 address.
    #[serde(serialize_with = "as_opt_text")]
    pub ipv6: Option<std::net::Ipv6Addr>,
    /// Client's outer address.
    #[serde(serialize_with = "as_opt_text")]
    pub(crate) remote_endpoint: Option<std::net::IpAddr>,
    /// Server's outer address.
    #[serde(serialize_with = "as_opt_text")]
    pub(crate) local_endpoint: Option<std::net::IpAddr>,
    /// Bytes sent to the client (64-bit).
    pub(crate) bytes_xmited: u64,
    /// Bytes received from the client (64-bit).
    pub(crate) bytes_rcved: u64,
    /// Packets sent.
    pub(crate) frames_xmited: u32,
    /// Packets received.
    pub(crate) frames_rcved: u32,
    /// rasQuarState as a number.
    pub(crate) quarantine_state: u32,
    /// Engine facts without a Windows field, as an object sorted by name
    /// (a repeated name keeps its last value).
    #[serde(serialize_with = "as_sorted_map")]
    pub(crate) attributes: &'a [(String, String)],
}

fn as_text<S: serde::Serializer>(v: &impl std::fmt::Display, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn as_opt_text<S: serde::Serializer, T: std::fmt::Display>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

fn as_rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_seconds(*t))
}

fn as_sorted_map<S: serde::Serializer>(attrs: &&[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut sorted: Vec<&(String, String)> = attrs.iter().collect();
    // Stable: of equal names the last stays last, and is the one written.
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut map = s.serialize_map(None)?;
    for (i, (k, v)) in sorted.iter().map(|p| (&p.0, &p.1)).enumerate() {
        if sorted.get(i + 1).is_some_and(|next| &next.0 == k) {
            continue;
        }
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// One connection as one compact JSON line (`--jsonl`).
pub(crate) fn write_json_line(out: &mut impl std::io::Write, c: &Connection, now: SystemTime) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &ConnectionJson::new(c, now))?;
    out.write_all(b"\n")
}

impl<'a> ConnectionJson<'a> {
    /// The JSON view of `c` as of `now`.
    pub(crate) fn new(c: &'a Connection, now: SystemTime) -> Self {
        let i = &c.info;
        ConnectionJson {
            handle: c.handle.get(),
            guid: i.guid,
            user: &i.user_name,
            domain: &i.logon_domain,
            remote_computer: &i.remote_computer,
            interface: &i.interface_name,
            engine: i.source.engine.as_str(),
            instance: i.source.instance_name(),
            nas: &i.source.nas,
            session_id: &i.source.session_id,
            started_at: i.started_at,
            duration_secs: i.connect_duration(now).as_secs(),
            projection: match i.projection {
                Projection::Ppp(_) => "ppp",
                Projection::Ikev2(_) => "ikev2",
            },
            vpn_type: rras_core::port::vpn_type_name(i.device_type),
            device_type: i.device_type,
            flags: i.flags,
            ipv4: i.projection.ipv4().remote_address,
            ipv6: i.projection.ipv6().remote_address(),
            remote_endpoint: i.remote_endpoint,
            local_endpoint: i.local_endpoint,
            bytes_xmited: i.stats.bytes_xmited,
            bytes_rcved: i.stats.bytes_rcved,
            frames_xmited: i.stats.frames_xmited,
            frames_rcved: i.stats.frames_rcved,
            quarantine_state: i.quarantine_state as u32,
            attributes: &i.engine_attributes,
        }
    }
}

/// JSON of an ended connection.
#[derive(Debug, Serialize)]
pub(crate) struct EndedJson<'a> {
    /// The connection with final counters.
    #[serde(flatten)]
    pub(crate) connection: ConnectionJson<'a>,
    /// RFC 3339.
    pub(crate) ended_at: String,
    /// Why it ended.
    pub(crate) reason: String,
}

impl<'a> EndedJson<'a> {
    /// The JSON view of `e`.
    pub(crate) fn new(e: &'a EndedConnection) -> Self {
        EndedJson {
            connection: ConnectionJson::new(&e.connection, e.ended_at),
            ended_at: humantime::format_rfc3339_seconds(e.ended_at).to_string(),
            reason: e.reason.clone(),
        }
    }
}

/// 1.2 KiB, 3.4 GiB …
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// 3d 4h, 2h 5m, 4m 10s, 9s.
pub(crate) fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m {secs}s")
    } else {
        format!("{secs}s")
    }
}

/// A table row with every cell's engine text escaped: user names,
/// interface names, reasons and callers come from NASes, engines and
/// clients, and must not reach the terminal as control sequences
/// (rras_core::display).
pub(crate) fn escaped<const N: usize>(cells: [String; N]) -> [String; N] {
    cells.map(|c| rras_core::display::escape(&c).into_owned())
}

/// The connections table as an admin sees it.
pub(crate) fn connections_table(connections: &[Connection], now: SystemTime) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "Handle",
            "User",
            "Engine",
            "Iface",
            "Client IP",
            "Endpoint",
            "Duration",
            "Rx",
            "Tx",
        ]);
    for c in connections {
        let i = &c.info;
        let client_ip = i.client_address().map(|a| a.to_string()).unwrap_or_default();
        table.add_row(escaped([
            c.handle.to_string(),
            i.account(),
            i.source.engine.to_string(),
            i.interface_name.clone(),
            client_ip,
            i.remote_endpoint.map(|a| a.to_string()).unwrap_or_default(),
            human_duration(i.connect_duration(now)),
            human_bytes(i.stats.bytes_rcved),
            human_bytes(i.stats.bytes_xmited),
        ]));
    }
    table.to_string()
}

/// Every field of one connection, one per line.
pub(crate) fn connection_details(c: &Connection, now: SystemTime) -> String {
    let j = ConnectionJson::new(c, now);
    let value = serde_json::to_value(&j).unwrap_or_default();
    let mut out = String::new();
    if let Some(map) = value.as_object() {
        for (k, v) in map {
            let shown = match v {
                serde_json::Value::String(s) => rras_core::display::escape(s).into_owned(),
                serde_json::Value::Null => "-".into(),
                other => other.to_string(),
            };
            out.push_str(&format!("{k:>16}: {shown}\n"));
        }
    }
    out
}

/// Ended connections as a table.
pub(crate) fn history_table(ended: &[EndedConnection]) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["Handle", "User", "Engine", "Ended", "Duration", "Reason", "Rx", "Tx"]);
    for e in ended {
        let i = &e.connection.info;
        table.add_row(escaped([
            e.connection.handle.to_string(),
            i.account(),
            i.source.engine.to_string(),
            humantime::format_rfc3339_seconds(e.ended_at).to_string(),
            human_duration(i.connect_duration(e.ended_at)),
            e.reason.clone(),
            human_bytes(i.stats.bytes_rcved),
            human_bytes(i.stats.bytes_xmited),
        ]));
    }
    table.to_string()
}

/// The audit trail as a table.
pub(crate) fn audit_table(records: &[rras_core::AuditRecord]) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["Time", "Caller", "Method", "Target", "Result"]);
    for r in records {
        let result = match rras_core::Win32Error::from_code(r.result) {
            Some(e) => format!("{} {}", r.result, e.name()),
            None => r.result.to_string(),
        };
        table.add_row(escaped([
            humantime::format_rfc3339_seconds(r.at).to_string(),
            r.caller.clone(),
            r.method.clone(),
            r.target.clone(),
            result,
        ]));
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanised_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(human_duration(Duration::from_secs(9)), "9s");
        assert_eq!(human_duration(Duration::from_secs(3 * 86_400 + 4 * 3600)), "3d 4h");
        assert_eq!(human_duration(Duration::from_secs(125)), "2m 5s");
    }
}
