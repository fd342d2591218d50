//! cyberlabel-core: the one verification core shared, unchanged, by the server, the CLI, the
//! auditor and the browser (wasm).
//!
//! Sans-I/O: no files, sockets, clocks or randomness. The current time, keys and fetched bytes
//! are passed in. Every decoder treats its input as hostile: sizes are bounded, parsing is strict
//! and canonical, and errors are typed, never panics. Wire formats: `docs/FORMATS.md`.

#![forbid(unsafe_code)]

// --- labels ---
pub mod catalog;
pub mod cbor;
pub mod claim;
pub mod cose;
pub mod dates;
mod json;
pub mod packed_text;
pub mod payload;
pub mod trust;
pub mod verdict;
pub mod view;

// --- transparency log verification ---
pub mod admission;
pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod online;
pub mod ops;
mod proof_text;
pub mod register;
pub mod status;
pub mod tiles;
pub mod tlog_proof;
