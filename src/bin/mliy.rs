//! The `mliy` admin command line.
fn main() {}
