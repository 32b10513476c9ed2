//! Checking what the gateway stored against what the broker acknowledged: every `(device, seq)`
//! exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::Gateway;

/// Expected sequence numbers per device.
pub type Expected = BTreeMap<String, BTreeSet<u64>>;

/// The outcome of comparing stored telemetry with [`Expected`].
#[derive(Debug, Default, Clone)]
pub struct SeqCheck {
    /// Samples read back.
    pub stored: usize,
    /// Expected and not stored.
    pub missing: Vec<(String, u64)>,
    /// Stored more than once: device, seq, times.
    pub duplicates: Vec<(String, u64, usize)>,
    /// Stored but never published (or without a seq).
    pub unexpected: Vec<(String, Option<u64>)>,
}

impl SeqCheck {
    /// Nothing missing.
    pub fn complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// Everything exactly once, nothing else.
    pub fn exact(&self) -> bool {
        self.missing.is_empty() && self.duplicates.is_empty() && self.unexpected.is_empty()
    }
}

impl fmt::Display for SeqCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} stored; {} missing (first: {:?}); {} duplicated (first: {:?}); {} unexpected \
             (first: {:?})",
            self.stored,
            self.missing.len(),
            self.missing.iter().take(5).collect::<Vec<_>>(),
            self.duplicates.len(),
            self.duplicates.iter().take(5).collect::<Vec<_>>(),
            self.unexpected.len(),
            self.unexpected.iter().take(5).collect::<Vec<_>>(),
        )
    }
}

/// Reads every device's telemetry back and compares it with `expected`.
pub fn seq_check(gw: &Gateway, expected: &Expected) -> Result<SeqCheck> {
    let mut check = SeqCheck::default();
    for (device, want) in expected {
        let samples = match gw.device(device)? {
            Some(_) => gw.telemetry(device)?,
            None => Vec::new(),
        };
        check.stored += samples.len();
        let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
        for s in &samples {
            match s["seq"].as_u64() {
                Some(seq) if want.contains(&seq) => *seen.entry(seq).or_default() += 1,
                other => check.unexpected.push((device.clone(), other)),
            }
        }
        for seq in want {
            match seen.get(seq) {
                None => check.missing.push((device.clone(), *seq)),
                Some(&n) if n > 1 => check.duplicates.push((device.clone(), *seq, n)),
                Some(_) => {}
            }
        }
    }
    Ok(check)
}

/// Waits until everything expected is stored (polling every 500 ms, at most `deadline`), then
/// returns the final comparison and the time waited. Duplicates do not end the wait early; the
/// caller asserts [`SeqCheck::exact`].
pub fn wait_all_stored(
    gw: &Gateway,
    expected: &Expected,
    deadline: Duration,
) -> Result<(SeqCheck, Duration)> {
    let started = Instant::now();
    let mut last = SeqCheck::default();
    let done = crate::wait_for_every(
        deadline,
        Duration::from_millis(500),
        "every acknowledged message to be stored",
        || match seq_check(gw, expected) {
            Ok(c) if c.complete() => Some(c),
            Ok(c) => {
                last = c;
                None
            }
            Err(_) => None,
        },
    );
    match done {
        Ok(c) => Ok((c, started.elapsed())),
        Err(e) => bail!("{e:#}; last check: {last}"),
    }
}

/// `expected` from `(device, seq)` pairs.
pub fn expected<'a>(pairs: impl IntoIterator<Item = (&'a str, u64)>) -> Expected {
    let mut out = Expected::new();
    for (device, seq) in pairs {
        out.entry(device.to_string()).or_default().insert(seq);
    }
    out
}
