//! Client for the rrasd admin RPC.
//!
//! [`AdminClient`] is async and cheap to share (`&self` methods, the channel
//! multiplexes); [`BlockingClient`] wraps it for synchronous callers such as
//! libmprapi. Every failure is a [`ClientError`] with the Win32 code the
//! Windows API would return.

#![deny(missing_docs)]

mod blocking;
mod error;

use std::path::PathBuf;
use std::time::SystemTime;

use hyper_util::rt::TokioIo;
use rras_core::{Connection, EndedConnection, Win32Error, RAS_CONNECTION_EX_SIZE};
use rras_proto::convert::{connection_from_pb, ended_from_pb};
use rras_proto::pb::{self, rras_admin_client::RrasAdminClient};
use tonic::transport::{Channel, Endpoint};

pub use blocking::BlockingClient;
pub use error::ClientError;

/// Where the admin socket is when nothing else is said.
pub const DEFAULT_SOCKET: &str = "/run/rrasd/admin.sock";
/// Largest reply the client accepts (a full enumeration with -1).
const MAX_REPLY_BYTES: usize = 1024 * 1024 * 1024;

/// A server address: `unix:PATH`, or a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAddr {
    /// A Unix socket.
    Unix(PathBuf),
}

impl ServerAddr {
    /// Parses `unix:PATH`, `/abs/path` or `./rel/path`; an empty string is
    /// `$RRAS_ADMIN_SOCKET` or the default socket.
    pub fn parse(s: &str) -> Result<Self, ClientError> {
        if s.is_empty() {
            let path = std::env::var("RRAS_ADMIN_SOCKET").unwrap_or_else(|_| DEFAULT_SOCKET.into());
            return Ok(ServerAddr::Unix(path.into()));
        }
        if let Some(p) = s.strip_prefix("unix:") {
            return Ok(ServerAddr::Unix(p.into()));
        }
        if s.starts_with('/') || s.starts_with('.') {
            return Ok(ServerAddr::Unix(s.into()));
        }
        // HOST:PORT over TLS arrives with the security work; until then a
        // network name is a binding we cannot use.
        Err(ClientError::Status(Win32Error::RpcInvalidBinding.code()))
    }
}

/// One page of an enumeration.
#[derive(Debug, Clone)]
pub struct EnumPage {
    /// Entries of this page.
    pub entries: Vec<Connection>,
    /// Entries from the position of this call on.
    pub total_entries: u32,
    /// Handle for the next call; 0 when complete.
    pub resume_handle: u32,
    /// NO_ERROR or ERROR_MORE_DATA.
    pub status: u32,
}

/// Server facts for `rasctl server`.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// rrasd version.
    pub version: String,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Live connections.
    pub total_connections: u64,
    /// Live connections per engine name.
    pub per_engine: Vec<(String, u64)>,
    /// starting / running / stopping.
    pub state: String,
    /// Open resume cursors.
    pub open_cursors: u64,
}

/// An admin session with rrasd (`MprAdminServerConnect`).
#[derive(Debug, Clone)]
pub struct AdminClient {
    rpc: RrasAdminClient<Channel>,
    session_id: u64,
}

fn check(status: u32) -> Result<(), ClientError> {
    if status == Win32Error::NoError.code() || status == Win32Error::MoreData.code() {
        Ok(())
    } else {
        Err(ClientError::Status(status))
    }
}

/// Opens the transport only (no session): for IsServiceRunning and tests.
pub async fn connect_channel(addr: &ServerAddr) -> Result<RrasAdminClient<Channel>, ClientError> {
    Ok(RrasAdminClient::new(channel(addr).await?).max_decoding_message_size(MAX_REPLY_BYTES))
}

/// The raw gRPC channel to the server (tests of unknown methods).
pub async fn channel(addr: &ServerAddr) -> Result<Channel, ClientError> {
    let ServerAddr::Unix(path) = addr.clone();
    // Probe first so the error says exactly why (absent, refused, denied).
    tokio::net::UnixStream::connect(&path)
        .await
        .map_err(ClientError::from_connect)?;
    let endpoint = Endpoint::try_from("http://rrasd.invalid").map_err(|e| ClientError::Transport(e.to_string()))?;
    let channel = endpoint
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move { tokio::net::UnixStream::connect(path).await.map(TokioIo::new) }
        }))
        .await
        .map_err(|e| ClientError::Transport(e.to_string()))?;
    Ok(channel)
}

impl AdminClient {
    /// Connects and opens a session.
    pub async fn connect(addr: &str) -> Result<Self, ClientError> {
        Self::connect_addr(&ServerAddr::parse(addr)?).await
    }

    /// Connects to a parsed address and opens a session.
    pub async fn connect_addr(addr: &ServerAddr) -> Result<Self, ClientError> {
        let mut rpc = connect_channel(addr).await?;
        let reply = rpc
            .server_connect(pb::ServerConnectRequest {
                client_name: format!("rras-client/{}", env!("CARGO_PKG_VERSION")),
            })
            .await?
            .into_inner();
        check(reply.status)?;
        Ok(AdminClient {
            rpc,
            session_id: reply.session_id,
        })
    }

    /// The session id (for tests of foreign-session handling).
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// A copy of this client bound to another session id (tests).
    pub fn with_session_id(&self, session_id: u64) -> Self {
        AdminClient {
            rpc: self.rpc.clone(),
            session_id,
        }
    }

    fn rpc(&self) -> RrasAdminClient<Channel> {
        self.rpc.clone()
    }

    /// Closes the session; its cursors are freed on the server.
    pub async fn disconnect_session(&self) -> Result<(), ClientError> {
        let r = self
            .rpc()
            .server_disconnect(pb::SessionRequest {
                session_id: self.session_id,
            })
            .await?;
        check(r.into_inner().status)
    }

    /// (running, state name).
    pub async fn is_service_running(&self) -> Result<(bool, String), ClientError> {
        let r = self.rpc().is_service_running(pb::Empty {}).await?.into_inner();
        check(r.status)?;
        Ok((r.running, r.state))
    }

    /// Server facts.
    pub async fn server_info(&self) -> Result<ServerInfo, ClientError> {
        let r = self
            .rpc()
            .server_get_info(pb::SessionRequest {
                session_id: self.session_id,
            })
            .await?
            .into_inner();
        check(r.status)?;
        Ok(ServerInfo {
            version: r.version,
            uptime_secs: r.uptime_secs,
            total_connections: r.total_connections,
            per_engine: r.per_engine.into_iter().map(|e| (e.engine, e.connections)).collect(),
            state: r.state,
            open_cursors: r.open_cursors,
        })
    }

    /// One `MprAdminConnectionEnumEx` call with an explicit header.
    pub async fn enum_page_raw(
        &self,
        header: (u32, u32, u32),
        pref_max_len: u32,
        resume_handle: u32,
    ) -> Result<EnumPage, ClientError> {
        let r = self
            .rpc()
            .connection_enum_ex(pb::EnumRequest {
                session_id: self.session_id,
                header_revision: header.0,
                header_type: header.1,
                header_size: header.2,
                pref_max_len,
                resume_handle,
            })
            .await?
            .into_inner();
        check(r.status)?;
        let entries = r
            .entries
            .iter()
            .map(connection_from_pb)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(EnumPage {
            entries,
            total_entries: r.total_entries,
            resume_handle: r.resume_handle,
            status: r.status,
        })
    }

    /// One page of RAS_CONNECTION_EX-sized entries.
    pub async fn enum_page(&self, pref_max_len: u32, resume_handle: u32) -> Result<EnumPage, ClientError> {
        self.enum_page_raw((1, 1, RAS_CONNECTION_EX_SIZE), pref_max_len, resume_handle)
            .await
    }

    /// Every connection, paged `page_entries` at a time; `progress` is called
    /// after each page with (seen, seen + remaining).
    pub async fn connections_with(
        &self,
        page_entries: u32,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<Connection>, ClientError> {
        let pref = page_entries
            .saturating_sub(1)
            .max(1)
            .saturating_mul(RAS_CONNECTION_EX_SIZE);
        let mut out = Vec::new();
        let mut resume = 0;
        loop {
            let page = self.enum_page(pref, resume).await?;
            let remaining_after = page.total_entries as usize - page.entries.len().min(page.total_entries as usize);
            out.extend(page.entries);
            progress(out.len(), out.len() + remaining_after);
            if page.resume_handle == 0 {
                return Ok(out);
            }
            resume = page.resume_handle;
        }
    }

    /// Every connection (pages of 1000).
    pub async fn connections(&self) -> Result<Vec<Connection>, ClientError> {
        self.connections_with(1000, |_, _| {}).await
    }

    /// `MprAdminConnectionGetInfoEx`.
    pub async fn connection(&self, handle: u32) -> Result<Connection, ClientError> {
        let r = self
            .rpc()
            .connection_get_info_ex(pb::ConnectionRequest {
                session_id: self.session_id,
                connection_handle: handle,
            })
            .await?
            .into_inner();
        check(r.status)?;
        let c = r
            .connection
            .ok_or_else(|| ClientError::Protocol("reply without connection".into()))?;
        connection_from_pb(&c).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// `MprAdminConnectionClearStats`.
    pub async fn clear_stats(&self, handle: u32) -> Result<(), ClientError> {
        let r = self
            .rpc()
            .connection_clear_stats(pb::ConnectionRequest {
                session_id: self.session_id,
                connection_handle: handle,
            })
            .await?;
        check(r.into_inner().status)
    }

    /// Hangs a connection up through its engine.
    pub async fn disconnect(&self, handle: u32) -> Result<(), ClientError> {
        let r = self
            .rpc()
            .connection_disconnect(pb::ConnectionRequest {
                session_id: self.session_id,
                connection_handle: handle,
            })
            .await?;
        check(r.into_inner().status)
    }

    /// `MprAdminGetErrorString`.
    pub async fn error_string(&self, code: u32) -> Result<String, ClientError> {
        let r = self
            .rpc()
            .get_error_string(pb::ErrorStringRequest { code })
            .await?
            .into_inner();
        check(r.status)?;
        Ok(r.message)
    }

    /// Ended connections, newest first.
    pub async fn history(&self, limit: u32) -> Result<Vec<EndedConnection>, ClientError> {
        let r = self
            .rpc()
            .history_enum(pb::HistoryRequest {
                session_id: self.session_id,
                limit,
            })
            .await?
            .into_inner();
        check(r.status)?;
        r.entries
            .iter()
            .map(|e| ended_from_pb(e).map_err(|e| ClientError::Protocol(e.to_string())))
            .collect()
    }

    /// Sends reports; acknowledged once durable. Each report's own outcome
    /// is Ok(handle) or Err(code).
    pub async fn report(&self, reports: Vec<pb::Report>) -> Result<Vec<Result<u32, u32>>, ClientError> {
        let r = self.rpc().report(pb::ReportBatch { reports }).await?.into_inner();
        check(r.status)?;
        Ok(r.handles
            .iter()
            .zip(&r.statuses)
            .map(|(h, s)| if *s == 0 { Ok(*h) } else { Err(*s) })
            .collect())
    }
}

/// A Started report for `info`.
pub fn started(info: &rras_core::ConnectionInfo) -> pb::Report {
    pb::Report {
        kind: pb::ReportKind::Started as i32,
        connection: Some(rras_proto::convert::info_to_pb(info, SystemTime::now())),
        end_reason: String::new(),
    }
}

/// An Updated report (counters) for the session `key`.
pub fn updated(key: &rras_core::SourceKey, stats: &rras_core::ConnectionStats) -> pb::Report {
    pb::Report {
        kind: pb::ReportKind::Updated as i32,
        connection: Some(pb::Connection {
            source: Some(rras_proto::convert::source_to_pb(key)),
            stats: Some(stats.into()),
            ..Default::default()
        }),
        end_reason: String::new(),
    }
}

/// An Ended report for the session `key`.
pub fn ended(key: &rras_core::SourceKey, reason: &str) -> pb::Report {
    pb::Report {
        kind: pb::ReportKind::Ended as i32,
        connection: Some(pb::Connection {
            source: Some(rras_proto::convert::source_to_pb(key)),
            ..Default::default()
        }),
        end_reason: reason.into(),
    }
}
