//! TODO: claim
