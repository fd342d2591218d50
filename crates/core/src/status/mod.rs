//! The revocation status map (docs/FORMATS.md §4): states, buckets, legal transitions, and the
//! status proof a verifier checks against the cosigned checkpoint.
//!
//! Bucket *b* holds the `(state, reason)` byte pairs of log indices `[256b, 256b+256)` — the
//! same indices as level-0 tile *b*, so fetching it reveals nothing more than the tile fetch.
//! The status root is the RFC 6962 tree hash over the 512-byte bucket strings, committed in the
//! checkpoint's `cyberlabel-status <bucket count> <base64 root>` extension line.
//!
//! Status proof text (served at `/status/<N>`):
//! ```text
//! cyberlabel.org/status-proof@v1
//! bucket <decimal>
//! state <base64 of the 512 bucket bytes>
//! <base64 hash> × k        (audit path of the bucket in the status tree)
//!
//! <signed checkpoint, verbatim>
//! ```
//!
//! Submodules: [`record`] (the signed status-change record), [`bucket`] (states and buckets),
//! [`rules`] (legal transitions, append rules, the status map) and [`proof`] (status proofs).

pub mod bucket;
pub mod proof;
pub mod record;
pub mod rules;

pub use bucket::{BUCKET_BYTES, BUCKET_LABELS, Bucket, State, bucket_count};
pub use proof::{
    HEADER, MAX_STATUS_PROOF_BYTES, StatusProof, StatusProofError, VerifiedStatus,
    verify_status_proof, verify_status_proof_at, verify_status_proof_reusing,
};
pub use record::{MAX_STATUS_LEN, ReasonCode, RecordError, StatusAction, StatusRecord};
pub use rules::{
    EffectError, StatusChange, StatusContext, StatusMap, TargetInfo, apply_action, can_supersede,
    effects_of, entry_effects,
};

#[cfg(test)]
mod tests;
