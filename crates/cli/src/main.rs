//! The `cyberlabel` command line.
fn main() {}
