//! A connection as the console's JSON row, the same on the connections,
//! history and fleet pages.

use std::time::SystemTime;

use rras_core::Connection;
use serde_json::{json, Value};

fn address_of(c: &Connection) -> String {
    c.info.client_address().map(|a| a.to_string()).unwrap_or_default()
}

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(crate) fn row(c: &Connection, now: SystemTime) -> Value {
    let i = &c.info;
    json!({
        "handle": c.handle.get(),
        "user": c.info.account(),
        "engine": i.source.engine.as_str(),
        "instance": i.source.instance_name(),
        "interface": i.interface_name,
        "address": address_of(c),
        "endpoint": i.remote_endpoint.map(|a| a.to_string()).unwrap_or_default(),
        "vpn_type": rras_core::port::vpn_type_name(i.device_type),
        "started_at": unix(i.started_at),
        "duration_secs": i.connect_duration(now).as_secs(),
        "rx": i.stats.bytes_rcved,
        "tx": i.stats.bytes_xmited,
    })
}
