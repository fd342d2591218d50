//! TODO: cbor
