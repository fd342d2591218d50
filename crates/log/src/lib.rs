//! TODO: the transparency log
