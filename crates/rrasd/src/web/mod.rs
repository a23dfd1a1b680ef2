//! The web console (`rrasd --web ADDR:PORT`): pages and a JSON API served
//! by the daemon itself (axum on the hyper stack tonic already uses), its
//! assets embedded in the binary.
//!
//! HTTPS with the daemon's TLS certificate (`[tls] cert`, `key`); plain
//! HTTP only on a loopback address. Sign-in with a bearer token from the
//! tokens file, or by a client certificate the TLS handshake verified
//! (`[tls] client_ca`, role from its name as for the admin RPC). Roles as
//! everywhere: readers see, admins may also disconnect and clear counters,
//! and those actions go to the audit trail as `web:<who>`.
//!
//! Defences: session cookie HttpOnly + SameSite=Strict (+ Secure over
//! HTTPS); a per-session CSRF token required in `X-CSRF-Token` on every
//! POST of the API; the sign-in form checks `Origin`; a strict
//! Content-Security-Policy (no inline script or style, nothing from other
//! origins); no secret is ever put in a page.

mod api;
mod assets;
mod fleet;
mod history;
mod pace;
mod rows;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;

use crate::auth::{Caller, SharedAuthorizer};
use crate::manager::ConnectionManager;

/// `[web]`: the web console.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Address of the console (off when absent). HTTPS when `[tls] cert`
    /// and `key` are set; plain HTTP is allowed on loopback only.
    pub listen: Option<SocketAddr>,
}

impl WebConfig {
    /// Checks the console can be served safely and signed into.
    pub fn validate(&self, tls: &crate::tls::TlsConfig) -> Result<(), String> {
        let Some(addr) = self.listen else { return Ok(()) };
        let https = tls.cert.is_some() && tls.key.is_some();
        if !https && !addr.ip().is_loopback() {
            return Err(format!(
                "web.listen {addr} is not a loopback address: it needs tls.cert and tls.key (HTTPS)"
            ));
        }
        if tls.tokens_file.is_none() && tls.client_ca.is_none() {
            return Err("web.listen needs tls.tokens_file or tls.client_ca: nobody could sign in".into());
        }
        Ok(())
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct WebState {
    manager: Arc<ConnectionManager>,
    auth: SharedAuthorizer,
    sessions: Arc<session::WebSessions>,
    /// HTTPS: cookies get `Secure`.
    secure: bool,
    samples: Arc<api::Samples>,
    /// The fleet view, when this node is in a fleet.
    fleet: Option<fleet::FleetQueries>,
    /// Where windows the indexes cannot answer are scanned.
    scans: Arc<crate::scans::ScanPool>,
}

/// The caller a verified client certificate names, for this connection.
#[derive(Clone)]
pub(crate) struct ConnectionCaller(Option<(Caller, rustls_pki_types::CertificateDer<'static>)>);

/// The Content-Security-Policy of every response: only this origin's own
/// script, style and connections; no frames, no inline anything.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Over HTTPS, browsers are told to use nothing else for a year (HSTS),
/// so a later plain-HTTP link cannot be intercepted on the way.
async fn strict_transport(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    response
}

/// Why the console could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The address could not be bound.
    #[error("web console {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate, key or client CA could not be used.
    #[error("web console TLS: {0}")]
    Tls(String),
}

fn tls_acceptor(tls: &crate::tls::TlsConfig) -> Result<Option<tokio_rustls::TlsAcceptor>, WebError> {
    tls.acceptor(&[b"h2", b"http/1.1"]).map_err(WebError::Tls)
}

/// Binds the console and serves it until the task is aborted: `[web]`,
/// over the daemon's certificate (`[tls]`), behind a gate with the
/// `[listeners]` limits; its fleet pages read `[fleet]`'s NATS.
pub async fn start(
    config: &WebConfig,
    tls: &crate::tls::TlsConfig,
    listeners: rras_source::gate::GateLimits,
    fleet: &crate::fleet::FleetConfig,
    manager: Arc<ConnectionManager>,
    auth: SharedAuthorizer,
) -> Result<Option<tokio::task::JoinHandle<()>>, WebError> {
    let Some(addr) = config.listen else { return Ok(None) };
    let acceptor = tls_acceptor(tls)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Bind { addr, source })?;
    let samples = Arc::new(api::Samples::default());
    tokio::spawn(api::sample_forever(manager.clone(), samples.clone()));
    let state = WebState {
        manager,
        auth,
        sessions: Arc::new(session::WebSessions::default()),
        secure: acceptor.is_some(),
        samples,
        fleet: fleet.url.is_some().then(|| fleet::FleetQueries::start(fleet)),
        scans: Arc::new(crate::scans::ScanPool::for_this_machine()),
    };
    let mut router = api::router(state.clone())
        .merge(history::router(state.clone()))
        .layer(axum::middleware::from_fn(security_headers));
    if acceptor.is_some() {
        router = router.layer(axum::middleware::from_fn(strict_transport));
    }
    tracing::info!(%addr, https = acceptor.is_some(), "web console listening");
    let gate = rras_source::gate::ConnectionGate::new("web console", listeners);
    Ok(Some(tokio::spawn(serve(listener, gate, acceptor, router, state))))
}

async fn serve(
    listener: tokio::net::TcpListener,
    gate: Arc<rras_source::gate::ConnectionGate>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
    state: WebState,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("web console accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let admission = match gate.admit(rras_source::gate::ClientKey::Ip(peer.ip())) {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(%peer, "web console connection refused: {e}");
                continue;
            }
        };
        let limits = gate.limits();
        // Without it a TLS response written in pieces waits for the
        // browser's delayed ACK (40 ms) — measured as the fresh-request p99.
        let _ = tcp.set_nodelay(true);
        let tcp = admission.guard(tcp);
        let (router, acceptor, auth) = (router.clone(), acceptor.clone(), state.auth.clone());
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            // A request head must arrive within the handshake time (slow
            // clients), and is at most 64 KiB; HTTP/2 pings find dead peers.
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(limits.handshake_secs))
                .max_buf_size(64 * 1024);
            builder
                .http2()
                .timer(hyper_util::rt::TokioTimer::new())
                .keep_alive_interval(std::time::Duration::from_secs(30))
                .keep_alive_timeout(std::time::Duration::from_secs(10))
                .max_header_list_size(64 * 1024);
            match acceptor {
                None => {
                    let service = router.layer(axum::Extension(ConnectionCaller(None)));
                    let service = hyper_util::service::TowerToHyperService::new(service);
                    let _ = builder
                        .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tcp), service)
                        .await;
                }
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(
                        std::time::Duration::from_secs(limits.handshake_secs),
                        acceptor.accept(tcp),
                    )
                    .await;
                    let Ok(Ok(stream)) = handshake else {
                        tracing::debug!(%peer, "web console TLS handshake failed");
                        return;
                    };
                    let caller = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|certs| certs.first())
                        .and_then(|leaf| Some((auth.read().certificate_caller(leaf)?, leaf.clone().into_owned())));
                    let service = router.layer(axum::Extension(ConnectionCaller(caller)));
                    let service = hyper_util::service::TowerToHyperService::new(service);
                    let _ = builder
                        .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}
