//! TODO: issuer
