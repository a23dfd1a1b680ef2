//! The admin RPC service: one method per MPRAPI call. Each method
//! authenticates the caller, checks its role and the DDM state, does the
//! work, and replies with a Win32 status; internals go to the log, never to
//! the client.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rras_core::paging::{ENTRY_SIZES, RAS_PORT_0_SIZE};
use rras_core::record::push_frame;
use rras_core::{error::error_string, AuditRecord, ConnectionHandle, Page, Record, ResumeHandle, Win32Error};
use rras_proto::convert::{
    audit_to_pb, connection_to_pb, ended_to_pb, history_query_from_pb, port_to_pb, report_event, to_micros,
};
use rras_proto::pb::{self, rras_admin_server::RrasAdmin};
use tonic::{Request, Response, Status};

use crate::auth::{Caller, Role, SharedAuthorizer};
use crate::inflight::InflightLimiter;
use crate::manager::ConnectionManager;
use crate::metrics::Metrics;
use crate::sessions::SessionRegistry;

/// Most entries one HistoryEnum or AuditEnum reply carries.
const HISTORY_MAX: usize = 10_000;
/// The longest period a usage report covers, in days.
const USAGE_MAX_DAYS: u64 = 3_660;

/// Methods whose every call is audited (besides every denied call).
const AUDITED: [&str; 2] = ["ConnectionClearStats", "ConnectionDisconnect"];

/// What an audit record names as the target of a request.
trait AuditTarget {
    fn audit_target(&self) -> String {
        String::new()
    }
}

impl AuditTarget for pb::ConnectionRequest {
    fn audit_target(&self) -> String {
        self.connection_handle.to_string()
    }
}

impl AuditTarget for pb::EnumRequest {
    fn audit_target(&self) -> String {
        format!("resume={}", self.resume_handle)
    }
}

impl AuditTarget for pb::PortEnumRequest {
    fn audit_target(&self) -> String {
        format!("resume={} connection={}", self.resume_handle, self.connection_handle)
    }
}

impl AuditTarget for pb::PortRequest {
    fn audit_target(&self) -> String {
        self.port_handle.to_string()
    }
}

macro_rules! no_target {
    ($($t:ty),*) => {$( impl AuditTarget for $t {} )*};
}
no_target!(
    pb::ServerConnectRequest,
    pb::SessionRequest,
    pb::Empty,
    pb::ErrorStringRequest,
    pb::HistoryRequest,
    pb::UsageRequest,
    pb::ReportBatch,
    pb::AuditRequest
);

impl AuditTarget for pb::WindowRequest {
    fn audit_target(&self) -> String {
        format!(
            "sort={} offset={}",
            rras_core::display::escape(&self.sort.chars().take(32).collect::<String>()),
            self.offset
        )
    }
}

impl AuditTarget for pb::WatchRequest {
    fn audit_target(&self) -> String {
        format!("from={}", self.from_revision)
    }
}

/// The tonic service behind the admin socket.
#[derive(Debug, Clone)]
pub struct AdminService {
    manager: Arc<ConnectionManager>,
    sessions: Arc<SessionRegistry>,
    auth: SharedAuthorizer,
    metrics: Arc<Metrics>,
    inflight: InflightLimiter,
    /// Where windows the indexes cannot answer are scanned (not on the
    /// admin thread).
    scans: Arc<crate::scans::ScanPool>,
}

/// Reply messages whose first field is a Win32 status.
trait StatusReply: Default {
    fn set_status(&mut self, status: u32);
    fn status(&self) -> u32;
}

macro_rules! status_reply {
    ($($t:ty),*) => {$(
        impl StatusReply for $t {
            fn set_status(&mut self, status: u32) { self.status = status; }
            fn status(&self) -> u32 { self.status }
        }
    )*};
}
status_reply!(
    pb::ServerConnectReply,
    pb::StatusReply,
    pb::ServiceStateReply,
    pb::ServerInfoReply,
    pb::EnumReply,
    pb::ConnectionReply,
    pb::PortEnumReply,
    pb::PortReply,
    pb::ErrorStringReply,
    pb::HistoryReply,
    pb::UsageReply,
    pb::ReportReply,
    pb::AuditReply,
    pb::WindowReply
);

/// Most rows one window may ask for.
pub const MAX_WINDOW: u32 = 10_000;

/// A window request, checked: an unknown column or engine, or a limit
/// beyond [`MAX_WINDOW`], is ERROR_INVALID_PARAMETER.
fn window_query(r: &pb::WindowRequest) -> Result<rras_core::WindowQuery, Win32Error> {
    let sort = match r.sort.as_str() {
        "" => rras_core::Column::Handle,
        name => rras_core::Column::parse(name).ok_or(Win32Error::InvalidParameter)?,
    };
    let limit = match r.limit {
        0 => 100,
        n if n <= MAX_WINDOW => n as usize,
        _ => return Err(Win32Error::InvalidParameter),
    };
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let engine = match r.engine.as_str() {
        "" => None,
        e => Some(
            e.parse::<rras_core::EngineKind>()
                .map_err(|_| Win32Error::InvalidParameter)?,
        ),
    };
    if r.text.len() > 1024 || [&r.user, &r.instance, &r.interface].iter().any(|s| s.len() > 1024) {
        return Err(Win32Error::InvalidParameter);
    }
    Ok(rras_core::WindowQuery {
        sort,
        descending: r.descending,
        offset: usize::try_from(r.offset).unwrap_or(usize::MAX),
        limit,
        filter: rras_core::ConnectionFilter {
            user: text(&r.user),
            engine,
            instance: text(&r.instance),
            interface: text(&r.interface),
        },
        text: r.text.clone(),
    })
}

fn handle(raw: u32) -> Result<ConnectionHandle, Win32Error> {
    // A zero or unknown connection handle is ERROR_INVALID_HANDLE, as Windows.
    ConnectionHandle::new(raw).ok_or(Win32Error::InvalidHandle)
}

impl AdminService {
    /// A service over the manager.
    pub fn new(
        manager: Arc<ConnectionManager>,
        sessions: Arc<SessionRegistry>,
        auth: SharedAuthorizer,
        metrics: Arc<Metrics>,
        inflight: InflightLimiter,
    ) -> Self {
        AdminService {
            manager,
            sessions,
            auth,
            metrics,
            inflight,
            scans: Arc::new(crate::scans::ScanPool::for_this_machine()),
        }
    }

    /// Runs `work` for an authorised caller and turns the outcome into a reply.
    /// State-changing admin calls and every denied call go to the audit
    /// trail (source reports are engine events, not admin actions).
    async fn call<Q, R, F, Fut>(&self, method: &'static str, role: Role, request: Request<Q>, work: F) -> Response<R>
    where
        Q: AuditTarget,
        R: StatusReply,
        F: FnOnce(Caller, Q) -> Fut,
        Fut: std::future::Future<Output = Result<R, Win32Error>>,
    {
        let started = Instant::now();
        let caller = self.auth.read().caller_of(&request);
        let target = request.get_ref().audit_target();
        let result = match caller
            .require(role)
            .and_then(|()| self.inflight.acquire(&caller.identity()))
        {
            Ok(_slot) => work(caller.clone(), request.into_inner()).await,
            Err(e) => Err(e),
        };
        let reply = result.unwrap_or_else(|e| {
            let mut r = R::default();
            r.set_status(e.code());
            r
        });
        let denied = reply.status() == Win32Error::AccessDenied.code();
        if denied {
            tracing::warn!(caller = %caller.identity(), method, "access denied");
        }
        if denied || AUDITED.contains(&method) {
            self.manager
                .audit(AuditRecord {
                    at: SystemTime::now(),
                    caller: caller.identity(),
                    method: method.into(),
                    target,
                    result: reply.status(),
                })
                .await;
        }
        self.metrics.rpc(method, reply.status(), started.elapsed());
        Response::new(reply)
    }

    /// One page of an enumeration, shared by both enumeration methods.
    /// The page and the change-feed revision it reflects (read first: every
    /// change up to it is in the table the page is read from).
    fn read_page(&self, caller: &Caller, r: &pb::EnumRequest) -> Result<(Page, u64), Win32Error> {
        let session = self.sessions.check(caller, r.session_id)?;
        if r.header_revision != 1 || r.header_type != 1 || !ENTRY_SIZES.contains(&r.header_size) {
            return Err(Win32Error::InvalidParameter);
        }
        self.manager.ensure_running()?;
        let revision = self.manager.feed().revision();
        let page = self.manager.table().enumerate(
            session,
            ResumeHandle::new(r.resume_handle),
            r.pref_max_len,
            r.header_size,
        )?;
        Ok((page, revision))
    }

    fn enum_page(&self, caller: &Caller, r: &pb::EnumRequest) -> Result<pb::EnumReply, Win32Error> {
        let (page, revision) = self.read_page(caller, r)?;
        let now = SystemTime::now();
        Ok(pb::EnumReply {
            status: page.status().code(),
            entries: page
                .entries
                .iter()
                .map(|r| connection_to_pb(&r.decode(), now))
                .collect(),
            total_entries: page.total_entries,
            resume_handle: page.next.map(|h| h.get()).unwrap_or(0),
            revision,
        })
    }
}

/// A page of records on its way out (the stream of ConnectionEnumRecords):
/// the first message's facts and the records still to be framed.
#[derive(Debug, Default)]
pub struct RecordPage {
    head: pb::RecordChunk,
    head_sent: bool,
    records: std::vec::IntoIter<Record>,
}

impl StatusReply for RecordPage {
    fn set_status(&mut self, status: u32) {
        self.head.status = status;
    }
    fn status(&self) -> u32 {
        self.head.status
    }
}

/// Bytes of records per message: large enough that per-message costs
/// vanish, small enough that neither side holds much at once.
const CHUNK_BYTES: usize = 1 << 20;

impl Iterator for RecordPage {
    type Item = Result<pb::RecordChunk, Status>;

    /// The next message: the head (with the first records) first, then
    /// chunks until the records run out. Framing happens here, as the
    /// transport asks for more, so a full listing is never one buffer.
    fn next(&mut self) -> Option<Self::Item> {
        if self.head_sent && self.records.len() == 0 {
            return None;
        }
        let mut chunk = if self.head_sent {
            pb::RecordChunk::default()
        } else {
            self.head_sent = true;
            std::mem::take(&mut self.head)
        };
        let mut bytes = Vec::with_capacity(CHUNK_BYTES.min(self.records.len() * 192) + 256);
        for record in self.records.by_ref() {
            push_frame(&mut bytes, &record);
            if bytes.len() >= CHUNK_BYTES {
                break;
            }
        }
        chunk.records = bytes.into();
        Some(Ok(chunk))
    }
}

/// The stream type of ConnectionEnumRecords.
pub type RecordStream = tokio_stream::Iter<RecordPage>;

/// A Watch call's outcome: its stream, or the status that refused it.
#[derive(Default)]
pub struct WatchReply {
    status: u32,
    stream: Option<crate::watch::WatchStream>,
}

impl std::fmt::Debug for WatchReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchReply")
            .field("status", &self.status)
            .field("stream", &self.stream.is_some())
            .finish()
    }
}

impl StatusReply for WatchReply {
    fn set_status(&mut self, status: u32) {
        self.status = status;
    }
    fn status(&self) -> u32 {
        self.status
    }
}

impl WatchReply {
    /// The stream: the feed, or one message with the refusal's status (a
    /// resync request when the revision cannot be served).
    fn into_stream(self) -> crate::watch::WatchStream {
        match self.stream {
            Some(stream) => stream,
            None => Box::pin(tokio_stream::iter([Ok(pb::WatchMessage {
                status: self.status,
                ..Default::default()
            })])),
        }
    }
}

#[tonic::async_trait]
impl RrasAdmin for AdminService {
    async fn server_connect(
        &self,
        request: Request<pb::ServerConnectRequest>,
    ) -> Result<Response<pb::ServerConnectReply>, Status> {
        Ok(self
            .call("ServerConnect", Role::Reader, request, |caller, r| async move {
                let (session, evicted) = self.sessions.open(&caller);
                for old in evicted {
                    self.manager.table().release_session(old);
                }
                tracing::debug!(caller = %caller.identity(), client = %r.client_name, "session opened");
                Ok(pb::ServerConnectReply {
                    status: 0,
                    session_id: session.0,
                })
            })
            .await)
    }

    async fn server_disconnect(
        &self,
        request: Request<pb::SessionRequest>,
    ) -> Result<Response<pb::StatusReply>, Status> {
        Ok(self
            .call("ServerDisconnect", Role::Reader, request, |caller, r| async move {
                let session = self.sessions.close(&caller, r.session_id)?;
                self.manager.table().release_session(session);
                Ok(pb::StatusReply { status: 0 })
            })
            .await)
    }

    async fn is_service_running(&self, request: Request<pb::Empty>) -> Result<Response<pb::ServiceStateReply>, Status> {
        Ok(self
            .call("IsServiceRunning", Role::Reader, request, |_, _| async move {
                let state = self.manager.state();
                Ok(pb::ServiceStateReply {
                    status: 0,
                    running: self.manager.ensure_running().is_ok(),
                    state: state.as_str().into(),
                })
            })
            .await)
    }

    async fn server_get_info(
        &self,
        request: Request<pb::SessionRequest>,
    ) -> Result<Response<pb::ServerInfoReply>, Status> {
        Ok(self
            .call("ServerGetInfo", Role::Reader, request, |caller, r| async move {
                self.sessions.check(&caller, r.session_id)?;
                let table = self.manager.table();
                Ok(pb::ServerInfoReply {
                    status: 0,
                    version: rras_core::VERSION.into(),
                    uptime_secs: self.manager.uptime().as_secs(),
                    total_connections: table.len() as u64,
                    per_engine: table
                        .counts_per_engine()
                        .into_iter()
                        .map(|(e, n)| pb::EngineCount {
                            engine: e.as_str().into(),
                            connections: n as u64,
                        })
                        .collect(),
                    state: self.manager.state().as_str().into(),
                    open_cursors: table.open_cursors() as u64,
                    node_id: self.manager.node_id().to_string(),
                    sources: self
                        .manager
                        .health()
                        .reports()
                        .into_iter()
                        .map(|h| pb::SourceHealth {
                            kind: h.id.kind().as_str().into(),
                            name: h.id.name().into(),
                            state: h.state.as_str().into(),
                            last_ok_unix_micros: h.last_ok.map_or(0, rras_proto::convert::to_micros),
                            last_error: h.last_error,
                            last_error_unix_micros: h.last_error_at.map_or(0, rras_proto::convert::to_micros),
                            sessions: table.count_instance(h.id.kind(), h.id.instance()) as u64,
                            restarts: h.restarts,
                        })
                        .collect(),
                })
            })
            .await)
    }

    async fn connection_enum_ex(&self, request: Request<pb::EnumRequest>) -> Result<Response<pb::EnumReply>, Status> {
        Ok(self
            .call("ConnectionEnumEx", Role::Reader, request, |caller, r| async move {
                self.enum_page(&caller, &r)
            })
            .await)
    }

    type ConnectionEnumRecordsStream = RecordStream;

    async fn connection_enum_records(
        &self,
        request: Request<pb::EnumRequest>,
    ) -> Result<Response<Self::ConnectionEnumRecordsStream>, Status> {
        let reply = self
            .call("ConnectionEnumRecords", Role::Reader, request, |caller, r| async move {
                let (page, revision) = self.read_page(&caller, &r)?;
                Ok(RecordPage {
                    head: pb::RecordChunk {
                        revision,
                        status: page.status().code(),
                        total_entries: page.total_entries,
                        resume_handle: page.next.map(|h| h.get()).unwrap_or(0),
                        page_entries: u32::try_from(page.entries.len()).unwrap_or(u32::MAX),
                        now_unix_micros: to_micros(SystemTime::now()),
                        records: Default::default(),
                    },
                    head_sent: false,
                    records: page.entries.into_iter(),
                })
            })
            .await;
        Ok(reply.map(tokio_stream::iter))
    }

    async fn connection_get_info_ex(
        &self,
        request: Request<pb::ConnectionRequest>,
    ) -> Result<Response<pb::ConnectionReply>, Status> {
        Ok(self
            .call("ConnectionGetInfoEx", Role::Reader, request, |caller, r| async move {
                self.sessions.check(&caller, r.session_id)?;
                self.manager.ensure_running()?;
                let c = self
                    .manager
                    .table()
                    .get(handle(r.connection_handle)?)
                    .ok_or(Win32Error::InvalidHandle)?;
                Ok(pb::ConnectionReply {
                    status: 0,
                    connection: Some(connection_to_pb(&c, SystemTime::now())),
                })
            })
            .await)
    }

    async fn connection_clear_stats(
        &self,
        request: Request<pb::ConnectionRequest>,
    ) -> Result<Response<pb::StatusReply>, Status> {
        Ok(self
            .call("ConnectionClearStats", Role::Admin, request, |caller, r| async move {
                self.sessions.check(&caller, r.session_id)?;
                self.manager.ensure_running()?;
                let h = handle(r.connection_handle)?;
                self.manager.clear_stats(h).await.map_err(|e| match e {
                    Win32Error::NoConnection => Win32Error::InvalidHandle,
                    e => e,
                })?;
                tracing::info!(caller = %caller.identity(), connection = h.get(), "counters cleared");
                Ok(pb::StatusReply { status: 0 })
            })
            .await)
    }

    async fn connection_disconnect(
        &self,
        request: Request<pb::ConnectionRequest>,
    ) -> Result<Response<pb::StatusReply>, Status> {
        Ok(self
            .call("ConnectionDisconnect", Role::Admin, request, |caller, r| async move {
                self.sessions.check(&caller, r.session_id)?;
                self.manager.ensure_running()?;
                let h = handle(r.connection_handle)?;
                let result = self.manager.disconnect(h).await;
                tracing::info!(caller = %caller.identity(), connection = h.get(), ?result, "disconnect requested");
                result.map(|()| pb::StatusReply { status: 0 })
            })
            .await)
    }

    async fn port_enum(&self, request: Request<pb::PortEnumRequest>) -> Result<Response<pb::PortEnumReply>, Status> {
        Ok(self
            .call("PortEnum", Role::Reader, request, |caller, r| async move {
                let session = self.sessions.check(&caller, r.session_id)?;
                self.manager.ensure_running()?;
                let now = SystemTime::now();
                if r.connection_handle != 0 && r.connection_handle != u32::MAX {
                    // One connection, one port: the whole answer in one page.
                    let c = self
                        .manager
                        .table()
                        .get(handle(r.connection_handle)?)
                        .ok_or(Win32Error::InvalidHandle)?;
                    return Ok(pb::PortEnumReply {
                        status: 0,
                        ports: vec![port_to_pb(&c, now)],
                        total_entries: 1,
                        resume_handle: 0,
                    });
                }
                let page = self.manager.table().enumerate(
                    session,
                    ResumeHandle::new(r.resume_handle),
                    r.pref_max_len,
                    RAS_PORT_0_SIZE,
                )?;
                Ok(pb::PortEnumReply {
                    status: page.status().code(),
                    ports: page.entries.iter().map(|r| port_to_pb(&r.decode(), now)).collect(),
                    total_entries: page.total_entries,
                    resume_handle: page.next.map(|h| h.get()).unwrap_or(0),
                })
            })
            .await)
    }

    async fn port_get_info(&self, request: Request<pb::PortRequest>) -> Result<Response<pb::PortReply>, Status> {
        Ok(self
            .call("PortGetInfo", Role::Reader, request, |caller, r| async move {
                self.sessions.check(&caller, r.session_id)?;
                self.manager.ensure_running()?;
                let c = ConnectionHandle::new(r.port_handle)
                    .and_then(|h| self.manager.table().get(h))
                    .ok_or(Win32Error::InvalidPortHandle)?;
                Ok(pb::PortReply {
                    status: 0,
                    port: Some(port_to_pb(&c, SystemTime::now())),
                })
            })
            .await)
    }

    type WatchStream = crate::watch::WatchStream;

    async fn watch(&self, request: Request<pb::WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        // Kept by the stream, which ends within a second of its revocation.
        let credential = self.auth.read().credential_of(&request);
        let reply = self
            .call("Watch", Role::Reader, request, |caller, r| async move {
                self.sessions.check(&caller, r.session_id)?;
                self.manager.ensure_running()?;
                let filter = crate::watch::WatchFilter::from_request(&r)?;
                let from = (!r.from_now).then_some(r.from_revision);
                match self.manager.feed().subscribe_as(from, Some(&caller.identity())) {
                    Ok(subscription) => Ok(WatchReply {
                        status: 0,
                        stream: Some(crate::watch::stream(
                            self.manager.clone(),
                            subscription,
                            filter,
                            crate::watch::StillAllowed::new(self.auth.clone(), credential),
                        )),
                    }),
                    Err(crate::feed::WatchRefused::Busy) => Err(Win32Error::RpcServerTooBusy),
                    Err(crate::feed::WatchRefused::Resync(_)) => Ok(WatchReply {
                        status: 0,
                        stream: Some(Box::pin(tokio_stream::iter([Ok(crate::watch::resync(
                            self.manager.feed().revision(),
                        ))]))),
                    }),
                }
            })
            .await;
        Ok(reply.map(WatchReply::into_stream))
    }

    async fn get_error_string(
        &self,
        request: Request<pb::ErrorStringRequest>,
    ) -> Result<Response<pb::ErrorStringReply>, Status> {
        Ok(self
            .call("GetErrorString", Role::Reader, request, |_, r| async move {
                let message = error_string(r.code)?;
                Ok(pb::ErrorStringReply {
                    status: 0,
                    message: message.into(),
                    name: Win32Error::from_code(r.code)
                        .map(|e| e.name())
                        .unwrap_or_default()
                        .into(),
                })
            })
            .await)
    }

    async fn history_enum(&self, request: Request<pb::HistoryRequest>) -> Result<Response<pb::HistoryReply>, Status> {
        Ok(self
            .call("HistoryEnum", Role::Reader, request, |caller, r| async move {
                self.sessions.check(&caller, r.session_id)?;
                let limit = (r.limit as usize).clamp(1, HISTORY_MAX);
                let query = history_query_from_pb(&r).map_err(|e| e.win32())?;
                let before = (r.before_seq != 0).then_some(r.before_seq);
                // Off the admin thread: an unindexed query may walk many
                // entries, and the live rows are a walk over the table.
                let manager = self.manager.clone();
                let live = r.include_live && before.is_none();
                let (page, live) = tokio::task::spawn_blocking(move || {
                    let page = manager.store().history_query(&query, before, limit)?;
                    let live = if live {
                        manager.live_matching(&query, limit)
                    } else {
                        Vec::new()
                    };
                    Ok::<_, rras_store::StoreError>((page, live))
                })
                .await
                .map_err(|_| Win32Error::RpcCallFailed)?
                .map_err(|e| {
                    tracing::error!("history read failed: {e}");
                    e.win32()
                })?;
                let now = SystemTime::now();
                let live = live.iter().map(|c| connection_to_pb(c, now)).collect();
                Ok(pb::HistoryReply {
                    status: 0,
                    entries: page
                        .entries
                        .iter()
                        .map(|(seq, e)| pb::EndedConnection {
                            seq: *seq,
                            ..ended_to_pb(e)
                        })
                        .collect(),
                    next_before_seq: page.next.unwrap_or(0),
                    live,
                })
            })
            .await)
    }

    async fn usage_report(&self, request: Request<pb::UsageRequest>) -> Result<Response<pb::UsageReply>, Status> {
        Ok(self
            .call("UsageReport", Role::Reader, request, |caller, r| async move {
                self.sessions.check(&caller, r.session_id)?;
                let now = SystemTime::now();
                let from = rras_proto::convert::from_micros(r.from_unix_micros);
                let to = match r.to_unix_micros {
                    0 => now,
                    micros => rras_proto::convert::from_micros(micros),
                };
                // A period of at most ten years: the per-day series is one
                // entry a day.
                let days = to
                    .duration_since(from)
                    .map_err(|_| Win32Error::InvalidParameter)?
                    .as_secs()
                    / 86_400;
                if days > USAGE_MAX_DAYS {
                    return Err(Win32Error::InvalidParameter);
                }
                let top = match r.top {
                    0 => 10,
                    n => (n as usize).min(1_000),
                };
                let by = if r.top_by_time {
                    rras_core::usage::TopBy::Time
                } else {
                    rras_core::usage::TopBy::Bytes
                };
                let manager = self.manager.clone();
                let report = tokio::task::spawn_blocking(move || manager.usage(from, to, now, top, by))
                    .await
                    .map_err(|_| Win32Error::RpcCallFailed)?
                    .map_err(|e| {
                        tracing::error!("usage report failed: {e}");
                        e.win32()
                    })?;
                Ok(rras_proto::convert::usage_to_pb(&report))
            })
            .await)
    }

    async fn audit_enum(&self, request: Request<pb::AuditRequest>) -> Result<Response<pb::AuditReply>, Status> {
        Ok(self
            .call("AuditEnum", Role::Admin, request, |caller, r| async move {
                self.sessions.check(&caller, r.session_id)?;
                let limit = (r.limit as usize).clamp(1, HISTORY_MAX);
                let records = self.manager.store().audit(limit).map_err(|e| {
                    tracing::error!("audit read failed: {e}");
                    e.win32()
                })?;
                Ok(pb::AuditReply {
                    status: 0,
                    entries: records.iter().map(audit_to_pb).collect(),
                })
            })
            .await)
    }

    async fn connection_window(
        &self,
        request: Request<pb::WindowRequest>,
    ) -> Result<Response<pb::WindowReply>, Status> {
        Ok(self
            .call("ConnectionWindow", Role::Reader, request, |caller, r| async move {
                self.sessions.check(&caller, r.session_id)?;
                self.manager.ensure_running()?;
                let query = window_query(&r)?;
                let revision = self.manager.feed().revision();
                let window = match self.manager.table().window(&query) {
                    Some(w) => w,
                    None => {
                        let manager = self.manager.clone();
                        self.scans
                            .run(&caller.identity(), move || manager.table().scan_window(&query))
                            .await
                            .map_err(|_| Win32Error::RpcServerTooBusy)?
                    }
                };
                Ok(pb::WindowReply {
                    status: 0,
                    total: window.total as u64,
                    matching: window.matching as u64,
                    records: window.records.iter().map(|r| r.as_bytes().to_vec()).collect(),
                    revision,
                })
            })
            .await)
    }

    async fn report(&self, request: Request<pb::ReportBatch>) -> Result<Response<pb::ReportReply>, Status> {
        Ok(self
            .call("Report", Role::Admin, request, |_, batch| async move {
                self.manager.ensure_running()?;
                // Decode everything first: a batch with a malformed report is
                // rejected whole, so nothing half-applies.
                let events = batch.reports.iter().map(report_event).collect::<Result<Vec<_>, _>>()?;
                let results = self.manager.apply(events).await?;
                Ok(pb::ReportReply {
                    status: 0,
                    handles: results.iter().map(|r| r.map(|h| h.get()).unwrap_or(0)).collect(),
                    statuses: results.iter().map(|r| r.err().map(|e| e.code()).unwrap_or(0)).collect(),
                })
            })
            .await)
    }
}
