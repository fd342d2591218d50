//! `cyberlabel` as the client of a real running `cyberlabel serve --demo` process: bulk
//! issuance from a 10 000-row CSV killed half-way and rerun (each row minted exactly once,
//! counted in the log), tokens managed over the admin API while the server runs (a revoked
//! token is refused on the next request), attribution in the server's JSON log, the renewal
//! of a suspended label refused, and one spelling of product files, reasons and assessment
//! across `issue`, `schemes`, the client and the API.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{DemoServer, bin, http};
use serde_json::Value;

fn run(args: &[&str], server: &DemoServer, token: Option<&str>) -> Output {
    let mut c = bin();
    c.args(args).env("CYBERLABEL_SERVER", server.url());
    match token {
        Some(t) => c.env("CYBERLABEL_TOKEN", t),
        None => c.env_remove("CYBERLABEL_TOKEN"),
    };
    c.output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn admin(server: &DemoServer) -> String {
    std::fs::read_to_string(server.admin_token_file())
        .unwrap()
        .trim()
        .to_owned()
}

/// `cyberlabel token create --server …` with the demo admin token: a new token.
fn create_token(server: &DemoServer, role: &str) -> String {
    let out = run(
        &["token", "create", "--role", role, "--scheme", "SG-CLS"],
        server,
        Some(&admin(server)),
    );
    ok(&out).trim().to_owned()
}

fn token_id(token: &str) -> &str {
    token.split('_').nth(1).unwrap()
}

/// The labels a token minted, by `cyberlabel client minted`.
fn minted(server: &DemoServer, token: &str) -> Vec<u64> {
    ok(&run(&["client", "minted"], server, Some(token)))
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

fn results(out: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(out.join("results.csv")).unwrap_or_default();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// 10 000 rows; the client is killed (SIGKILL) once some chunks are recorded, and the tail of
/// its results file is cut off as if those writes never reached the disk — so the rerun must
/// resend rows the server already minted. The server answers them with their labels (per-row
/// keys): the log grows by exactly 10 000, each row has one label, and every row's QR image and
/// printable artwork are written (drawn by the client from the returned label bytes; the other
/// test checks they are byte-identical to the server's own).
#[test]
fn bulk_client_killed_half_way_and_rerun_mints_each_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = DemoServer::start(&dir.path().join("data"), &[]);
    let issuer = create_token(&server, "issuer");
    const ROWS: u64 = 10_000;
    let csv = dir.path().join("products.csv");
    let mut text = String::from(
        "scheme,level,manufacturer,product,hardware_versions,firmware_versions,category,provisions,assessment,lab,support_until\n",
    );
    for i in 0..ROWS {
        text.push_str(&format!(
            "SG-CLS,2,Acme Devices,\"Cam {i}, outdoor\",rev B,2.4.0,Smart camera,5.1-1;5.2-1;5.3-13,third_party,SG-LAB-007,2029-12-31\n"
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let out = dir.path().join("out");
    let before = server.tree_size();
    let args = |images: &str| -> Vec<String> {
        vec![
            "client".into(),
            "issue-bulk".into(),
            csv.to_str().unwrap().into(),
            "--out".into(),
            out.to_str().unwrap().into(),
            "--images".into(),
            images.into(),
        ]
    };
    let started = Instant::now();
    let mut child = bin()
        .args(args("all"))
        .env("CYBERLABEL_SERVER", server.url())
        .env("CYBERLABEL_TOKEN", &issuer)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // kill once at least two chunks (of 500) are recorded
    loop {
        let rows = results(&out);
        assert!(rows.iter().all(|r| r[2] == "ok"), "{:?}", rows.first());
        if rows.len() >= 1000 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the client finished before it could be interrupted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let recorded = results(&out).len();
    assert!(recorded < ROWS as usize, "killed half-way: {recorded} rows");
    // lose the last 300 recorded rows, as if their write never reached the disk
    let raw = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let lines: Vec<&str> = raw.lines().collect();
    let kept = lines[..lines.len() - 300].join("\n") + "\n";
    std::fs::write(out.join("results.csv"), kept).unwrap();
    let after_kill = server.tree_size();

    // rerun: completes, resending the lost rows (replayed) and the rest
    let o = bin()
        .args(args("all"))
        .env("CYBERLABEL_SERVER", server.url())
        .env("CYBERLABEL_TOKEN", &issuer)
        .output()
        .unwrap();
    ok(&o);
    let elapsed = started.elapsed();
    let after = server.tree_size();
    assert_eq!(after - before, ROWS, "exactly one label per row in the log");
    assert!(after_kill - before >= recorded as u64 - 300);

    let rows = results(&out);
    // columns: row, key, outcome, index, kid, … (no field here holds a comma)
    assert_eq!(rows.len(), ROWS as usize);
    let row_numbers: BTreeSet<u64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(row_numbers, (1..=ROWS).collect());
    assert!(rows.iter().all(|r| r[2] == "ok"), "every row ok");
    let indices: BTreeSet<u64> = rows.iter().map(|r| r[3].parse().unwrap()).collect();
    assert_eq!(indices.len(), ROWS as usize, "distinct labels");
    assert!(indices.iter().all(|i| (before..after).contains(i)));
    assert!(rows.iter().all(|r| r[4].len() == 16), "kid recorded");
    for i in &indices {
        for image in ["qr", "artwork"] {
            let path = out.join(format!("labels/{i}-{image}.png"));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{image} of {i}: {e}"));
            assert!(
                bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
                "{image} of {i} is a PNG"
            );
        }
    }
    // the server attributes exactly these labels to the token
    let by_token: BTreeSet<u64> = minted(&server, &issuer).into_iter().collect();
    assert_eq!(by_token, indices);
    // a third run has nothing left to do
    let o = bin()
        .args(args("all"))
        .env("CYBERLABEL_SERVER", server.url())
        .env("CYBERLABEL_TOKEN", &issuer)
        .output()
        .unwrap();
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("10000 already done"));
    assert_eq!(server.tree_size(), after);
    eprintln!(
        "bulk client: {ROWS} rows (QR and artwork) with one kill and a rerun in {:.1} s",
        elapsed.as_secs_f64()
    );
}

/// Everything an operator does against the running server, through the `cyberlabel` binary.
#[test]
fn operators_and_one_spelling_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = DemoServer::start(&data, &["--log-json"]);

    // tokens over the admin API while the server runs; the offline form says to use it
    let issuer = create_token(&server, "issuer");
    let revoker = create_token(&server, "revoker");
    let listed = ok(&run(&["token", "list"], &server, Some(&admin(&server))));
    assert!(listed.contains(token_id(&issuer)), "{listed}");
    let in_90_days = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        cyberlabel_issuer::dates::format_date(now + 90 * 86_400)
    };
    let line = listed
        .lines()
        .find(|l| l.contains(token_id(&issuer)))
        .unwrap();
    assert!(line.contains(&in_90_days), "default expiry 90 days: {line}");
    let locked = bin()
        .args(["token", "list", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!locked.status.success());
    let msg = String::from_utf8_lossy(&locked.stderr);
    assert!(msg.contains("locked") && msg.contains("--server"), "{msg}");

    // one spelling: the same product file, with the hyphenated alias, through the offline
    // `issue`, `client issue` and a raw `POST /labels`
    let product = r#"{"scheme": "SG-CLS", "level": 2, "manufacturer": "Acme", "product": "Cam 2",
        "hardware_versions": "rev B", "firmware_versions": "2.4.0", "category": 1,
        "provisions": ["5.1-1", "5.2-1", "5.3-13"], "assessment": "third-party",
        "lab": "SG-LAB-007", "support_until": "2028-12-31"}"#;
    let canonical = product.replace("third-party", "third_party");
    let mut mine = Vec::new();
    for (name, text) in [
        ("alias.json", product),
        ("canonical.json", canonical.as_str()),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let o = bin()
            .args(["issue", "--demo", "--product-file"])
            .arg(&file)
            .arg("--out")
            .arg(dir.path().join(format!("offline-{name}")))
            .output()
            .unwrap();
        ok(&o);
        let o = run(
            &["client", "issue", "--product-file", file.to_str().unwrap()],
            &server,
            Some(&issuer),
        );
        let printed = ok(&o);
        mine.push(
            printed
                .split(':')
                .next()
                .unwrap()
                .trim_start_matches("label ")
                .parse::<u64>()
                .unwrap(),
        );
        let (st, body) = http(&server.addr, "POST", "/labels", Some(&issuer), text);
        assert_eq!(st, 201, "{name}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        mine.push(v["index"].as_u64().unwrap());
    }
    let schemes = ok(&bin().arg("schemes").output().unwrap());
    assert!(
        schemes.contains("third_party") && !schemes.contains("thirdparty"),
        "{schemes}"
    );
    assert!(
        schemes.contains("8 unremediated_vulnerability"),
        "{schemes}"
    );

    // status changes by name; a suspended label is not renewed by the issuer
    let label = mine[0].to_string();
    ok(&run(
        &[
            "client",
            "suspend",
            &label,
            "--reason",
            "unremediated-vulnerability",
        ],
        &server,
        Some(&revoker),
    ));
    let o = run(
        &["client", "renew", &label, "--firmware-versions", "2.5.0"],
        &server,
        Some(&issuer),
    );
    assert!(!o.status.success());
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(
        msg.contains("409") && msg.contains("suspended") && msg.contains("reinstate it first"),
        "{msg}"
    );
    let o = run(
        &["client", "revoke", &label, "--reason", "vuln"],
        &server,
        Some(&revoker),
    );
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && msg.contains("8 unremediated_vulnerability"),
        "{msg}"
    );
    ok(&run(
        &["client", "reinstate", &label],
        &server,
        Some(&revoker),
    ));
    let renewed = ok(&run(
        &["client", "renew", &label, "--firmware-versions", "2.5.0"],
        &server,
        Some(&issuer),
    ));
    let new_index: u64 = renewed
        .split("renewed by label ")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    mine.push(new_index);

    // artwork on a subset: NDJSON, every image written, identical to the server's own
    let nd = dir.path().join("few.ndjson");
    let line = canonical.replace('\n', " ");
    std::fs::write(&nd, format!("{line}\n\n{line}\n{line}\n")).unwrap();
    let out = dir.path().join("few");
    ok(&run(
        &[
            "client",
            "issue-bulk",
            nd.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &server,
        Some(&issuer),
    ));
    let rows = results(&out);
    assert_eq!(
        rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        ["1", "3", "4"],
        "NDJSON rows are line numbers"
    );
    for r in &rows {
        let i: u64 = r[3].parse().unwrap();
        mine.push(i);
        for (file, route) in [("qr", "qr.png"), ("artwork", "artwork.png")] {
            let local = std::fs::read(out.join(format!("labels/{i}-{file}.png"))).unwrap();
            let served = get_raw(&format!("{}/labels/{i}/{route}", server.url()));
            assert!(
                local == served,
                "{file} of label {i} differs from the server's"
            );
        }
    }

    // what the token minted
    mine.sort_unstable();
    assert_eq!(minted(&server, &issuer), mine);

    // attribution: every write is logged with the token's id (never its secret)
    let log = server.log.lock().unwrap().clone();
    let attributed = log
        .iter()
        .filter(|l| l.contains(&format!("\"token_id\":\"{}\"", token_id(&issuer))))
        .filter(|l| l.contains("label minted"))
        .count();
    assert!(attributed >= 4, "{log:#?}");
    assert!(
        log.iter()
            .any(|l| l.contains("label status changed") && l.contains(token_id(&revoker))),
        "status changes attributed"
    );
    // `clt_<16 hex>_<43 base64url>`: the secret may itself contain '_', so cut by position
    let secret = &issuer["clt_".len() + 16 + 1..];
    assert_eq!(secret.len(), 43, "{issuer}");
    assert!(log.iter().all(|l| !l.contains(secret)), "secret logged");

    // revoke while running: the next request with the token is refused with 401
    ok(&run(
        &["token", "revoke", token_id(&issuer)],
        &server,
        Some(&admin(&server)),
    ));
    let (st, body) = http(&server.addr, "POST", "/labels", Some(&issuer), product);
    assert_eq!(st, 401, "{body}");
    let o = run(
        &[
            "client",
            "issue",
            "--product-file",
            dir.path().join("alias.json").to_str().unwrap(),
        ],
        &server,
        Some(&issuer),
    );
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && msg.contains("401"), "{msg}");
}

fn get_raw(url: &str) -> Vec<u8> {
    let (addr, path) = url
        .strip_prefix("http://")
        .unwrap()
        .split_once('/')
        .unwrap();
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    out[at + 4..].to_vec()
}
