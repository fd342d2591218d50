//! cyberlabel-witness: a transparency-log witness speaking the C2SP `tlog-witness` protocol.
//!
//! A witness is configured with the logs it follows (origin → the logs' Ed25519 note verifier
//! keys) and holds its own cosignature/v1 key. For every `POST <prefix>/add-checkpoint` it
//!
//! 1. parses the body (`old <size>`, ≤ 63 base64 consistency-proof lines, a blank line, the
//!    signed checkpoint) — [`request`],
//! 2. checks the checkpoint's origin is known (404) and that it carries a valid signature by a
//!    trusted key of that log (403),
//! 3. atomically checks `old` against the size it last cosigned (409 `text/x.tlog.size`), the
//!    consistency proof from its stored root (422), and equal-size checkpoints for equal roots
//!    (409: a split view, kept as evidence), then durably stores the new checkpoint — [`store`],
//! 4. answers with its timestamped cosignature line — [`witness`], served by [`http`].
//!
//! [`keys`] writes and reads the witness's private key file (C2SP private-key string, mode 0600).
//!
//! Nothing here panics on input: every request, disk or network byte goes through typed errors.

#![forbid(unsafe_code)]

pub mod http;
pub mod keys;
pub mod request;
pub mod store;
pub mod witness;

pub use http::{router, serve};
pub use store::Store;
pub use witness::{AddError, Witness};
