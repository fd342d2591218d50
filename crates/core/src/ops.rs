//! Counts of the costly operations core performs on this thread — Ed25519 signature checks and
//! SHA-256 Merkle hashes — so tests and benchmarks can show that a verdict does only the work it
//! must (issue 13: one verdict's cost against the raw cost of the operations it needs).
//!
//! Per thread, so concurrent tests do not disturb each other; an increment is a thread-local
//! add, nothing next to the operation it counts.

use core::cell::Cell;

std::thread_local! {
    static SIGNATURES: Cell<u64> = const { Cell::new(0) };
    static HASHES: Cell<u64> = const { Cell::new(0) };
}

/// Operations counted on this thread since its start (subtract two snapshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ops {
    /// Ed25519 signature verifications (`verify_strict`).
    pub signatures: u64,
    /// SHA-256 hashes of Merkle leaves and nodes.
    pub hashes: u64,
}

impl Ops {
    /// What this thread has counted so far.
    #[must_use]
    pub fn now() -> Self {
        Self {
            signatures: SIGNATURES.with(Cell::get),
            hashes: HASHES.with(Cell::get),
        }
    }

    /// Operations between `earlier` and `self`.
    #[must_use]
    pub fn since(self, earlier: Self) -> Self {
        Self {
            signatures: self.signatures.saturating_sub(earlier.signatures),
            hashes: self.hashes.saturating_sub(earlier.hashes),
        }
    }
}

pub(crate) fn signature() {
    SIGNATURES.with(|c| c.set(c.get().wrapping_add(1)));
}

pub(crate) fn hash() {
    HASHES.with(|c| c.set(c.get().wrapping_add(1)));
}
