//! TODO: wasm verifier
use wasm_bindgen::prelude::*;

/// Version of this verifier build.
#[wasm_bindgen(js_name = verifierVersion)]
pub fn verifier_version() -> String {
    env!("CARGO_PKG_VERSION").into()
}
