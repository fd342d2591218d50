//! cyberlabel-issuer: what an issuing body needs to produce labels.
//!
//! - [`keys`]: Ed25519 key generation and PKCS#8/SPKI PEM files (0600, refused if exposed);
//! - [`mint`]: a product description (JSON/TOML) → validated claim → signed label bytes;
//! - [`qr`]: the label's QR code (byte/alphanumeric prefix + numeric digits, ECC M) as PNG/SVG;
//! - [`artwork`]: the printable 300 dpi label (PNG + SVG);
//! - [`dates`]: `YYYY-MM-DD` ⇄ Unix seconds (core's, re-exported).
//!
//! Verification lives in `cyberlabel-core`; this crate only produces.

#![forbid(unsafe_code)]

pub mod artwork;
/// Dates live in core (one implementation for page, CLI, API and artwork).
pub use cyberlabel_core::dates;
pub mod keys;
pub mod mint;
pub mod product;
pub mod qr;

mod png;
