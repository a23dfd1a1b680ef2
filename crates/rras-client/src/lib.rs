//! Client for the rrasd admin RPC.
//!
//! [`AdminClient`] is async and cheap to share (`&self` methods, the channel
//! multiplexes); [`BlockingClient`] wraps it for synchronous callers such as
//! libmprapi. Every failure is a [`ClientError`] with the Win32 code the
//! Windows API would return.

#![deny(missing_docs)]

mod blocking;
mod error;
mod pager;
mod watch;

use std::path::PathBuf;
use std::time::SystemTime;

use hyper_util::rt::TokioIo;
use rras_core::port::Port;
use rras_core::{Connection, EndedConnection, Win32Error, RAS_CONNECTION_EX_SIZE};
use rras_proto::convert::{connection_from_pb, ended_from_pb, from_micros, port_from_pb};
use rras_proto::pb::{self, rras_admin_client::RrasAdminClient};
use tonic::transport::{Channel, Endpoint};

/// The fleet: many rrasd servers in one view on NATS JetStream (the
/// reader, fleet disconnect, connection options).
pub use rras_fleet as fleet;

pub use blocking::BlockingClient;
pub use error::ClientError;

/// One page of the accounting history ([`AdminClient::history_page`]).
#[derive(Debug, Clone, Default)]
pub struct HistoryPage {
    /// `(seq, entry)`, newest first.
    pub entries: Vec<(u64, EndedConnection)>,
    /// Live connections that match (first page, when asked).
    pub live: Vec<Connection>,
    /// Where the next page starts; None after the last.
    pub next: Option<u64>,
}
pub use pager::ConnectionPager;
pub use watch::{Change, ChangeStream, FeedMessage, WatchEvent, WatchFilter, Watcher};

/// Where the admin socket is when nothing else is said.
pub const DEFAULT_SOCKET: &str = "/run/rrasd/admin.sock";
/// TCP port of the TLS admin listener when a server name has none.
pub const DEFAULT_TLS_PORT: u16 = 8443;
/// Largest reply the client accepts (a full enumeration with -1).
const MAX_REPLY_BYTES: usize = 1024 * 1024 * 1024;

/// A server address: `unix:PATH`, a socket path, or `HOST[:PORT]` (TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAddr {
    /// A Unix socket.
    Unix(PathBuf),
    /// A remote rrasd over TLS.
    Tls {
        /// Host name or IP (also the name the server certificate must carry).
        host: String,
        /// TCP port.
        port: u16,
    },
}

/// Credentials and trust for TLS connections. [`TlsOptions::from_env`]
/// reads `RRAS_TLS_CA`, `RRAS_TLS_CERT`, `RRAS_TLS_KEY` and `RRAS_TOKEN_FILE`
/// (or `RRAS_TOKEN`), which is how libmprapi is configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// CA certificate(s) that sign the server certificate (PEM).
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM), for certificate authentication.
    pub cert: Option<PathBuf>,
    /// Client key (PEM).
    pub key: Option<PathBuf>,
    /// Bearer token, for token authentication.
    pub token: Option<String>,
}

impl TlsOptions {
    /// The options the environment gives.
    pub fn from_env() -> Result<Self, ClientError> {
        let path = |k: &str| std::env::var_os(k).map(PathBuf::from);
        let token = match (std::env::var("RRAS_TOKEN").ok(), path("RRAS_TOKEN_FILE")) {
            (Some(t), _) => Some(t),
            (None, Some(file)) => Some(read_token_file(&file)?),
            (None, None) => None,
        };
        Ok(TlsOptions {
            ca: path("RRAS_TLS_CA"),
            cert: path("RRAS_TLS_CERT"),
            key: path("RRAS_TLS_KEY"),
            token,
        })
    }
}

/// The token in a file (first line, trimmed).
pub fn read_token_file(path: &std::path::Path) -> Result<String, ClientError> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().next().unwrap_or_default().trim().to_owned())
        .map_err(|e| ClientError::Denied(format!("token file {}: {e}", path.display())))
}

/// Adds `authorization: Bearer …` to every call when a token is set.
#[derive(Debug, Clone, Default)]
pub struct BearerToken(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            request.metadata_mut().insert("authorization", v.clone());
        }
        Ok(request)
    }
}

/// The generated client with the token interceptor.
pub type Rpc = RrasAdminClient<tonic::service::interceptor::InterceptedService<Channel, BearerToken>>;

impl ServerAddr {
    /// Parses `unix:PATH`, `/abs/path` or `./rel/path`; an empty string is
    /// `$RRAS_ADMIN_SOCKET` or the default socket.
    pub fn parse(s: &str) -> Result<Self, ClientError> {
        if s.is_empty() {
            let path = std::env::var("RRAS_ADMIN_SOCKET").unwrap_or_else(|_| DEFAULT_SOCKET.into());
            let path = path.strip_prefix("unix:").unwrap_or(&path);
            return Ok(ServerAddr::Unix(path.into()));
        }
        if let Some(p) = s.strip_prefix("unix:") {
            return Ok(ServerAddr::Unix(p.into()));
        }
        if s.starts_with('/') || s.starts_with('.') {
            return Ok(ServerAddr::Unix(s.into()));
        }
        // Windows callers may write \\server.
        let s = s.trim_start_matches('\\');
        let bad = || ClientError::Status(Win32Error::RpcInvalidBinding.code());
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, rest) = rest.split_once(']').ok_or_else(bad)?;
            let port = match rest.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if rest.is_empty() => DEFAULT_TLS_PORT,
                None => return Err(bad()),
            };
            (host.to_owned(), port)
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_owned(), p.parse().map_err(|_| bad())?),
                Some(_) => (s.to_owned(), DEFAULT_TLS_PORT), // a bare IPv6 address
                None => (s.to_owned(), DEFAULT_TLS_PORT),
            }
        };
        let valid = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
        if !valid || port == 0 {
            return Err(bad());
        }
        Ok(ServerAddr::Tls { host, port })
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

/// One window of the live connections ([`AdminClient::window`]).
#[derive(Debug, Clone)]
pub struct ConnectionWindow {
    /// Live connections.
    pub total: u64,
    /// Those the filter and search let through.
    pub matching: u64,
    /// The window, in order.
    pub connections: Vec<Connection>,
    /// The change-feed revision it reflects at least.
    pub revision: u64,
}

/// One page of a port enumeration (`MprAdminPortEnum`).
#[derive(Debug, Clone)]
pub struct PortPage {
    /// Ports of this page, both levels each.
    pub ports: Vec<Port>,
    /// Entries from the position of this call on.
    pub total_entries: u32,
    /// Handle for the next call; 0 when complete.
    pub resume_handle: u32,
    /// NO_ERROR or ERROR_MORE_DATA.
    pub status: u32,
}

/// One page read as records: its facts, then its records chunk by chunk.
#[derive(Debug)]
pub struct RecordPage {
    /// NO_ERROR or ERROR_MORE_DATA.
    pub status: u32,
    /// Entries from the position of this call on.
    pub total_entries: u32,
    /// Handle for the next call; 0 when complete.
    pub resume_handle: u32,
    /// Entries this page carries (over all chunks).
    pub page_entries: u32,
    /// The server's clock when it read the page (for `dwConnectDuration`).
    pub server_now: SystemTime,
    /// The change-feed revision the page reflects: watch from it
    /// ([`AdminClient::watch_from`]) to follow the listing.
    pub revision: u64,
    first: Option<bytes::Bytes>,
    stream: tonic::Streaming<pb::RecordChunk>,
}

impl RecordPage {
    /// The next chunk of framed records ([`rras_core::record::RecordFrames`]
    /// splits it), or `None` at the end of the page.
    pub async fn next_chunk(&mut self) -> Option<Result<bytes::Bytes, ClientError>> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        match self.stream.message().await {
            Ok(Some(chunk)) => Some(Ok(chunk.records)),
            Ok(None) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// Decodes every record of the page into one reused connection and
    /// hands it to `each`; checks the count the server announced.
    pub async fn for_each_record(&mut self, mut each: impl FnMut(&Connection)) -> Result<usize, ClientError> {
        let mut scratch = rras_core::record::empty_connection();
        let mut n = 0usize;
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk?;
            for frame in rras_core::record::RecordFrames::new(&chunk) {
                let frame = frame.map_err(|e| ClientError::Protocol(e.to_string()))?;
                rras_core::record::decode_into(frame, &mut scratch)
                    .map_err(|e| ClientError::Protocol(e.to_string()))?;
                n += 1;
                if n > self.page_entries as usize {
                    return Err(ClientError::Protocol("more records than the page announced".into()));
                }
                each(&scratch);
            }
        }
        if n != self.page_entries as usize {
            return Err(ClientError::Protocol(format!(
                "page announced {} records, carried {n}",
                self.page_entries
            )));
        }
        Ok(n)
    }
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
    /// The node's persistent identity (GUID text).
    pub node_id: String,
    /// Health of every configured source instance.
    pub sources: Vec<SourceHealth>,
}

/// One source instance's health.
#[derive(Debug, Clone)]
pub struct SourceHealth {
    /// Engine kind (radius, wireguard, openvpn …).
    pub kind: String,
    /// Instance name.
    pub name: String,
    /// starting / ok / degraded / unreachable.
    pub state: String,
    /// Last successful read of the engine.
    pub last_ok: Option<std::time::SystemTime>,
    /// Last error text ("" when none).
    pub last_error: String,
    /// When the last error happened.
    pub last_error_at: Option<std::time::SystemTime>,
    /// Live sessions the instance owns.
    pub sessions: u64,
    /// Restarts after failures.
    pub restarts: u32,
}

/// An admin session with rrasd (`MprAdminServerConnect`).
#[derive(Debug, Clone)]
pub struct AdminClient {
    rpc: Rpc,
    session_id: u64,
}

fn check(status: u32) -> Result<(), ClientError> {
    if status == Win32Error::NoError.code() || status == Win32Error::MoreData.code() {
        Ok(())
    } else {
        Err(ClientError::Status(status))
    }
}

/// Opens the transport only (no session), with TLS options from the
/// environment: for IsServiceRunning and tests.
pub async fn connect_channel(addr: &ServerAddr) -> Result<Rpc, ClientError> {
    connect_with(addr, &TlsOptions::from_env()?).await
}

/// Opens the transport with explicit TLS options.
pub async fn connect_with(addr: &ServerAddr, tls: &TlsOptions) -> Result<Rpc, ClientError> {
    let token = match &tls.token {
        Some(t) => Some(
            format!("Bearer {t}")
                .parse()
                .map_err(|_| ClientError::Denied("the token has characters a header cannot carry".into()))?,
        ),
        None => None,
    };
    let channel = channel_with(addr, tls).await?;
    Ok(RrasAdminClient::with_interceptor(channel, BearerToken(token)).max_decoding_message_size(MAX_REPLY_BYTES))
}

/// The raw gRPC channel to the server (tests of unknown methods).
pub async fn channel(addr: &ServerAddr) -> Result<Channel, ClientError> {
    channel_with(addr, &TlsOptions::from_env()?).await
}

fn read_pem(what: &str, path: &std::path::Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::Denied(format!("{what} {}: {e}", path.display())))
}

async fn channel_with(addr: &ServerAddr, tls: &TlsOptions) -> Result<Channel, ClientError> {
    match addr {
        ServerAddr::Unix(path) => {
            let path = path.clone();
            // Probe first so the error says exactly why (absent, refused, denied).
            tokio::net::UnixStream::connect(&path)
                .await
                .map_err(|e| ClientError::from_connect(&path, e))?;
            let endpoint = with_windows(
                Endpoint::try_from("http://rrasd.invalid").map_err(|e| ClientError::Transport(e.to_string()))?,
            );
            endpoint
                .connect_with_connector(tower::service_fn(move |_| {
                    let path = path.clone();
                    async move { rras_proto::QuietUnixStream::connect(path).await.map(TokioIo::new) }
                }))
                .await
                .map_err(|e| ClientError::Transport(e.to_string()))
        }
        ServerAddr::Tls { host, port } => {
            use tonic::transport::{Certificate, ClientTlsConfig, Identity};
            let mut config = ClientTlsConfig::new().domain_name(host.clone());
            if let Some(ca) = &tls.ca {
                config = config.ca_certificate(Certificate::from_pem(read_pem("CA", ca)?));
            }
            if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
                config = config.identity(Identity::from_pem(
                    read_pem("certificate", cert)?,
                    read_pem("key", key)?,
                ));
            }
            let uri = if host.contains(':') {
                format!("https://[{host}]:{port}")
            } else {
                format!("https://{host}:{port}")
            };
            with_windows(
                Endpoint::from_shared(uri).map_err(|_| ClientError::Status(Win32Error::RpcInvalidBinding.code()))?,
            )
            .tls_config(config)
            .map_err(|e| ClientError::Denied(e.to_string()))?
            .connect_timeout(std::time::Duration::from_secs(10))
            .connect()
            .await
            .map_err(|e| ClientError::Unavailable(format!("{e}: {}", source_chain(&e))))
        }
    }
}

/// The admin RPC's HTTP/2 windows and frame size, the same on every
/// transport.
fn with_windows(endpoint: Endpoint) -> Endpoint {
    endpoint
        .initial_stream_window_size(rras_proto::H2_STREAM_WINDOW)
        .initial_connection_window_size(rras_proto::H2_CONNECTION_WINDOW)
        .max_frame_size(rras_proto::H2_MAX_FRAME)
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(&s.to_string());
        out.push_str("; ");
        cur = s.source();
    }
    out
}

impl AdminClient {
    /// Connects and opens a session.
    pub async fn connect(addr: &str) -> Result<Self, ClientError> {
        Self::connect_addr(&ServerAddr::parse(addr)?).await
    }

    /// Connects to a parsed address (TLS options from the environment) and
    /// opens a session.
    pub async fn connect_addr(addr: &ServerAddr) -> Result<Self, ClientError> {
        Self::connect_addr_with(addr, &TlsOptions::from_env()?).await
    }

    /// Connects with explicit TLS options and opens a session.
    pub async fn connect_addr_with(addr: &ServerAddr, tls: &TlsOptions) -> Result<Self, ClientError> {
        let mut rpc = connect_with(addr, tls).await?;
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

    fn rpc(&self) -> Rpc {
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
            node_id: r.node_id,
            sources: r
                .sources
                .into_iter()
                .map(|h| SourceHealth {
                    kind: h.kind,
                    name: h.name,
                    state: h.state,
                    last_ok: (h.last_ok_unix_micros != 0).then(|| from_micros(h.last_ok_unix_micros)),
                    last_error: h.last_error,
                    last_error_at: (h.last_error_unix_micros != 0).then(|| from_micros(h.last_error_unix_micros)),
                    sessions: h.sessions,
                    restarts: h.restarts,
                })
                .collect(),
        })
    }

    /// One `MprAdminConnectionEnumEx` call with an explicit header, its
    /// entries as records arriving in chunks (the fast path: nothing is
    /// decoded until the caller decodes it).
    pub async fn enum_records(
        &self,
        header: (u32, u32, u32),
        pref_max_len: u32,
        resume_handle: u32,
    ) -> Result<RecordPage, ClientError> {
        let mut stream = self
            .rpc()
            .connection_enum_records(pb::EnumRequest {
                session_id: self.session_id,
                header_revision: header.0,
                header_type: header.1,
                header_size: header.2,
                pref_max_len,
                resume_handle,
            })
            .await?
            .into_inner();
        let head = stream
            .message()
            .await?
            .ok_or_else(|| ClientError::Protocol("enumeration reply without a first message".into()))?;
        check(head.status)?;
        Ok(RecordPage {
            status: head.status,
            total_entries: head.total_entries,
            resume_handle: head.resume_handle,
            page_entries: head.page_entries,
            // A clock past SystemTime's range is a broken server, not a time.
            server_now: SystemTime::UNIX_EPOCH
                .checked_add(std::time::Duration::from_micros(head.now_unix_micros))
                .ok_or_else(|| ClientError::Protocol("server clock out of range".into()))?,
            revision: head.revision,
            first: Some(head.records),
            stream,
        })
    }

    /// One `MprAdminConnectionEnumEx` call with an explicit header, decoded.
    pub async fn enum_page_raw(
        &self,
        header: (u32, u32, u32),
        pref_max_len: u32,
        resume_handle: u32,
    ) -> Result<EnumPage, ClientError> {
        let mut page = self.enum_records(header, pref_max_len, resume_handle).await?;
        let mut entries = Vec::with_capacity(page.page_entries.min(1 << 20) as usize);
        page.for_each_record(|c| entries.push(c.clone())).await?;
        Ok(EnumPage {
            entries,
            total_entries: page.total_entries,
            resume_handle: page.resume_handle,
            status: page.status,
        })
    }

    /// Every connection, in one enumeration (pref_max_len = all) read as a
    /// stream: `each` sees one connection at a time and the list is never
    /// held whole, so a million connections cost the memory of one chunk.
    /// Returns how many there were.
    pub async fn for_each_connection(&self, each: impl FnMut(&Connection)) -> Result<usize, ClientError> {
        let mut page = self
            .enum_records((1, 1, RAS_CONNECTION_EX_SIZE), rras_core::PREF_MAX_ALL, 0)
            .await?;
        page.for_each_record(each).await
    }

    /// One page of RAS_CONNECTION_EX-sized entries.
    pub async fn enum_page(&self, pref_max_len: u32, resume_handle: u32) -> Result<EnumPage, ClientError> {
        self.enum_page_raw((1, 1, RAS_CONNECTION_EX_SIZE), pref_max_len, resume_handle)
            .await
    }

    /// A pager over all connections, `page_entries` per page.
    pub fn pager(&self, page_entries: u32) -> ConnectionPager<'_> {
        ConnectionPager::new(self, page_entries)
    }

    /// Every connection, paged `page_entries` at a time; `progress` is called
    /// after each page with (seen, seen + remaining).
    pub async fn connections_with(
        &self,
        page_entries: u32,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<Connection>, ClientError> {
        let mut pager = self.pager(page_entries);
        let mut out = Vec::new();
        while let Some(page) = pager.next_page().await {
            out.extend(page?);
            progress(out.len(), out.len() + pager.remaining().unwrap_or(0) as usize);
        }
        Ok(out)
    }

    /// Every connection (pages of 1000).
    pub async fn connections(&self) -> Result<Vec<Connection>, ClientError> {
        self.connections_with(1000, |_, _| {}).await
    }

    /// One window of the live connections: `request`'s filter, search,
    /// column and offset, answered from the daemon's indexes (the console's
    /// list; `rasctl connections --sort`). The session id is filled in. Not
    /// a cursor: under churn rows can shift between windows.
    pub async fn window(&self, mut request: pb::WindowRequest) -> Result<ConnectionWindow, ClientError> {
        request.session_id = self.session_id;
        let r = self.rpc().connection_window(request).await?.into_inner();
        check(r.status)?;
        let connections = r
            .records
            .iter()
            .map(|bytes| {
                rras_core::Record::from_bytes(bytes)
                    .map(|record| record.decode())
                    .map_err(|e| ClientError::Protocol(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ConnectionWindow {
            total: r.total,
            matching: r.matching,
            connections,
            revision: r.revision,
        })
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

    /// One `MprAdminPortEnum` call: ports sized as `RAS_PORT_0`, paged under
    /// the connection rules. `connection` 0: every port; else only the port
    /// of that connection (ERROR_INVALID_HANDLE if it is gone).
    pub async fn port_page(
        &self,
        pref_max_len: u32,
        resume_handle: u32,
        connection: u32,
    ) -> Result<PortPage, ClientError> {
        let r = self
            .rpc()
            .port_enum(pb::PortEnumRequest {
                session_id: self.session_id,
                pref_max_len,
                resume_handle,
                connection_handle: connection,
            })
            .await?
            .into_inner();
        check(r.status)?;
        Ok(PortPage {
            ports: r.ports.iter().map(port_from_pb).collect(),
            total_entries: r.total_entries,
            resume_handle: r.resume_handle,
            status: r.status,
        })
    }

    /// Every port, paged `page_entries` at a time (each page is one
    /// `PortEnum` call; each port seen exactly once, as for connections).
    pub async fn ports_with(&self, page_entries: u32) -> Result<Vec<Port>, ClientError> {
        let pref = page_entries.max(1).saturating_mul(rras_core::paging::RAS_PORT_0_SIZE);
        let mut out = Vec::new();
        let mut resume = 0;
        loop {
            let page = self.port_page(pref, resume, 0).await?;
            out.extend(page.ports);
            if page.resume_handle == 0 {
                return Ok(out);
            }
            resume = page.resume_handle;
        }
    }

    /// `MprAdminPortGetInfo`, both levels. An unknown port:
    /// ERROR_INVALID_PORT_HANDLE.
    pub async fn port(&self, handle: u32) -> Result<Port, ClientError> {
        let r = self
            .rpc()
            .port_get_info(pb::PortRequest {
                session_id: self.session_id,
                port_handle: handle,
            })
            .await?
            .into_inner();
        check(r.status)?;
        let p = r
            .port
            .ok_or_else(|| ClientError::Protocol("reply without port".into()))?;
        Ok(port_from_pb(&p))
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
                ..Default::default()
            })
            .await?
            .into_inner();
        check(r.status)?;
        r.entries
            .iter()
            .map(|e| ended_from_pb(e).map_err(|e| ClientError::Protocol(e.to_string())))
            .collect()
    }

    /// One page of the accounting history matching `query`, newest first:
    /// below `before` (a previous page's `next`; None for the newest), at
    /// most `limit` entries, and with `include_live` on the first page the
    /// live connections that match too. Following `next` until it is None
    /// returns every entry that was there throughout exactly once.
    pub async fn history_page(
        &self,
        query: &rras_core::HistoryQuery,
        before: Option<u64>,
        limit: u32,
        include_live: bool,
    ) -> Result<HistoryPage, ClientError> {
        let r = self
            .rpc()
            .history_enum(pb::HistoryRequest {
                session_id: self.session_id,
                limit,
                before_seq: before.unwrap_or(0),
                include_live,
                ..rras_proto::convert::history_query_to_pb(query)
            })
            .await?
            .into_inner();
        check(r.status)?;
        let bad = |e: rras_proto::ProtoError| ClientError::Protocol(e.to_string());
        Ok(HistoryPage {
            entries: r
                .entries
                .iter()
                .map(|e| ended_from_pb(e).map(|ended| (e.seq, ended)).map_err(bad))
                .collect::<Result<_, _>>()?,
            live: r
                .live
                .iter()
                .map(|c| connection_from_pb(c).map_err(bad))
                .collect::<Result<_, _>>()?,
            next: (r.next_before_seq != 0).then_some(r.next_before_seq),
        })
    }

    /// What `[from, to)` added up to (`to` None: until now), with the
    /// `top` users ranked by bytes, or by time with `by_time`.
    pub async fn usage(
        &self,
        from: SystemTime,
        to: Option<SystemTime>,
        top: u32,
        by_time: bool,
    ) -> Result<rras_core::usage::UsageReport, ClientError> {
        let r = self
            .rpc()
            .usage_report(pb::UsageRequest {
                session_id: self.session_id,
                from_unix_micros: rras_proto::convert::to_micros(from),
                to_unix_micros: to.map_or(0, rras_proto::convert::to_micros),
                top,
                top_by_time: by_time,
            })
            .await?
            .into_inner();
        check(r.status)?;
        rras_proto::convert::usage_from_pb(&r).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// The audit trail, newest first (admin role).
    pub async fn audit(&self, limit: u32) -> Result<Vec<rras_core::AuditRecord>, ClientError> {
        let r = self
            .rpc()
            .audit_enum(pb::AuditRequest {
                session_id: self.session_id,
                limit,
            })
            .await?
            .into_inner();
        check(r.status)?;
        Ok(r.entries.iter().map(rras_proto::convert::audit_from_pb).collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names() {
        assert_eq!(
            ServerAddr::parse("unix:/x.sock").unwrap(),
            ServerAddr::Unix("/x.sock".into())
        );
        assert_eq!(
            ServerAddr::parse("/run/a.sock").unwrap(),
            ServerAddr::Unix("/run/a.sock".into())
        );
        let tls = |h: &str, p| ServerAddr::Tls {
            host: h.into(),
            port: p,
        };
        assert_eq!(ServerAddr::parse("ras1").unwrap(), tls("ras1", DEFAULT_TLS_PORT));
        assert_eq!(ServerAddr::parse("\\\\ras1").unwrap(), tls("ras1", DEFAULT_TLS_PORT));
        assert_eq!(ServerAddr::parse("127.0.0.1:9000").unwrap(), tls("127.0.0.1", 9000));
        assert_eq!(ServerAddr::parse("[::1]:9000").unwrap(), tls("::1", 9000));
        assert_eq!(ServerAddr::parse("::1").unwrap(), tls("::1", DEFAULT_TLS_PORT));
        for bad in ["ras1:x", "ras 1", "[::1", "host:0", "a/b"] {
            assert_eq!(ServerAddr::parse(bad).unwrap_err().code(), 1702, "{bad}");
        }
    }
}
