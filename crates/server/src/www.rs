//! The verifier web page and its assets, served from a directory (`www_dir`).
//!
//! `/` and `/v` → `index.html` with a strict Content-Security-Policy; `/assets/<path>` → the
//! file `<www_dir>/assets/<path>`, or else `<www_dir>/<path>` (so the wasm-bindgen output in
//! `<www_dir>/pkg/` is reachable as `/assets/pkg/…`); `/assets/config.json` is generated from the
//! server's configuration. Paths are sanitised segment by segment (no `..`, no hidden files, a
//! small character set), so nothing outside the directory can be named.

use std::path::{Path, PathBuf};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The page's Content-Security-Policy (contract with the verifier page) when the trust list
/// names no partner log.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
img-src 'self' blob: data:; connect-src 'self'; media-src 'self' blob: mediastream:; worker-src 'self'; \
manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's CSP when the trust list names partner logs: the page may also connect to their
/// read sides, and to nothing else (`log_urls` are the partner logs' base URLs from the signed
/// trust list; anything that is not a plain http(s) origin is left out).
#[must_use]
pub fn csp(log_urls: &[&str]) -> String {
    let mut sources = String::new();
    for url in log_urls {
        let Some((scheme, rest)) = url.split_once("://") else {
            continue;
        };
        let host = rest.split('/').next().unwrap_or("");
        let plain = !host.is_empty()
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if matches!(scheme, "http" | "https") && plain {
            let origin = format!(" {scheme}://{host}");
            if !sources.contains(&origin) {
                sources.push_str(&origin);
            }
        }
    }
    CSP.replacen(
        "connect-src 'self'",
        &format!("connect-src 'self'{sources}"),
        1,
    )
}

/// Largest static file served (the wasm module is ~150–300 KB).
const MAX_FILE: u64 = 8 * 1024 * 1024;

/// The file's `Content-Type`: the table the published copy uses too, so a page served from a
/// bucket gets the same headers.
fn content_type(path: &Path) -> &'static str {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    cyberlabel_publish::content_type(name)
}

/// Sanitised relative path, or `None` if any segment is unsafe.
fn safe_rel(path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.len() > 256 {
        return None;
    }
    let mut out = PathBuf::new();
    for seg in path.split('/') {
        let ok = !seg.is_empty()
            && !seg.starts_with('.')
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !ok {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

async fn read_file(path: &Path) -> Option<Vec<u8>> {
    let meta = tokio::fs::metadata(path).await.ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    tokio::fs::read(path).await.ok()
}

/// The page's own `<meta>` policy (kept for static hosting) widened the same way as the header:
/// browsers enforce both, so a partner log allowed by only one would stay blocked.
pub(crate) fn with_connect_src(body: Vec<u8>, csp: &str) -> Vec<u8> {
    let Some(directive) = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("connect-src"))
    else {
        return body;
    };
    if directive == "connect-src 'self'" {
        return body;
    }
    match String::from_utf8(body) {
        Ok(html) => html
            .replacen("connect-src 'self';", &format!("{directive};"), 1)
            .into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

/// The page (`index.html`) with security headers. 503 if the page has not been built.
pub async fn page(www: &Path, csp: &str) -> Response {
    page_file(www, "index.html", csp).await
}

/// A page of the site (`index.html`, `register.html`) with the CSP, as [`page`].
pub async fn page_file(www: &Path, name: &str, csp: &str) -> Response {
    let Some(body) = read_file(&www.join(name)).await else {
        return ApiError::unavailable(
            "the verifier page is not built (run `cargo xtask demo` or build wasm-verifier/www)",
        )
        .into_response();
    };
    let body = with_connect_src(body, csp);
    let mut resp = file_response(body, "text/html; charset=utf-8", "no-cache");
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(csp).unwrap_or(HeaderValue::from_static(CSP)),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    resp
}

/// `/sw.js`: the service worker, served from the root so its scope covers `/` and `/v`.
pub async fn service_worker(www: &Path) -> Response {
    let Some(body) = read_file(&www.join("sw.js")).await else {
        return ApiError::not_found("no service worker").into_response();
    };
    file_response(body, "text/javascript; charset=utf-8", "no-cache")
}

/// A 200 with the body, its content type and cache policy.
fn file_response(body: Vec<u8>, content_type: &'static str, cache: &'static str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

/// A file under `/assets/`.
pub async fn asset(www: &Path, rel: &str, csp: &str) -> Response {
    let Some(rel) = safe_rel(rel) else {
        return ApiError::not_found("no such asset").into_response();
    };
    for candidate in [www.join("assets").join(&rel), www.join(&rel)] {
        if let Some(body) = read_file(&candidate).await {
            // Assets are not content-addressed, so only a short cache.
            let mut resp = file_response(body, content_type(&candidate), "public, max-age=300");
            resp.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(csp).unwrap_or(HeaderValue::from_static(CSP)),
            );
            return resp;
        }
    }
    ApiError::not_found("no such asset").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_logs_widen_connect_src_and_nothing_else() {
        assert_eq!(csp(&[]), CSP);
        let c = csp(&[
            "https://labels.partner.example/log",
            "http://127.0.0.1:8081",
            "https://labels.partner.example",
            "javascript:alert(1)",
            "https://evil.example; script-src *",
        ]);
        assert!(
            c.contains("connect-src 'self' https://labels.partner.example http://127.0.0.1:8081;"),
            "{c}"
        );
        assert!(!c.contains("evil") && !c.contains("javascript"), "{c}");
        assert!(c.contains("script-src 'self' 'wasm-unsafe-eval';"), "{c}");
    }

    #[test]
    fn sanitises() {
        assert!(safe_rel("pkg/verifier_bg.wasm").is_some());
        for bad in [
            "../x",
            "a/../b",
            ".git/config",
            "a//b",
            "/etc/passwd",
            "a/b%2f",
            "",
            "a\\b",
        ] {
            assert!(safe_rel(bad).is_none(), "{bad}");
        }
        assert_eq!(content_type(Path::new("x/y.wasm")), "application/wasm");
    }
}
