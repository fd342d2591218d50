//! `cyberlabel client issue-bulk`: mint a file of products through a running server, in
//! chunks, resumable.
//!
//! Each row gets an idempotency key derived from the batch (default: the file's name), its row
//! number and its content: SHA-256 over the three, so the same row of the same batch always
//! asks for the same label, and an edited row is a new request. The keys travel per item in the
//! bulk request (`{"idempotency_key", "product"}`), so the server answers a row it already
//! minted with that label instead of appending another — whatever chunk the row lands in on a
//! rerun. The results file is appended after each chunk (after the chunk's images are
//! written); a rerun skips the rows recorded there and resends the rest, and the server's
//! replay covers the rows minted but not yet recorded when the client was interrupted.
//!
//! Images are drawn here from the label bytes the server returns (the same code and options as
//! the server's `/labels/{i}/qr.png` and `/artwork.png`, so the same bytes) rather than fetched:
//! two HTTP round trips per label would cost more than the drawing. A label whose scheme the
//! local catalog does not know (a server with its own catalog) is fetched instead.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cyberlabel_core::catalog::Catalog;
use cyberlabel_issuer::mint::{self, MintError, RenderOptions};
use cyberlabel_issuer::product::ProductDescription;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::client::{Api, ServerArgs};

/// `issue-bulk --help` epilogue.
pub const HELP: &str = "\
Input: a CSV file (.csv; a header row naming product-description fields: scheme, level, \
manufacturer, product, hardware_versions, firmware_versions, category, provisions (separated \
by ';' or spaces), assessment, lab, expires_at, support_until) or NDJSON (.ndjson/.jsonl: one \
product description per line, as `cyberlabel issue --product-file` reads it).\n\
Output in --out: results.csv (row, key, outcome, index, kid, state, payload_url, qr_png, \
artwork_png, error) and labels/<index>-qr.png, labels/<index>-artwork.png.\n\
Resumable: rerun the same command after an interruption; rows already in results.csv are \
skipped, and the server answers rows it minted but the client did not record with the same \
label (per-row idempotency keys), so nothing is minted twice.\n\
Example: CYBERLABEL_SERVER=http://127.0.0.1:8080 CYBERLABEL_TOKEN=clt_… \
cyberlabel client issue-bulk products.csv --out labels-2026-11";

/// Largest input file.
const MAX_INPUT: u64 = 512 * 1024 * 1024;

/// Which images to write per label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Images {
    /// QR code PNG and printable artwork PNG.
    All,
    /// QR code PNG only.
    Qr,
    /// No images (results file only).
    None,
}

/// Arguments of `issue-bulk`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// Products: .csv, or .ndjson / .jsonl.
    file: PathBuf,
    /// Output directory: results.csv and labels/ (created if missing; reused on a rerun).
    #[arg(long)]
    out: PathBuf,
    /// Rows per bulk request.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    chunk: u32,
    /// Images to write for each label.
    #[arg(long, value_enum, default_value = "all")]
    images: Images,
    /// Names this batch in the idempotency keys (default: the input file's name). Keep it when
    /// rerunning a renamed file; change it to mint the same rows again on purpose.
    #[arg(long)]
    batch_id: Option<String>,
}

/// One input row: its number, its product JSON (or why it does not parse) and its key.
struct Row {
    number: u64,
    product: Result<Value, String>,
    key: String,
}

/// One results.csv record.
#[derive(Debug, Clone, Default)]
struct Outcome {
    row: u64,
    key: String,
    ok: bool,
    index: Option<u64>,
    kid: String,
    state: String,
    payload_url: String,
    qr_png: String,
    artwork_png: String,
    error: String,
}

const RESULTS_HEADER: [&str; 10] = [
    "row",
    "key",
    "outcome",
    "index",
    "kid",
    "state",
    "payload_url",
    "qr_png",
    "artwork_png",
    "error",
];

impl Outcome {
    fn fields(&self) -> [String; 10] {
        [
            self.row.to_string(),
            self.key.clone(),
            if self.ok { "ok" } else { "error" }.to_owned(),
            self.index.map(|i| i.to_string()).unwrap_or_default(),
            self.kid.clone(),
            self.state.clone(),
            self.payload_url.clone(),
            self.qr_png.clone(),
            self.artwork_png.clone(),
            self.error.clone(),
        ]
    }

    fn from_fields(f: &[String]) -> Option<Self> {
        if f.len() != RESULTS_HEADER.len() {
            return None;
        }
        let ok = match f[2].as_str() {
            "ok" => true,
            "error" => false,
            _ => return None,
        };
        Some(Self {
            row: f[0].parse().ok()?,
            key: f[1].clone(),
            ok,
            index: if f[3].is_empty() {
                None
            } else {
                Some(f[3].parse().ok()?)
            },
            kid: f[4].clone(),
            state: f[5].clone(),
            payload_url: f[6].clone(),
            qr_png: f[7].clone(),
            artwork_png: f[8].clone(),
            error: f[9].clone(),
        })
    }
}

/// Runs `issue-bulk`.
pub fn run(args: Args) -> Result<ExitCode> {
    let api = args.server.api()?;
    let batch = match &args.batch_id {
        Some(b) => b.clone(),
        None => args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("the input path has no file name: give --batch-id")?,
    };
    let rows = read_rows(&args.file, &batch)?;
    if rows.is_empty() {
        bail!("{} holds no products", args.file.display());
    }
    crate::util::ensure_dir(&args.out.join("labels"))?;
    let results_path = args.out.join("results.csv");
    let earlier = load_results(&results_path)?;
    let done: HashMap<u64, &str> = earlier
        .iter()
        .filter(|o| o.ok)
        .map(|o| (o.row, o.key.as_str()))
        .collect();
    let todo: Vec<&Row> = rows
        .iter()
        .filter(|r| done.get(&r.number) != Some(&r.key.as_str()))
        .collect();
    // Rewrite what was recorded (a torn last line from an interruption is dropped; earlier
    // errors are dropped too, their rows are retried), then append.
    let mut results = ResultsFile::rewrite(&results_path, earlier.iter().filter(|o| o.ok))?;
    let catalog = crate::schemes::catalog()?;
    let total = rows.len() as u64;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(total - todo.len() as u64);
    let started = std::time::Instant::now();
    let (mut minted, mut failed) = (0u64, 0u64);
    for chunk in todo.chunks(args.chunk as usize) {
        let outcomes = mint_chunk(&api, chunk, &catalog, &args.out, args.images)?;
        for o in &outcomes {
            if o.ok {
                minted += 1;
            } else {
                failed += 1;
                bar.println(format!("row {}: {}", o.row, o.error));
            }
        }
        results.append(&outcomes)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    eprintln!(
        "{} rows: {} already done before this run, {minted} labelled now (new, or answered with the label the server minted for the row earlier), {failed} failed ({:.1} s); results in {}",
        total,
        total - todo.len() as u64,
        started.elapsed().as_secs_f64(),
        results_path.display()
    );
    if failed > 0 {
        eprintln!(
            "fix the failed rows (see the error column) and rerun the same command: only they are retried"
        );
        return Ok(ExitCode::from(crate::util::EXIT_ERROR));
    }
    Ok(ExitCode::SUCCESS)
}

/// SHA-256(domain, batch, row number, row content), hex: the row's idempotency key.
fn row_key(batch: &str, row: u64, content: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"cyberlabel/bulk-row/v1\n");
    h.update(batch.as_bytes());
    h.update(b"\n");
    h.update(row.to_string().as_bytes());
    h.update(b"\n");
    h.update(content);
    hex::encode(h.finalize())
}

fn read_rows(path: &Path, batch: &str) -> Result<Vec<Row>> {
    let bytes = crate::util::read_bounded(path, MAX_INPUT, "products file")?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    // Spreadsheets export UTF-8 CSV with a byte-order mark, which would glue onto the first
    // column's name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let products: Vec<(u64, Result<Value, String>)> = match ext.as_str() {
        "csv" => csv_products(text).with_context(|| format!("{}", path.display()))?,
        "ndjson" | "jsonl" => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                (
                    i as u64 + 1,
                    serde_json::from_str::<Value>(l).map_err(|e| format!("not JSON: {e}")),
                )
            })
            .collect(),
        _ => bail!(
            "{}: name the products file .csv, .ndjson or .jsonl",
            path.display()
        ),
    };
    Ok(products
        .into_iter()
        .map(|(number, product)| {
            // Checked here too, so a malformed row is reported without a round trip; the
            // server validates against the catalog.
            let product = product.and_then(|v| {
                serde_json::from_value::<ProductDescription>(v.clone())
                    .map(|_| v)
                    .map_err(|e| format!("invalid product: {e}"))
            });
            let content = match &product {
                Ok(v) => serde_json::to_vec(v).unwrap_or_default(),
                Err(e) => e.as_bytes().to_vec(),
            };
            Row {
                number,
                key: row_key(batch, number, &content),
                product,
            }
        })
        .collect())
}

/// The CSV columns a product row may have (the product description's fields).
const COLUMNS: [&str; 13] = [
    "scheme",
    "level",
    "manufacturer",
    "product",
    "hardware_versions",
    "firmware_versions",
    "category",
    "provisions",
    "assessment",
    "lab",
    "issued_at",
    "expires_at",
    "support_until",
];

/// CSV rows (after a header row) as product JSON: empty cells are left out; `level` and
/// `category` are numbers when they are digits (names otherwise); `provisions` is split on
/// `;`, `,` or whitespace.
fn csv_products(text: &str) -> Result<Vec<(u64, Result<Value, String>)>> {
    let mut records = parse_csv(text)?.into_iter();
    let Some(header) = records.next() else {
        bail!("empty CSV file: the first row names the columns");
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
    for h in &header {
        if !COLUMNS.contains(&h.as_str()) {
            bail!(
                "unknown column {h:?} in the header row; columns are: {}",
                COLUMNS.join(", ")
            );
        }
    }
    Ok(records
        .enumerate()
        .filter(|(_, r)| r.iter().any(|c| !c.trim().is_empty()))
        .map(|(i, r)| {
            let row = i as u64 + 1;
            if r.len() != header.len() {
                return (
                    row,
                    Err(format!(
                        "{} cells where the header has {} columns",
                        r.len(),
                        header.len()
                    )),
                );
            }
            let mut o = Map::new();
            for (name, cell) in header.iter().zip(&r) {
                let cell = cell.trim();
                if cell.is_empty() {
                    continue;
                }
                let v = match name.as_str() {
                    "level" | "category" => cell
                        .parse::<u64>()
                        .map_or_else(|_| Value::from(cell), Value::from),
                    "provisions" => Value::from(
                        cell.split(|c: char| c == ';' || c == ',' || c.is_whitespace())
                            .filter(|p| !p.is_empty())
                            .collect::<Vec<_>>(),
                    ),
                    _ => Value::from(cell),
                };
                o.insert(name.clone(), v);
            }
            (row, Ok(Value::Object(o)))
        })
        .collect())
}

/// RFC 4180 CSV: comma-separated, `"`-quoted fields with `""` for a quote, CRLF or LF.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut line = 1u64;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        match c {
            '"' if field.is_empty() => {
                let start = line;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            line += u64::from(c == '\n');
                            field.push(c);
                        }
                        None => bail!("CSV line {start}: a quoted field is never closed"),
                    }
                }
                match chars.peek() {
                    None | Some(',' | '\n' | '\r') => {}
                    Some(_) => bail!("CSV line {line}: text after a closing quote"),
                }
            }
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                line += 1;
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                any = false;
            }
            c => field.push(c),
        }
    }
    if any {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// One CSV record. Line breaks inside a field become spaces, so every record of results.csv is
/// one line and a torn last line can be told from the rest.
fn csv_line(fields: &[String]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let f = f.replace(['\n', '\r'], " ");
        if f.contains([',', '"']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&f);
        }
    }
    out.push('\n');
    out
}

/// Earlier results (a missing file is none). Only complete lines count, and a line that does
/// not parse as a record — one torn by an interruption — is dropped: its row is resent, and
/// the server answers it with the label it minted, if it did.
fn load_results(path: &Path) -> Result<Vec<Outcome>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
    let mut lines = complete.lines();
    let header = lines.next().unwrap_or("");
    if !header.is_empty() && header != RESULTS_HEADER.join(",") {
        bail!(
            "{} is not a results file this command wrote: move it away or choose another --out",
            path.display()
        );
    }
    Ok(lines
        .filter_map(|l| parse_csv(l).ok()?.into_iter().next())
        .filter_map(|r| Outcome::from_fields(&r))
        .collect())
}

/// results.csv, appended a chunk at a time and synced, so what it records is on disk.
struct ResultsFile {
    file: fs::File,
    path: PathBuf,
}

impl ResultsFile {
    fn rewrite<'a>(path: &Path, keep: impl Iterator<Item = &'a Outcome>) -> Result<Self> {
        let tmp = path.with_extension("csv.tmp");
        let mut text = csv_line(&RESULTS_HEADER.map(str::to_owned));
        for o in keep {
            text.push_str(&csv_line(&o.fields()));
        }
        fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        let file = fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Self {
            file,
            path: path.to_owned(),
        })
    }

    fn append(&mut self, outcomes: &[Outcome]) -> Result<()> {
        let text: String = outcomes.iter().map(|o| csv_line(&o.fields())).collect();
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("cannot append to {}", self.path.display()))
    }
}

/// Sends one chunk (retrying while the server is busy or unreachable: the keys make a resend
/// safe), then writes each minted label's images.
fn mint_chunk(
    api: &Api,
    rows: &[&Row],
    catalog: &Catalog,
    out: &Path,
    images: Images,
) -> Result<Vec<Outcome>> {
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(rows.len());
    let mut body = Vec::new();
    let mut sent = Vec::new();
    for r in rows {
        if let Ok(p) = &r.product {
            let line = json!({ "idempotency_key": r.key, "product": p });
            serde_json::to_writer(&mut body, &line).context("cannot encode a row")?;
            body.push(b'\n');
            sent.push(outcomes.len());
        }
        outcomes.push(Outcome {
            row: r.number,
            key: r.key.clone(),
            error: r.product.as_ref().err().cloned().unwrap_or_default(),
            ..Outcome::default()
        });
    }
    if sent.is_empty() {
        return Ok(outcomes);
    }
    let reply = send_with_retries(api, &body)?;
    let results = reply["results"].as_array().cloned().unwrap_or_default();
    if results.len() != sent.len() {
        bail!(
            "the server answered {} results for {} items: is it a cyberlabel server?",
            results.len(),
            sent.len()
        );
    }
    let labels_dir = out.join("labels");
    let mut minted = Vec::new();
    for (slot, r) in sent.into_iter().zip(results) {
        let o = &mut outcomes[slot];
        if r["ok"].as_bool() == Some(true) {
            let view = &r["label"];
            o.ok = true;
            o.index = view["index"].as_u64();
            o.state = view["status"]["state"].as_str().unwrap_or("").to_owned();
            o.payload_url = view["payload_url"].as_str().unwrap_or("").to_owned();
            let bytes = view["label"]
                .as_str()
                .and_then(|b| B64.decode(b).ok())
                .context("the server's label view has no label bytes")?;
            o.kid = cyberlabel_core::cose::parse_sign1(&bytes)
                .ok()
                .and_then(|s| s.key_id())
                .map(hex::encode)
                .unwrap_or_default();
            minted.push((slot, bytes));
        } else {
            o.error = format!(
                "{} {}: {}",
                r["status"],
                r["field"]
                    .as_str()
                    .map(|f| format!("field {f}"))
                    .unwrap_or_default(),
                r["message"].as_str().unwrap_or("refused")
            );
        }
    }
    if images != Images::None {
        let drawn = draw_all(api, catalog, &minted, &outcomes, images)?;
        for (slot, (qr, art)) in drawn {
            let o = &mut outcomes[slot];
            let index = o.index.unwrap_or_default();
            let name = format!("{index}-qr.png");
            fs::write(labels_dir.join(&name), qr)
                .with_context(|| format!("cannot write {}", labels_dir.join(&name).display()))?;
            o.qr_png = format!("labels/{name}");
            if let Some(art) = art {
                let name = format!("{index}-artwork.png");
                fs::write(labels_dir.join(&name), art).with_context(|| {
                    format!("cannot write {}", labels_dir.join(&name).display())
                })?;
                o.artwork_png = format!("labels/{name}");
            }
        }
    }
    Ok(outcomes)
}

type Drawn = (usize, (Vec<u8>, Option<Vec<u8>>));

/// Draws the images of a chunk's labels on every core.
fn draw_all(
    api: &Api,
    catalog: &Catalog,
    minted: &[(usize, Vec<u8>)],
    outcomes: &[Outcome],
    images: Images,
) -> Result<Vec<Drawn>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per = minted.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = minted
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(slot, bytes)| {
                            let o = &outcomes[*slot];
                            draw(api, catalog, bytes, o, images).map(|d| (*slot, d))
                        })
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(minted.len());
        for h in handles {
            match h.join() {
                Ok(part) => all.extend(part?),
                Err(_) => bail!("drawing label images failed unexpectedly"),
            }
        }
        Ok(all)
    })
}

/// One label's QR PNG and (with `Images::All`) artwork PNG, as the server draws them.
fn draw(
    api: &Api,
    catalog: &Catalog,
    bytes: &[u8],
    o: &Outcome,
    images: Images,
) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let index = o.index.unwrap_or_default();
    // The server's QR prefix is the payload URL up to its '#'.
    let verifier_url = o.payload_url.split('#').next().unwrap_or("");
    if images == Images::Qr {
        let qr = cyberlabel_issuer::qr::LabelQr::new(&o.payload_url)
            .and_then(|q| q.to_png(8))
            .with_context(|| format!("cannot draw the QR code of label {index}"))?;
        return Ok((qr, None));
    }
    let opts = RenderOptions {
        verifier_url,
        cl1: false,
        module_px: 8,
    };
    match mint::render(bytes, catalog, &opts) {
        Ok(r) => Ok((r.qr_png, Some(r.artwork.png))),
        Err(MintError::NotInCatalog(..)) => Ok((
            api.get_bytes(&format!("/labels/{index}/qr.png"))?,
            Some(api.get_bytes(&format!("/labels/{index}/artwork.png"))?),
        )),
        Err(e) => Err(e).with_context(|| format!("cannot draw label {index}")),
    }
}

/// POST /labels/bulk, retrying on 429/503 and on network failures (a few times, backing off).
fn send_with_retries(api: &Api, body: &[u8]) -> Result<Value> {
    let mut wait = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        // compact views: the client keeps the label, its URL and status; proofs stay a GET away
        let r = api.post("/labels/bulk?view=compact", body, None);
        let retry = match &r {
            Ok(reply) => matches!(reply.status, 429 | 502 | 503 | 504),
            Err(_) => true,
        };
        if !retry || attempt >= 6 {
            return r?.ok("minting a chunk");
        }
        eprintln!("the server is busy or unreachable; retrying in {wait:?}");
        std::thread::sleep(wait);
        wait *= 2;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_and_quoting() {
        let rows = parse_csv("a,b\r\n\"x, \"\"y\"\"\",2\n\"multi\nline\",\n").unwrap();
        assert_eq!(
            rows,
            [
                vec!["a".to_owned(), "b".into()],
                vec!["x, \"y\"".into(), "2".into()],
                vec!["multi\nline".into(), String::new()]
            ]
        );
        let line = csv_line(&rows[1]);
        assert_eq!(parse_csv(&line).unwrap(), [rows[1].clone()]);
        // results records stay on one line
        assert_eq!(csv_line(&rows[2]), "multi line,\n");
        assert!(parse_csv("\"open").is_err());
        assert!(parse_csv("\"a\"b,c").is_err());
    }

    #[test]
    fn csv_products_fields() {
        let text = "scheme,level,category,provisions,assessment,support_until\n\
                    SG-CLS,2,camera,5.1-1;5.3-13,third-party,2030-01-01\n\
                    ,,,,,\n\
                    SG-CLS,Basic,1,,self_declared,2030-01-01\n";
        let p = csv_products(text).unwrap();
        assert_eq!(p.len(), 2);
        let first = p[0].1.as_ref().unwrap();
        assert_eq!(first["level"], 2);
        assert_eq!(first["category"], "camera");
        assert_eq!(first["provisions"], json!(["5.1-1", "5.3-13"]));
        let second = p[1].1.as_ref().unwrap();
        assert_eq!(p[1].0, 3, "row numbers count the blank row");
        assert_eq!(second["level"], "Basic");
        assert!(second.get("provisions").is_none());
        let e = csv_products("scheme,levle\nA,1\n").unwrap_err().to_string();
        assert!(e.contains("levle") && e.contains("support_until"), "{e}");
    }

    #[test]
    fn keys_depend_on_batch_row_and_content() {
        let k = row_key("b", 1, b"x");
        assert_eq!(k.len(), 64);
        assert_eq!(k, row_key("b", 1, b"x"));
        assert_ne!(k, row_key("c", 1, b"x"));
        assert_ne!(k, row_key("b", 2, b"x"));
        assert_ne!(k, row_key("b", 1, b"y"));
    }

    #[test]
    fn results_survive_a_torn_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("results.csv");
        let o = Outcome {
            row: 7,
            key: "k".into(),
            ok: true,
            index: Some(42),
            error: "a, \"quoted\" error".into(),
            ..Outcome::default()
        };
        let mut f = ResultsFile::rewrite(&p, std::iter::empty()).unwrap();
        f.append(std::slice::from_ref(&o)).unwrap();
        let mut raw = fs::read_to_string(&p).unwrap();
        raw.push_str("9,k3,ok,5,\"torn\n8,k2,ok,4");
        fs::write(&p, raw).unwrap();
        let back = load_results(&p).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!((back[0].row, back[0].index), (7, Some(42)));
        assert_eq!(back[0].error, o.error);
    }
}
