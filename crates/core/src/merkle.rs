//! TODO: merkle
