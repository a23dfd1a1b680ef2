//! SoftEther's JSON-RPC admin API: `POST /api/` over HTTPS with the admin
//! password in `X-VPNADMIN-PASSWORD`, one JSON-RPC 2.0 call per request,
//! on one kept-alive connection.
//!
//! The server's certificate is SoftEther's own, usually self-signed with a
//! made-up name, so no CA can vouch for it: the operator pins it by its
//! SHA-256 fingerprint (`server_cert_sha256`) and nothing else is
//! accepted. Everything the server sends is bounded — the time of a whole
//! call, the size of the head and of the body — and a reply that is not
//! what HTTP/1.1 and JSON-RPC say is an error, never a panic.

use std::sync::Arc;
use std::time::Duration;

use rras_source::control::{ControlError, Limits};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Longest response head (status line and headers).
const MAX_HEAD: usize = 64 * 1024;

/// Where the API is: `https://HOST[:PORT][/PATH]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl {
    /// Host name or address (brackets removed from IPv6).
    pub host: String,
    /// Port (SoftEther's admin port is 5555 unless told otherwise).
    pub port: u16,
    /// Request path, `/api/` by default.
    pub path: String,
}

impl ApiUrl {
    /// Parses `url`; only https is accepted (the password travels in it).
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| format!("{url:?}: the API is reached over https:// only"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/api/"),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url:?}: unclosed [ in the host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| format!("{url:?}: bad port {p:?}"))?,
            None => 5555,
        };
        let path_ok = path.bytes().all(|b| b.is_ascii_graphic()) && !path.is_empty();
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b)) || !path_ok {
            return Err(format!("{url:?}: not https://HOST[:PORT]/PATH"));
        }
        Ok(ApiUrl {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}

impl std::fmt::Display for ApiUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "https://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            write!(f, "https://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

/// Parses a SHA-256 fingerprint as openssl prints it (`B5:03:…`) or as
/// plain hex.
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], String> {
    let hex_digits: String = text.chars().filter(|c| *c != ':' && !c.is_whitespace()).collect();
    let bytes = hex::decode(&hex_digits).map_err(|_| "server_cert_sha256 is not hex".to_owned())?;
    bytes
        .try_into()
        .map_err(|_| "server_cert_sha256 must be 32 bytes (64 hex digits)".to_owned())
}

/// Accepts exactly the certificate whose SHA-256 is pinned (its name and
/// dates are the operator's business: the pin says which server this is),
/// and checks the handshake's signatures with it as usual.
#[derive(Debug)]
struct PinnedCertificate {
    sha256: [u8; 32],
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if seen == self.sha256 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate is not the pinned one (its SHA-256 is {})",
                hex::encode(seen)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A JSON-RPC client of one SoftEther server.
pub struct RpcClient {
    url: ApiUrl,
    password: String,
    tls: TlsConnector,
    limits: Limits,
    connection: Option<TlsStream<TcpStream>>,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("RpcClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// TLS that accepts exactly the certificate whose SHA-256 is `pin`.
pub fn pinned_tls(pin: [u8; 32]) -> Result<TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedCertificate {
        sha256: pin,
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

impl RpcClient {
    /// A client of the API at `url` over `tls` ([`pinned_tls`]).
    pub fn new(url: ApiUrl, tls: TlsConnector, password: String, limits: Limits) -> Self {
        RpcClient {
            url,
            password,
            tls,
            limits,
            connection: None,
        }
    }

    /// Calls `method` with `params` and decodes its `result`. A JSON-RPC
    /// error is `Refused` (SoftEther's "Object not found", code 29) or
    /// `Status(code)`; a 401 is `Denied`.
    pub async fn call<T: DeserializeOwned>(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<T, ControlError> {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": "1", "method": method, "params": params}).to_string();
        let timeout = self.limits.timeout;
        let reply = match tokio::time::timeout(timeout, self.exchange(&body)).await {
            Ok(r) => r,
            Err(_) => {
                self.connection = None;
                Err(ControlError::Timeout(timeout))
            }
        }?;
        decode_reply(&reply)
    }

    /// One request on the kept connection; a kept connection the server
    /// closed meanwhile is opened again once.
    async fn exchange(&mut self, body: &str) -> Result<Vec<u8>, ControlError> {
        let reused = self.connection.is_some();
        match self.exchange_once(body).await {
            Err(ControlError::Io(_)) if reused => {
                self.connection = None;
                self.exchange_once(body).await
            }
            other => other,
        }
    }

    async fn exchange_once(&mut self, body: &str) -> Result<Vec<u8>, ControlError> {
        let mut stream = match self.connection.take() {
            Some(s) => s,
            None => self.connect().await?,
        };
        let host = if self.url.host.contains(':') {
            format!("[{}]:{}", self.url.host, self.url.port)
        } else {
            format!("{}:{}", self.url.host, self.url.port)
        };
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {host}\r\nX-VPNADMIN-PASSWORD: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
            self.url.path,
            self.password,
            body.len()
        );
        stream.write_all(request.as_bytes()).await.map_err(ControlError::Io)?;
        let response = read_response(&mut stream, self.limits.max_reply).await?;
        if response.keep_alive {
            self.connection = Some(stream);
        }
        match response.status {
            200 => Ok(response.body),
            401 | 403 => Err(ControlError::Denied(format!(
                "HTTP {}: wrong admin password?",
                response.status
            ))),
            s => Err(ControlError::Malformed(format!("HTTP status {s}"))),
        }
    }

    async fn connect(&self) -> Result<TlsStream<TcpStream>, ControlError> {
        let tcp = TcpStream::connect((self.url.host.as_str(), self.url.port))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => ControlError::Gone(e),
                _ => ControlError::Io(e),
            })?;
        let _ = tcp.set_nodelay(true);
        // The name is not checked (the pin is); rustls still wants one.
        let name = ServerName::try_from(self.url.host.clone())
            .unwrap_or_else(|_| ServerName::try_from("softether.invalid").expect("a valid DNS name"));
        self.tls.connect(name, tcp).await.map_err(ControlError::Io)
    }
}

/// A JSON-RPC 2.0 reply: `result`, or `error` with SoftEther's code.
pub fn decode_reply<T: DeserializeOwned>(reply: &[u8]) -> Result<T, ControlError> {
    #[derive(serde::Deserialize)]
    struct RpcError {
        code: i64,
        #[serde(default)]
        message: String,
    }
    #[derive(serde::Deserialize)]
    struct Reply<T> {
        result: Option<T>,
        error: Option<RpcError>,
    }
    let reply: Reply<T> =
        serde_json::from_slice(reply).map_err(|e| ControlError::Malformed(format!("JSON-RPC reply: {e}")))?;
    match (reply.result, reply.error) {
        (_, Some(e)) if e.code == OBJECT_NOT_FOUND => Err(ControlError::Refused(printable(&e.message))),
        (_, Some(e)) => {
            tracing::debug!(code = e.code, message = %printable(&e.message), "SoftEther refused a call");
            Err(ControlError::Status(e.code))
        }
        (Some(result), None) => Ok(result),
        (None, None) => Err(ControlError::Malformed(
            "a JSON-RPC reply with neither result nor error".into(),
        )),
    }
}

/// SoftEther's ERR_OBJECT_NOT_FOUND: no such session (or hub).
const OBJECT_NOT_FOUND: i64 = 29;

/// Engine text as it may be logged: control characters replaced, at most
/// 200 characters.
fn printable(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// What an HTTP/1.1 response carried.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// True when the connection may carry the next request.
    pub keep_alive: bool,
}

/// Reads one response: the head (at most 64 KiB), then a body of
/// `Content-Length` bytes or chunks, at most `max_body`.
pub async fn read_response<S: AsyncReadExt + Unpin>(stream: &mut S, max_body: usize) -> Result<Response, ControlError> {
    let mut buf = Vec::with_capacity(16 * 1024);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(ControlError::TooLarge(MAX_HEAD));
        }
        read_more(stream, &mut buf).await?;
    };
    let head =
        std::str::from_utf8(&buf[..head_end]).map_err(|_| ControlError::Malformed("HTTP head not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| ControlError::Malformed(format!("status line {:?}", printable(status_line))))?;
    let mut length = None;
    let mut chunked = false;
    let mut keep_alive = status_line.starts_with("HTTP/1.1");
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(ControlError::Malformed(format!("header {:?}", printable(line))));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| ControlError::Malformed(format!("Content-Length {:?}", printable(value))))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            keep_alive = value.eq_ignore_ascii_case("keep-alive");
        }
    }
    let mut rest = buf.split_off(head_end + 4);
    let body = if chunked {
        read_chunked(stream, rest, max_body).await?
    } else if let Some(length) = length {
        if length > max_body {
            return Err(ControlError::TooLarge(max_body));
        }
        while rest.len() < length {
            read_more(stream, &mut rest).await?;
        }
        rest.truncate(length);
        rest
    } else {
        // No length: the body runs to the end of the connection.
        keep_alive = false;
        loop {
            if rest.len() > max_body {
                return Err(ControlError::TooLarge(max_body));
            }
            match stream.read_buf(&mut rest).await {
                Ok(0) => break rest,
                Ok(_) => {}
                Err(e) => return Err(ControlError::Io(e)),
            }
        }
    };
    Ok(Response {
        status,
        body,
        keep_alive,
    })
}

/// Decodes a chunked body that starts with `buf`.
async fn read_chunked<S: AsyncReadExt + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
    max_body: usize,
) -> Result<Vec<u8>, ControlError> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = find(&buf, b"\r\n") {
                break i;
            }
            if buf.len() > 1024 {
                return Err(ControlError::Malformed("chunk size line too long".into()));
            }
            read_more(stream, &mut buf).await?;
        };
        let size_text = std::str::from_utf8(&buf[..line_end]).unwrap_or("");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ControlError::Malformed(format!("chunk size {:?}", printable(size_text))))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            return Ok(body);
        }
        if body.len().saturating_add(size) > max_body {
            return Err(ControlError::TooLarge(max_body));
        }
        let need = size + 2;
        while buf.len() < need {
            read_more(stream, &mut buf).await?;
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..need);
    }
}

async fn read_more<S: AsyncReadExt + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Result<(), ControlError> {
    match stream.read_buf(buf).await {
        Ok(0) => Err(ControlError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the server closed the connection mid-reply",
        ))),
        Ok(_) => Ok(()),
        Err(e) => Err(ControlError::Io(e)),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How long a poll waits for one call (the whole call, TLS included).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_fingerprints_parse_or_say_why_not() {
        let u = ApiUrl::parse("https://127.0.0.1:5555/api/").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("127.0.0.1", 5555, "/api/"));
        let u = ApiUrl::parse("https://[::1]").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("::1", 5555, "/api/"));
        assert_eq!(u.to_string(), "https://[::1]:5555/api/");
        for bad in [
            "http://127.0.0.1/api/",
            "https://",
            "https://h:99999/",
            "https://a b/",
            "https://[::1/",
        ] {
            assert!(ApiUrl::parse(bad).is_err(), "{bad}");
        }
        let pin = "B5:03:CD:0E:91:66:4C:31:AC:92:25:1A:B5:10:20:2E:02:46:12:8E:9A:4D:EC:F2:26:07:84:7A:F6:FA:8A:81";
        assert_eq!(parse_fingerprint(pin).unwrap()[0], 0xb5);
        assert_eq!(
            parse_fingerprint(&pin.replace(':', "").to_lowercase()).unwrap()[31],
            0x81
        );
        assert!(parse_fingerprint("B5:03").is_err());
        assert!(parse_fingerprint("zz").is_err());
    }

    async fn response(raw: &[u8], max: usize) -> Result<Response, ControlError> {
        let mut reader = raw;
        read_response(&mut reader, max).await
    }

    #[tokio::test]
    async fn responses_are_read_by_length_or_chunks_and_bounded() {
        let r = response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: Keep-Alive\r\n\r\nhello+extra",
            100,
        )
        .await
        .unwrap();
        assert_eq!((r.status, r.body.as_slice(), r.keep_alive), (200, &b"hello"[..], true));
        let r = response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n",
            100,
        )
        .await
        .unwrap();
        assert_eq!(r.body, b"abcde");
        let r = response(b"HTTP/1.0 401 Unauthorized\r\n\r\nno", 100).await.unwrap();
        assert_eq!((r.status, r.body.as_slice(), r.keep_alive), (401, &b"no"[..], false));
        assert!(matches!(
            response(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 100).await,
            Err(ControlError::TooLarge(100))
        ));
        assert!(matches!(
            response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfff\r\n", 100).await,
            Err(ControlError::TooLarge(100))
        ));
        assert!(matches!(
            response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", 100).await,
            Err(ControlError::Io(_))
        ));
        for bad in [
            &b"SMTP 220\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        ] {
            assert!(
                matches!(response(bad, 100).await, Err(ControlError::Malformed(_))),
                "{bad:?}"
            );
        }
        let endless = vec![b'a'; MAX_HEAD + 10];
        assert!(matches!(response(&endless, 100).await, Err(ControlError::TooLarge(_))));
    }

    #[test]
    fn json_rpc_errors_are_named() {
        #[derive(Debug, serde::Deserialize)]
        struct Empty {}
        let not_found =
            br#"{"error":{"code":29,"message":"Error code 29: Object not found."},"jsonrpc":"2.0","id":"1"}"#;
        assert!(matches!(decode_reply::<Empty>(not_found), Err(ControlError::Refused(m)) if m.contains("not found")));
        let no_hub = br#"{"error":{"code":8,"message":"no hub"},"jsonrpc":"2.0","id":"1"}"#;
        assert!(matches!(decode_reply::<Empty>(no_hub), Err(ControlError::Status(8))));
        assert!(matches!(decode_reply::<Empty>(b"{}"), Err(ControlError::Malformed(_))));
        assert!(matches!(
            decode_reply::<Empty>(b"<html>"),
            Err(ControlError::Malformed(_))
        ));
        assert!(decode_reply::<Empty>(br#"{"result":{}}"#).is_ok());
    }

    /// A TLS server on loopback with a fresh self-signed certificate that
    /// answers every request on a connection with a JSON-RPC result, and
    /// the certificate's SHA-256.
    async fn server() -> (std::net::SocketAddr, [u8; 32], tokio::task::JoinHandle<usize>) {
        let cert = rcgen::generate_simple_self_signed(vec!["softether.lab".into()]).unwrap();
        let der = cert.cert.der().clone();
        let pin: [u8; 32] = Sha256::digest(der.as_ref()).into();
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![der], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            // Counts the connections the client opened.
            let mut connections = 0;
            while let Ok(Ok((tcp, _))) = tokio::time::timeout(Duration::from_millis(500), listener.accept()).await {
                connections += 1;
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let mut buf = vec![0u8; 4096];
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let body = r#"{"result":{"HubList":[]},"jsonrpc":"2.0","id":"1"}"#;
                    let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    if tls.write_all(reply.as_bytes()).await.is_err() {
                        break;
                    }
                }
            }
            connections
        });
        (addr, pin, task)
    }

    fn client(addr: std::net::SocketAddr, pin: [u8; 32]) -> RpcClient {
        let url = ApiUrl::parse(&format!("https://{addr}/api/")).unwrap();
        RpcClient::new(url, pinned_tls(pin).unwrap(), "pw".into(), Limits::default())
    }

    #[tokio::test]
    async fn the_pinned_certificate_is_accepted_on_one_kept_connection_and_no_other() {
        let (addr, pin, served) = server().await;
        let mut rpc = client(addr, pin);
        for _ in 0..3 {
            let hubs: serde_json::Value = rpc.call("EnumHub", serde_json::json!({})).await.expect("pinned");
            assert_eq!(hubs["HubList"], serde_json::json!([]));
        }
        // The server takes one connection at a time: the kept one goes first.
        drop(rpc);
        let mut wrong = pin;
        wrong[0] ^= 1;
        let refused = client(addr, wrong)
            .call::<serde_json::Value>("EnumHub", serde_json::json!({}))
            .await;
        assert!(
            matches!(&refused, Err(ControlError::Io(e)) if e.to_string().contains("not the pinned one")),
            "{refused:?}"
        );
        assert_eq!(served.await.unwrap(), 2, "three calls on one connection, one refused");
    }
}
