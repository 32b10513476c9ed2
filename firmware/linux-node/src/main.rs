//! Linli Linux node (being built).
fn main() {}
