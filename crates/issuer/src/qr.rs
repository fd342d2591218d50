//! The label's QR code: segment layout, version choice, PNG and SVG output.
//!
//! The payload text (docs/FORMATS.md §3) is split into two QR segments so that the label bytes,
//! written as decimal digits, use the dense numeric mode (10 bits per 3 digits):
//! - URL form `https://host/v#<digits>`: everything up to and including `#` in a **byte**
//!   segment, the digits in a **numeric** segment;
//! - `CL1:<digits>`: `CL1:` in an **alphanumeric** segment, the digits in a **numeric** segment.
//!
//! Error correction is M (15 % recovery: enough for a printed box, smaller than Q/H) and the
//! version is the smallest that holds the bits. A generic "optimal segmentation" encoder would
//! get the same result here but hides the layout this module guarantees and the tests measure.

use qrcode::bits::Bits;
use qrcode::types::QrError as RawQrError;
use qrcode::{Color, EcLevel, QrCode, Version};

/// Quiet zone around the code, in modules (ISO/IEC 18004 requires 4).
pub const QUIET_ZONE: usize = 4;

/// Why a payload could not be turned into a QR code.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// The text is neither `CL1:<digits>` nor `<url prefix>#<digits>`.
    #[error("QR payload must be `CL1:<digits>` or `<url>#<digits>`")]
    NotAPayload,
    /// The part after the prefix contains something other than ASCII digits (or is empty).
    #[error("QR payload digits contain a non-digit or are empty")]
    NotDigits,
    /// The payload does not fit even a version-40 code at error correction M.
    #[error("payload too long for any QR code at error correction M")]
    TooLong,
    /// Image encoding failed.
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// A label's QR code plus the measurements tests and reports print.
#[derive(Clone)]
pub struct LabelQr {
    code: QrCode,
    text: String,
}

impl std::fmt::Debug for LabelQr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelQr")
            .field("version", &self.version())
            .field("text_len", &self.text.len())
            .finish()
    }
}

/// The two segments of a payload: (prefix, prefix is alphanumeric-safe, digits).
fn split(text: &str) -> Result<(&str, bool, &str), QrError> {
    let (prefix, digits, alnum) = if let Some(d) = text.strip_prefix("CL1:") {
        ("CL1:", d, true)
    } else if let Some(i) = text.rfind('#') {
        (&text[..=i], &text[i + 1..], false)
    } else {
        return Err(QrError::NotAPayload);
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QrError::NotDigits);
    }
    Ok((prefix, alnum, digits))
}

fn bits_for(version: i16, prefix: &str, alnum: bool, digits: &str) -> Result<Bits, RawQrError> {
    let mut bits = Bits::new(Version::Normal(version));
    if alnum {
        bits.push_alphanumeric_data(prefix.as_bytes())?;
    } else {
        bits.push_byte_data(prefix.as_bytes())?;
    }
    bits.push_numeric_data(digits.as_bytes())?;
    bits.push_terminator(EcLevel::M)?;
    Ok(bits)
}

/// The smallest version (ECC M) whose data capacity holds the two segments. The bits depend
/// on the version only through the character-count indicators, which change at versions 10 and
/// 27: the segments are laid out once per range of versions (at its largest) and their length
/// is compared with each version's capacity, instead of laying them out for every version.
fn smallest_version(prefix: &str, alnum: bool, digits: &str) -> Result<i16, QrError> {
    for (first, last) in [(1, 9), (10, 26), (27, 40)] {
        let mut bits = Bits::new(Version::Normal(last));
        let pushed = if alnum {
            bits.push_alphanumeric_data(prefix.as_bytes())
        } else {
            bits.push_byte_data(prefix.as_bytes())
        }
        .and_then(|()| bits.push_numeric_data(digits.as_bytes()));
        match pushed {
            Ok(()) => {}
            // a count too large for this range's indicators: try the next range
            Err(RawQrError::DataTooLong) => continue,
            Err(_) => return Err(QrError::TooLong),
        }
        for version in first..=last {
            let capacity = Bits::new(Version::Normal(version))
                .max_len(EcLevel::M)
                .map_err(|_| QrError::TooLong)?;
            if bits.len() <= capacity {
                return Ok(version);
            }
        }
    }
    Err(QrError::TooLong)
}

/// The QR version (ECC M) of a payload text in URL or `CL1:` form, with the segment layout of
/// [`LabelQr::new`], without drawing the code: what `issue` and the API report for every label.
///
/// # Errors
/// As [`LabelQr::new`].
pub fn version_for(text: &str) -> Result<i16, QrError> {
    let (prefix, alnum, digits) = split(text)?;
    smallest_version(prefix, alnum, digits)
}

impl LabelQr {
    /// Builds the smallest QR code (ECC M) for a payload text in URL or `CL1:` form.
    ///
    /// # Errors
    /// [`QrError::NotAPayload`] / [`QrError::NotDigits`] for text not in a payload form,
    /// [`QrError::TooLong`] if no version holds it.
    pub fn new(text: &str) -> Result<Self, QrError> {
        let (prefix, alnum, digits) = split(text)?;
        let version = smallest_version(prefix, alnum, digits)?;
        let bits = bits_for(version, prefix, alnum, digits).map_err(|_| QrError::TooLong)?;
        let code = QrCode::with_bits(bits, EcLevel::M).map_err(|_| QrError::TooLong)?;
        Ok(Self {
            code,
            text: text.to_owned(),
        })
    }

    /// The QR version (1..=40).
    pub fn version(&self) -> i16 {
        match self.code.version() {
            Version::Normal(v) | Version::Micro(v) => v,
        }
    }

    /// The encoded text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Modules per side, without the quiet zone.
    pub fn modules(&self) -> usize {
        self.code.width()
    }

    /// Whether module (x, y) is dark (row-major, without quiet zone). Out of range is light.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        let w = self.code.width();
        x < w && y < w && self.code[(x, y)] == Color::Dark
    }

    /// A grayscale PNG of the code with a 4-module quiet zone, `module_px` pixels per module.
    ///
    /// # Errors
    /// [`QrError::Png`] if encoding fails.
    pub fn to_png(&self, module_px: u32) -> Result<Vec<u8>, QrError> {
        let module_px = module_px.max(1) as usize;
        let side = (self.modules() + 2 * QUIET_ZONE) * module_px;
        let mut pixels = vec![255u8; side * side];
        for y in 0..self.modules() {
            for x in 0..self.modules() {
                if self.is_dark(x, y) {
                    let (px, py) = ((x + QUIET_ZONE) * module_px, (y + QUIET_ZONE) * module_px);
                    for row in pixels[py * side..(py + module_px) * side].chunks_exact_mut(side) {
                        row[px..px + module_px].fill(0);
                    }
                }
            }
        }
        let side = u32::try_from(side).map_err(|_| QrError::TooLong)?;
        crate::png::encode_gray(side, side, &pixels, None).map_err(QrError::Png)
    }

    /// An SVG document of the code (one `<path>` of unit squares, 4-module quiet zone).
    pub fn to_svg(&self) -> String {
        let side = self.modules() + 2 * QUIET_ZONE;
        let mut svg = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
             version=\"1.1\" viewBox=\"0 0 {side} {side}\" width=\"{w}mm\" height=\"{w}mm\" \
             shape-rendering=\"crispEdges\">\n<rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\n",
            w = side // 2
        );
        svg.push_str(&self.svg_path(0.0, 0.0, 1.0));
        svg.push_str("</svg>\n");
        svg
    }

    /// An SVG `<path>` element drawing the dark modules; the quiet zone's top-left corner is at
    /// (`x`, `y`) and a module is `module` user units.
    pub fn svg_path(&self, x: f32, y: f32, module: f32) -> String {
        let mut d = String::new();
        for my in 0..self.modules() {
            for mx in 0..self.modules() {
                if self.is_dark(mx, my) {
                    let px = x + (mx + QUIET_ZONE) as f32 * module;
                    let py = y + (my + QUIET_ZONE) as f32 * module;
                    d.push_str(&format!("M{px} {py}h{module}v{module}h-{module}z"));
                }
            }
        }
        format!("<path fill=\"#000\" d=\"{d}\"/>\n")
    }
}

/// Every QR code rqrr finds in a greyscale image: each one's text, or why it did not decode.
///
/// rqrr runs on arbitrary photos and misbehaves on some crafted ones; both are "no QR code
/// found", never a crash or a hang of the caller:
/// - a panic inside it (rqrr 0.11 asserts in its perspective code, `fuzz/regressions/qr_rqrr/`)
///   is caught;
/// - its work is bounded: rqrr 0.11 searches for the alignment pattern in a spiral whose radius
///   comes from a perspective estimate that a crafted image makes huge (the same unbounded search
///   as quirc's, dlbeer/quirc#162), which takes minutes on a 75×75 image. rqrr reads the image
///   through [`Budgeted`]: every pixel read or write and size query spends one unit of
///   [`rqrr_budget`], and when it runs out rqrr is abandoned.
#[must_use]
pub fn read_qr_codes(img: &image::GrayImage) -> Vec<Result<String, String>> {
    read_qr_codes_within(img, rqrr_budget(img.width(), img.height())).0
}

/// Work units (pixel reads and writes, size queries) rqrr may spend on a `width`×`height`
/// image: far above what real codes take (a label-sized code, QR 10, takes ≈ 3 M in a 130×130
/// frame and ≈ 37 M in a 2,340×2,340 photo: `real_codes_decode_well_within_the_budget`), far
/// below what crafted images take (billions). Spending it all takes ≈ 0.25 s (optimised build).
#[must_use]
pub fn rqrr_budget(width: u32, height: u32) -> u64 {
    100 * u64::from(width) * u64::from(height) + 100_000_000
}

/// [`read_qr_codes`] with a work budget; also the work spent (the budget if it ran out).
fn read_qr_codes_within(img: &image::GrayImage, budget: u64) -> (Vec<Result<String, String>>, u64) {
    let left = std::rc::Rc::new(std::cell::Cell::new(budget));
    let buf = Budgeted {
        img: img.clone(),
        left: std::rc::Rc::clone(&left),
    };
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut prepared = rqrr::PreparedImage::prepare(buf);
        prepared
            .detect_grids()
            .iter()
            .map(|g| g.decode().map(|(_, text)| text).map_err(|e| e.to_string()))
            .collect()
    }))
    .unwrap_or_default();
    (found, budget - left.get())
}

/// rqrr's view of the image: pixels and size, each access spending one unit of a shared budget.
#[derive(Clone)]
struct Budgeted {
    img: image::GrayImage,
    left: std::rc::Rc<std::cell::Cell<u64>>,
}

/// The budget ran out: rqrr is unwound (without a panic message: `resume_unwind` skips the
/// panic hook) and [`read_qr_codes`] reports nothing found.
struct OutOfBudget;

impl Budgeted {
    fn spend(&self) {
        match self.left.get().checked_sub(1) {
            Some(l) => self.left.set(l),
            None => std::panic::resume_unwind(Box::new(OutOfBudget)),
        }
    }
}

impl image::GenericImageView for Budgeted {
    type Pixel = image::Luma<u8>;

    fn dimensions(&self) -> (u32, u32) {
        self.spend();
        self.img.dimensions()
    }

    fn get_pixel(&self, x: u32, y: u32) -> image::Luma<u8> {
        self.spend();
        *self.img.get_pixel(x, y)
    }
}

#[allow(deprecated)] // rqrr 0.11's `img` feature needs the whole trait, deprecated methods too
impl image::GenericImage for Budgeted {
    fn get_pixel_mut(&mut self, x: u32, y: u32) -> &mut image::Luma<u8> {
        self.spend();
        self.img.get_pixel_mut(x, y)
    }

    fn put_pixel(&mut self, x: u32, y: u32, pixel: image::Luma<u8>) {
        self.spend();
        self.img.put_pixel(x, y, pixel);
    }

    fn blend_pixel(&mut self, x: u32, y: u32, pixel: image::Luma<u8>) {
        self.put_pixel(x, y, pixel);
    }
}

/// Test helper: every QR text rqrr finds in a PNG (each must decode).
#[cfg(test)]
pub(crate) fn rqrr_decode(png: &[u8]) -> Vec<String> {
    let img = image::load_from_memory(png).unwrap().to_luma8();
    read_qr_codes(&img)
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_png(png: &[u8]) -> String {
        let all = rqrr_decode(png);
        assert_eq!(all.len(), 1);
        all[0].clone()
    }

    /// The version found from each range's layout is the one laying the segments out at
    /// every version finds, at every length up to beyond version 40, in both forms.
    #[test]
    fn version_is_the_smallest_that_holds_the_segments() {
        let by_trial = |text: &str| {
            let (prefix, alnum, digits) = split(text).unwrap();
            (1..=40).find(|&v| bits_for(v, prefix, alnum, digits).is_ok())
        };
        for n in (1..=7200).step_by(7).chain([2, 3, 4, 5, 6, 8, 9]) {
            let digits = "7".repeat(n);
            for text in [
                format!("https://verify.example/v#{digits}"),
                format!("CL1:{digits}"),
            ] {
                assert_eq!(version_for(&text).ok(), by_trial(&text), "{n} digits");
            }
        }
        let long = format!("https://{}/v#1", "h".repeat(300));
        assert_eq!(version_for(&long).ok(), by_trial(&long));
    }

    #[test]
    fn url_and_cl1_forms_round_trip_through_rqrr() {
        let digits = "12345678901234567".repeat(8);
        for text in [
            format!("https://labels.example/v#{digits}"),
            format!("CL1:{digits}"),
        ] {
            let qr = LabelQr::new(&text).unwrap();
            assert_eq!(decode_png(&qr.to_png(4).unwrap()), text);
        }
    }

    #[test]
    fn numeric_segment_is_smaller_than_byte_mode() {
        let text = format!("https://labels.example/v#{}", "9".repeat(400));
        let ours = LabelQr::new(&text).unwrap();
        let byte_only = (1..=40)
            .find(|&v| {
                let mut bits = Bits::new(Version::Normal(v));
                bits.push_byte_data(text.as_bytes()).is_ok()
                    && bits.push_terminator(EcLevel::M).is_ok()
            })
            .unwrap();
        assert!(
            ours.version() < byte_only,
            "{} vs {byte_only}",
            ours.version()
        );
        assert_eq!(ours.version(), 10);
    }

    #[test]
    fn rejects_non_payloads() {
        assert_eq!(LabelQr::new("hello").unwrap_err(), QrError::NotAPayload);
        assert_eq!(LabelQr::new("CL1:12a").unwrap_err(), QrError::NotDigits);
        assert_eq!(
            LabelQr::new("https://x/v#").unwrap_err(),
            QrError::NotDigits
        );
        assert_eq!(
            LabelQr::new(&format!("CL1:{}", "1".repeat(8000))).unwrap_err(),
            QrError::TooLong
        );
    }

    #[test]
    fn svg_has_one_path_per_code() {
        let qr = LabelQr::new("CL1:123").unwrap();
        let svg = qr.to_svg();
        assert!(svg.starts_with("<?xml"));
        assert_eq!(svg.matches("<path").count(), 1);
    }

    /// Found by the `qr_rqrr` fuzz target: images on which rqrr 0.11 panics
    /// (`assertion failed: x <= i32::MAX as f64` in its perspective code). `read_qr_codes`
    /// must turn that into "nothing found", not a panic of its caller. Input format
    /// (crates/fuzz-bodies/src/qr_input.rs, raw frame): byte 0 even, then width − 1 and
    /// height − 1 (mod 96), then rows of grey pixels.
    #[test]
    fn rqrr_panics_on_hostile_images_are_contained() {
        for data in [
            &include_bytes!("../../../fuzz/regressions/qr_rqrr/rqrr-geometry-assert-1")[..],
            &include_bytes!("../../../fuzz/regressions/qr_rqrr/rqrr-geometry-assert-2")[..],
        ] {
            assert_eq!(data[0] % 2, 0, "a raw frame");
            let (w, h) = (usize::from(data[1] % 96) + 1, usize::from(data[2] % 96) + 1);
            let img = image::GrayImage::from_raw(w as u32, h as u32, data[3..3 + w * h].to_vec())
                .unwrap();
            assert!(read_qr_codes(&img).is_empty());
        }
    }

    /// A raw frame of the image fuzz targets' input (crates/fuzz-bodies/src/qr_input.rs): byte 0
    /// even, then width − 1 and height − 1 (mod 96), then rows of grey pixels (white past the
    /// end).
    fn raw_frame(data: &[u8]) -> image::GrayImage {
        assert_eq!(data[0] % 2, 0, "a raw frame");
        let (w, h) = (u32::from(data[1] % 96) + 1, u32::from(data[2] % 96) + 1);
        image::GrayImage::from_fn(w, h, |x, y| {
            image::Luma([*data.get(3 + (y * w + x) as usize).unwrap_or(&255)])
        })
    }

    /// Found by the `qr_rqrr` fuzz target: 75×75 images on which rqrr 0.11's alignment-pattern
    /// spiral runs for 4 s and 78 s (a release build) — longer still on others. `read_qr_codes`
    /// gives up when its work budget runs out: nothing found, at once.
    #[test]
    fn rqrr_hangs_on_hostile_images_are_cut_short() {
        for data in [
            &include_bytes!("../../../fuzz/regressions/qr_rqrr/rqrr-alignment-spiral-1")[..],
            &include_bytes!("../../../fuzz/regressions/qr_rqrr/rqrr-alignment-spiral-2")[..],
        ] {
            let img = raw_frame(data);
            let budget = rqrr_budget(img.width(), img.height());
            let t = std::time::Instant::now();
            let (found, spent) = read_qr_codes_within(&img, budget);
            assert!(found.is_empty());
            assert_eq!(spent, budget, "the budget ran out");
            println!("gave up after {:?}", t.elapsed());
        }
    }

    /// Real codes take a small part of the budget, from a small frame to a large photo.
    #[test]
    fn real_codes_decode_well_within_the_budget() {
        let text = format!("https://verify.example/v#{}", "1234567890".repeat(37));
        let qr = LabelQr::new(&text).unwrap();
        for (module_px, noise) in [(2u32, 0u8), (4, 0), (12, 40), (36, 40)] {
            let side = (qr.modules() as u32 + 8) * module_px;
            let mut seed = 0x2545_f491_4f6c_dd1du64;
            let img = image::GrayImage::from_fn(side, side, |x, y| {
                let (mx, my) = ((x / module_px) as usize, (y / module_px) as usize);
                let dark = qr.is_dark(mx.wrapping_sub(4), my.wrapping_sub(4));
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let n = (seed % (u64::from(noise) + 1)) as u8;
                image::Luma([if dark { n } else { 255 - n }])
            });
            let budget = rqrr_budget(side, side);
            let (found, spent) = read_qr_codes_within(&img, budget);
            println!(
                "{side}×{side} (v{}, {module_px} px a module): {spent} of {budget}",
                qr.version()
            );
            assert_eq!(found, [Ok(text.clone())]);
            assert!(spent < budget / 4, "{spent} of {budget}");
        }
    }
}
