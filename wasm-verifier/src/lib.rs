//! TODO: wasm verifier
