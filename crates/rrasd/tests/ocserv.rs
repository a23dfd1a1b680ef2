//! The ocserv source against a real ocserv with two openconnect clients in
//! network namespaces, through the engine conformance scenario
//! (rras_testkit::conformance): both sessions listed with user, addresses
//! and endpoints by the Rust client, `rasctl --json` and libmprapi;
//! counters grow with traffic; an admin disconnect ends one session in
//! ocserv and in the table while the other stays; a restart of rrasd keeps
//! the live session's handle; ocserv going away shows in health and ends
//! the session after the grace period.

use std::path::Path;

use rras_testkit::ocserv_lab::OcservLab;
use rras_testkit::{require_root, require_tool};

#[test]
fn ocserv_passes_the_engine_conformance_scenario() {
    if !require_root()
        || !["ocserv", "occtl", "openconnect", "openssl", "ip", "ping", "gcc"]
            .iter()
            .all(|t| require_tool(t))
    {
        return;
    }
    let mut lab = OcservLab::up(&["alice", "bob"]);
    rras_testkit::conformance::run(&mut lab, Path::new(env!("CARGO_BIN_EXE_rrasd")));
}
