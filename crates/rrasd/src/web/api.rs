//! The console's routes: sign-in, the pages (one shell; the script draws
//! each), and the JSON API behind them. Filtering, sorting and paging of
//! the connection list happen here, so a browser holds one screenful of
//! rows however many connections there are; live updates arrive as
//! Server-Sent Events from the change feed.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use parking_lot::Mutex;
use rras_core::{
    AuditRecord, Column, Connection, ConnectionFilter, ConnectionHandle, EngineKind, Projection, Win32Error,
    WindowQuery,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::rows::{row, unix};
use super::session::{same_secret, WebSession};
use super::{assets, ConnectionCaller, WebState};
use crate::auth::{Caller, Credential, Role};
use crate::feed::ChangeKind;

const COOKIE: &str = "rras_session";
/// Rows one list request may ask for.
const MAX_PAGE: usize = 500;

pub(crate) fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/login", get(login_page).post(login))
        .route("/connections", get(app_page))
        .route("/connections/{handle}", get(app_page))
        .route("/overview", get(app_page))
        .route("/history", get(app_page))
        .route("/reports", get(app_page))
        .route("/audit", get(app_page))
        .route("/fleet", get(app_page))
        .route(
            "/static/app.js",
            get(|| async { static_asset("text/javascript", assets::APP_JS) }),
        )
        .route(
            "/static/app.css",
            get(|| async { static_asset("text/css", assets::APP_CSS) }),
        )
        .route("/api/me", get(me))
        .route("/api/logout", post(logout))
        .route("/api/connections", get(list))
        .route("/api/connections/{handle}", get(detail))
        .route("/api/connections/{handle}/disconnect", post(disconnect))
        .route("/api/connections/{handle}/clear-stats", post(clear_stats))
        .route("/api/events", get(events))
        .route("/api/audit", get(audit))
        .route("/api/overview", get(overview))
        .route("/api/fleet", get(fleet))
        .with_state(state)
}

fn static_asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response()
}

fn cookie_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("rras_session="))
}

/// The live session the request's cookie names, with its caller as the
/// configuration says now: a credential that no longer proves a role ends
/// the session there and then.
fn session_of(state: &WebState, headers: &HeaderMap) -> Option<(String, WebSession)> {
    let id = cookie_of(headers)?;
    let mut session = state.sessions.get(id)?;
    let now = state.auth.read().caller_for(&session.credential);
    if now.role.is_none() {
        state.sessions.close(id);
        return None;
    }
    session.caller = now;
    Some((id.to_owned(), session))
}

fn set_cookie(state: &WebState, id: &str, max_age: u64) -> String {
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if state.secure { "; Secure" } else { "" }
    )
}

pub(super) fn api_error(status: StatusCode, code: Win32Error) -> Response {
    (
        status,
        Json(json!({ "status": code.code(), "error": code.name(), "message": code.to_string() })),
    )
        .into_response()
}

/// The signed-in session, or 401.
#[allow(clippy::result_large_err)]
pub(super) fn require(state: &WebState, headers: &HeaderMap) -> Result<WebSession, Response> {
    session_of(state, headers)
        .map(|(_, s)| s)
        .ok_or_else(|| api_error(StatusCode::UNAUTHORIZED, Win32Error::AccessDenied))
}

/// A state-changing call: signed in, the CSRF header right, and the role.
#[allow(clippy::result_large_err)]
fn require_change(state: &WebState, headers: &HeaderMap, role: Role) -> Result<WebSession, Response> {
    let s = require(state, headers)?;
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !same_secret(sent, &s.csrf) {
        return Err(api_error(StatusCode::FORBIDDEN, Win32Error::AccessDenied));
    }
    if s.caller.require(role).is_err() {
        return Err(api_error(StatusCode::FORBIDDEN, Win32Error::AccessDenied));
    }
    Ok(s)
}

fn web_identity(caller: &Caller) -> String {
    format!("web:{}", caller.identity())
}

async fn root(State(state): State<WebState>, headers: HeaderMap) -> Redirect {
    if session_of(&state, &headers).is_some() {
        Redirect::to("/connections")
    } else {
        Redirect::to("/login")
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    failed: Option<String>,
}

async fn login_page(
    State(state): State<WebState>,
    Extension(ConnectionCaller(cert)): Extension<ConnectionCaller>,
    Query(q): Query<LoginQuery>,
) -> Response {
    // A client certificate the handshake verified signs in by itself.
    if let Some((caller, leaf)) = cert {
        if let Ok(Some(id)) = state.sessions.open(caller, Credential::Certificate(leaf)) {
            return (
                [(
                    header::SET_COOKIE,
                    set_cookie(&state, &id, super::session::MAX_AGE.as_secs()),
                )],
                Redirect::to("/connections"),
            )
                .into_response();
        }
    }
    let message = if q.failed.is_some() {
        "That token is not valid."
    } else {
        ""
    };
    Html(assets::LOGIN_HTML.replace("{{message}}", message)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

/// The origin a browser on this console sends, from the Host header (or,
/// over HTTP/2, the request's authority).
fn same_origin(headers: &HeaderMap, uri: &axum::http::Uri, secure: bool) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Browsers send Origin on POST; a client that does not is no
        // cross-site form.
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    origin == format!("{}://{host}", if secure { "https" } else { "http" })
}

async fn login(
    State(state): State<WebState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers, &uri, state.secure) {
        return api_error(StatusCode::FORBIDDEN, Win32Error::AccessDenied);
    }
    let token = form.token.trim();
    let caller = (!token.is_empty() && token.len() <= 256)
        .then(|| state.auth.read().token_caller(token))
        .flatten();
    let Some(caller) = caller else {
        state
            .manager
            .audit(AuditRecord {
                at: SystemTime::now(),
                caller: "web:anonymous".into(),
                method: "WebSignIn".into(),
                target: String::new(),
                result: Win32Error::AccessDenied.code(),
            })
            .await;
        return Redirect::to("/login?failed=1").into_response();
    };
    let credential = Credential::Token(crate::auth::token_digest(token));
    match state.sessions.open(caller, credential) {
        Ok(Some(id)) => (
            [(
                header::SET_COOKIE,
                set_cookie(&state, &id, super::session::MAX_AGE.as_secs()),
            )],
            Redirect::to("/connections"),
        )
            .into_response(),
        Ok(None) => api_error(StatusCode::SERVICE_UNAVAILABLE, Win32Error::RpcServerTooBusy),
        Err(_) => api_error(StatusCode::INTERNAL_SERVER_ERROR, Win32Error::NotEnoughMemory),
    }
}

async fn app_page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if session_of(&state, &headers).is_none() {
        return Redirect::to("/login").into_response();
    }
    Html(assets::APP_HTML).into_response()
}

async fn me(State(state): State<WebState>, headers: HeaderMap) -> Response {
    match require(&state, &headers) {
        Ok(s) => Json(json!({
            "user": s.caller.identity(),
            "role": if s.caller.role == Some(Role::Admin) { "admin" } else { "reader" },
            "csrf": s.csrf,
            "node": state.manager.node_id().to_string(),
            "version": rras_core::VERSION,
            "fleet": state.fleet.is_some(),
        }))
        .into_response(),
        Err(r) => r,
    }
}

async fn logout(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if let Err(r) = require_change(&state, &headers, Role::Reader) {
        return r;
    }
    if let Some((id, _)) = session_of(&state, &headers) {
        state.sessions.close(&id);
    }
    (
        [(header::SET_COOKIE, set_cookie(&state, "", 0))],
        Json(json!({ "status": 0 })),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
struct ListQuery {
    offset: Option<usize>,
    limit: Option<usize>,
    sort: Option<String>,
    dir: Option<String>,
    q: Option<String>,
    user: Option<String>,
    engine: Option<String>,
    instance: Option<String>,
    interface: Option<String>,
}

impl ListQuery {
    /// The field filters; None when the engine named is not one (then no
    /// connection matches).
    fn filter(&self) -> Option<ConnectionFilter> {
        let text = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        let engine = match self.engine.as_deref().unwrap_or("") {
            "" => None,
            e => Some(e.parse::<EngineKind>().ok()?),
        };
        Some(ConnectionFilter {
            user: text(&self.user),
            engine,
            instance: text(&self.instance),
            interface: text(&self.interface),
        })
    }
}

/// A window of the connection list: from the table's indexes when they
/// can answer (O(log n + rows)), else scanned on the scan pool, away from
/// the runtime the sources use, at most two at once per caller.
async fn list(State(state): State<WebState>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let session = match require(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    // A session asking faster than its pace is slowed to it (the answer
    // waits: a client hammering on one connection gets twenty windows a
    // second, and its waiting costs a timer); one that is still ahead
    // after a second of waiting is refused.
    if let Some(id) = cookie_of(&headers) {
        let mut waited = Duration::ZERO;
        while let Err(wait) = state.sessions.take_window(id) {
            if waited >= Duration::from_secs(1) {
                let mut r = api_error(StatusCode::TOO_MANY_REQUESTS, Win32Error::RpcServerTooBusy);
                r.headers_mut()
                    .insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
                return r;
            }
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }
    // The revision first: the rows reflect at least it.
    let revision = state.manager.feed().revision();
    let Some(filter) = q.filter() else {
        // An engine that is not one: nothing matches.
        return Json(json!({
            "revision": revision, "total": state.manager.table().len(), "matching": 0,
            "offset": 0, "per_engine": engines_with_connections(state.manager.table()), "rows": [],
        }))
        .into_response();
    };
    let query = WindowQuery {
        sort: q.sort.as_deref().and_then(Column::parse).unwrap_or(Column::Handle),
        descending: q.dir.as_deref() == Some("desc"),
        offset: q.offset.unwrap_or(0),
        limit: q.limit.unwrap_or(100).clamp(1, MAX_PAGE),
        filter,
        // A search longer than any field cannot match; it is cut, not refused.
        text: q.q.as_deref().unwrap_or("").chars().take(256).collect(),
    };
    let window = match state.manager.table().window(&query) {
        Some(w) => w,
        None => {
            let manager = state.manager.clone();
            let scanned = state
                .scans
                .run(&web_identity(&session.caller), move || {
                    manager.table().scan_window(&query)
                })
                .await;
            match scanned {
                Ok(w) => w,
                Err(_) => return api_error(StatusCode::SERVICE_UNAVAILABLE, Win32Error::RpcServerTooBusy),
            }
        }
    };
    let now = SystemTime::now();
    let rows: Vec<Value> = window.records.iter().map(|r| row(&r.decode(), now)).collect();
    Json(json!({
        "revision": revision,
        "total": window.total,
        "matching": window.matching,
        "offset": q.offset.unwrap_or(0).min(window.matching),
        "per_engine": engines_with_connections(state.manager.table()),
        "rows": rows,
    }))
    .into_response()
}

fn flag_names(flags: u32) -> Vec<&'static str> {
    use rras_core::model::connection_flags as f;
    let mut out = Vec::new();
    if flags & f::PPP_CONNECTION != 0 {
        out.push("PPP");
    }
    if flags & f::MESSENGER_PRESENT != 0 {
        out.push("messenger present");
    }
    if flags & f::QUARANTINE_PRESENT != 0 {
        out.push("quarantine present");
    }
    if flags & f::IKEV2_CONNECTION != 0 {
        out.push("IKEv2");
    }
    out
}

fn auth_words(p: &Projection) -> String {
    use rras_core::model::auth;
    match p {
        Projection::Ikev2(i) => match i.authentication_protocol {
            auth::IKEV2_AUTH_USING_EAP => format!("EAP (type {})", i.eap_type_id),
            auth::IKEV2_AUTH_USING_CERT => "certificate".into(),
            _ => "not reported".into(),
        },
        Projection::Ppp(p) => match (p.lcp.authentication_protocol, p.lcp.authentication_data) {
            (auth::PPP_LCP_PAP, _) => "PAP".into(),
            (auth::PPP_LCP_CHAP, auth::PPP_LCP_CHAP_MSV2) => "MS-CHAPv2".into(),
            (auth::PPP_LCP_CHAP, auth::PPP_LCP_CHAP_MS) => "MS-CHAP".into(),
            (auth::PPP_LCP_CHAP, _) => "CHAP".into(),
            (auth::PPP_LCP_EAP, _) => format!("EAP (type {})", p.lcp.eap_type_id),
            _ => "not reported".into(),
        },
    }
}

fn detail_json(c: &Connection, now: SystemTime) -> Value {
    let i = &c.info;
    let v4 = i.projection.ipv4();
    let v6 = i.projection.ipv6();
    let hex8 = |b: &[u8; 8]| hex::encode(b);
    let s = &i.stats;
    json!({
        "row": row(c, now),
        "guid": i.guid.to_string(),
        "user_name": i.user_name,
        "logon_domain": i.logon_domain,
        "remote_computer": i.remote_computer,
        "nas": i.source.nas,
        "session_id": i.source.session_id,
        "projection": match i.projection { Projection::Ppp(_) => "PPP", Projection::Ikev2(_) => "IKEv2" },
        "flags": flag_names(i.flags),
        "device_type": i.device_type,
        "authentication": auth_words(&i.projection),
        "ipv4": {
            "server": v4.address.map(|a| a.to_string()),
            "client": v4.remote_address.map(|a| a.to_string()),
        },
        "ipv6": {
            "client": v6.remote_address().map(|a| a.to_string()),
            "prefix": hex8(&v6.prefix),
            "prefix_length": v6.prefix_length,
            "interface_identifier": hex8(&v6.interface_identifier),
            "remote_interface_identifier": hex8(&v6.remote_interface_identifier),
        },
        "remote_endpoint": i.remote_endpoint.map(|a| a.to_string()),
        "local_endpoint": i.local_endpoint.map(|a| a.to_string()),
        "quarantine_state": format!("{:?}", i.quarantine_state),
        "counters": {
            "bytes_rcved": s.bytes_rcved, "bytes_xmited": s.bytes_xmited,
            "frames_rcved": s.frames_rcved, "frames_xmited": s.frames_xmited,
            "crc_err": s.crc_err, "timeout_err": s.timeout_err, "alignment_err": s.alignment_err,
            "hardware_overrun_err": s.hardware_overrun_err, "framing_err": s.framing_err,
            "buffer_overrun_err": s.buffer_overrun_err,
            "compression_ratio_in": s.compression_ratio_in, "compression_ratio_out": s.compression_ratio_out,
        },
        "attributes": i.engine_attributes.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "now": unix(now),
    })
}

fn handle_of(raw: &str) -> Option<ConnectionHandle> {
    raw.parse::<u32>().ok().and_then(ConnectionHandle::new)
}

async fn detail(State(state): State<WebState>, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    if let Err(r) = require(&state, &headers) {
        return r;
    }
    match handle_of(&raw).and_then(|h| state.manager.table().get(h)) {
        Some(c) => Json(detail_json(&c, SystemTime::now())).into_response(),
        None => api_error(StatusCode::NOT_FOUND, Win32Error::InvalidHandle),
    }
}

/// Runs an admin action and records it in the audit trail with the web
/// user's identity.
async fn admin_action(state: &WebState, headers: &HeaderMap, raw: &str, method: &'static str) -> Response {
    let session = match require_change(state, headers, Role::Admin) {
        Ok(s) => s,
        Err(r) => {
            let caller = session_of(state, headers).map_or("web:anonymous".into(), |(_, s)| web_identity(&s.caller));
            state
                .manager
                .audit(AuditRecord {
                    at: SystemTime::now(),
                    caller,
                    method: method.into(),
                    target: raw.to_owned(),
                    result: Win32Error::AccessDenied.code(),
                })
                .await;
            return r;
        }
    };
    let result = match handle_of(raw) {
        None => Err(Win32Error::InvalidHandle),
        Some(h) => match method {
            "ConnectionDisconnect" => state.manager.disconnect(h).await,
            _ => state.manager.clear_stats(h).await.map_err(|e| match e {
                Win32Error::NoConnection => Win32Error::InvalidHandle,
                e => e,
            }),
        },
    };
    let code = result.err().unwrap_or(Win32Error::NoError);
    state
        .manager
        .audit(AuditRecord {
            at: SystemTime::now(),
            caller: web_identity(&session.caller),
            method: method.into(),
            target: raw.to_owned(),
            result: code.code(),
        })
        .await;
    tracing::info!(caller = %web_identity(&session.caller), method, target = raw, result = code.code(), "web action");
    let status = if code == Win32Error::NoError {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    (
        status,
        Json(json!({ "status": code.code(), "error": code.name(), "message": code.to_string() })),
    )
        .into_response()
}

async fn disconnect(State(state): State<WebState>, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    admin_action(&state, &headers, &raw, "ConnectionDisconnect").await
}

async fn clear_stats(State(state): State<WebState>, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    admin_action(&state, &headers, &raw, "ConnectionClearStats").await
}

/// Server-Sent Events: `change` (revision, kind, handle) for each durable
/// change, `resync` when this stream fell behind (the page reloads its
/// view). The page asks for the rows it shows again; nothing else is sent.
/// How long the console's change stream gathers changes into one event.
const COALESCE: Duration = Duration::from_millis(150);
/// Updated handles one event names; beyond, it says there were more.
const NAMED_HANDLES: usize = 256;

/// The changes of one [`COALESCE`] period, as one event: how many started,
/// were updated and ended, and which handles were updated (a page asks
/// again only when one is on screen, or when anything started or ended).
#[derive(Default)]
struct ChangeBatch {
    revision: u64,
    started: u64,
    updated: u64,
    ended: u64,
    handles: Vec<u32>,
    more: bool,
}

impl ChangeBatch {
    fn add(&mut self, c: &crate::feed::Change) {
        self.revision = c.revision;
        match c.kind {
            ChangeKind::Started => self.started += 1,
            ChangeKind::Updated => {
                self.updated += 1;
                if self.handles.len() < NAMED_HANDLES {
                    self.handles.push(c.handle.get());
                } else {
                    self.more = true;
                }
            }
            ChangeKind::Ended | ChangeKind::Removed => self.ended += 1,
        }
    }

    fn event(&self) -> Event {
        Event::default().event("changes").data(
            json!({
                "revision": self.revision, "started": self.started, "updated": self.updated,
                "ended": self.ended, "handles": self.handles, "more": self.more,
            })
            .to_string(),
        )
    }
}

/// The console's change stream: at most one event per 150 ms, however
/// many changes (10k updates/s to ten consoles is ten events a second
/// each, not 100,000), ended within a second of its credential's
/// revocation.
async fn events(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let session = match require(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut allowed = crate::watch::StillAllowed::new(state.auth.clone(), session.credential.clone());
    let identity = format!("web:{}", session.caller.identity());
    let mut sub = match state.manager.feed().subscribe_as(None, Some(&identity)) {
        Ok(s) => s,
        Err(_) => return api_error(StatusCode::SERVICE_UNAVAILABLE, Win32Error::RpcServerTooBusy),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(async move {
        let signed_out = || Ok(Event::default().event("signed-out").data("{}"));
        let resync = || Ok(Event::default().event("resync").data("{}"));
        loop {
            let first = match tokio::time::timeout(crate::watch::RECHECK, sub.next()).await {
                Err(_) => {
                    if !allowed.now() {
                        let _ = tx.send(signed_out()).await;
                        return;
                    }
                    continue;
                }
                Ok(Ok(c)) => c,
                Ok(Err(_)) => {
                    let _ = tx.send(resync()).await;
                    return;
                }
            };
            let mut batch = ChangeBatch::default();
            batch.add(&first);
            // Gather for the period, draining often: the feed keeps a
            // watcher's backlog bounded, and a busy period can fill it.
            let until = tokio::time::Instant::now() + COALESCE;
            loop {
                while let Some(next) = sub.try_next() {
                    match next {
                        Ok(c) => batch.add(&c),
                        Err(_) => {
                            let _ = tx.send(resync()).await;
                            return;
                        }
                    }
                }
                if tokio::time::Instant::now() >= until {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            if !allowed.now() {
                let _ = tx.send(signed_out()).await;
                return;
            }
            if tx.send(Ok(batch.event())).await.is_err() {
                return;
            }
        }
    });
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(rx))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct FleetParams {
    node: Option<String>,
    user: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

/// The fleet's nodes and one page of its connections (readers may look;
/// 404 when this node is not in a fleet).
async fn fleet(State(state): State<WebState>, headers: HeaderMap, Query(p): Query<FleetParams>) -> Response {
    if let Err(r) = require(&state, &headers) {
        return r;
    }
    let Some(fleet) = &state.fleet else {
        return api_error(StatusCode::NOT_FOUND, Win32Error::NotSupported);
    };
    let query = super::fleet::FleetQuery {
        node: p.node,
        user: p.user,
        offset: p.offset.unwrap_or(0),
        limit: p.limit.unwrap_or(100).clamp(1, MAX_PAGE),
    };
    Json(fleet.ask(query).await).into_response()
}

async fn audit(State(state): State<WebState>, headers: HeaderMap, Query(q): Query<LimitQuery>) -> Response {
    let s = match require(&state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if s.caller.require(Role::Admin).is_err() {
        return api_error(StatusCode::FORBIDDEN, Win32Error::AccessDenied);
    }
    let limit = q.limit.unwrap_or(200).clamp(1, 5000);
    match state.manager.store().audit(limit) {
        Ok(records) => {
            let rows: Vec<Value> = records
                .iter()
                .map(|r| {
                    json!({
                        "at": unix(r.at), "caller": r.caller, "method": r.method, "target": r.target,
                        "result": r.result,
                        "result_name": Win32Error::from_code(r.result).map(|e| e.name()).unwrap_or(""),
                    })
                })
                .collect();
            Json(json!({ "rows": rows })).into_response()
        }
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e.win32()),
    }
}

/// Active connections and total bytes over time, sampled every
/// [`SAMPLE_EVERY`] while the console runs (the last [`SAMPLES_KEPT`]).
#[derive(Debug, Default)]
pub(crate) struct Samples {
    kept: Mutex<VecDeque<Value>>,
}

const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const SAMPLES_KEPT: usize = 360;

pub(crate) async fn sample_forever(manager: Arc<crate::manager::ConnectionManager>, samples: Arc<Samples>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tick.tick().await;
        // Kept by the table from each change: no pass over the records.
        let table = manager.table();
        let totals = table.totals();
        let sample = json!({
            "at": unix(SystemTime::now()), "connections": table.len(),
            "rx": totals.live_rx, "tx": totals.live_tx,
            "counted_rx": totals.counted_rx, "counted_tx": totals.counted_tx,
        });
        let mut kept = samples.kept.lock();
        if kept.len() == SAMPLES_KEPT {
            kept.pop_front();
        }
        kept.push_back(sample);
    }
}

/// Connections per engine, engines without any left out.
fn engines_with_connections(table: &rras_core::ConnectionTable) -> serde_json::Map<String, Value> {
    table
        .counts_per_engine()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(e, n)| (e.as_str().to_owned(), json!(n)))
        .collect()
}

async fn overview(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if let Err(r) = require(&state, &headers) {
        return r;
    }
    let table = state.manager.table();
    let per_engine: serde_json::Map<String, Value> = table
        .counts_per_engine()
        .into_iter()
        .map(|(e, n): (EngineKind, usize)| (e.as_str().to_owned(), json!(n)))
        .collect();
    let sources: Vec<Value> = state
        .manager
        .health()
        .reports()
        .into_iter()
        .map(|h| {
            json!({
                "kind": h.id.kind().as_str(), "name": h.id.name(), "state": h.state.as_str(),
                "sessions": table.count_instance(h.id.kind(), h.id.instance()),
                "last_ok": h.last_ok.map(unix), "last_error": h.last_error, "restarts": h.restarts,
            })
        })
        .collect();
    let samples: Vec<Value> = state.samples.kept.lock().iter().cloned().collect();
    Json(json!({
        "connections": table.len(),
        "per_engine": per_engine,
        "sources": sources,
        "samples": samples,
        "uptime_secs": state.manager.uptime().as_secs(),
        "state": state.manager.state().as_str(),
    }))
    .into_response()
}
