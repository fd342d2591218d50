//! Graceful shutdown under load: requests in flight when shutdown starts are drained, every
//! acknowledged label is in the log after a restart, and the log is consistent (dense indices,
//! checkpoint size = number of entries).

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use common::{Server, config, product, tempdir};
use cyberlabel_server::Role;

#[tokio::test]
async fn shutdown_drains_in_flight_and_loses_nothing_acknowledged() {
    let (_d, dir) = tempdir();
    let mut cfg = config(&dir);
    // A long batch delay keeps appends pending in the sequencer when shutdown begins; the drain
    // then waits for that batch to commit (within the shutdown grace period).
    cfg.max_delay_ms = 2_000;
    cfg.batch_size = 1000;
    let server = Server::start(cfg.clone()).await;
    let tok = server.token(&["SG-CLS"], Role::Issuer, None);
    let mut tasks = Vec::new();
    for c in 0..24 {
        let (addr, tok) = (server.addr, tok.clone());
        tasks.push(tokio::spawn(async move {
            let auth = format!("Bearer {tok}");
            let body = product(&format!("c{c}")).to_string();
            let headers = [
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ];
            // A refused or cut connection (shutdown began first) is not an acknowledgement.
            let r = common::try_request(addr, "POST", "/labels", &headers, body.as_bytes())
                .await
                .ok()?;
            (r.status == 201).then(|| {
                (
                    r.json()["index"].as_u64().unwrap(),
                    r.json()["label"].as_str().unwrap().to_owned(),
                )
            })
        }));
    }
    // Shut down only once requests are waiting in the sequencer (their batch still open), so
    // the drain is really exercised.
    while server.state.service().appends_pending() < 4 && !tasks.iter().all(|t| t.is_finished()) {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let pending_at_shutdown = server.state.service().appends_pending();
    server.stop().await;
    assert!(
        pending_at_shutdown > 0,
        "shutdown began with nothing in flight"
    );
    let mut acked = Vec::new();
    for t in tasks {
        if let Ok(Some(x)) = t.await {
            acked.push(x);
        }
    }
    assert!(
        acked.len() as u64 >= pending_at_shutdown,
        "in-flight requests were drained, not dropped: {} acknowledged, {pending_at_shutdown} \
         were pending at shutdown",
        acked.len()
    );

    let server = Server::start(cfg).await;
    let size = server.tree_size().await;
    assert!(size >= acked.len() as u64);
    for (index, label) in &acked {
        let r = server.get(&format!("/labels/{index}")).await;
        assert_eq!(r.status, 200, "acknowledged label {index} lost");
        assert_eq!(r.json()["label"].as_str(), Some(label.as_str()));
    }
    let cp = server.get("/checkpoint").await.text();
    assert_eq!(cp.lines().nth(1).unwrap().parse::<u64>().unwrap(), size);
    server.stop().await;
}
