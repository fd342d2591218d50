//! Grayscale PNG encoding with an optional physical resolution (pHYs chunk).
//!
//! `image`'s PNG encoder cannot write pHYs, and a print shop needs it to print the label at its
//! true size, so the artwork is encoded with the `png` crate directly.

/// Encodes 8-bit grayscale `pixels` (row-major, `width * height` bytes) as PNG; with `dpi`, a
/// pHYs chunk records that many pixels per inch (stored as pixels per metre, rounded).
///
/// # Errors
/// The encoder's message if `pixels` has the wrong length or encoding fails.
pub(crate) fn encode_gray(
    width: u32,
    height: u32,
    pixels: &[u8],
    dpi: Option<u32>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        if let Some(dpi) = dpi {
            // 1 inch = 0.0254 m; 300 dpi = 11811 px/m.
            let ppm = ((f64::from(dpi) / 0.0254).round()) as u32;
            encoder.set_pixel_dims(Some(png::PixelDimensions {
                xppu: ppm,
                yppu: ppm,
                unit: png::Unit::Meter,
            }));
        }
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(pixels).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    Ok(out)
}
