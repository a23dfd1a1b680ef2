//! openrras's VPN engines, one folder each. Every engine here is built on
//! the `rras-source` API alone (and `rras-core`'s types): it never sees
//! the daemon, its store or its configuration file.
//!
//! [`ENGINES`] is the one list of them: the daemon parses, checks,
//! describes and starts an engine only through its entry there. Adding an
//! engine is its folder, one line in that list, and its `EngineKind` (with
//! its record tag) in rras-core — ARCHITECTURE.md, "Adding an engine".
//!
//! RADIUS accounting ([`radius`]) is the one engine outside that list:
//! NASes call it, rather than it polling them, so it owns listeners (UDP
//! and RadSec) and counts what it drops for the daemon's metrics; the
//! daemon starts it with [`radius::start`], handing it a
//! [`radius::RadiusCounters`] beside the sink.

#![deny(missing_docs)]

pub mod ocserv;
pub mod openvpn;
pub mod radius;
pub mod softether;
pub mod strongswan;
pub mod wireguard;

use rras_source::EngineEntry;

/// Every engine the daemon can run through the source API.
pub const ENGINES: &[EngineEntry] = &[
    EngineEntry::of::<wireguard::WireguardConfig>(),
    EngineEntry::of::<openvpn::OpenvpnConfig>(),
    EngineEntry::of::<ocserv::OcservConfig>(),
    EngineEntry::of::<strongswan::StrongswanConfig>(),
    EngineEntry::of::<softether::SoftetherConfig>(),
];

/// The entry of the engine named `kind` (a section or `[[source]] kind`).
pub fn engine(kind: &str) -> Option<&'static EngineEntry> {
    ENGINES.iter().find(|e| e.section() == kind)
}
