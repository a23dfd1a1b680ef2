//! `StrongswanSource`: IKEv2 sessions from strongSwan's charon over VICI
//! (docs/strongswan.md).
//!
//! Each poll streams `list-sas` (and `list-conns`, for how each connection
//! authenticates its peers) and sends the table what changed; a second
//! task subscribes to `ike-updown`, `child-updown`, `ike-rekey` and
//! `child-rekey` and polls at once when one arrives, so sessions appear
//! and end within a second. One connection per IKE SA. Identity: engine
//! `strongswan`, NAS = the VICI socket path, session =
//! `UNIQUEID@INITIATOR-SPI`. Hang-up: `terminate ike-id=N`.
//!
//! Counters: charon counts bytes per CHILD_SA, and a rekey starts a new
//! CHILD_SA at zero. The engine keeps, per IKE SA, the last counts of each
//! CHILD_SA and adds those of the ones that went away, so the connection's
//! counters never go backwards — also across a restart of rrasd (the
//! stored totals seed the sums).

pub mod vici;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rras_core::model::{connection_flags, device_type, Ikev2Projection};
use rras_core::{Connection, ConnectionInfo, ConnectionStats, EngineKind, Projection, SourceKey, Win32Error};
use serde::Deserialize;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use self::vici::Section;
use rras_source::control::ControlError;
use rras_source::polling::{self, PollSettings, PollingEngine, Snapshot};
use rras_source::Engine;
use rras_source::{HangUp, Sink, SourceId};

/// `MPRAPI_IKEV2_AUTH_USING_CERT`.
pub const AUTH_USING_CERT: u32 = 1;
/// `MPRAPI_IKEV2_AUTH_USING_EAP`.
pub const AUTH_USING_EAP: u32 = 2;

/// How long one VICI exchange may take.
const VICI_TIMEOUT: Duration = Duration::from_secs(5);

/// `[strongswan]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrongswanConfig {
    /// The instance's name (`[[source]] name`); `[strongswan]` and the
    /// flags configure the default instance, named "strongswan".
    pub name: String,
    /// charon's VICI socket (`unix:///var/run/charon.vici` or a path); the
    /// source is off when unset.
    pub vici: Option<String>,
    /// Seconds between polls (events make most changes visible sooner).
    pub poll_secs: u64,
    /// Seconds a charon that stops answering keeps its sessions before
    /// they end as `engine-unreachable`.
    pub unreachable_grace_secs: u64,
}

impl Default for StrongswanConfig {
    fn default() -> Self {
        StrongswanConfig {
            name: String::new(),
            vici: None,
            poll_secs: 10,
            unreachable_grace_secs: 60,
        }
    }
}

/// `unix:///var/run/charon.vici` or `/var/run/charon.vici` → the path.
fn socket_path(uri: &str) -> Option<PathBuf> {
    let path = uri.strip_prefix("unix://").unwrap_or(uri);
    path.starts_with('/').then(|| PathBuf::from(path))
}

/// Subscribes to SA up/down and rekey events and nudges the poller on each;
/// reconnects (1 s → 30 s) while charon is away.
async fn listen_for_events(socket: PathBuf, nudge: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let session = async {
            let mut client = vici::Client::connect(&socket).await?;
            for event in ["ike-updown", "child-updown", "ike-rekey", "child-rekey"] {
                tokio::time::timeout(VICI_TIMEOUT, client.register(event))
                    .await
                    .map_err(|_| ControlError::Timeout(VICI_TIMEOUT))??;
            }
            loop {
                let packet = client.read().await?;
                if packet.kind == vici::packet_type::EVENT {
                    nudge.notify_one();
                }
            }
            #[allow(unreachable_code)]
            Ok::<(), ControlError>(())
        };
        tokio::select! {
            result = session => {
                if let Err(e) = result {
                    tracing::debug!(socket = %socket.display(), "VICI events: {e}");
                }
            }
            _ = stop.wait_for(|s| *s) => return,
        }
        // Whatever happened while we were away, a poll will see it.
        nudge.notify_one();
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// One IKE SA as `list-sa` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IkeSa {
    /// The connection (config) name.
    pub conn: String,
    /// charon's id of the SA (`terminate ike-id`).
    pub uniqueid: u64,
    /// ESTABLISHED, CONNECTING, REKEYING, DELETING …
    pub state: String,
    /// IKE version (2).
    pub version: u64,
    /// Local and remote addresses.
    pub local_host: Option<IpAddr>,
    /// The client's address.
    pub remote_host: Option<IpAddr>,
    /// The peer's IKE identity.
    pub remote_id: String,
    /// The EAP identity, when the peer authenticated with EAP.
    pub remote_eap_id: Option<String>,
    /// The XAuth identity.
    pub remote_xauth_id: Option<String>,
    /// The initiator's SPI (hex).
    pub initiator_spi: String,
    /// Proposal: encryption algorithm, key size, integrity, PRF, DH group.
    pub encr_alg: String,
    /// Key size of `encr_alg` (0 when fixed).
    pub encr_keysize: u64,
    /// Integrity algorithm (empty with AEAD).
    pub integ_alg: String,
    /// PRF.
    pub prf_alg: String,
    /// Diffie-Hellman group.
    pub dh_group: String,
    /// Seconds since it was established.
    pub established_secs: Option<u64>,
    /// Virtual IPs handed to the peer.
    pub remote_vips: Vec<IpAddr>,
    /// CHILD_SAs: (uniqueid, counts).
    pub children: Vec<(u64, ChildCounts)>,
    /// The ESP encryption of the first CHILD_SA, and its key size.
    pub esp_alg: String,
    /// Key size of `esp_alg` in bits (0 when fixed).
    pub esp_keysize: u64,
}

/// Counters of one CHILD_SA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChildCounts {
    /// Bytes in (from the client).
    pub bytes_in: u64,
    /// Bytes out.
    pub bytes_out: u64,
    /// Packets in.
    pub packets_in: u64,
    /// Packets out.
    pub packets_out: u64,
}

impl ChildCounts {
    /// `f` applied field by field.
    fn zip(self, o: ChildCounts, f: fn(u64, u64) -> u64) -> ChildCounts {
        ChildCounts {
            bytes_in: f(self.bytes_in, o.bytes_in),
            bytes_out: f(self.bytes_out, o.bytes_out),
            packets_in: f(self.packets_in, o.packets_in),
            packets_out: f(self.packets_out, o.packets_out),
        }
    }

    fn add(self, o: ChildCounts) -> ChildCounts {
        self.zip(o, u64::saturating_add)
    }

    fn max(self, o: ChildCounts) -> ChildCounts {
        self.zip(o, u64::max)
    }

    fn saturating_sub(self, o: ChildCounts) -> ChildCounts {
        self.zip(o, u64::saturating_sub)
    }
}

/// Parses one `list-sa` event message: `{ CONN-NAME { … } }`.
pub fn parse_list_sa(message: &Section) -> Vec<IkeSa> {
    message
        .0
        .iter()
        .filter_map(|(conn, value)| match value {
            vici::Value::Section(sa) => Some(ike_sa(conn, sa)),
            _ => None,
        })
        .flatten()
        .collect()
}

fn ike_sa(conn: &str, sa: &Section) -> Option<IkeSa> {
    let ip = |key: &str| sa.str(key).and_then(|s| s.parse().ok());
    let children = match sa.section("child-sas") {
        Some(children) => children
            .0
            .iter()
            .filter_map(|(_, c)| match c {
                vici::Value::Section(c) => Some((
                    c.u64("uniqueid")?,
                    ChildCounts {
                        bytes_in: c.u64("bytes-in").unwrap_or(0),
                        bytes_out: c.u64("bytes-out").unwrap_or(0),
                        packets_in: c.u64("packets-in").unwrap_or(0),
                        packets_out: c.u64("packets-out").unwrap_or(0),
                    },
                    c.str("encr-alg").unwrap_or_default(),
                    c.u64("encr-keysize").unwrap_or(0),
                )),
                _ => None,
            })
            .collect::<Vec<_>>(),
        None => Vec::new(),
    };
    Some(IkeSa {
        conn: conn.to_owned(),
        uniqueid: sa.u64("uniqueid")?,
        state: sa.str("state").unwrap_or_default(),
        version: sa.u64("version").unwrap_or(2),
        local_host: ip("local-host"),
        remote_host: ip("remote-host"),
        remote_id: sa.str("remote-id").unwrap_or_default(),
        remote_eap_id: sa.str("remote-eap-id"),
        remote_xauth_id: sa.str("remote-xauth-id"),
        initiator_spi: sa.str("initiator-spi").unwrap_or_default(),
        encr_alg: sa.str("encr-alg").unwrap_or_default(),
        encr_keysize: sa.u64("encr-keysize").unwrap_or(0),
        integ_alg: sa.str("integ-alg").unwrap_or_default(),
        prf_alg: sa.str("prf-alg").unwrap_or_default(),
        dh_group: sa.str("dh-group").unwrap_or_default(),
        established_secs: sa.u64("established"),
        remote_vips: sa.list("remote-vips").iter().filter_map(|v| v.parse().ok()).collect(),
        esp_alg: children.first().map(|c| c.2.clone()).unwrap_or_default(),
        esp_keysize: children.first().map_or(0, |c| c.3),
        children: children.into_iter().map(|(id, counts, _, _)| (id, counts)).collect(),
    })
}

/// How a connection authenticates its peers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerAuth {
    /// `MPRAPI_IKEV2_AUTH_USING_*`; 0 when Windows has no value (PSK).
    pub method: u32,
    /// The EAP method's IANA type number (0 when not EAP or unknown).
    pub eap_type: u32,
}

/// strongSwan's EAP method names → IANA EAP type numbers.
fn eap_type_number(name: &str) -> u32 {
    match name.trim().to_ascii_uppercase().trim_start_matches("EAP-") {
        "IDENTITY" => 1,
        "MD5" => 4,
        "GTC" => 6,
        "TLS" => 13,
        "SIM" => 18,
        "TTLS" => 21,
        "AKA" => 23,
        "PEAP" => 25,
        "MSCHAPV2" => 26,
        "TNC" => 38,
        _ => 0,
    }
}

/// How each connection authenticates its peers, from a `list-conn` event.
pub fn parse_list_conn(message: &Section) -> Vec<(String, PeerAuth)> {
    message
        .0
        .iter()
        .filter_map(|(conn, value)| {
            let vici::Value::Section(c) = value else { return None };
            // Remote auth rounds are sections named remote-1, remote-2 …
            let rounds: Vec<&Section> =
                c.0.iter()
                    .filter(|(k, _)| k.starts_with("remote"))
                    .filter_map(|(_, v)| match v {
                        vici::Value::Section(r) => Some(r),
                        _ => None,
                    })
                    .collect();
            let eap = rounds
                .iter()
                .find(|r| r.str("class").is_some_and(|c| c.starts_with("EAP")));
            let auth = match eap {
                Some(r) => PeerAuth {
                    method: AUTH_USING_EAP,
                    eap_type: r.str("eap-type").map_or(0, |t| eap_type_number(&t)),
                },
                None if rounds.iter().any(|r| r.str("class").as_deref() == Some("public key")) => PeerAuth {
                    method: AUTH_USING_CERT,
                    eap_type: 0,
                },
                None => PeerAuth::default(),
            };
            Some((conn.clone(), auth))
        })
        .collect()
}

/// `IPSEC_CIPHER_TYPE` of an ESP encryption for `dwEncryptionMethod`
/// (DES 1, 3DES 2, AES-128 3, AES-192 4, AES-256 5); 0 for ciphers Windows
/// has no value for (ChaCha20 …).
pub fn ipsec_cipher_type(alg: &str, keysize: u64) -> u32 {
    let alg = alg.to_ascii_uppercase();
    if alg.starts_with("AES") {
        match keysize {
            128 => 3,
            192 => 4,
            256 => 5,
            _ => 0,
        }
    } else if alg == "3DES" || alg == "DES_EDE3" {
        2
    } else if alg == "DES" {
        1
    } else {
        0
    }
}

/// What the table holds for one IKE SA; `counts` are the running totals.
pub fn sa_info(
    id: &SourceId,
    socket: &str,
    sa: &IkeSa,
    auth: PeerAuth,
    counts: ChildCounts,
    now: SystemTime,
) -> ConnectionInfo {
    let started = sa
        .established_secs
        .and_then(|s| now.checked_sub(Duration::from_secs(s)))
        .unwrap_or(now);
    let key = id.key(socket, format!("{}@{}", sa.uniqueid, sa.initiator_spi));
    let identity = sa
        .remote_eap_id
        .clone()
        .or_else(|| sa.remote_xauth_id.clone())
        .unwrap_or_else(|| sa.remote_id.clone());
    let mut info = ConnectionInfo::new(key, "", started);
    info.set_account(&identity);
    info.interface_name = sa.conn.clone();
    info.remote_endpoint = sa.remote_host;
    info.local_endpoint = sa.local_host;
    info.flags = connection_flags::IKEV2_CONNECTION;
    info.device_type = device_type::IKEV2;
    let eap = sa.remote_eap_id.is_some() || auth.method == AUTH_USING_EAP;
    let mut projection = Ikev2Projection {
        authentication_protocol: if eap { AUTH_USING_EAP } else { auth.method },
        eap_type_id: if eap { auth.eap_type } else { 0 },
        encryption_method: ipsec_cipher_type(&sa.esp_alg, sa.esp_keysize),
        ..Default::default()
    };
    projection.ipv4.remote_address = sa.remote_vips.iter().find_map(|v| match v {
        IpAddr::V4(v4) => Some(*v4),
        IpAddr::V6(_) => None,
    });
    info.projection = Projection::Ikev2(projection);
    if let Some(v6) = sa.remote_vips.iter().find_map(|v| match v {
        IpAddr::V6(v6) => Some(*v6),
        IpAddr::V4(_) => None,
    }) {
        info.projection.ipv6_mut().set_remote_address(v6);
    }
    info.stats = ConnectionStats {
        bytes_rcved: counts.bytes_in,
        bytes_xmited: counts.bytes_out,
        frames_rcved: u32::try_from(counts.packets_in).unwrap_or(u32::MAX),
        frames_xmited: u32::try_from(counts.packets_out).unwrap_or(u32::MAX),
        ..Default::default()
    };
    info.guid = rras_source::stable_guid(&info.source);
    let encryption = match sa.encr_keysize {
        0 => sa.encr_alg.clone(),
        bits => format!("{}-{bits}", sa.encr_alg),
    };
    let mut attributes = vec![
        ("IKE-Encryption".to_owned(), encryption),
        ("IKE-Integrity".to_owned(), sa.integ_alg.clone()),
        ("IKE-PRF".to_owned(), sa.prf_alg.clone()),
        ("DH-Group".to_owned(), sa.dh_group.clone()),
        ("ESP-Encryption".to_owned(), sa.esp_alg.clone()),
        ("IKE-Identity".to_owned(), sa.remote_id.clone()),
    ];
    attributes.retain(|(_, v)| !v.is_empty());
    info.engine_attributes = attributes;
    info
}

/// The totals of a single look at `sa` (no history): what a first poll
/// reports.
pub fn running_total(sa: &IkeSa) -> ChildCounts {
    SaCounters::default().update(&sa.children)
}

/// Encoded `list-sa` and `list-conn` event packets shaped like charon
/// 5.9's (the lab's SA): seeds for the fuzzer, input for tests.
pub fn sample_packets() -> Vec<Vec<u8>> {
    use vici::{packet_type, Packet, Value};
    let child = Section::default()
        .with("name", "net")
        .with("uniqueid", "1")
        .with("reqid", "1")
        .with("state", "INSTALLED")
        .with("mode", "TUNNEL")
        .with("protocol", "ESP")
        .with("encap", "yes")
        .with("encr-alg", "AES_GCM_16")
        .with("encr-keysize", "128")
        .with("bytes-in", "252")
        .with("packets-in", "3")
        .with("bytes-out", "252")
        .with("packets-out", "3");
    let mut sa = Section::default()
        .with("uniqueid", "1")
        .with("version", "2")
        .with("state", "ESTABLISHED")
        .with("local-host", "10.200.4.1")
        .with("local-port", "4500")
        .with("local-id", "server.lab")
        .with("remote-host", "10.200.4.2")
        .with("remote-port", "4500")
        .with("remote-id", "user1")
        .with("remote-eap-id", "CORP\\user1")
        .with("initiator-spi", "233e49adec854512")
        .with("responder-spi", "501a87b510f0344a")
        .with("encr-alg", "AES_CBC")
        .with("encr-keysize", "128")
        .with("integ-alg", "HMAC_SHA2_256_128")
        .with("prf-alg", "PRF_HMAC_SHA2_256")
        .with("dh-group", "CURVE_25519")
        .with("established", "0");
    sa.0.push((
        "remote-vips".into(),
        Value::List(vec![b"10.200.14.1".to_vec(), b"fd00::1".to_vec()]),
    ));
    sa.0.push((
        "child-sas".into(),
        Value::Section(Section(vec![("net-1".into(), Value::Section(child))])),
    ));
    let remote = Section::default().with("class", "EAP").with("eap-type", "MSCHAPV2");
    let conn = Section(vec![("remote-1".into(), Value::Section(remote))]);
    [
        Packet {
            kind: packet_type::EVENT,
            name: "list-sa".into(),
            message: Section(vec![("rw".into(), Value::Section(sa))]),
        },
        Packet {
            kind: packet_type::EVENT,
            name: "list-conn".into(),
            message: Section(vec![("rw".into(), Value::Section(conn))]),
        },
    ]
    .iter()
    .filter_map(|p| vici::encode_packet(p).ok().and_then(|b| b.get(4..).map(<[u8]>::to_vec)))
    .collect()
}

/// Running totals of one IKE SA.
#[derive(Debug, Default)]
struct SaCounters {
    /// Sum of the CHILD_SAs that went away (rekeyed or closed).
    retired: ChildCounts,
    /// Last counts of each CHILD_SA still listed.
    children: HashMap<u64, ChildCounts>,
    /// The last total handed out (totals never go down).
    total: ChildCounts,
}

impl SaCounters {
    fn update(&mut self, children: &[(u64, ChildCounts)]) -> ChildCounts {
        let listed: HashMap<u64, ChildCounts> = children.iter().copied().collect();
        for (id, last) in &self.children {
            if !listed.contains_key(id) {
                self.retired = self.retired.add(*last);
            }
        }
        self.children = listed;
        let now = self.children.values().fold(self.retired, |acc, c| acc.add(*c));
        self.total = self.total.max(now);
        self.total
    }
}

/// One charon as a polling engine.
#[derive(Debug)]
struct StrongswanEngine {
    id: SourceId,
    socket: PathBuf,
    counters: HashMap<SourceKey, SaCounters>,
    /// Totals stored before this process started (from the table).
    seeded: HashMap<SourceKey, ChildCounts>,
}

impl PollingEngine for StrongswanEngine {
    fn seed(&mut self, live: &[Arc<Connection>]) {
        self.seeded = live
            .iter()
            .map(|c| {
                let s = &c.info.stats;
                (
                    c.info.source.clone(),
                    ChildCounts {
                        bytes_in: s.bytes_rcved,
                        bytes_out: s.bytes_xmited,
                        packets_in: u64::from(s.frames_rcved),
                        packets_out: u64::from(s.frames_xmited),
                    },
                )
            })
            .collect();
    }

    async fn read(&mut self) -> Result<Snapshot, String> {
        let nas = self.socket.display().to_string();
        let sas = vici::call(
            &self.socket,
            Some("list-sa"),
            // Not `noblock`: that skips IKE SAs busy (e.g. rekeying) at the
            // moment, and a skipped SA would read as ended.
            "list-sas",
            Section::default(),
            VICI_TIMEOUT,
        )
        .await;
        let conns = vici::call(
            &self.socket,
            Some("list-conn"),
            "list-conns",
            Section::default(),
            VICI_TIMEOUT,
        )
        .await;
        let (events, conns) = match (sas, conns) {
            (Ok((events, _)), Ok((conns, _))) => (events, conns),
            (Err(e), _) | (_, Err(e)) => {
                return Ok(Snapshot {
                    unreachable: vec![(nas, e.to_string())],
                    ..Default::default()
                })
            }
        };
        let auth: HashMap<String, PeerAuth> = conns.iter().flat_map(|p| parse_list_conn(&p.message)).collect();
        let now = SystemTime::now();
        let mut snapshot = Snapshot {
            reached: 1,
            ..Default::default()
        };
        let mut seen = std::collections::HashSet::new();
        for sa in events.iter().flat_map(|p| parse_list_sa(&p.message)) {
            // Half-open and dying SAs are not sessions.
            if sa.state != "ESTABLISHED" && sa.state != "REKEYING" && sa.state != "REKEYED" {
                continue;
            }
            let key = self.id.key(&nas, format!("{}@{}", sa.uniqueid, sa.initiator_spi));
            let counters = self.counters.entry(key.clone()).or_insert_with(|| {
                // First sight since start: what is stored beyond the current
                // CHILD_SAs counts as already retired.
                let current = sa.children.iter().fold(ChildCounts::default(), |a, (_, c)| a.add(*c));
                let stored = self.seeded.get(&key).copied().unwrap_or_default();
                SaCounters {
                    retired: stored.saturating_sub(current),
                    ..Default::default()
                }
            });
            let counts = counters.update(&sa.children);
            let auth = auth.get(&sa.conn).copied().unwrap_or_default();
            snapshot
                .connections
                .push(sa_info(&self.id, &nas, &sa, auth, counts, now));
            seen.insert(key);
        }
        self.counters.retain(|k, _| seen.contains(k));
        Ok(snapshot)
    }

    fn ended_reason(&self, _key: &SourceKey) -> String {
        "user-request".into()
    }
}

/// `terminate ike-id=N` on the session's charon.
#[derive(Debug)]
struct Terminate {
    socket: PathBuf,
}

impl HangUp for Terminate {
    type Session = u64;

    fn session(&self, connection: &Connection) -> Option<u64> {
        let (id, _) = connection.info.source.session_id.split_once('@')?;
        id.parse().ok()
    }

    async fn hang_up(&self, ike_id: u64) -> Win32Error {
        let args = Section::default()
            .with("ike-id", &ike_id.to_string())
            .with("force", "yes")
            .with("timeout", "3000");
        match vici::call(&self.socket, None, "terminate", args, VICI_TIMEOUT).await {
            Ok((_, reply)) if reply.str("success").as_deref() == Some("yes") => Win32Error::NoError,
            Ok((_, reply)) => {
                let why = reply.str("errmsg").unwrap_or_default();
                tracing::warn!(ike_id, "VICI terminate refused: {why}");
                if reply.u64("matches") == Some(0) || why.contains("no matching") {
                    Win32Error::NoConnection
                } else {
                    Win32Error::RpcCallFailed
                }
            }
            Err(e) => {
                tracing::warn!(ike_id, "VICI terminate failed: {e}");
                e.win32()
            }
        }
    }
}

/// The engine, as its settings.
impl Engine for StrongswanConfig {
    const KIND: EngineKind = EngineKind::Strongswan;
    const ON_KEY: &'static str = "vici";

    fn name(&self) -> &str {
        &self.name
    }

    fn is_on(&self) -> bool {
        self.vici.is_some()
    }

    fn validate(&self) -> Result<(), String> {
        if self.poll_secs == 0 {
            return Err("strongswan.poll_secs must be at least 1".into());
        }
        if let Some(v) = &self.vici {
            if socket_path(v).is_none() {
                return Err(format!("strongswan.vici {v:?} is not unix:///PATH or /PATH"));
            }
        }
        Ok(())
    }

    fn describe(&self) -> rras_source::Description {
        use rras_source::Description;
        let uri = self.vici.clone().unwrap_or_default();
        Description {
            summary: format!("strongSwan VICI {uri}"),
            paths: vec![std::path::PathBuf::from(uri.strip_prefix("unix://").unwrap_or(&uri))],
            secret_files: Vec::new(),
        }
    }

    fn claims(&self) -> Vec<rras_source::Claim> {
        use rras_source::Claim;
        self.vici
            .iter()
            .map(|v| Claim {
                place: v.clone(),
                part: None,
                hint: "each VICI socket belongs to one instance",
            })
            .collect()
    }

    /// Starts the instance: poller and event listener under supervision, and
    /// `terminate` as its hang-up.
    fn start(
        &self,
        id: SourceId,
        sink: Arc<dyn Sink>,
        stop: watch::Receiver<bool>,
    ) -> Result<Vec<JoinHandle<()>>, rras_source::SourceError> {
        let Some(uri) = &self.vici else {
            return Ok(Vec::new());
        };
        let socket = socket_path(uri)
            .ok_or_else(|| rras_source::SourceError::Config(format!("strongswan.vici {uri:?} is not a socket path")))?;
        tracing::info!(source = %id, socket = %socket.display(), "strongSwan source on VICI");
        sink.register_hang_up(id.clone(), Arc::new(Terminate { socket: socket.clone() }));
        let nudge = Arc::new(Notify::new());
        let settings = PollSettings {
            nudge: Some(nudge.clone()),
            ..PollSettings::new(self.poll_secs, self.unreachable_grace_secs)
        };
        let events = tokio::spawn(listen_for_events(socket.clone(), nudge, stop.clone()));
        let poller = polling::spawn(id.clone(), settings, sink, stop, move || StrongswanEngine {
            id: id.clone(),
            socket: socket.clone(),
            counters: HashMap::new(),
            seeded: HashMap::new(),
        });
        Ok(vec![poller, events])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vici::Value;

    /// The lab's `list-sa` event (charon 5.9.8), as swanctl --raw prints it.
    fn sample(bytes_in: &str, child_id: &str) -> Section {
        let child = Section::default()
            .with("name", "net")
            .with("uniqueid", child_id)
            .with("state", "INSTALLED")
            .with("encr-alg", "AES_GCM_16")
            .with("encr-keysize", "128")
            .with("bytes-in", bytes_in)
            .with("packets-in", "3")
            .with("bytes-out", "252")
            .with("packets-out", "3");
        let mut sa = Section::default()
            .with("uniqueid", "1")
            .with("version", "2")
            .with("state", "ESTABLISHED")
            .with("local-host", "10.200.4.1")
            .with("remote-host", "10.200.4.2")
            .with("remote-id", "CORP\\user1")
            .with("initiator-spi", "233e49adec854512")
            .with("encr-alg", "AES_CBC")
            .with("encr-keysize", "128")
            .with("integ-alg", "HMAC_SHA2_256_128")
            .with("prf-alg", "PRF_HMAC_SHA2_256")
            .with("dh-group", "CURVE_25519")
            .with("established", "30");
        sa.0.push(("remote-vips".into(), Value::List(vec![b"10.200.14.1".to_vec()])));
        sa.0.push((
            "child-sas".into(),
            Value::Section(Section(vec![(format!("net-{child_id}"), Value::Section(child))])),
        ));
        Section(vec![("rw".into(), Value::Section(sa))])
    }

    #[test]
    fn an_ike_sa_becomes_an_ikev2_connection() {
        let sas = parse_list_sa(&sample("252", "1"));
        assert_eq!(sas.len(), 1);
        let id = SourceId::default_of(EngineKind::Strongswan);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let counts = SaCounters::default().update(&sas[0].children);
        let cert = PeerAuth {
            method: AUTH_USING_CERT,
            eap_type: 0,
        };
        let info = sa_info(&id, "/run/charon.vici", &sas[0], cert, counts, now);
        assert_eq!(info.source.session_id, "1@233e49adec854512");
        assert_eq!((info.logon_domain.as_str(), info.user_name.as_str()), ("CORP", "user1"));
        assert_eq!(info.flags, connection_flags::IKEV2_CONNECTION);
        assert_eq!(info.device_type, device_type::IKEV2);
        assert_eq!(info.projection.info_type(), 2);
        assert_eq!(
            info.projection.ipv4().remote_address,
            Some("10.200.14.1".parse().unwrap())
        );
        let Projection::Ikev2(p) = info.projection else {
            panic!("IKEv2 projection")
        };
        assert_eq!(p.authentication_protocol, AUTH_USING_CERT);
        assert_eq!(
            p.encryption_method, 3,
            "ESP AES_GCM_16 with a 128-bit key: IPSEC_CIPHER_TYPE_AES_128"
        );
        assert_eq!(info.started_at, now - Duration::from_secs(30));
        assert_eq!((info.stats.bytes_rcved, info.stats.frames_xmited), (252, 3));
        assert!(info
            .engine_attributes
            .contains(&("IKE-Encryption".into(), "AES_CBC-128".into())));
    }

    #[test]
    fn counters_never_go_back_across_rekeys() {
        let mut c = SaCounters::default();
        let first = parse_list_sa(&sample("1000", "1"));
        assert_eq!(c.update(&first[0].children).bytes_in, 1000);
        // Rekeyed: child 2 starts at 0, child 1 is gone.
        let rekeyed = parse_list_sa(&sample("40", "2"));
        assert_eq!(c.update(&rekeyed[0].children).bytes_in, 1040);
        // A child that reports less than before (charon restarted it).
        let odd = parse_list_sa(&sample("10", "2"));
        assert_eq!(c.update(&odd[0].children).bytes_in, 1040);
    }

    #[test]
    fn auth_class_from_list_conn() {
        let remote = |class: &str| Value::Section(Section::default().with("class", class).with("eap-type", "MSCHAPV2"));
        let conn = |class: &str| Value::Section(Section(vec![("remote-1".into(), remote(class))]));
        let msg = Section(vec![
            ("eap".into(), conn("EAP")),
            ("cert".into(), conn("public key")),
            ("psk".into(), conn("pre-shared key")),
        ]);
        let auth = parse_list_conn(&msg);
        assert_eq!(
            auth[0].1,
            PeerAuth {
                method: AUTH_USING_EAP,
                eap_type: 26
            }
        );
        assert_eq!(
            auth[1].1,
            PeerAuth {
                method: AUTH_USING_CERT,
                eap_type: 0
            }
        );
        assert_eq!(auth[2].1, PeerAuth::default());
        assert_eq!(ipsec_cipher_type("AES_CBC", 256), 5);
        assert_eq!(ipsec_cipher_type("3DES", 0), 2);
        assert_eq!(ipsec_cipher_type("CHACHA20_POLY1305", 256), 0);
    }
}
