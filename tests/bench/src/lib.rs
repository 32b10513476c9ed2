//! The Linli benchmark runner: each scenario starts its own mosquitto, a release `linli` and the
//! peers it is compared with, measures them in one run, and returns a [`report::Section`] for
//! `RESULTS.md`. All traffic stays on 127.0.0.1; every wait is bounded.

pub mod delivery;
pub mod hub;
pub mod machine;
pub mod nodered_proc;
pub mod notes;
pub mod procfs;
pub mod report;
pub mod scenarios;
pub mod sub;
pub mod webhook;

use std::path::PathBuf;

use anyhow::Result;

/// What every scenario needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A smoke run at tiny scale (seconds, not minutes).
    pub quick: bool,
    /// The `linli` executable measured.
    pub linli: PathBuf,
}

impl Settings {
    /// `quick` or full scale, measuring `linli`.
    pub fn new(quick: bool, linli: PathBuf) -> Settings {
        Settings { quick, linli }
    }

    /// `full` normally, `quick` in a smoke run.
    pub fn scale<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }
}

/// A scratch directory for output files, removed on drop.
pub fn scratch() -> Result<tempfile::TempDir> {
    linli_tests::temp_dir("linli-bench-")
}

/// Median of a list (0 when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The `p`-th percentile (0..=100) of sorted values, nearest rank (0 when empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
