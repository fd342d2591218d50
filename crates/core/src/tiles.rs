//! TODO: tiles
