//! A small W3C WebDriver client for the web console's browser tests: it
//! starts `chromedriver` or `geckodriver` on a free loopback port, drives
//! headless Chromium or Firefox through plain HTTP/1.1 + JSON, and stops
//! both (by PID) when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Which browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Chromium through chromedriver.
    Chromium,
    /// Firefox through geckodriver.
    Firefox,
}

impl Engine {
    /// The WebDriver server's program.
    pub fn driver(self) -> &'static str {
        match self {
            Engine::Chromium => "chromedriver",
            Engine::Firefox => "geckodriver",
        }
    }

    /// The browser's program (for skip checks).
    pub fn browser(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
        }
    }
}

/// A running WebDriver server with one browser session.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// One read, tried again when a signal interrupts it: the test process
/// gets signals (a child exiting) while the browser works, and a read cut
/// by one failed `console_in_firefox` with EINTR. A thousand tries at
/// most, each bounded by the read timeout.
fn read_some(stream: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut tries = 0;
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted && tries < 1_000 => tries += 1,
            done => return done,
        }
    }
}

fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    // chromedriver keeps the connection open: read the head, then exactly
    // Content-Length bytes (or chunks, or to the end).
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = read_some(&mut stream, &mut buf)?;
        if n == 0 {
            break raw.len();
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let have = raw.len() - head_end;
        let complete = match length {
            Some(n) => have >= n,
            None if chunked => raw.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            break;
        }
        let n = read_some(&mut stream, &mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let rest = String::from_utf8_lossy(&raw[head_end..]).into_owned();
    let payload = if chunked { dechunk(&rest) } else { rest };
    Ok((status, serde_json::from_str(&payload).unwrap_or(Value::Null)))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Browser {
    /// Starts the engine's driver and a headless browser (window `width`
    /// x `height`).
    pub fn start(engine: Engine, width: u32, height: u32) -> Self {
        let port = crate::free_tcp_port();
        let driver = Command::new(engine.driver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", engine.driver()));
        let ready = crate::wait_for(Duration::from_secs(20), || {
            http(port, "GET", "/status", None)
                .ok()
                .filter(|(_, v)| v["value"]["ready"] == true)
        });
        assert!(ready.is_some(), "{} did not become ready", engine.driver());
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = match engine {
            Engine::Chromium => {
                let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                    .into_iter()
                    .find(|p| Path::new(p).exists())
                    .unwrap_or("chromium");
                json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": binary,
                        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 format!("--window-size={width},{height}"),
                                 format!("--user-data-dir={}", profile.path().display())],
                    },
                }}})
            }
            Engine::Firefox => {
                let binary = ["/usr/bin/firefox-esr", "/usr/bin/firefox"]
                    .into_iter()
                    .find(|p| Path::new(p).exists())
                    .unwrap_or("firefox");
                json!({"capabilities": {"alwaysMatch": {
                    "browserName": "firefox",
                    "moz:firefoxOptions": {
                        "binary": binary,
                        "args": ["-headless", format!("-width={width}"), format!("-height={height}")],
                    },
                }}})
            }
        };
        let (status, v) = http(port, "POST", "/session", Some(&caps)).expect("new session");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session ({status}): {v}"))
            .to_owned();
        Browser {
            driver,
            port,
            session,
            _profile: profile,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let full = format!("/session/{}{path}", self.session);
        let (status, v) = http(self.port, method, &full, body.as_ref()).expect("webdriver call");
        assert!(status < 400, "{method} {path}: {status} {v}");
        v["value"].clone()
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap_or("").to_owned()
    }

    /// The page's HTML now (for failure messages).
    pub fn source(&self) -> String {
        self.call("GET", "/source", None).as_str().unwrap_or("").to_owned()
    }

    /// Every element matching a CSS selector (now).
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `css`, waiting up to `timeout` for it.
    pub fn wait(&self, css: &str, timeout: Duration) -> Element {
        crate::wait_for(timeout, || self.find_all(css).into_iter().next()).unwrap_or_else(|| {
            panic!(
                "no element {css} within {timeout:?} at {}; page:\n{}",
                self.url(),
                self.source()
            )
        })
    }

    /// Waits until the text of `css` satisfies `ok` (bounded); returns it.
    pub fn wait_text(&self, css: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Some(e) = self.find_all(css).into_iter().next() {
                last = self.text(&e);
                if ok(&last) {
                    return last;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "text of {css} never matched; last {last:?} at {}; page:\n{}",
            self.url(),
            self.source()
        );
    }

    /// Visible text of an element.
    pub fn text(&self, e: &Element) -> String {
        let path = format!("/element/{}/text", e.0);
        let full = format!("/session/{}{path}", self.session);
        // An element replaced by a redraw is stale: treat it as empty.
        match http(self.port, "GET", &full, None) {
            Ok((s, v)) if s < 400 => v["value"].as_str().unwrap_or("").to_owned(),
            _ => String::new(),
        }
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) {
        self.call("POST", &format!("/element/{}/click", e.0), Some(json!({})));
    }

    /// Types into an element.
    pub fn type_into(&self, e: &Element, text: &str) {
        self.call(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        );
    }

    /// Clears an input.
    pub fn clear(&self, e: &Element) {
        self.call("POST", &format!("/element/{}/clear", e.0), Some(json!({})));
    }

    /// Accepts the open confirm() dialog.
    pub fn accept_dialog(&self) {
        self.call("POST", "/alert/accept", Some(json!({})));
    }

    /// Runs `script` (an async function body calling `arguments[0]` with
    /// its result) in the page and returns the result.
    pub fn run_async(&self, script: &str) -> Value {
        self.call("POST", "/execute/async", Some(json!({ "script": script, "args": [] })))
    }

    /// Resizes the window (a phone's width, say).
    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// Drops every cookie (signs out as far as the browser is concerned).
    pub fn delete_cookies(&self) {
        self.call("DELETE", "/cookie", None);
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.call("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .expect("screenshot is base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(self.port, "DELETE", &format!("/session/{}", self.session), None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
