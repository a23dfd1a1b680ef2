//! `rasctl ports` / `rasctl port`: the `MprAdminPortEnum` and
//! `MprAdminPortGetInfo` view — one virtual port per live connection
//! (docs/decisions.md) — as a table or stable JSON (docs/rasctl-json.md).

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use rras_client::AdminClient;
use rras_core::paging::RAS_PORT_0_SIZE;
use rras_core::port::{Port, RAS_PORT_AUTHENTICATED};
use serde::Serialize;

use crate::output::{human_bytes, human_duration};

/// The JSON shape of one port (stable: fields are only ever added).
#[derive(Debug, Serialize)]
pub(crate) struct PortJson<'a> {
    /// hPort.
    port: u32,
    /// hConnection.
    connection: u32,
    /// wszPortName.
    port_name: &'a str,
    /// dwPortCondition in words (`authenticated`) …
    condition: &'static str,
    /// … and as the RAS_PORT_CONDITION number.
    condition_code: u32,
    /// wszMediaName.
    media: &'a str,
    /// wszDeviceName.
    device: &'a str,
    /// wszDeviceType.
    device_type: &'a str,
    /// dwConnectDuration.
    duration_secs: u32,
    /// dwLineSpeed (0: a tunnel reports none).
    line_speed: u32,
    /// dwHardwareCondition (0: operational).
    hardware_condition: u32,
    /// The RAS_PORT_1 counters, as the connection JSON names them
    /// (`bytes_xmited`, `bytes_rcved` 64-bit; RAS_PORT_1 has their low 32
    /// bits; `frames_*`, the error counters, `compression_ratio_*`).
    #[serde(flatten)]
    stats: &'a rras_core::ConnectionStats,
}

fn condition_name(code: u32) -> &'static str {
    // RAS_PORT_CONDITION; only "authenticated" occurs for a virtual port,
    // the rest is here so a future source cannot print a wrong word.
    match code {
        0 => "non-operational",
        1 => "disconnected",
        2 => "calling-back",
        3 => "listening",
        4 => "authenticating",
        RAS_PORT_AUTHENTICATED => "authenticated",
        6 => "initializing",
        _ => "unknown",
    }
}

impl<'a> PortJson<'a> {
    pub(crate) fn new(p: &'a Port) -> Self {
        let (l, s) = (&p.level0, &p.stats);
        PortJson {
            port: l.port,
            connection: l.connection,
            port_name: &l.port_name,
            condition: condition_name(l.condition),
            condition_code: l.condition,
            media: &l.media_name,
            device: &l.device_name,
            device_type: &l.device_type,
            duration_secs: l.connect_duration,
            line_speed: p.line_speed,
            hardware_condition: p.hardware_condition,
            stats: s,
        }
    }
}

/// Ports per `PortEnum` call.
const PAGE_ENTRIES: u32 = 1000;

/// Lists ports: every port (`connection` None) or one connection's. JSON is
/// written page by page as the pages arrive, so a million ports never sit
/// in rasctl's memory at once; the table needs them all to size columns.
pub(crate) async fn list(client: &AdminClient, connection: Option<u32>, json: bool) -> anyhow::Result<()> {
    use serde::ser::{SerializeSeq, Serializer};
    use std::io::Write;
    let pref = PAGE_ENTRIES * RAS_PORT_0_SIZE;
    let filter = connection.unwrap_or(0);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut rows = Vec::new();
    let mut ser = serde_json::Serializer::pretty(&mut out);
    let mut seq = json.then(|| ser.serialize_seq(None)).transpose()?;
    let mut resume = 0;
    loop {
        let page = client.port_page(pref, resume, filter).await?;
        match seq.as_mut() {
            Some(seq) => {
                for p in &page.ports {
                    seq.serialize_element(&PortJson::new(p))?;
                }
            }
            None => rows.extend(page.ports),
        }
        if page.resume_handle == 0 {
            break;
        }
        resume = page.resume_handle;
    }
    if let Some(seq) = seq {
        seq.end()?;
        out.write_all(b"\n")?;
    } else {
        rows.sort_by_key(|p| p.level0.port);
        writeln!(out, "{}", ports_table(&rows))?;
        writeln!(out, "{} port(s)", rows.len())?;
    }
    out.flush()?;
    Ok(())
}

/// One port, both levels, one field per line (or JSON).
pub(crate) async fn show(client: &AdminClient, handle: u32, json: bool) -> anyhow::Result<()> {
    let port = client.port(handle).await?;
    let value = serde_json::to_value(PortJson::new(&port))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if let Some(map) = value.as_object() {
        for (k, v) in map {
            let shown = match v {
                serde_json::Value::String(s) => rras_core::display::escape(s).into_owned(),
                other => other.to_string(),
            };
            println!("{k:>20}: {shown}");
        }
    }
    Ok(())
}

/// The ports table as an admin sees it.
pub(crate) fn ports_table(ports: &[Port]) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "Port",
            "Name",
            "Condition",
            "Media",
            "Device",
            "Type",
            "Connection",
            "Duration",
            "Rx",
            "Tx",
        ]);
    for p in ports {
        let l = &p.level0;
        table.add_row(crate::output::escaped([
            l.port.to_string(),
            l.port_name.clone(),
            condition_name(l.condition).to_owned(),
            l.media_name.clone(),
            l.device_name.clone(),
            l.device_type.clone(),
            l.connection.to_string(),
            human_duration(std::time::Duration::from_secs(l.connect_duration.into())),
            human_bytes(p.stats.bytes_rcved),
            human_bytes(p.stats.bytes_xmited),
        ]));
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_have_words() {
        assert_eq!(condition_name(RAS_PORT_AUTHENTICATED), "authenticated");
        assert_eq!(condition_name(1), "disconnected");
        assert_eq!(condition_name(77), "unknown");
    }
}
