//! Empty: only this crate's manifest matters (see Cargo.toml).
