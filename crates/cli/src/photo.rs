//! Finding a label's QR code in a photo or PNG (for `verify --image`), with `rqrr`.
//!
//! Phone photos are large and the code may fill only part of the frame; rqrr's binarisation
//! works best at a moderate resolution, so the image is tried at its own size (if not huge) and
//! then at smaller sizes until a code decodes. Input is hostile: the file size and the decoded
//! dimensions are bounded before any large allocation.

use std::io::Cursor;
use std::path::Path;

use anyhow::{Context, Result, bail};
use image::{DynamicImage, GrayImage, ImageReader, Limits, imageops::FilterType};

/// Largest accepted image file.
pub const MAX_IMAGE_FILE: u64 = 40 * 1024 * 1024;
/// Largest accepted image side, in pixels.
const MAX_SIDE: u32 = 12_000;

fn load(path: &Path) -> Result<GrayImage> {
    let bytes = crate::util::read_bounded(path, MAX_IMAGE_FILE, "image")?;
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .context("cannot read the image header")?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let img: DynamicImage = reader.decode().with_context(|| {
        format!(
            "cannot decode {} as an image: give a PNG or JPEG photo of the label's QR code",
            path.display()
        )
    })?;
    Ok(img.to_luma8())
}

fn detect(img: &GrayImage) -> Vec<String> {
    cyberlabel_issuer::qr::read_qr_codes(img)
        .into_iter()
        .filter_map(Result::ok)
        .collect()
}

/// The texts of all QR codes found in the image at `path` (at the first size where any decodes).
///
/// # Errors
/// If the file cannot be read or decoded as an image, or no QR code is found.
pub fn decode_qr_texts(path: &Path) -> Result<Vec<String>> {
    let img = load(path)?;
    let long_side = img.width().max(img.height());
    let mut targets: Vec<u32> = vec![];
    if long_side <= 2400 {
        targets.push(long_side);
    }
    targets.extend([1600, 1000, 640].into_iter().filter(|&t| t < long_side));
    for target in targets {
        let found = if target == long_side {
            detect(&img)
        } else {
            let scale = f64::from(target) / f64::from(long_side);
            let w = ((f64::from(img.width()) * scale).round() as u32).max(1);
            let h = ((f64::from(img.height()) * scale).round() as u32).max(1);
            detect(&image::imageops::resize(&img, w, h, FilterType::Triangle))
        };
        if !found.is_empty() {
            return Ok(found);
        }
    }
    bail!(
        "no readable QR code found in {}: photograph the code straight on, filling most of the \
         frame, in even light (or pass the payload text instead)",
        path.display()
    )
}
