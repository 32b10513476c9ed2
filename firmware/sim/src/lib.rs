//! The community simulator (being built).
