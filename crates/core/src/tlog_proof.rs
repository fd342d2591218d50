//! TODO: tlog_proof
