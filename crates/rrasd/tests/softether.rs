//! The SoftEther source against a real SoftEther VPN Server with two real
//! OpenVPN clients in network namespaces, through the engine conformance
//! scenario (rras_testkit::conformance): listed by the Rust client,
//! `rasctl --json` and libmprapi; counters grow; an admin hang-up ends the
//! session in SoftEther (DeleteSession) and in the table; handles survive
//! a restart; SoftEther going away shows in health and ends the rest as
//! `engine-unreachable`.

use std::path::Path;

use rras_testkit::softether_lab::SoftetherLab;
use rras_testkit::{require_root, require_tool};

#[test]
fn softether_passes_the_engine_conformance_scenario() {
    if !require_root()
        || ![
            "openvpn", "vpncmd", "curl", "openssl", "python3", "gcc", "ip", "ping", "ss",
        ]
        .iter()
        .all(|t| require_tool(t))
    {
        return;
    }
    if !Path::new(rras_testkit::softether_lab::VPNSERVER).exists() {
        assert!(!rras_testkit::in_ci(), "softether-vpnserver is required under CI=true");
        eprintln!("SKIP: softether-vpnserver is not installed (apt-get install it, or run .ci/run)");
        return;
    }
    let mut lab = SoftetherLab::up(&["alice", "bob"]);
    rras_testkit::conformance::run(&mut lab, Path::new(env!("CARGO_BIN_EXE_rrasd")));
}
