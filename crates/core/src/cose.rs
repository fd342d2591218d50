//! TODO: cose
