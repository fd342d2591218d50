//! Expensive reads cannot starve cheap ones: label images (and proofs) are charged to a token
//! bucket of their own, so a client hammering artwork gets 429s while `/checkpoint` keeps
//! answering, for it and for everyone else; and a label image is rendered once, then served
//! from the cache (seen in the cache metrics).

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{Resp, Server, config, metric, tempdir, try_request_from};
use cyberlabel_server::Role;

const HAMMER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

async fn get(server: &Server, from: IpAddr, path: &str) -> Resp {
    try_request_from(Some(from), server.addr, "GET", path, &[], b"")
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artwork_flood_is_limited_apart_from_cheap_reads_and_cached() {
    let (_d, dir) = tempdir();
    let mut cfg = config(&dir);
    // Cheap reads: limited, but generously; expensive reads: a small bucket, slow refill
    // (cost of an image: IMAGE_COST tokens, so the burst holds two images).
    cfg.read_rps = 1000;
    cfg.read_burst = 1000;
    cfg.heavy_rps = 1;
    cfg.heavy_burst = 2 * cyberlabel_server::routes::IMAGE_COST;
    let server = Server::start(cfg).await;
    let issuer = server.token(&["SG-CLS"], Role::Issuer, None);
    let index = server.mint(&issuer, "Cam 1").await;
    let artwork = format!("/labels/{index}/artwork.png");

    // First fetch renders (a miss), the second is served from the cache (a hit), same bytes.
    let first = get(&server, HAMMER, &artwork).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("content-type"), Some("image/png"));
    let m = get(&server, OTHER, "/metrics").await.text();
    assert_eq!(
        metric(&m, "cyberlabel_image_cache_requests_total{result=\"miss\"}"),
        1
    );
    assert_eq!(
        metric(&m, "cyberlabel_image_cache_requests_total{result=\"hit\"}"),
        0
    );
    let cached_bytes = metric(&m, "cyberlabel_image_cache_bytes");
    assert!(
        cached_bytes >= first.body.len() as u64,
        "the render's images are held: {cached_bytes} bytes"
    );
    let second = get(&server, HAMMER, &artwork).await;
    assert_eq!(second.status, 200);
    assert_eq!(
        second.body, first.body,
        "the cached image is the rendered one"
    );
    let m = get(&server, OTHER, "/metrics").await.text();
    assert_eq!(
        metric(&m, "cyberlabel_image_cache_requests_total{result=\"hit\"}"),
        1
    );
    assert_eq!(
        metric(&m, "cyberlabel_image_cache_requests_total{result=\"miss\"}"),
        1,
        "the second fetch did not render again"
    );
    // One render drew all four images: the SVG artwork and the QR codes are hits too.
    // (each from a client of its own: every image costs IMAGE_COST of its client's bucket)
    for (i, img) in ["artwork.svg", "qr.png", "qr.svg"].into_iter().enumerate() {
        let client = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + i as u8));
        let r = get(&server, client, &format!("/labels/{index}/{img}")).await;
        assert_eq!(r.status, 200, "{img}");
    }
    let m = get(&server, OTHER, "/metrics").await.text();
    assert_eq!(
        metric(&m, "cyberlabel_image_cache_requests_total{result=\"miss\"}"),
        1
    );

    // The hammering client has spent its expensive-read burst: it gets 429s, with 8 workers
    // at once; meanwhile the other client's (and its own) cheap reads all succeed.
    let mut hammer = Vec::new();
    for _ in 0..8 {
        let (addr, path) = (server.addr, artwork.clone());
        hammer.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for _ in 0..25 {
                let r = try_request_from(Some(HAMMER), addr, "GET", &path, &[], b"")
                    .await
                    .unwrap();
                codes.push(r.status);
            }
            codes
        }));
    }
    let mut cheap = Vec::new();
    for _ in 0..100 {
        cheap.push(get(&server, OTHER, "/checkpoint").await.status);
        cheap.push(get(&server, HAMMER, "/checkpoint").await.status);
    }
    let mut codes = Vec::new();
    for h in hammer {
        codes.extend(h.await.unwrap());
    }
    let limited = codes.iter().filter(|&&c| c == 429).count();
    assert!(
        codes.iter().all(|&c| c == 200 || c == 429),
        "only served or limited: {codes:?}"
    );
    assert!(limited > 0, "the artwork flood was never limited");
    assert!(
        cheap.iter().all(|&c| c == 200),
        "a cheap read failed during the flood: {cheap:?}"
    );
    // The other client's own expensive bucket is untouched by the flood.
    assert_eq!(get(&server, OTHER, &artwork).await.status, 200);
    let m = get(&server, OTHER, "/metrics").await.text();
    assert!(metric(&m, "cyberlabel_rate_limited_total{class=\"heavy\"}") >= limited as u64);
    assert_eq!(
        metric(&m, "cyberlabel_rate_limited_total{class=\"read\"}"),
        0
    );
    println!(
        "artwork flood: {limited} of {} requests limited (429), {} served; 200 cheap reads all 200",
        codes.len(),
        codes.len() - limited
    );
    server.stop().await;
}
