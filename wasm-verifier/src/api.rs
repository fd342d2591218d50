//! The exported operations as plain Rust (errors as message strings), so the same code paths
//! run natively (the `native_bench` example) and in wasm (`lib.rs` wraps each for JS).

use cyberlabel_core::{merkle, note, payload};

/// Largest camera frame / photo the QR decoder accepts (pixels): bounds memory and time.
pub const MAX_QR_PIXELS: usize = 4096 * 4096;

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
    if x.is_finite() && x >= 0.0 && x <= MAX_SAFE && x.fract() == 0.0 {
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
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let i = (y * w + x) * 4;
        // ITU-R BT.601 luma in integer arithmetic; alpha ignored (frames are opaque).
        let (r, g, b) = (
            u32::from(rgba[i]),
            u32::from(rgba[i + 1]),
            u32::from(rgba[i + 2]),
        );
        ((r * 299 + g * 587 + b * 114) / 1000) as u8
    });
    img.detect_grids()
        .into_iter()
        .find_map(|grid| grid.decode().ok().map(|(_, text)| text))
}

fn hash32(b: &[u8], what: &str) -> Result<merkle::Hash, String> {
    b.try_into()
        .map_err(|_| format!("{what} must be 32 bytes, got {}", b.len()))
}

fn hashes(b: &[u8]) -> Result<Vec<merkle::Hash>, String> {
    if b.len() % 32 != 0 {
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
    let verified: Vec<serde_json::Value> = v
        .verified
        .iter()
        .map(|s| serde_json::json!({ "name": s.name, "key_id": s.key_id }))
        .collect();
    Ok(serde_json::json!({ "text": v.note.text, "verified": verified }).to_string())
}

// --- label verification (wired to core verdict/trust/online once they land) ---

/// The offline report (JSON).
///
/// # Errors
/// A message if the trust list cannot be used.
pub fn verify_offline(
    _payload: &str,
    _trust_list: &[u8],
    _anchor: &[u8],
    _now: u64,
) -> Result<String, String> {
    Err("not implemented yet".into())
}

/// The fetch plan (JSON).
///
/// # Errors
/// A message if the checkpoint does not verify.
pub fn fetch_plan(
    _payload: &str,
    _trust_list: &[u8],
    _anchor: &[u8],
    _now: u64,
    _checkpoint: &str,
) -> Result<String, String> {
    Err("not implemented yet".into())
}

/// The final report (JSON).
///
/// # Errors
/// A message if the trust list cannot be used.
#[allow(clippy::too_many_arguments)]
pub fn verify_online(
    _payload: &str,
    _trust_list: &[u8],
    _anchor: &[u8],
    _now: u64,
    _checkpoint: &str,
    _tiles: &[u8],
    _tile_lens: &[u32],
    _status_proof: &str,
) -> Result<String, String> {
    Err("not implemented yet".into())
}
