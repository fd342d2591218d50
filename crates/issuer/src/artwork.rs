//! The printable label: a 300 dpi PNG (with a pHYs chunk) and an SVG of the same layout.
//!
//! The label shows, top to bottom: the scheme's name (header band), the level as a mark (stars or
//! steps for multi-level schemes, a check mark for binary/descriptive ones) and in words, the
//! product and manufacturer, "Security updates until `<date>`", and the QR code with its quiet zone
//! kept clear so phone cameras and decoders find it.
//!
//! This module knows nothing of claims or catalogs: [`LabelArt`] carries the display strings,
//! which the caller (`mint`/CLI) derives from the claim and the scheme catalog. Text in the PNG is
//! drawn with DejaVu Sans (committed under `assets/` with its licence); the SVG names the same
//! family with fallbacks and uses the same measured sizes.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

use crate::qr::{LabelQr, QUIET_ZONE};

const FONT_REGULAR: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FONT_BOLD: &[u8] = include_bytes!("../assets/DejaVuSans-Bold.ttf");

/// Resolution of the PNG artwork.
pub const DPI: u32 = 300;
/// Width of the label in pixels at [`DPI`] (50.8 mm).
pub const WIDTH: u32 = 600;
const MARGIN: f32 = 24.0;
const QR_TOP: u32 = 470;
const QR_MAX: u32 = 540;
const GRAY: u8 = 200;

/// How the level is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelMark {
    /// `level` of `of` stars filled (e.g. Singapore CLS asterisks, JC-STAR ★).
    Stars {
        /// Level reached (1-based).
        level: u8,
        /// Number of levels in the scheme.
        of: u8,
    },
    /// `level` of `of` ascending steps filled (named levels, e.g. Korea CIC Lite/Basic/Standard).
    Steps {
        /// Level reached (1-based).
        level: u8,
        /// Number of levels in the scheme.
        of: u8,
    },
    /// A check mark: binary (pass) or descriptive schemes.
    Pass,
}

/// What the label shows. All strings are display text.
#[derive(Debug, Clone)]
pub struct LabelArt<'a> {
    /// Scheme name for the header, e.g. "Cybersecurity Labelling Scheme".
    pub scheme_name: &'a str,
    /// Smaller line under the name, e.g. "SG-CLS · Singapore".
    pub scheme_line: &'a str,
    /// The level mark.
    pub mark: LevelMark,
    /// The level in words, e.g. "Level 2", "Basic", "Pass".
    pub level_text: &'a str,
    /// Product / model.
    pub product: &'a str,
    /// Manufacturer.
    pub manufacturer: &'a str,
    /// Support end date (`YYYY-MM-DD`), shown as "Security updates until `<date>`".
    pub support_until: &'a str,
    /// The label's QR code.
    pub qr: &'a LabelQr,
}

/// Why artwork could not be produced.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtworkError {
    /// The bundled font failed to load (a corrupt build).
    #[error("bundled font failed to load")]
    Font,
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// The rendered label.
#[derive(Debug, Clone)]
pub struct Artwork {
    /// 8-bit grayscale PNG, [`WIDTH`] px wide, pHYs = 300 dpi.
    pub png: Vec<u8>,
    /// SVG of the same layout (width/height in millimetres).
    pub svg: String,
}

/// One drawing primitive, rendered identically to raster and SVG.
enum Shape {
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: u8,
    },
    Polygon {
        points: Vec<(f32, f32)>,
        fill: u8,
    },
    Text {
        text: String,
        cx: f32,
        baseline: f32,
        size: f32,
        bold: bool,
        fill: u8,
    },
    Qr {
        x: f32,
        y: f32,
        module: f32,
    },
}

struct Fonts<'f> {
    regular: FontRef<'f>,
    bold: FontRef<'f>,
}

impl Fonts<'_> {
    fn load() -> Result<Self, ArtworkError> {
        Ok(Self {
            regular: FontRef::try_from_slice(FONT_REGULAR).map_err(|_| ArtworkError::Font)?,
            bold: FontRef::try_from_slice(FONT_BOLD).map_err(|_| ArtworkError::Font)?,
        })
    }

    fn get(&self, bold: bool) -> &FontRef<'_> {
        if bold { &self.bold } else { &self.regular }
    }

    /// Advance width of `text` at `size` px, with kerning.
    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let font = self.get(bold).as_scaled(PxScale::from(size));
        let mut caret = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                caret += font.kern(p, id);
            }
            caret += font.h_advance(id);
            prev = Some(id);
        }
        caret
    }

    /// The largest size ≤ `size` at which `text` fits `max_width`.
    fn fit(&self, text: &str, size: f32, bold: bool, max_width: f32) -> f32 {
        let w = self.width(text, size, bold);
        if w > max_width {
            (size * max_width / w).floor().max(8.0)
        } else {
            size
        }
    }
}

fn star(cx: f32, cy: f32, r: f32) -> Vec<(f32, f32)> {
    // Regular five-pointed star: inner radius = r · sin(18°)/sin(126°) ≈ 0.382 r.
    let inner = r * 0.381_966;
    (0..10)
        .map(|i| {
            let radius = if i % 2 == 0 { r } else { inner };
            let angle = -std::f32::consts::FRAC_PI_2 + i as f32 * std::f32::consts::PI / 5.0;
            (cx + radius * angle.cos(), cy + radius * angle.sin())
        })
        .collect()
}

fn circle(cx: f32, cy: f32, r: f32) -> Vec<(f32, f32)> {
    (0..72)
        .map(|i| {
            let a = i as f32 * std::f32::consts::TAU / 72.0;
            (cx + r * a.cos(), cy + r * a.sin())
        })
        .collect()
}

fn check(cx: f32, cy: f32, r: f32) -> Vec<(f32, f32)> {
    [
        (-0.55, -0.02),
        (-0.15, 0.38),
        (0.55, -0.32),
        (0.42, -0.45),
        (-0.15, 0.12),
        (-0.42, -0.15),
    ]
    .iter()
    .map(|(x, y)| (cx + x * r, cy + y * r))
    .collect()
}

fn layout(art: &LabelArt<'_>, fonts: &Fonts<'_>) -> (Vec<Shape>, u32) {
    let w = WIDTH as f32;
    let cx = w / 2.0;
    let text_w = w - 2.0 * MARGIN;
    let mut shapes = vec![Shape::Rect {
        x: 0.0,
        y: 0.0,
        w,
        h: 112.0,
        fill: 0,
    }];
    let text = |text: &str, baseline: f32, size: f32, bold: bool, fill: u8| Shape::Text {
        text: text.to_owned(),
        cx,
        baseline,
        size: fonts.fit(text, size, bold, text_w),
        bold,
        fill,
    };
    shapes.push(text(art.scheme_name, 56.0, 38.0, true, 255));
    shapes.push(text(art.scheme_line, 96.0, 26.0, false, 255));

    // The level mark, centred in the band y ∈ [130, 230].
    let (mark_cy, mark_h) = (180.0, 100.0);
    match art.mark {
        LevelMark::Stars { level, of } => {
            let of = of.max(1);
            let pitch = (text_w / f32::from(of)).min(110.0);
            let r = pitch * 0.45;
            let x0 = cx - pitch * f32::from(of) / 2.0 + pitch / 2.0;
            for i in 0..of {
                let fill = if i < level { 0 } else { GRAY };
                shapes.push(Shape::Polygon {
                    points: star(x0 + pitch * f32::from(i), mark_cy + r * 0.1, r),
                    fill,
                });
            }
        }
        LevelMark::Steps { level, of } => {
            let of = of.max(1);
            let pitch = (text_w / f32::from(of)).min(90.0);
            let x0 = cx - pitch * f32::from(of) / 2.0;
            for i in 0..of {
                let h = mark_h * f32::from(i + 1) / f32::from(of);
                shapes.push(Shape::Rect {
                    x: x0 + pitch * f32::from(i) + 6.0,
                    y: mark_cy + mark_h / 2.0 - h,
                    w: pitch - 12.0,
                    h,
                    fill: if i < level { 0 } else { GRAY },
                });
            }
        }
        LevelMark::Pass => {
            shapes.push(Shape::Polygon {
                points: circle(cx, mark_cy, 50.0),
                fill: 0,
            });
            shapes.push(Shape::Polygon {
                points: check(cx, mark_cy, 50.0),
                fill: 255,
            });
        }
    }
    shapes.push(text(art.level_text, 275.0, 36.0, true, 0));
    shapes.push(text(art.product, 330.0, 32.0, true, 0));
    shapes.push(text(art.manufacturer, 372.0, 26.0, false, 0));
    let support = format!("Security updates until {}", art.support_until);
    shapes.push(text(&support, 430.0, 28.0, true, 0));

    let side = (art.qr.modules() + 2 * QUIET_ZONE) as u32;
    let module = (QR_MAX / side).max(2);
    let qr_px = module * side;
    let qr_x = ((WIDTH - qr_px.min(WIDTH)) / 2) as f32;
    shapes.push(Shape::Qr {
        x: qr_x,
        y: QR_TOP as f32,
        module: module as f32,
    });
    let bottom = QR_TOP + qr_px;
    shapes.push(text("Scan to verify", bottom as f32 + 16.0, 24.0, false, 0));
    (shapes, bottom + 40)
}

/// Coverage of `(px, py)`'s pixel by an even-odd polygon, from 4×4 supersampling.
fn coverage(points: &[(f32, f32)], px: u32, py: u32) -> f32 {
    let mut inside = 0;
    for sy in 0..4 {
        for sx in 0..4 {
            let x = px as f32 + (sx as f32 + 0.5) / 4.0;
            let y = py as f32 + (sy as f32 + 0.5) / 4.0;
            let mut c = false;
            let mut j = points.len() - 1;
            for i in 0..points.len() {
                let (xi, yi) = points[i];
                let (xj, yj) = points[j];
                if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                    c = !c;
                }
                j = i;
            }
            inside += usize::from(c);
        }
    }
    inside as f32 / 16.0
}

struct Raster {
    w: u32,
    h: u32,
    px: Vec<u8>,
}

impl Raster {
    fn blend(&mut self, x: i64, y: i64, fill: u8, alpha: f32) {
        if x < 0 || y < 0 || x >= i64::from(self.w) || y >= i64::from(self.h) || alpha <= 0.0 {
            return;
        }
        let i = y as usize * self.w as usize + x as usize;
        let a = alpha.min(1.0);
        self.px[i] = (f32::from(self.px[i]) * (1.0 - a) + f32::from(fill) * a).round() as u8;
    }

    fn draw(&mut self, shape: &Shape, fonts: &Fonts<'_>, qr: &LabelQr) {
        match shape {
            Shape::Rect { x, y, w, h, fill } => {
                for yy in (*y as i64)..((y + h) as i64) {
                    for xx in (*x as i64)..((x + w) as i64) {
                        self.blend(xx, yy, *fill, 1.0);
                    }
                }
            }
            Shape::Polygon { points, fill } => {
                let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
                for &(x, y) in points {
                    (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
                }
                let xs = x0.floor().max(0.0) as u32..(x1.ceil().max(0.0) as u32).min(self.w);
                for py in y0.floor().max(0.0) as u32..(y1.ceil().max(0.0) as u32).min(self.h) {
                    for px in xs.clone() {
                        let c = coverage(points, px, py);
                        self.blend(i64::from(px), i64::from(py), *fill, c);
                    }
                }
            }
            Shape::Text {
                text,
                cx,
                baseline,
                size,
                bold,
                fill,
            } => {
                let font = fonts.get(*bold).as_scaled(PxScale::from(*size));
                let mut caret = cx - fonts.width(text, *size, *bold) / 2.0;
                let mut prev = None;
                for c in text.chars() {
                    let id = font.glyph_id(c);
                    if let Some(p) = prev {
                        caret += font.kern(p, id);
                    }
                    let glyph = id.with_scale_and_position(*size, point(caret, *baseline));
                    caret += font.h_advance(id);
                    prev = Some(id);
                    if let Some(outlined) = fonts.get(*bold).outline_glyph(glyph) {
                        let b = outlined.px_bounds();
                        outlined.draw(|gx, gy, c| {
                            self.blend(
                                b.min.x as i64 + i64::from(gx),
                                b.min.y as i64 + i64::from(gy),
                                *fill,
                                c,
                            );
                        });
                    }
                }
            }
            Shape::Qr { x, y, module } => {
                let side = qr.modules() + 2 * QUIET_ZONE;
                let m = *module as i64;
                for my in 0..side {
                    for mx in 0..side {
                        let dark = mx >= QUIET_ZONE
                            && my >= QUIET_ZONE
                            && qr.is_dark(mx - QUIET_ZONE, my - QUIET_ZONE);
                        let fill = if dark { 0 } else { 255 };
                        for dy in 0..m {
                            for dx in 0..m {
                                self.blend(
                                    *x as i64 + mx as i64 * m + dx,
                                    *y as i64 + my as i64 * m + dy,
                                    fill,
                                    1.0,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn gray_hex(v: u8) -> String {
    format!("#{v:02x}{v:02x}{v:02x}")
}

fn to_svg(shapes: &[Shape], height: u32, qr: &LabelQr) -> String {
    let mm = |px: u32| f64::from(px) * 25.4 / f64::from(DPI);
    let mut svg = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         version=\"1.1\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{:.2}mm\" height=\"{:.2}mm\">\n\
         <rect width=\"{WIDTH}\" height=\"{height}\" fill=\"#fff\"/>\n",
        mm(WIDTH),
        mm(height)
    );
    for shape in shapes {
        match shape {
            Shape::Rect { x, y, w, h, fill } => svg.push_str(&format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{}\"/>\n",
                gray_hex(*fill)
            )),
            Shape::Polygon { points, fill } => {
                let pts: Vec<String> = points.iter().map(|(x, y)| format!("{x:.2},{y:.2}")).collect();
                svg.push_str(&format!(
                    "<polygon points=\"{}\" fill=\"{}\"/>\n",
                    pts.join(" "),
                    gray_hex(*fill)
                ));
            }
            Shape::Text { text, cx, baseline, size, bold, fill } => svg.push_str(&format!(
                "<text x=\"{cx}\" y=\"{baseline}\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\" \
                 font-size=\"{size}\" font-weight=\"{}\" text-anchor=\"middle\" fill=\"{}\">{}</text>\n",
                if *bold { "bold" } else { "normal" },
                gray_hex(*fill),
                xml_escape(text)
            )),
            Shape::Qr { x, y, module } => {
                let side = (qr.modules() + 2 * QUIET_ZONE) as f32 * module;
                svg.push_str(&format!(
                    "<g shape-rendering=\"crispEdges\"><rect x=\"{x}\" y=\"{y}\" width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\n"
                ));
                svg.push_str(&qr.svg_path(*x, *y, *module));
                svg.push_str("</g>\n");
            }
        }
    }
    // A thin border, drawn last so it frames everything.
    svg.push_str(&format!(
        "<rect x=\"2\" y=\"2\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#000\" stroke-width=\"4\"/>\n</svg>\n",
        WIDTH - 4,
        height - 4
    ));
    svg
}

/// Renders the label as a 300 dpi PNG and an SVG.
///
/// # Errors
/// [`ArtworkError::Font`] if the bundled font is corrupt, [`ArtworkError::Png`] if encoding fails.
pub fn render(art: &LabelArt<'_>) -> Result<Artwork, ArtworkError> {
    let fonts = Fonts::load()?;
    let (shapes, height) = layout(art, &fonts);
    let mut raster = Raster {
        w: WIDTH,
        h: height,
        px: vec![255; WIDTH as usize * height as usize],
    };
    for shape in &shapes {
        raster.draw(shape, &fonts, art.qr);
    }
    // Border (4 px), as in the SVG.
    let border = [
        Shape::Rect {
            x: 0.0,
            y: 0.0,
            w: WIDTH as f32,
            h: 4.0,
            fill: 0,
        },
        Shape::Rect {
            x: 0.0,
            y: height as f32 - 4.0,
            w: WIDTH as f32,
            h: 4.0,
            fill: 0,
        },
        Shape::Rect {
            x: 0.0,
            y: 0.0,
            w: 4.0,
            h: height as f32,
            fill: 0,
        },
        Shape::Rect {
            x: WIDTH as f32 - 4.0,
            y: 0.0,
            w: 4.0,
            h: height as f32,
            fill: 0,
        },
    ];
    for shape in &border {
        raster.draw(shape, &fonts, art.qr);
    }
    let png =
        crate::png::encode_gray(WIDTH, height, &raster.px, Some(DPI)).map_err(ArtworkError::Png)?;
    Ok(Artwork {
        png,
        svg: to_svg(&shapes, height, art.qr),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn art<'a>(qr: &'a LabelQr, mark: LevelMark, product: &'a str) -> LabelArt<'a> {
        LabelArt {
            scheme_name: "Cybersecurity Labelling Scheme",
            scheme_line: "SG-CLS · Singapore <&>",
            mark,
            level_text: "Level 2",
            product,
            manufacturer: "Acme Devices Pte Ltd",
            support_until: "2029-12-31",
            qr,
        }
    }

    #[test]
    fn png_has_300_dpi_and_decodes_with_rqrr() {
        let text = format!(
            "https://labels.example/v#{}",
            "31415926535897932".repeat(10)
        );
        let qr = LabelQr::new(&text).unwrap();
        for mark in [
            LevelMark::Stars { level: 2, of: 4 },
            LevelMark::Steps { level: 1, of: 3 },
            LevelMark::Pass,
        ] {
            let out = render(&art(&qr, mark, "Acme SmartCam 2 Outdoor Pro 4K")).unwrap();
            let decoder = png::Decoder::new(std::io::Cursor::new(&out.png));
            let reader = decoder.read_info().unwrap();
            let dims = reader.info().pixel_dims.unwrap();
            assert_eq!((dims.xppu, dims.unit), (11811, png::Unit::Meter));
            let img = image::load_from_memory(&out.png).unwrap().to_luma8();
            assert_eq!(img.width(), WIDTH);
            assert_eq!(
                crate::qr::rqrr_decode(&out.png),
                vec![text.clone()],
                "{mark:?}"
            );
            assert!(out.svg.contains("SG-CLS · Singapore &lt;&amp;&gt;"));
            assert!(out.svg.contains("Security updates until 2029-12-31"));
        }
    }

    #[test]
    fn long_text_is_shrunk_to_fit() {
        let fonts = Fonts::load().unwrap();
        let long = "A very long product name that cannot possibly fit on one label line";
        let size = fonts.fit(long, 32.0, true, WIDTH as f32 - 2.0 * MARGIN);
        assert!(size < 32.0);
        assert!(fonts.width(long, size, true) <= WIDTH as f32 - 2.0 * MARGIN + 0.5);
    }

    #[test]
    fn star_glyph_polygon_coverage() {
        let s = star(50.0, 50.0, 40.0);
        assert_eq!(coverage(&s, 50, 50), 1.0);
        assert_eq!(coverage(&s, 1, 1), 0.0);
    }
}
