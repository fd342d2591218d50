//! The exported operations as plain Rust (errors as message strings), so the same code paths
//! run natively (the `native_bench` example) and in wasm (`lib.rs` wraps each for JS).
//!
//! Memory (DESIGN rule 4): the page passes the newest checkpoint of the log it verified before
//! (`seen_size`, `seen_root` hex; `0` / `""` = none) to [`fetch_plan`] and [`verify_online`], and
//! stores the report's `newest` afterwards; a log that shows an older or different state gives
//! the `log_inconsistent` verdict. [`check_trust_list`] refuses a trust list older than the
//! newest version accepted before. The trust anchor is pinned into the build ([`pinned_anchor`]).
//!
//! Results are JSON written straight from typed structs (`Serialize`), never through
//! `serde_json::Value`: the page reads the same objects, and the wasm carries neither the
//! `Value` tree nor its map code (smaller, and a fifth of the time the browser spent on a
//! verdict went into building and printing that tree). This module's own fields are declared in
//! alphabetical order, as `Value`'s map printed them; core's label and equivalence views keep
//! their declaration order (the same objects, keys in another order).

use std::rc::Rc;
use std::sync::OnceLock;

use cyberlabel_core::catalog::Catalog;
use cyberlabel_core::online::{self, Fetched, Seen};
use cyberlabel_core::status::ReasonCode;
use cyberlabel_core::status::State;
use cyberlabel_core::trust::TrustList;
use cyberlabel_core::verdict::Verdict;
use cyberlabel_core::{merkle, note, payload, verdict, view};
use ed25519_dalek::VerifyingKey;
use serde::Serialize;

/// Largest camera frame / photo the QR decoder accepts (pixels): bounds memory and time.
pub const MAX_QR_PIXELS: usize = 4096 * 4096;

/// The example trust-list public key (`keys-example/trust-list-EXAMPLE-DO-NOT-USE.pub.pem`),
/// hex: the anchor of a build made without `CYBERLABEL_PAGE_TRUST_ANCHOR` (a DEMO build).
pub const DEMO_TRUST_ANCHOR_HEX: &str =
    "b7d02990ad317eeb86a085ec788919a27545e8bfc154e98e0a69c4c19332d39a";

/// The trust anchor given at build time (`CYBERLABEL_PAGE_TRUST_ANCHOR`: the scheme owner's
/// trust-list signer public key, 64 hex digits), if any. (A name of its own: the server's
/// `CYBERLABEL_TRUST_ANCHOR` is a PEM file path, and a build may run in the server's env.)
const BUILD_TRUST_ANCHOR: Option<&str> = option_env!("CYBERLABEL_PAGE_TRUST_ANCHOR");

/// Whether this build pins the example (DEMO) anchor rather than one given at build time.
#[must_use]
pub fn pinned_anchor_is_demo() -> bool {
    BUILD_TRUST_ANCHOR.is_none_or(|a| a.trim().eq_ignore_ascii_case(DEMO_TRUST_ANCHOR_HEX))
}

/// The trust anchor pinned into this build: the public key that must sign the trust list. The
/// page never takes it from the server it fetches the trust list from.
///
/// # Errors
/// A message if the build-time value is not a valid 32-byte Ed25519 key in hex.
pub fn pinned_anchor() -> Result<[u8; 32], String> {
    let text = BUILD_TRUST_ANCHOR.unwrap_or(DEMO_TRUST_ANCHOR_HEX).trim();
    let mut key = [0u8; 32];
    hex::decode_to_slice(text, &mut key).map_err(|_| {
        "the trust anchor built into this verifier is not 64 hex digits".to_string()
    })?;
    VerifyingKey::from_bytes(&key)
        .map_err(|_| "the trust anchor built into this verifier is not an Ed25519 key")?;
    Ok(key)
}

/// The checkpoint remembered from an earlier verification (`0` / empty root = none).
///
/// # Errors
/// A message if the root is not 32 bytes of hex.
pub fn seen_of(size: u64, root_hex: &str) -> Result<Option<Seen>, String> {
    if size == 0 || root_hex.is_empty() {
        return Ok(None);
    }
    let mut root = [0u8; 32];
    hex::decode_to_slice(root_hex, &mut root)
        .map_err(|_| "the remembered checkpoint root is not 32 bytes of hex".to_string())?;
    Ok(Some(Seen { size, root }))
}

/// A remembered checkpoint as the page stores it.
#[derive(Serialize)]
struct SeenJson {
    root: String,
    size: u64,
}

fn seen_json(seen: Option<&Seen>) -> Option<SeenJson> {
    seen.map(|s| SeenJson {
        root: hex::encode(s.root),
        size: s.size,
    })
}

/// JSON text of a result (serialising these structs cannot fail: no maps with non-string
/// keys, no floats).
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The origin line of a checkpoint (its first line): the page's storage key for the memory.
fn origin_of(checkpoint: &str) -> &str {
    checkpoint.split('\n').next().unwrap_or_default()
}

/// Seconds from a JS number (`Date.now() / 1000`): negative, NaN or fractional parts clamp.
#[must_use]
pub fn secs(now: f64) -> u64 {
    if now.is_finite() && now > 0.0 {
        // Truncation is intended: Unix seconds; values beyond u64 saturate.
        now as u64
    } else {
        0
    }
}

/// A JS number that must be an exact non-negative integer below 2^53.
///
/// # Errors
/// A message otherwise.
pub fn u64_of(x: f64) -> Result<u64, String> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    if x.is_finite() && (0.0..=MAX_SAFE).contains(&x) && x.fract() == 0.0 {
        Ok(x as u64)
    } else {
        Err(format!("not a non-negative integer: {x}"))
    }
}

/// Label bytes from payload text.
///
/// # Errors
/// The core's payload error message.
pub fn decode_payload(text: &str) -> Result<Vec<u8>, String> {
    payload::decode(text).map_err(|e| format!("not a label payload: {e}"))
}

/// QR text from an RGBA frame (row-major, 4 bytes per pixel), or `None`.
#[must_use]
pub fn decode_qr(rgba: &[u8], width: u32, height: u32) -> Option<String> {
    let (w, h) = (width as usize, height as usize);
    let pixels = w.checked_mul(h)?;
    if pixels == 0 || pixels > MAX_QR_PIXELS || rgba.len() != pixels.checked_mul(4)? {
        return None;
    }
    let grey: Vec<u8> = rgba
        .chunks_exact(4)
        .map(|p| {
            let (r, g, b) = (u32::from(p[0]), u32::from(p[1]), u32::from(p[2]));
            ((r * 299 + g * 587 + b * 114) / 1000) as u8
        })
        .collect();
    let mut q = quircs::Quirc::new();
    q.identify(w, h, &grey)
        .filter_map(Result::ok)
        .find_map(|code| code.decode().ok())
        .and_then(|d| String::from_utf8(d.payload).ok())
}

fn hash32(b: &[u8], what: &str) -> Result<merkle::Hash, String> {
    b.try_into()
        .map_err(|_| format!("{what} must be 32 bytes, got {}", b.len()))
}

fn hashes(b: &[u8]) -> Result<Vec<merkle::Hash>, String> {
    if !b.len().is_multiple_of(32) {
        return Err("proof length is not a multiple of 32".into());
    }
    b.chunks_exact(32)
        .map(|c| hash32(c, "proof hash"))
        .collect()
}

/// RFC 6962 leaf hash.
#[must_use]
pub fn merkle_leaf_hash(data: &[u8]) -> Vec<u8> {
    merkle::leaf_hash(data).to_vec()
}

/// Verify an inclusion proof.
///
/// # Errors
/// The core's proof error message.
pub fn merkle_verify_inclusion(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[u8],
    root: &[u8],
) -> Result<(), String> {
    merkle::verify_inclusion(
        &hash32(leaf_hash, "leaf hash")?,
        index,
        size,
        &hashes(proof)?,
        &hash32(root, "root")?,
    )
    .map_err(|e| e.to_string())
}

/// Verify a consistency proof.
///
/// # Errors
/// The core's proof error message.
pub fn merkle_verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &[u8],
    new_root: &[u8],
    proof: &[u8],
) -> Result<(), String> {
    merkle::verify_consistency(
        old_size,
        new_size,
        &hash32(old_root, "old root")?,
        &hash32(new_root, "new root")?,
        &hashes(proof)?,
    )
    .map_err(|e| e.to_string())
}

/// Open a signed note with verifier keys given one per line.
///
/// # Errors
/// The core's note error message.
pub fn note_open(text: &str, vkeys: &str) -> Result<String, String> {
    let keys = vkeys
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| note::VerifierKey::parse(l.trim()).map_err(|e| format!("vkey: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let v = note::open(text.as_bytes(), &keys).map_err(|e| e.to_string())?;
    #[derive(Serialize)]
    struct Signer<'a> {
        key_id: u32,
        name: &'a str,
    }
    #[derive(Serialize)]
    struct Opened<'a> {
        text: &'a str,
        verified: Vec<Signer<'a>>,
    }
    Ok(to_json(&Opened {
        text: &v.note.text,
        verified: v
            .verified
            .iter()
            .map(|s| Signer {
                key_id: s.key_id,
                name: &s.name,
            })
            .collect(),
    }))
}

// --- label verification ---------------------------------------------------------------------

/// The scheme catalog built into the verifier (parsed once per instance).
fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::builtin)
}

/// A trust list verified before: its bytes, the anchor, the list (shared, not copied, with
/// each verification that uses it).
type VerifiedTrust = Option<(Vec<u8>, [u8; 32], Rc<TrustList>)>;

std::thread_local! {
    /// The last trust list verified: the page checks label after label under the same list,
    /// and its signature need not be checked for each.
    static VERIFIED_TRUST: std::cell::RefCell<VerifiedTrust> =
        const { std::cell::RefCell::new(None) };
}

/// Forget the trust list and checkpoint signatures verified on this thread, so the next
/// verification checks everything again (the native benchmark's verdict from nothing).
pub fn forget_verified() {
    VERIFIED_TRUST.with(|c| *c.borrow_mut() = None);
    cyberlabel_core::checkpoint::forget_verified();
}

fn trust_list(trust_list: &[u8], anchor: &[u8], now: u64) -> Result<Rc<TrustList>, String> {
    let anchor: [u8; 32] = anchor
        .try_into()
        .map_err(|_| "trust anchor must be a 32-byte Ed25519 public key".to_string())?;
    let cached = VERIFIED_TRUST.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(bytes, a, _)| bytes.as_slice() == trust_list && *a == anchor)
            .map(|(_, _, list)| Rc::clone(list))
    });
    let list = match cached {
        Some(list) => list,
        None => {
            let key = VerifyingKey::from_bytes(&anchor).map_err(|_| "invalid trust anchor key")?;
            let list = Rc::new(
                TrustList::from_signed_any_time(trust_list, &key)
                    .map_err(|e| format!("trust list: {e}"))?,
            );
            VERIFIED_TRUST.with(|c| {
                *c.borrow_mut() = Some((trust_list.to_vec(), anchor, Rc::clone(&list)));
            });
            list
        }
    };
    list.check_valid_at(now)
        .map_err(|e| format!("trust list: {e}"))?;
    Ok(list)
}

/// Check the signed trust list under the anchor and against the newest version this verifier
/// accepted before (`seen_version`, `0` = none); JSON `{version, demo_anchor}`.
///
/// # Errors
/// A message if the list does not verify, or is older than `seen_version` (a rollback).
pub fn check_trust_list(
    trust_list_bytes: &[u8],
    anchor: &[u8],
    now: u64,
    seen_version: u64,
) -> Result<String, String> {
    let trust = trust_list(trust_list_bytes, anchor, now)?;
    trust.check_not_older_than(seen_version).map_err(|_| {
        format!(
            "the list of trusted issuers from the server (version {}) is older than the one this \
             device accepted before (version {seen_version}); checks cannot be trusted now: try \
             again later or on another network",
            trust.version
        )
    })?;
    #[derive(Serialize)]
    struct Accepted {
        demo_anchor: bool,
        version: u64,
    }
    Ok(to_json(&Accepted {
        demo_anchor: pinned_anchor_is_demo(),
        version: trust.version,
    }))
}

/// The offline report (JSON); the page shows it while the online part runs.
///
/// # Errors
/// A message if the trust list cannot be used.
pub fn verify_offline(
    payload: &str,
    trust_list_bytes: &[u8],
    anchor: &[u8],
    now: u64,
) -> Result<String, String> {
    let trust = trust_list(trust_list_bytes, anchor, now)?;
    let label = match decode_payload(payload) {
        Ok(l) => l,
        Err(e) => return Ok(malformed(&e)),
    };
    let report = verdict::verify_offline(&label, &trust, catalog(), now);
    Ok(to_json(&report_json(&report, report.verdict, &trust, now)))
}

/// The fetch plan (JSON `{tiles: [path], status: path, size, origin}`), after verifying the
/// checkpoint; the tiles include those of the consistency proof from the remembered checkpoint.
///
/// # Errors
/// A message if the payload, trust list, remembered checkpoint or checkpoint does not verify.
#[allow(clippy::too_many_arguments)]
pub fn fetch_plan(
    payload: &str,
    trust_list_bytes: &[u8],
    anchor: &[u8],
    now: u64,
    checkpoint: &str,
    seen_size: u64,
    seen_root: &str,
) -> Result<String, String> {
    let trust = trust_list(trust_list_bytes, anchor, now)?;
    let seen = seen_of(seen_size, seen_root)?;
    let label = decode_payload(payload)?;
    let report = verdict::verify_offline(&label, &trust, catalog(), now);
    let serial = report
        .claim
        .as_ref()
        .map(|c| c.serial)
        .ok_or("not a label")?;
    let plan = online::plan_for_label(serial, &trust, checkpoint.as_bytes(), now, seen.as_ref())
        .map_err(|e| format!("log: {e}"))?;
    #[derive(Serialize)]
    struct Plan<'a> {
        origin: &'a str,
        size: u64,
        status: String,
        statuses: Vec<String>,
        tiles: Vec<String>,
    }
    Ok(to_json(&Plan {
        origin: origin_of(checkpoint),
        size: plan.size,
        status: plan.status_path(),
        statuses: plan.status_paths(),
        tiles: plan.tile_paths(),
    }))
}

/// The final report (JSON). Empty `checkpoint` / `status_proof` = not fetched. `seen_size` /
/// `seen_root` are the checkpoint remembered for this log (`0` / `""` = none); the report's
/// `newest` (`{size, root}` or null) is what to remember next, under `origin`.
///
/// # Errors
/// A message if the trust list or remembered checkpoint cannot be used or the tile lengths do
/// not add up.
#[allow(clippy::too_many_arguments)]
pub fn verify_online(
    payload: &str,
    trust_list_bytes: &[u8],
    anchor: &[u8],
    now: u64,
    checkpoint: &str,
    tiles: &[u8],
    tile_lens: &[u32],
    status_proof: &str,
    seen_size: u64,
    seen_root: &str,
) -> Result<String, String> {
    let trust = trust_list(trust_list_bytes, anchor, now)?;
    let seen = seen_of(seen_size, seen_root)?;
    let label = match decode_payload(payload) {
        Ok(l) => l,
        Err(e) => return Ok(malformed(&e)),
    };
    let mut parts: Vec<&[u8]> = Vec::with_capacity(tile_lens.len());
    let mut rest = tiles;
    for &n in tile_lens {
        let n = n as usize;
        if n > rest.len() {
            return Err("tile lengths exceed the tile bytes".into());
        }
        let (a, b) = rest.split_at(n);
        parts.push(a);
        rest = b;
    }
    if !rest.is_empty() {
        return Err("tile bytes left over".into());
    }
    let fetched = Fetched {
        checkpoint: (!checkpoint.is_empty()).then_some(checkpoint.as_bytes()),
        tiles: &parts,
        status_proof: (!status_proof.is_empty()).then_some(status_proof.as_bytes()),
    };
    let r = online::verify(&label, &trust, catalog(), now, &fetched, seen.as_ref());
    let mut json = report_json(&r.offline, r.verdict, &trust, now);
    json.newest = Some(seen_json(r.newest.as_ref()));
    json.origin = Some((!checkpoint.is_empty()).then(|| origin_of(checkpoint)));
    let log = r.log.as_ref().map(|log| match log {
        Ok(i) => Checked::Log {
            ok: true,
            origin: &i.origin,
            tree_size: i.size,
            witnesses: i.witnesses,
        },
        Err(e) => Checked::Problem {
            ok: false,
            problem: e.to_string(),
        },
    });
    let status = r.status.as_ref().map(|status| match status {
        Ok(a) => {
            let reason = (a.state != State::Active && a.state != State::None).then_some(a.reason);
            Checked::Status {
                as_of_tree_size: a.size,
                ok: true,
                reason,
                reason_text: reason.and_then(ReasonCode::from_u8).map(ReasonCode::text),
                state: a.state.name(),
            }
        }
        Err(e) => Checked::Problem {
            ok: false,
            problem: e.to_string(),
        },
    });
    let checked = matches!(r.log, Some(Ok(_))) && matches!(r.status, Some(Ok(_)));
    json.online = Some(Online {
        checked,
        log,
        status,
    });
    Ok(to_json(&json))
}

/// The online part of the final report.
#[derive(Serialize)]
struct Online<'a> {
    checked: bool,
    log: Option<Checked<'a>>,
    status: Option<Checked<'a>>,
}

/// One online check: its answer, or why it could not be done.
#[derive(Serialize)]
#[serde(untagged)]
enum Checked<'a> {
    Log {
        ok: bool,
        origin: &'a str,
        tree_size: u64,
        witnesses: usize,
    },
    Status {
        as_of_tree_size: u64,
        ok: bool,
        reason: Option<u8>,
        reason_text: Option<&'static str>,
        state: &'static str,
    },
    Problem {
        ok: bool,
        problem: String,
    },
}

fn malformed(problem: &str) -> String {
    #[derive(Serialize)]
    struct Malformed<'a> {
        offline_verdict: &'static str,
        online_possible: bool,
        problem: &'a str,
        summary: String,
        verdict: &'static str,
    }
    to_json(&Malformed {
        offline_verdict: Verdict::Malformed.name(),
        online_possible: false,
        problem,
        summary: Verdict::Malformed.explain(),
        verdict: Verdict::Malformed.name(),
    })
}

/// A report: the one verdict (`verdict`, with core's words as `summary`), the offline part's
/// verdict, and — only when the label is validly signed by a trusted issuer — what it says
/// (core's label view) and the partner schemes that recognise it (core's equivalents). The
/// online fields are present only in `verifyOnline`'s report.
#[derive(Serialize)]
struct ReportJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    equivalents: Option<Vec<view::EquivalentView>>,
    issuer: Option<IssuerJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<view::LabelView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<LogJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    newest: Option<Option<SeenJson>>,
    offline_verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    online: Option<Online<'a>>,
    online_possible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<Option<&'a str>>,
    problem: Option<String>,
    summary: String,
    verdict: &'static str,
}

#[derive(Serialize)]
struct IssuerJson<'a> {
    kid: String,
    name: &'a str,
}

/// Where the issuer's labels are logged.
#[derive(Serialize)]
struct LogJson<'a> {
    origin: &'a str,
    own: bool,
    url: &'a str,
}

fn report_json<'a>(
    r: &'a verdict::Report,
    verdict: Verdict,
    trust: &'a TrustList,
    now: u64,
) -> ReportJson<'a> {
    // Where this issuer's labels are logged: the deployment's own log (the list's first, on
    // the page's own origin) or a partner's, reached only at the URL the signed list names.
    let log = r.kid.and_then(|kid| trust.log_of_issuer(&kid)).map(|log| {
        let own = trust
            .logs
            .first()
            .is_some_and(|first| first.origin == log.origin);
        LogJson {
            origin: &log.origin,
            own,
            url: &log.url,
        }
    });
    let shown = r.claim.as_ref().filter(|_| r.verdict.offline_passed());
    ReportJson {
        equivalents: shown.map(|c| view::equivalents(c, trust, catalog(), now)),
        issuer: r.issuer.as_ref().map(|i| IssuerJson {
            kid: hex::encode(i.kid),
            name: &i.name,
        }),
        label: shown.map(|c| view::LabelView::of(c, catalog())),
        log,
        newest: None,
        offline_verdict: r.verdict.name(),
        online: None,
        online_possible: r.verdict.offline_passed(),
        origin: None,
        problem: r.problem.map(|p| p.to_string()),
        summary: verdict.explain(),
        verdict: verdict.name(),
    }
}

/// The UTC day (`YYYY-MM-DD`) of a Unix time: core's, the same the CLI and the API show.
#[must_use]
pub fn day(unix: u64) -> String {
    cyberlabel_core::dates::format_date(unix)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RGBA frame of a QR code for `text` (4 px per module, 4-module quiet zone, on white).
    fn frame(text: &str) -> (Vec<u8>, u32) {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let n = code.width();
        let colors = code.to_colors();
        let (scale, quiet) = (4usize, 4usize);
        let side = (n + 2 * quiet) * scale;
        let mut rgba = vec![255u8; side * side * 4];
        for y in 0..n {
            for x in 0..n {
                if colors[y * n + x] == qrcode::Color::Dark {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            let px = ((y + quiet) * scale + dy) * side + (x + quiet) * scale + dx;
                            rgba[px * 4..px * 4 + 3].fill(0);
                        }
                    }
                }
            }
        }
        (rgba, side as u32)
    }

    #[test]
    fn decodes_a_label_url_qr_and_rejects_bad_frames() {
        let url = "https://verify.example/v#0001234567890123456789";
        let (rgba, side) = frame(url);
        assert_eq!(decode_qr(&rgba, side, side).as_deref(), Some(url));
        // wrong dimensions, empty and blank frames give nothing (and do not panic)
        assert_eq!(decode_qr(&rgba, side + 1, side), None);
        assert_eq!(decode_qr(&[], 0, 0), None);
        assert_eq!(decode_qr(&vec![255; 64 * 64 * 4], 64, 64), None);
    }

    #[test]
    fn the_demo_anchor_is_the_example_trust_list_key() {
        // the SPKI DER of an Ed25519 key ends with the 32 raw key bytes
        let pem = include_str!("../../keys-example/trust-list-EXAMPLE-DO-NOT-USE.pub.pem");
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap();
        assert_eq!(hex::encode(&der[der.len() - 32..]), DEMO_TRUST_ANCHOR_HEX);
        match option_env!("CYBERLABEL_PAGE_TRUST_ANCHOR") {
            None => {
                assert!(pinned_anchor_is_demo());
                assert_eq!(hex::encode(pinned_anchor().unwrap()), DEMO_TRUST_ANCHOR_HEX);
            }
            // a build with an anchor of its own pins exactly that key
            Some(a) => {
                assert_eq!(
                    hex::encode(pinned_anchor().unwrap()),
                    a.trim().to_lowercase()
                );
                assert_eq!(
                    pinned_anchor_is_demo(),
                    a.trim().eq_ignore_ascii_case(DEMO_TRUST_ANCHOR_HEX)
                );
            }
        }
    }

    #[test]
    fn remembered_checkpoints_are_parsed() {
        assert_eq!(seen_of(0, ""), Ok(None));
        assert_eq!(seen_of(5, ""), Ok(None));
        let root = "ab".repeat(32);
        assert_eq!(
            seen_of(5, &root),
            Ok(Some(Seen {
                size: 5,
                root: [0xab; 32]
            }))
        );
        assert!(seen_of(5, "abcd").is_err());
        assert!(seen_of(5, &"zz".repeat(32)).is_err());
        assert_eq!(origin_of("log.example/x\n5\nroot\n"), "log.example/x");
    }

    /// The page's words are data (`www/i18n/*.json`); its English ones are core's, and every
    /// language names every verdict core can give.
    #[test]
    fn the_pages_verdict_words_are_cores() {
        let en: serde_json::Value =
            serde_json::from_str(include_str!("../www/i18n/en.json")).unwrap();
        let de: serde_json::Value =
            serde_json::from_str(include_str!("../www/i18n/de.json")).unwrap();
        for v in Verdict::ALL {
            let key = |part: &str| format!("verdict.{}.{part}", v.name());
            let en_text = |part: &str| en["strings"][key(part)].as_str().map(str::to_owned);
            assert_eq!(en_text("title").as_deref(), Some(v.headline()), "{v:?}");
            assert_eq!(en_text("sentence").as_deref(), Some(v.sentence()), "{v:?}");
            assert_eq!(en_text("advice").unwrap_or_default(), v.advice(), "{v:?}");
            for part in ["title", "sentence"] {
                assert!(
                    de["strings"][key(part)].is_string(),
                    "de lacks {}",
                    key(part)
                );
            }
        }
    }

    #[test]
    fn days_are_utc_days() {
        assert_eq!(day(0), "1970-01-01");
        // 2030-12-31 23:59:59 UTC (a support end) is still that day
        assert_eq!(day(1_924_991_999), "2030-12-31");
        assert_eq!(day(1_924_992_000), "2031-01-01");
        assert_eq!(day(951_782_400), "2000-02-29");
        // expires-on 2029-11-26 00:00 UTC: the last valid day is 2029-11-25
        assert_eq!(day(1_890_345_600 - 1), "2029-11-25");
    }

    #[test]
    fn js_numbers_are_checked() {
        assert_eq!(u64_of(5.0), Ok(5));
        assert!(u64_of(-1.0).is_err());
        assert!(u64_of(1.5).is_err());
        assert!(u64_of(f64::NAN).is_err());
        assert!(u64_of(1e300).is_err());
        assert_eq!(secs(-3.0), 0);
        assert_eq!(secs(1_767_225_600.9), 1_767_225_600);
    }

    #[test]
    fn a_trust_list_is_verified_once_and_its_window_every_time() {
        use cyberlabel_core::ops::Ops;
        let list = include_bytes!("../../keys-example/trust-list.EXAMPLE.cose");
        let anchor = hex::decode(DEMO_TRUST_ANCHOR_HEX).unwrap();
        let key = VerifyingKey::from_bytes(&anchor.clone().try_into().unwrap()).unwrap();
        let parsed = TrustList::from_signed_any_time(list, &key).unwrap();
        let now = parsed.issued_at + 1;
        let before = Ops::now();
        assert_eq!(*trust_list(list, &anchor, now).unwrap(), parsed);
        assert_eq!(Ops::now().since(before).signatures, 1);
        // the same bytes under the same anchor: no signature checked again
        let before = Ops::now();
        assert_eq!(*trust_list(list, &anchor, now + 60).unwrap(), parsed);
        assert_eq!(Ops::now().since(before).signatures, 0);
        // but its validity window still applies
        let err = trust_list(list, &anchor, parsed.expires_at + 1).unwrap_err();
        assert!(err.contains("expired"), "{err}");
        // other bytes are verified (and refused when tampered)
        let mut bad = list.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let before = Ops::now();
        assert!(trust_list(&bad, &anchor, now).is_err());
        assert_eq!(Ops::now().since(before).signatures, 1);
        // a refused list does not displace the verified one
        let before = Ops::now();
        assert_eq!(*trust_list(list, &anchor, now).unwrap(), parsed);
        assert_eq!(Ops::now().since(before).signatures, 0);
    }
}
