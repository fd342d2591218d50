//! TODO: trust
