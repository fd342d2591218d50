//! Test harness: a real server on 127.0.0.1:0 over a real sled store in a tempdir, and a tiny
//! HTTP/1.1 client over raw tokio TCP (one connection per request, `Connection: close`), so the
//! tests need no HTTP client dependency and exercise the real listener, middleware and shutdown.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is a test failure

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cyberlabel_server::{AppState, Config, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Test configuration: demo mode (example keys), unlimited rates, a stub page.
pub fn config(data: &Path) -> Config {
    let www = data.join("www");
    std::fs::create_dir_all(www.join("pkg")).unwrap();
    std::fs::write(
        www.join("index.html"),
        "<!doctype html><title>verifier</title>",
    )
    .unwrap();
    std::fs::write(www.join("pkg").join("v.wasm"), b"\0asm\x01\0\0\0").unwrap();
    Config {
        data_dir: data.join("data"),
        www_dir: www,
        demo: true,
        read_rps: 0,
        write_rps: 0,
        heavy_rps: 0,
        origin: "test.example/log".into(),
        verifier_url: "https://verify.example/v".into(),
        batch_size: 64,
        max_delay_ms: 2,
        ..Config::default()
    }
}

impl Server {
    pub async fn start(cfg: Config) -> Server {
        let state = AppState::open(cfg).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(cyberlabel_server::serve(
            listener,
            state.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        Server {
            addr,
            state,
            stop: Some(tx),
            handle,
        }
    }

    /// Graceful shutdown; waits until the server (and the log) have stopped and the database
    /// handle is released.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.handle).await.unwrap().unwrap();
        let Server { state, .. } = self;
        state.db().flush().unwrap();
        drop(state);
    }

    pub fn token(&self, schemes: &[&str], role: Role, expires_at: Option<u64>) -> String {
        let schemes = schemes.iter().map(|s| (*s).to_owned()).collect();
        self.state
            .tokens()
            .create(
                schemes,
                role,
                expires_at,
                "test".into(),
                cyberlabel_server::now_unix(),
            )
            .unwrap()
            .0
    }

    pub async fn get(&self, path: &str) -> Resp {
        request(self.addr, "GET", path, &[], b"").await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &[u8]) -> Resp {
        self.post_with(path, token, &[], body).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        headers.extend_from_slice(extra);
        request(self.addr, "POST", path, &headers, body).await
    }

    /// Mints `product(name)` with `token`; the new label's index.
    pub async fn mint(&self, token: &str, name: &str) -> u64 {
        let r = self
            .post("/labels", Some(token), product(name).to_string().as_bytes())
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["index"].as_u64().unwrap()
    }

    pub async fn tree_size(&self) -> u64 {
        let r = self.get("/healthz").await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["tree_size"].as_u64().unwrap()
    }
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection. The body is written concurrently with reading,
/// so an early response (413) is read even if the server stops reading the body.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    try_request(addr, method, path, headers, body)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// As [`request`], but a refused or cut connection is an `Err` (for shutdown tests).
pub async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Resp, String> {
    try_request_from(None, addr, method, path, headers, body).await
}

/// As [`try_request`], from the local address `src` (another client IP on loopback:
/// 127.0.0.2, … — the rate limiters key on it).
pub async fn try_request_from(
    src: Option<std::net::IpAddr>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Resp, String> {
    let stream = match src {
        None => TcpStream::connect(addr).await.map_err(|e| e.to_string())?,
        Some(ip) => {
            let sock = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
            sock.bind(SocketAddr::new(ip, 0))
                .map_err(|e| e.to_string())?;
            sock.connect(addr).await.map_err(|e| e.to_string())?
        }
    };
    let (mut rd, mut wr) = stream.into_split();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    let chunked = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"));
    if !chunked && (method != "GET" || !body.is_empty()) {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&out).await;
        wr
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(resp) = parse(&buf, false) {
            drop(writer);
            return Ok(resp);
        }
        match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    parse(&buf, true)
        .ok_or_else(|| format!("incomplete response: {:?}", String::from_utf8_lossy(&buf)))
}

fn parse(buf: &[u8], eof: bool) -> Option<Resp> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let rest = &buf[end + 4..];
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let body = if let Some(len) = get("content-length") {
        let len: usize = len.parse().ok()?;
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else if get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(
            std::str::from_utf8(&b[..nl])
                .ok()?
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        b = &b[nl + 2..];
        if size == 0 {
            return Some(out);
        }
        if b.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

pub fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_path_buf();
    (d, p)
}

/// A valid product description (SG-CLS level 2, third-party).
pub fn product(name: &str) -> serde_json::Value {
    serde_json::json!({
        "scheme": "SG-CLS",
        "level": 2,
        "manufacturer": "Acme Devices Pte Ltd",
        "product": name,
        "hardware_versions": "rev B",
        "firmware_versions": "2.4.0",
        "category": 1,
        "provisions": ["5.1-1", "5.1-2", "5.2-1", "5.3-13", "5.3-16"],
        "assessment": "third_party",
        "lab": "SG-LAB-007",
        "support_until": "2028-12-31"
    })
}

/// Independent verifier material, derived from the example keys (not from the server).
pub struct Verifier {
    pub policy: cyberlabel_core::checkpoint::Policy,
    pub issuer: ed25519_dalek::VerifyingKey,
}

pub fn verifier(origin: &str) -> Verifier {
    use cyberlabel_core::note::{KeyKind, VerifierKey};
    let log = cyberlabel_issuer::keys::load_example_log_key()
        .unwrap()
        .verifying_key();
    let vkey = VerifierKey::new(origin, KeyKind::Ed25519, log).unwrap();
    Verifier {
        policy: cyberlabel_core::checkpoint::Policy::log_only(vkey),
        issuer: cyberlabel_issuer::keys::load_example_issuer_key()
            .unwrap()
            .verifying_key(),
    }
}

/// The value of one sample line of the Prometheus text (`name{labels} value`).
pub fn metric(text: &str, sample: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {sample} in metrics"))
        .parse()
        .unwrap()
}
