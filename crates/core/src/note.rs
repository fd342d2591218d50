//! TODO: note
