//! `rasctl report start|update|end`: the generic source for engines with
//! hook scripts (pppd ip-up/ip-down, OpenVPN client-connect/disconnect,
//! accel-ppp events). See dist/hooks/ for ready scripts.

use std::net::IpAddr;
use std::time::SystemTime;

use clap::{Args, Subcommand, ValueEnum};
use rras_core::model::{connection_flags, device_type, Ikev2Projection};
use rras_core::{ConnectionInfo, ConnectionStats, EngineKind, Projection, SourceKey};
use rras_proto::pb;

/// Which session a report is about.
#[derive(Debug, Args)]
pub(crate) struct SessionArgs {
    /// Engine that owns the session.
    #[arg(long, default_value = "report")]
    pub(crate) engine: EngineKind,
    /// Who reports it (host, NAS, management socket).
    #[arg(long, default_value = "local")]
    pub(crate) nas: String,
    /// The engine's own session id.
    #[arg(long)]
    pub(crate) session: String,
    /// The source instance that owns it (default: the engine's default instance).
    #[arg(long, default_value = "")]
    pub(crate) instance: String,
}

/// Counters.
#[derive(Debug, Args, Default)]
pub(crate) struct CounterArgs {
    /// Bytes received from the client.
    #[arg(long, default_value_t = 0)]
    pub(crate) bytes_in: u64,
    /// Bytes sent to the client.
    #[arg(long, default_value_t = 0)]
    pub(crate) bytes_out: u64,
    /// Packets received from the client.
    #[arg(long, default_value_t = 0)]
    pub(crate) packets_in: u32,
    /// Packets sent to the client.
    #[arg(long, default_value_t = 0)]
    pub(crate) packets_out: u32,
}

impl CounterArgs {
    fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            bytes_rcved: self.bytes_in,
            bytes_xmited: self.bytes_out,
            frames_rcved: self.packets_in,
            frames_xmited: self.packets_out,
            ..Default::default()
        }
    }
}

/// Control protocol of the session.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Kind {
    /// PPP (PPTP, L2TP, SSTP, PPPoE): PPP flag and projection.
    Ppp,
    /// IKEv2: IKEv2 flag and projection.
    Ikev2,
    /// Anything else (WireGuard, OpenVPN …): addresses only.
    Other,
}

/// Tunnel type, reported to Windows tools as dwDeviceType.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum VpnType {
    /// RDT_Tunnel_Pptp (8).
    Pptp,
    /// RDT_Tunnel_L2tp (9).
    L2tp,
    /// RDT_Tunnel_Sstp (14).
    Sstp,
    /// RDT_Tunnel_Ikev2 (15).
    Ikev2,
    /// RDT_PPPoE (13).
    Pppoe,
    /// RDT_Other (12): WireGuard, OpenVPN, AnyConnect …
    Other,
}

impl VpnType {
    fn device_type(self) -> u32 {
        match self {
            VpnType::Pptp => device_type::PPTP,
            VpnType::L2tp => device_type::L2TP,
            VpnType::Sstp => device_type::SSTP,
            VpnType::Ikev2 => device_type::IKEV2,
            VpnType::Pppoe => device_type::PPPOE,
            VpnType::Other => device_type::OTHER,
        }
    }
}

/// `rasctl report` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// A session came up (or re-state everything about it).
    Start {
        #[command(flatten)]
        session: SessionArgs,
        /// User name (DOMAIN\user splits into domain and user).
        #[arg(long)]
        user: String,
        /// Linux interface of the session (ppp0, tun0, wg0).
        #[arg(long, default_value = "")]
        interface: String,
        /// Control protocol.
        #[arg(long, value_enum, default_value = "other")]
        kind: Kind,
        /// Tunnel type [default: ikev2 for --kind ikev2, else other].
        #[arg(long, value_enum)]
        vpn_type: Option<VpnType>,
        /// Address assigned to the client inside the tunnel.
        #[arg(long)]
        client_ip: Option<IpAddr>,
        /// Client's outer address.
        #[arg(long)]
        remote_endpoint: Option<IpAddr>,
        /// Server's outer address.
        #[arg(long)]
        local_endpoint: Option<IpAddr>,
        /// Start time, Unix seconds [default: now].
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=rras_core::engine_time::MAX_UNIX_SECS))]
        started_at: Option<u64>,
        #[command(flatten)]
        counters: CounterArgs,
    },
    /// New counters for a running session.
    Update {
        #[command(flatten)]
        session: SessionArgs,
        #[command(flatten)]
        counters: CounterArgs,
    },
    /// The session ended.
    End {
        #[command(flatten)]
        session: SessionArgs,
        /// Why (user-request, lost-carrier, admin-reset …).
        #[arg(long, default_value = "user-request")]
        reason: String,
    },
}

fn key(s: &SessionArgs) -> SourceKey {
    SourceKey {
        engine: s.engine,
        instance: s.instance.clone(),
        nas: s.nas.clone(),
        session_id: s.session.clone(),
    }
}

/// The report message for a subcommand.
pub(crate) fn build(cmd: &ReportCommand) -> pb::Report {
    match cmd {
        ReportCommand::Start {
            session,
            user,
            interface,
            kind,
            vpn_type,
            client_ip,
            remote_endpoint,
            local_endpoint,
            started_at,
            counters,
        } => {
            // The flag's range keeps this within SystemTime (year 9999).
            let started = started_at
                .and_then(|s| rras_core::engine_time::from_unix(s, 0))
                .unwrap_or_else(SystemTime::now);
            let mut info = ConnectionInfo::new(key(session), "", started);
            info.set_account(user);
            info.interface_name = interface.clone();
            info.remote_endpoint = *remote_endpoint;
            info.local_endpoint = *local_endpoint;
            info.stats = counters.stats();
            match kind {
                Kind::Ppp => info.flags = connection_flags::PPP_CONNECTION,
                Kind::Ikev2 => {
                    info.flags = connection_flags::IKEV2_CONNECTION;
                    info.projection = Projection::Ikev2(Ikev2Projection::default());
                }
                Kind::Other => {}
            }
            info.device_type = vpn_type
                .unwrap_or(match kind {
                    Kind::Ikev2 => VpnType::Ikev2,
                    Kind::Ppp | Kind::Other => VpnType::Other,
                })
                .device_type();
            match client_ip {
                Some(IpAddr::V4(a)) => info.projection.ipv4_mut().remote_address = Some(*a),
                Some(IpAddr::V6(a)) => info.projection.ipv6_mut().set_remote_address(*a),
                None => {}
            }
            rras_client::started(&info)
        }
        ReportCommand::Update { session, counters } => rras_client::updated(&key(session), &counters.stats()),
        ReportCommand::End { session, reason } => rras_client::ended(&key(session), reason),
    }
}
