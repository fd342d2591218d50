//! The verifier page's files as the bucket must hold them, mirroring the server's routes:
//! `v` and `index.html` (the page; `/` maps to `index.html` on a static host), `sw.js` at the
//! root (its scope must cover `/` and `/v`), and every file of the page directory under
//! `assets/` (the server serves `<www>/<path>` as `/assets/<path>`, which is how
//! `/assets/pkg/…` reaches the wasm-bindgen output).
//!
//! A bucket cannot send the page's `Content-Security-Policy` header; the `<meta>` policy in
//! `index.html` carries it (the caller passes the page with its `connect-src` already widened
//! to partner logs, as the server serves it). A CDN in front may add the header as well.

use std::path::Path;

use crate::SiteFile;

/// `Cache-Control` of the page and the service worker: revalidate every time (as the server).
pub const PAGE_CACHE: &str = "no-cache";
/// `Cache-Control` of the page's assets (not content-addressed: short, as the server).
pub const ASSET_CACHE: &str = "public, max-age=300";

/// The `Content-Type` the server gives a file name.
#[must_use]
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map_or("", |(_, e)| e) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The page directory `www` as site files. `page` is the page as served (with its CSP meta
/// widened); `None` = `index.html` as it is on disk. Hidden files and names outside the
/// server's character set are left out, as the server would not serve them.
///
/// # Errors
/// Reading the directory.
pub fn www_files(www: &Path, page: Option<Vec<u8>>) -> std::io::Result<Vec<SiteFile>> {
    let mut out = Vec::new();
    let page = match page {
        Some(p) => p,
        None => std::fs::read(www.join("index.html"))?,
    };
    for key in ["v", "index.html"] {
        out.push(SiteFile {
            key: key.into(),
            body: page.clone(),
            content_type: content_type("index.html").into(),
            cache_control: PAGE_CACHE.into(),
        });
    }
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let dir = if rel.is_empty() {
            www.to_path_buf()
        } else {
            www.join(&rel)
        };
        let mut names: Vec<_> = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e)))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, entry) in names {
            let safe = !name.starts_with('.')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
            if !safe {
                continue;
            }
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                let body = std::fs::read(entry.path())?;
                if path == "register.html" {
                    // the register's search page, at the path the server serves it
                    out.push(SiteFile {
                        key: "register".into(),
                        body: body.clone(),
                        content_type: content_type(&name).into(),
                        cache_control: PAGE_CACHE.into(),
                    });
                }
                if path == "sw.js" {
                    out.push(SiteFile {
                        key: "sw.js".into(),
                        body: body.clone(),
                        content_type: content_type(&name).into(),
                        cache_control: PAGE_CACHE.into(),
                    });
                }
                out.push(SiteFile {
                    key: format!("assets/{path}"),
                    body,
                    content_type: content_type(&name).into(),
                    cache_control: ASSET_CACHE.into(),
                });
            }
        }
    }
    Ok(out)
}
