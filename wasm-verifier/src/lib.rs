//! cyberlabel-wasm: the browser's access to `cyberlabel-core`, and nothing more.
//!
//! A thin `wasm-bindgen` layer: every export converts JS values to core types, calls the core,
//! and turns the result into a JSON string or bytes; errors become JS exceptions carrying a
//! message string. No verification logic lives here — the page (`www/app.js`) only fetches bytes
//! and draws, and all checks run in the same core code the server and CLI use.
//!
//! The functions are plain Rust in [`api`] (callable natively, e.g. by the `native_bench`
//! example, which times the same code paths natively on the same inputs) and exported to JS
//! below with camelCase names.
//!
//! Exports (JS names):
//! - `decodePayload(text) → Uint8Array`: label bytes from a QR URL, `CL1:` text or bare digits.
//! - `trustAnchor() → Uint8Array`: the trust-list signer key pinned into this build
//!   (`CYBERLABEL_PAGE_TRUST_ANCHOR` at compile time, hex; else the example key), and
//!   `trustAnchorIsDemo() → bool`. The page never takes its anchor from the server.
//! - `checkTrustList(trustListCose, anchorKey, now, seenVersion) → JSON {version, demo_anchor}`:
//!   refuses a list that does not verify or is older than the newest version accepted before.
//! - `verifyOffline(payload, trustListCose, anchorKey, now) → JSON`: the offline report.
//! - `fetchPlan(payload, trustListCose, anchorKey, now, checkpoint, seenSize, seenRoot) → JSON
//!   {origin, size, tiles: [path], status: path}` after verifying the checkpoint under the trust
//!   list's log key and witness policy; the tiles include the consistency proof from the
//!   remembered checkpoint (`seenSize` / `seenRoot` hex; `0` / `""` = none).
//! - `verifyOnline(payload, trustListCose, anchorKey, now, checkpoint, tiles, tileLens,
//!   statusProof, seenSize, seenRoot) → JSON`: the final report, with `newest` (`{size, root}`
//!   to remember for `origin`, or null). Empty `checkpoint` / `statusProof` mean "could not be
//!   fetched" (→ "cannot check now" with the offline part).
//! - `decodeQr(rgba, width, height) → string | undefined`: QR text from a camera frame (quircs).
//! - Test-vector entry points used by `wasm-verifier/tests` under node: `merkleLeafHash`,
//!   `merkleVerifyInclusion`, `merkleVerifyConsistency`, `noteOpen`.

pub mod api;

use wasm_bindgen::prelude::*;

fn js_err(e: String) -> JsError {
    JsError::new(&e)
}

/// A JS number that must be a non-negative integer (tree sizes and indices < 2^53).
fn u64_of(x: f64) -> Result<u64, JsError> {
    api::u64_of(x).map_err(js_err)
}

/// Label bytes from payload text (URL, `CL1:` form or digits).
///
/// # Errors
/// A message if the text is not a label payload.
#[wasm_bindgen(js_name = decodePayload)]
pub fn decode_payload(text: &str) -> Result<Vec<u8>, JsError> {
    api::decode_payload(text).map_err(js_err)
}

/// The trust anchor pinned into this build (32-byte Ed25519 public key).
///
/// # Errors
/// A message if the build-time anchor is malformed.
#[wasm_bindgen(js_name = trustAnchor)]
pub fn trust_anchor() -> Result<Vec<u8>, JsError> {
    api::pinned_anchor().map(|k| k.to_vec()).map_err(js_err)
}

/// Whether this build pins the example (DEMO) trust anchor.
#[wasm_bindgen(js_name = trustAnchorIsDemo)]
pub fn trust_anchor_is_demo() -> bool {
    api::pinned_anchor_is_demo()
}

/// Check the signed trust list and refuse one older than `seen_version` (JSON `{version}`).
///
/// # Errors
/// A message if the list does not verify or is a rollback.
#[wasm_bindgen(js_name = checkTrustList)]
pub fn check_trust_list(
    trust_list: &[u8],
    anchor: &[u8],
    now: f64,
    seen_version: f64,
) -> Result<String, JsError> {
    api::check_trust_list(trust_list, anchor, api::secs(now), u64_of(seen_version)?).map_err(js_err)
}

/// The offline report (JSON) for a payload, under the signed trust list.
///
/// # Errors
/// A message only if the trust list itself cannot be used (bad anchor signature, malformed).
#[wasm_bindgen(js_name = verifyOffline)]
pub fn verify_offline(
    payload: &str,
    trust_list: &[u8],
    anchor: &[u8],
    now: f64,
) -> Result<String, JsError> {
    api::verify_offline(payload, trust_list, anchor, api::secs(now)).map_err(js_err)
}

/// Which tiles and which status bucket to fetch (JSON), after verifying the checkpoint;
/// `seen_size` / `seen_root` (hex) are the checkpoint remembered for this log (`0` / `""`: none).
///
/// # Errors
/// A message if the payload, trust list or checkpoint does not verify.
#[wasm_bindgen(js_name = fetchPlan)]
pub fn fetch_plan(
    payload: &str,
    trust_list: &[u8],
    anchor: &[u8],
    now: f64,
    checkpoint: &str,
    seen_size: f64,
    seen_root: &str,
) -> Result<String, JsError> {
    api::fetch_plan(
        payload,
        trust_list,
        anchor,
        api::secs(now),
        checkpoint,
        u64_of(seen_size)?,
        seen_root,
    )
    .map_err(js_err)
}

/// The final report (JSON) from the fetched bytes. `tiles` is the concatenation of the fetched
/// tiles in plan order, `tile_lens` their lengths; `seen_*` as for [`fetch_plan`].
///
/// # Errors
/// A message only if the trust list cannot be used.
#[wasm_bindgen(js_name = verifyOnline)]
#[allow(clippy::too_many_arguments)]
pub fn verify_online(
    payload: &str,
    trust_list: &[u8],
    anchor: &[u8],
    now: f64,
    checkpoint: &str,
    tiles: &[u8],
    tile_lens: &[u32],
    status_proof: &str,
    seen_size: f64,
    seen_root: &str,
) -> Result<String, JsError> {
    api::verify_online(
        payload,
        trust_list,
        anchor,
        api::secs(now),
        checkpoint,
        tiles,
        tile_lens,
        status_proof,
        u64_of(seen_size)?,
        seen_root,
    )
    .map_err(js_err)
}

/// Decode a QR code from an RGBA frame; `undefined` if none is found.
#[wasm_bindgen(js_name = decodeQr)]
pub fn decode_qr(rgba: &[u8], width: u32, height: u32) -> Option<String> {
    api::decode_qr(rgba, width, height)
}

/// RFC 6962 leaf hash of `data`.
#[wasm_bindgen(js_name = merkleLeafHash)]
pub fn merkle_leaf_hash(data: &[u8]) -> Vec<u8> {
    api::merkle_leaf_hash(data)
}

/// Verify an inclusion proof (`proof` = concatenated 32-byte hashes).
///
/// # Errors
/// The core's message when the proof is rejected.
#[wasm_bindgen(js_name = merkleVerifyInclusion)]
pub fn merkle_verify_inclusion(
    leaf_hash: &[u8],
    index: f64,
    size: f64,
    proof: &[u8],
    root: &[u8],
) -> Result<(), JsError> {
    api::merkle_verify_inclusion(leaf_hash, u64_of(index)?, u64_of(size)?, proof, root)
        .map_err(js_err)
}

/// Verify a consistency proof (`proof` = concatenated 32-byte hashes).
///
/// # Errors
/// The core's message when the proof is rejected.
#[wasm_bindgen(js_name = merkleVerifyConsistency)]
pub fn merkle_verify_consistency(
    old_size: f64,
    new_size: f64,
    old_root: &[u8],
    new_root: &[u8],
    proof: &[u8],
) -> Result<(), JsError> {
    api::merkle_verify_consistency(
        u64_of(old_size)?,
        u64_of(new_size)?,
        old_root,
        new_root,
        proof,
    )
    .map_err(js_err)
}

/// Open a signed note with the given verifier keys (one per line); JSON
/// `{text, verified: [{name, key_id}]}`.
///
/// # Errors
/// The core's message when the note does not verify.
#[wasm_bindgen(js_name = noteOpen)]
pub fn note_open(note: &str, vkeys: &str) -> Result<String, JsError> {
    api::note_open(note, vkeys).map_err(js_err)
}
