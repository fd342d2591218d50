//! The image targets' input format: a small greyscale frame, either given pixel by pixel or a
//! real QR code rendered from a payload the input picks and then damaged by the rest of it.
//!
//! A QR reader's cost grows with the frame, and a random frame almost never holds three finder
//! patterns, let alone a grid whose format information and Reed–Solomon blocks check out. So a
//! frame is at most [`MAX_SIDE`]² pixels, and most of the input's bytes describe *how* a real
//! code is drawn and broken (perspective, crop, missing quiet zone, contrast, noise, flipped
//! modules, blotches, torn rows) rather than the pixels themselves: the readers' deeper paths
//! (capstones, perspective fitting, format and version information, error correction, data
//! segments) see inputs near a valid code, and libFuzzer's mutations move them across it.
//!
//! Byte 0 selects the mode:
//!
//! - **even: raw frame.** Byte 1: width − 1 (mod [`MAX_SIDE`]), byte 2: height − 1 (mod
//!   [`MAX_SIDE`]), then the pixels row by row; pixels past the input's end are white.
//! - **odd: rendered code.** Byte 1: the payload kind (mod 8):
//!   - 0: the fixture label's URL (`<VERIFY_URL>#<digits>`, QR 10-M as issued),
//!   - 1: the fixture label's `CL1:` form,
//!   - 2 / 3: the `CL1:` / URL form of label bytes from the input,
//!   - 4–7: the input's bytes as they are, error correction L / M / Q / H (the encoder picks the
//!     segments: numeric, alphanumeric, byte or kanji), mask pattern (b >> 3) mod 8.
//!
//!   Kinds 2–7 then take a length byte (1 + b mod 64) and that many payload bytes. Kinds 0–3
//!   are drawn with the issuer's encoder ([`LabelQr`], as on the label artwork), 4–7 with the
//!   `qrcode` crate it wraps. Then 13 bytes of geometry (missing bytes read as 0): frame width
//!   and height (each 1 + b mod [`MAX_SIDE`]), quiet zone in modules (b mod 5), the code's four
//!   corners (top-left, top-right, bottom-right, bottom-left of the quiet zone's outer edge; x
//!   then y, each [`corner`]`(b, side)`, from 16 px outside the frame to 16 px past it: any
//!   quadrilateral, so scale, rotation, mirror, perspective and crop), the dark and the light
//!   grey level (dark ≥ light inverts the code), and noise amplitude (b / 2, ± per pixel).
//!   The rest are damage operations, 4 bytes each `[op, a, b, c]`, at most [`MAX_OPS`]:
//!   - op mod 4 = 0: flip a run of 1 + c mod 4 modules from module (a, b) (mod the code's
//!     width), before drawing;
//!   - 1: fill a rectangle at pixel (a, b), 1 + (op >> 2) mod 8 wide, 1 + (op >> 5) high, with
//!     grey c;
//!   - 2: the same rectangle, each pixel XOR c;
//!   - 3: c even: blur the frame (3×3 binomial; the first two only); c odd: shift 1 + (op >> 2) mod 8 rows from row b
//!     sideways by a (as i8) pixels (a torn scan).

use cyberlabel_core::payload;
use cyberlabel_issuer::qr::LabelQr;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{Color, EcLevel};
use std::sync::OnceLock;

/// Longest side of a raw frame, in pixels.
pub const MAX_RAW_SIDE: usize = 96;

/// Longest side of a frame a code is drawn in, in pixels: the typical label's code (61
/// modules) at 2 pixels a module, the least both readers need.
pub const MAX_DRAWN_SIDE: usize = 128;

/// Longest useful input: a raw frame of `MAX_RAW_SIDE`² pixels after its 3 header bytes.
pub const MAX_LEN: usize = 3 + MAX_RAW_SIDE * MAX_RAW_SIDE;

/// Most blurs applied to one frame (more add nothing but time).
const MAX_BLURS: usize = 2;

/// Most damage operations read from one input.
pub const MAX_OPS: usize = 64;

/// The URL the fixture label's QR code carries (the issuer's default form).
pub const VERIFY_URL: &str = "https://verify.example/v";

/// A greyscale frame for the readers, and the payload of the code drawn in it (rendered mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// pixels a row
    pub width: usize,
    /// rows
    pub height: usize,
    /// `width * height` grey levels, row by row
    pub pixels: Vec<u8>,
    /// rendered mode: the bytes the drawn code encodes
    pub payload: Option<Vec<u8>>,
}

impl Frame {
    /// The frame as an `image` buffer (rqrr's input through `read_qr_codes`).
    pub fn to_gray_image(&self) -> Option<image::GrayImage> {
        let w = u32::try_from(self.width).ok()?;
        let h = u32::try_from(self.height).ok()?;
        image::GrayImage::from_raw(w, h, self.pixels.clone())
    }

    /// The frame as RGBA (the page's `decode_qr` input: a canvas's pixels).
    pub fn to_rgba(&self) -> Vec<u8> {
        self.pixels.iter().flat_map(|&v| [v, v, v, 255]).collect()
    }
}

/// A corner coordinate: byte `b` spread over `-16 ..= side + 16` pixels.
pub fn corner(b: u8, side: usize) -> f32 {
    f32::from(b) * (side as f32 + 32.0) / 255.0 - 16.0
}

/// The byte whose [`corner`] is nearest `px` (for writing inputs).
pub fn corner_byte(px: f32, side: usize) -> u8 {
    let b = ((px + 16.0) * 255.0 / (side as f32 + 32.0)).round();
    b.clamp(0.0, 255.0) as u8
}

/// The input bytes → a frame (`None` for an empty input or a payload no code holds).
pub fn frame(data: &[u8]) -> Option<Frame> {
    let (&mode, rest) = data.split_first()?;
    if mode % 2 == 0 {
        Some(raw(rest))
    } else {
        rendered(rest)
    }
}

fn side(b: u8, max: usize) -> usize {
    usize::from(b) % max + 1
}

fn raw(data: &[u8]) -> Frame {
    let mut r = Reader(data);
    let (width, height) = (side(r.byte(), MAX_RAW_SIDE), side(r.byte(), MAX_RAW_SIDE));
    let mut pixels = vec![255u8; width * height];
    let n = r.0.len().min(pixels.len());
    pixels[..n].copy_from_slice(&r.0[..n]);
    Frame {
        width,
        height,
        pixels,
        payload: None,
    }
}

/// Bytes in order; 0 past the end.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// A code's modules (row-major, without quiet zone).
struct Modules {
    width: usize,
    dark: Vec<bool>,
}

impl Modules {
    fn of_label(qr: &LabelQr) -> Self {
        let width = qr.modules();
        let dark = (0..width * width)
            .map(|i| qr.is_dark(i % width, i / width))
            .collect();
        Self { width, dark }
    }
}

/// The fixture label's two codes (URL, `CL1:`), drawn once.
fn fixture_codes() -> &'static [(Modules, Vec<u8>); 2] {
    static C: OnceLock<[(Modules, Vec<u8>); 2]> = OnceLock::new();
    C.get_or_init(|| {
        let label = &crate::fixture::fixture().labels[0];
        [payload::to_url(VERIFY_URL, label), payload::to_cl1(label)].map(|text| {
            let qr = LabelQr::new(&text).expect("the fixture label fits a QR code");
            (Modules::of_label(&qr), text.into_bytes())
        })
    })
}

/// The code an input's payload bytes pick (after the mode byte), and its payload.
fn code(r: &mut Reader<'_>) -> Option<(Modules, Vec<u8>)> {
    let kind_byte = r.byte();
    let kind = kind_byte % 8;
    if kind < 2 {
        let (m, p) = &fixture_codes()[usize::from(kind)];
        let m = Modules {
            width: m.width,
            dark: m.dark.clone(),
        };
        return Some((m, p.clone()));
    }
    let n = 1 + usize::from(r.byte()) % 64;
    let bytes = r.bytes(n);
    if kind < 4 {
        let text = if kind == 2 {
            payload::to_cl1(bytes)
        } else {
            payload::to_url(VERIFY_URL, bytes)
        };
        let qr = LabelQr::new(&text).ok()?;
        return Some((Modules::of_label(&qr), text.into_bytes()));
    }
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H][usize::from(kind_byte % 8 - 4)];
    let mask = [
        MaskPattern::Checkerboard,
        MaskPattern::HorizontalLines,
        MaskPattern::VerticalLines,
        MaskPattern::DiagonalLines,
        MaskPattern::LargeCheckerboard,
        MaskPattern::Fields,
        MaskPattern::Diamonds,
        MaskPattern::Meadow,
    ][usize::from(kind_byte >> 3) % 8];
    // QrCode::with_error_correction_level, with the mask from the input rather than the best
    let bits = qrcode::bits::encode_auto(bytes, ec).ok()?;
    let version = bits.version();
    let (data, ecc) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, ec).ok()?;
    let mut canvas = Canvas::new(version, ec);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ecc);
    canvas.apply_mask(mask);
    let width = usize::try_from(version.width()).ok()?;
    let dark = canvas
        .into_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Some((Modules { width, dark }, bytes.to_vec()))
}

fn rendered(data: &[u8]) -> Option<Frame> {
    let mut r = Reader(data);
    let (mut modules, payload) = code(&mut r)?;
    let (width, height) = (
        side(r.byte(), MAX_DRAWN_SIDE),
        side(r.byte(), MAX_DRAWN_SIDE),
    );
    let quiet = usize::from(r.byte() % 5);
    let mut quad = [(0.0f32, 0.0f32); 4];
    for c in &mut quad {
        *c = (corner(r.byte(), width), corner(r.byte(), height));
    }
    let (dark, light) = (r.byte(), r.byte());
    let noise = r.byte() / 2;
    let ops: Vec<[u8; 4]> =
        r.0.chunks_exact(4)
            .take(MAX_OPS)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect();
    // Module damage, before drawing.
    let m = modules.width;
    for &[op, a, b, c] in &ops {
        if op % 4 == 0 {
            let y = usize::from(b) % m;
            for i in 0..=usize::from(c % 4) {
                let x = (usize::from(a) + i) % m;
                modules.dark[y * m + x] ^= true;
            }
        }
    }
    let mut pixels = vec![light; width * height];
    if let Some(to_code) = unit_square_to(&quad).and_then(invert) {
        let n = (m + 2 * quiet) as f32;
        let is_dark = |px: f32, py: f32| {
            let w = to_code[6] * px + to_code[7] * py + to_code[8];
            let u = (to_code[0] * px + to_code[1] * py + to_code[2]) / w * n;
            let v = (to_code[3] * px + to_code[4] * py + to_code[5]) / w * n;
            // NaN and infinities fail these comparisons: light
            if u >= quiet as f32 && v >= quiet as f32 {
                let (mx, my) = (u as usize - quiet, v as usize - quiet);
                mx < m && my < m && modules.dark[my * m + mx]
            } else {
                false
            }
        };
        for y in 0..height {
            for x in 0..width {
                if is_dark(x as f32 + 0.5, y as f32 + 0.5) {
                    pixels[y * width + x] = dark;
                }
            }
        }
    }
    if noise > 0 {
        let mut s = u64::from(noise) ^ 0x9e37_79b9_7f4a_7c15;
        let span = 2 * u64::from(noise) + 1;
        for p in &mut pixels {
            let d = splitmix(&mut s) % span;
            *p = (i64::from(*p) + d as i64 - i64::from(noise)).clamp(0, 255) as u8;
        }
    }
    // Pixel damage, after drawing.
    let mut blurs = 0;
    for &[op, a, b, c] in &ops {
        let (x0, y0) = (usize::from(a) % width, usize::from(b) % height);
        let rw = 1 + usize::from(op >> 2) % 8;
        let rh = 1 + usize::from(op >> 5);
        match op % 4 {
            1 | 2 => {
                for y in y0..(y0 + rh).min(height) {
                    for p in &mut pixels[y * width + x0..y * width + (x0 + rw).min(width)] {
                        *p = if op % 4 == 1 { c } else { *p ^ c };
                    }
                }
            }
            3 if c % 2 == 0 => {
                blurs += 1;
                if blurs <= MAX_BLURS {
                    blur(&mut pixels, width, height);
                }
            }
            3 => {
                let shift = (a as i8).unsigned_abs() as usize % width;
                for y in y0..(y0 + rw).min(height) {
                    let row = &mut pixels[y * width..(y + 1) * width];
                    if (a as i8) < 0 {
                        row.rotate_left(shift);
                    } else {
                        row.rotate_right(shift);
                    }
                }
            }
            _ => {}
        }
    }
    Some(Frame {
        width,
        height,
        pixels,
        payload: Some(payload),
    })
}

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 3×3 binomial blur (1 2 1 across, then down; edges repeated): a slightly out-of-focus
/// frame.
fn blur(px: &mut [u8], w: usize, h: usize) {
    let mut row = vec![0u16; w * h];
    for y in 0..h {
        let r = &px[y * w..(y + 1) * w];
        for x in 0..w {
            let (l, rr) = (r[x.saturating_sub(1)], r[(x + 1).min(w - 1)]);
            row[y * w + x] = u16::from(l) + 2 * u16::from(r[x]) + u16::from(rr);
        }
    }
    for y in 0..h {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            let sum = row[up * w + x] + 2 * row[y * w + x] + row[down * w + x];
            px[y * w + x] = (sum / 16) as u8;
        }
    }
}

/// The homography (row-major 3×3) taking the unit square's corners (0,0), (1,0), (1,1), (0,1)
/// to `q[0..4]` (Heckbert's square-to-quad); `None` when three corners are collinear.
fn unit_square_to(q: &[(f32, f32); 4]) -> Option<[f32; 9]> {
    let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = *q;
    let (sx, sy) = (x0 - x1 + x2 - x3, y0 - y1 + y2 - y3);
    let (dx1, dx2, dy1, dy2) = (x1 - x2, x3 - x2, y1 - y2, y3 - y2);
    let det = dx1 * dy2 - dx2 * dy1;
    if det == 0.0 {
        return None;
    }
    let g = (sx * dy2 - dx2 * sy) / det;
    let h = (dx1 * sy - sx * dy1) / det;
    Some([
        x1 - x0 + g * x1,
        x3 - x0 + h * x3,
        x0,
        y1 - y0 + g * y1,
        y3 - y0 + h * y3,
        y0,
        g,
        h,
        1.0,
    ])
}

/// The inverse of a 3×3 matrix up to scale (its adjugate); `None` if singular or not finite.
fn invert(m: [f32; 9]) -> Option<[f32; 9]> {
    let [a, b, c, d, e, f, g, h, i] = m;
    let adj = [
        e * i - f * h,
        c * h - b * i,
        b * f - c * e,
        f * g - d * i,
        a * i - c * g,
        c * d - a * f,
        d * h - e * g,
        b * g - a * h,
        a * e - b * d,
    ];
    let det = a * adj[0] + b * adj[3] + c * adj[6];
    (det != 0.0 && adj.iter().all(|v| v.is_finite())).then_some(adj)
}

/// How [`rendered_input`] draws its code.
#[derive(Debug, Clone, Default)]
pub struct Drawing {
    /// pixels a module
    pub module_px: f32,
    /// quiet zone, in modules (0–4)
    pub quiet: u8,
    /// rotation about the centre, degrees clockwise
    pub turn_deg: f32,
    /// perspective: the top edge is this fraction shorter than the bottom one
    pub keystone: f32,
    /// noise amplitude byte (± half of it per pixel)
    pub noise: u8,
    /// damage operations
    pub ops: Vec<[u8; 4]>,
}

/// Writes a rendered-mode input: the code of `kind` (with `payload` for kinds 2–7) drawn black
/// on white as `d` says, centred in a square frame just large enough (at most [`MAX_DRAWN_SIDE`]).
///
/// # Panics
/// If the payload is not 1–64 bytes (kinds 2–7), no code holds it, or it does not fit the frame.
pub fn rendered_input(kind: u8, payload: &[u8], d: &Drawing) -> Vec<u8> {
    let mut out = vec![1, kind];
    if kind >= 2 {
        let n = u8::try_from(payload.len() - 1).expect("payload of 1–64 bytes");
        assert!(n < 64, "payload of 1–64 bytes");
        out.push(n);
        out.extend_from_slice(payload);
    }
    let (modules, _) = code(&mut Reader(&out[1..])).expect("the payload fits a code");
    let half = (modules.width + 2 * usize::from(d.quiet)) as f32 * d.module_px / 2.0;
    let (sin, cos) = d.turn_deg.to_radians().sin_cos();
    let top = half * (1.0 - d.keystone);
    let quad = [(-top, -half), (top, -half), (half, half), (-half, half)]
        .map(|(x, y)| (x * cos - y * sin, x * sin + y * cos));
    let extent = quad
        .iter()
        .map(|&(x, y)| x.abs().max(y.abs()))
        .fold(0.0f32, f32::max);
    let side = (2.0 * extent).ceil() as usize + 2;
    assert!(side <= MAX_DRAWN_SIDE, "code {side} px wide");
    let s = u8::try_from(side - 1).expect("side ≤ 128");
    out.extend_from_slice(&[s, s, d.quiet]);
    let c = side as f32 / 2.0;
    for (x, y) in quad {
        out.push(corner_byte(x + c, side));
        out.push(corner_byte(y + c, side));
    }
    out.extend_from_slice(&[0, 255, d.noise]);
    for op in &d.ops {
        out.extend_from_slice(op);
    }
    out
}

/// Writes a raw-mode input (pixels row by row).
///
/// # Panics
/// If a side is 0 or over [`MAX_RAW_SIDE`], or `pixels` is not `width * height` long.
pub fn raw_input(width: usize, height: usize, pixels: &[u8]) -> Vec<u8> {
    assert!((1..=MAX_RAW_SIDE).contains(&width) && (1..=MAX_RAW_SIDE).contains(&height));
    assert_eq!(pixels.len(), width * height);
    let mut out = vec![0, (width - 1) as u8, (height - 1) as u8];
    out.extend_from_slice(pixels);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_homography_takes_the_unit_square_to_the_quad_and_back() {
        let q = [(3.0, 5.0), (90.0, 2.0), (100.0, 80.0), (-4.0, 70.0)];
        let m = unit_square_to(&q).unwrap();
        let inv = invert(m).unwrap();
        for ((u, v), (x, y)) in [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
            .into_iter()
            .zip(q)
        {
            let w = m[6] * u + m[7] * v + m[8];
            let (px, py) = (
                (m[0] * u + m[1] * v + m[2]) / w,
                (m[3] * u + m[4] * v + m[5]) / w,
            );
            assert!(
                (px - x).abs() < 1e-3 && (py - y).abs() < 1e-3,
                "({u}, {v}) → ({px}, {py})"
            );
            let w = inv[6] * x + inv[7] * y + inv[8];
            let (bu, bv) = (
                (inv[0] * x + inv[1] * y + inv[2]) / w,
                (inv[3] * x + inv[4] * y + inv[5]) / w,
            );
            assert!((bu - u).abs() < 1e-4 && (bv - v).abs() < 1e-4);
        }
        // three corners in a line: no frame drawn, no panic
        assert!(unit_square_to(&[(0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]).is_none());
    }

    /// A code drawn axis-aligned at whole pixels a module: the pixel at each module's centre is
    /// that module's colour (the code is neither mirrored nor transposed), the quiet zone light.
    #[test]
    fn a_plain_drawing_puts_every_module_where_the_encoder_did() {
        let payload = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        let input = rendered_input(
            2,
            &payload,
            &Drawing {
                module_px: 3.0,
                quiet: 2,
                ..Drawing::default()
            },
        );
        let f = frame(&input).unwrap();
        let text = payload::to_cl1(&payload);
        assert_eq!(f.payload.as_deref(), Some(text.as_bytes()));
        let qr = LabelQr::new(&text).unwrap();
        let m = qr.modules();
        // the frame is (m + 4) · 3 px of code plus a pixel either side
        assert_eq!(f.width, (m + 4) * 3 + 2);
        for my in 0..m + 4 {
            for mx in 0..m + 4 {
                let (x, y) = (1 + 3 * mx + 1, 1 + 3 * my + 1);
                let dark = qr.is_dark(mx.wrapping_sub(2), my.wrapping_sub(2));
                assert_eq!(
                    f.pixels[y * f.width + x],
                    if dark { 0 } else { 255 },
                    "({mx}, {my})"
                );
            }
        }
    }

    #[test]
    fn any_input_is_a_frame_in_bounds_or_nothing() {
        let mut inputs: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![1],
            vec![2, 255, 255],
            raw_input(2, 1, &[0, 9]),
        ];
        let seed = rendered_input(
            4 + 8 * 7,
            b"HELLO",
            &Drawing {
                module_px: 2.0,
                quiet: 4,
                turn_deg: 30.0,
                keystone: 0.3,
                noise: 255,
                ops: (0..=255u8)
                    .map(|i| [i, i.wrapping_mul(7), i.wrapping_mul(13), i])
                    .collect(),
            },
        );
        inputs.extend((0..seed.len()).map(|n| seed[..n].to_vec()));
        // every kind, every geometry byte at its extremes
        for kind in 0..=255u8 {
            inputs.push(vec![1, kind, 63, 0xff, 0xff]);
        }
        for i in 3..20 {
            for b in [0, 1, 127, 128, 255] {
                let mut v = seed[..seed.len().min(40)].to_vec();
                if i < v.len() {
                    v[i] = b;
                }
                inputs.push(v);
            }
        }
        for input in &inputs {
            if let Some(f) = frame(input) {
                assert!(f.width >= 1 && f.height >= 1);
                let max = if input[0] % 2 == 0 {
                    MAX_RAW_SIDE
                } else {
                    MAX_DRAWN_SIDE
                };
                assert!(f.width <= max && f.height <= max);
                assert_eq!(f.pixels.len(), f.width * f.height);
                assert_eq!(f.payload.is_some(), input[0] % 2 == 1);
            }
        }
        // raw frames are padded with white
        let f = frame(&raw_input(2, 2, &[7, 8, 9, 10])[..4]).unwrap();
        assert_eq!(f.pixels, [7, 255, 255, 255]);
    }
}
