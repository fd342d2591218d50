//! Cross-cutting behaviour over real HTTP: authentication errors, CORS only on reads, the
//! page's CSP, body limits, JSON errors, the data-directory lock.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use common::{Server, config, request, tempdir};
use cyberlabel_server::Role;

#[tokio::test]
async fn auth_errors_are_json_401() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    for path in [
        "/labels",
        "/labels/bulk",
        "/labels/0/renew",
        "/labels/0/suspend",
        "/labels/0/reinstate",
        "/labels/0/revoke",
    ] {
        let r = server.post(path, None, b"{}").await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json()["error"], "unauthorized");
        assert!(r.header("www-authenticate").is_some());
        let r = server
            .post(
                path,
                Some("clt_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                b"{}",
            )
            .await;
        assert_eq!(r.status, 401, "{path}");
        let r = server.post(path, Some("not-a-token"), b"{}").await;
        assert_eq!(r.status, 401, "{path}");
    }
    let expired = server.token(&["SG-CLS"], Role::Admin, Some(1));
    let r = server.post("/labels", Some(&expired), b"{}").await;
    assert_eq!(r.status, 401);
    assert!(r.json()["message"].as_str().unwrap().contains("expired"));
    server.stop().await;
}

#[tokio::test]
async fn cors_on_reads_only_and_page_headers() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let origin = [("origin", "https://elsewhere.example")];
    let r = request(server.addr, "GET", "/openapi.json", &origin, b"").await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = request(server.addr, "POST", "/labels", &origin, b"{}").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("access-control-allow-origin"), None);
    // Preflight for a write is not granted.
    let pre = [
        ("origin", "https://elsewhere.example"),
        ("access-control-request-method", "POST"),
    ];
    let r = request(server.addr, "OPTIONS", "/labels", &pre, b"").await;
    assert_eq!(r.header("access-control-allow-origin"), None);

    for p in ["/", "/v"] {
        let r = server.get(p).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(
            r.header("content-security-policy"),
            Some(cyberlabel_server::www::CSP)
        );
        assert!(r.text().contains("verifier"));
    }
    let r = server.get("/assets/pkg/v.wasm").await;
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/wasm"))
    );
    assert_eq!(server.get("/assets/../data/db").await.status, 404);
    assert_eq!(server.get("/assets/pkg/..%2f..%2fdata").await.status, 404);
    let r = server.get("/assets/config.json").await;
    let cfg = r.json();
    assert_eq!(cfg["origin"], "test.example/log");
    assert_eq!(cfg["verifier_url"], "https://verify.example/v");
    let r = server.get("/nope").await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (404, Some("not_found"))
    );
    server.stop().await;
}

#[tokio::test]
async fn body_limits_413() {
    let (_d, dir) = tempdir();
    let server = Server::start(config(&dir)).await;
    let tok = server.token(&["*"], Role::Admin, None);
    let big = vec![b' '; 64 * 1024 + 1];
    let r = server.post("/labels", Some(&tok), &big).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json()["error"], "payload_too_large");
    let r = server.post("/labels/0/revoke", Some(&tok), &big).await;
    assert_eq!(r.status, 413);
    // Bulk allows 16 MiB: the same body is not too large there (it is rejected as malformed).
    let r = server.post("/labels/bulk", Some(&tok), &big).await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Without a Content-Length (chunked), the limit holds while streaming.
    let auth = format!("Bearer {tok}");
    let mut chunked = format!("{:x}\r\n", big.len()).into_bytes();
    chunked.extend_from_slice(&big);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let r = request(
        server.addr,
        "POST",
        "/labels",
        &[("authorization", &auth), ("transfer-encoding", "chunked")],
        &chunked,
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text());
    server.stop().await;
}

#[tokio::test]
async fn rate_limit_429() {
    let (_d, dir) = tempdir();
    let mut cfg = config(&dir);
    cfg.read_rps = 1;
    cfg.read_burst = 3;
    let server = Server::start(cfg).await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(server.get("/healthz").await.status);
    }
    assert_eq!(&codes[..3], &[200, 200, 200]);
    assert_eq!(codes[4], 429);
    server.stop().await;
}

/// Writes have their own limiter, keyed by client IP and applied before authentication: a
/// client over its write budget gets 429 whether or not its token is valid (a fake token buys no
/// fresh bucket), while its reads are not affected. The limiter's rate arithmetic is unit-tested
/// with an injected clock (src/ratelimit.rs); this test shows the server applies it to writes.
#[tokio::test]
async fn write_rate_limit_429_before_auth() {
    let (_d, dir) = tempdir();
    let mut cfg = config(&dir);
    cfg.write_rps = 1;
    cfg.write_burst = 1;
    let server = Server::start(cfg).await;
    let tok = server.token(&["*"], Role::Admin, None);
    let started = std::time::Instant::now();
    // The one token of the burst goes to an unauthenticated request (401: the limiter ran first
    // and let it through to authentication).
    assert_eq!(
        server.post("/labels/0/revoke", None, b"{}").await.status,
        401
    );
    // Then writes are refused, with a valid token or a made-up one, until the bucket refills
    // (one token a second; 20 loopback requests cannot all be a second apart).
    let mut statuses = Vec::new();
    for i in 0..20 {
        let token = if i % 2 == 0 {
            Some(tok.as_str())
        } else {
            Some("clt_0_fake")
        };
        let r = server.post("/labels/0/revoke", token, b"{}").await;
        statuses.push(r.status);
        if r.status == 429 {
            assert_eq!(r.json()["error"], "rate_limited", "{}", r.text());
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // Never more writes through than the burst plus one a second.
    let through = 1 + statuses.iter().filter(|s| **s != 429).count() as u64;
    assert!(
        through <= 1 + started.elapsed().as_secs() + 1,
        "{through} writes passed the limiter in {:?}: {statuses:?}",
        started.elapsed()
    );
    // Reads are a separate class (unlimited in this config).
    assert_eq!(server.get("/healthz").await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn data_dir_is_locked_while_serving() {
    let (_d, dir) = tempdir();
    let cfg = config(&dir);
    let data = cfg.data_dir.clone();
    let server = Server::start(cfg).await;
    let err = cyberlabel_server::open_db(&data).unwrap_err().to_string();
    assert!(
        err.contains("locked") && err.contains("cyberlabel serve"),
        "{err}"
    );
    server.stop().await;
    // Released after a graceful stop.
    assert!(cyberlabel_server::open_db(&data).is_ok());
}
