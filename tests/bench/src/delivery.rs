//! Counting what a receiver got against what the load generator sent: loss and duplicates per
//! `(device, channel, seq)`.

use std::collections::{BTreeMap, BTreeSet};

use linli_tests::load::ExpectedSeqs;

/// What one receiver got of one load.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Delivery {
    /// Messages sent (telemetry, events and heartbeats).
    pub sent: u64,
    /// Messages received or stored, duplicates included.
    pub received: u64,
    /// Telemetry and events sent and never received.
    pub lost: u64,
    /// Telemetry and events received more than once (the extra copies).
    pub duplicates: u64,
}

impl Delivery {
    /// Nothing lost, nothing doubled.
    pub fn exact(&self) -> bool {
        self.lost == 0 && self.duplicates == 0
    }

    /// `lost / duplicates` for a table cell.
    pub fn cell(&self) -> String {
        format!("{} / {}", self.lost, self.duplicates)
    }
}

/// Tallies `(device, seq)` pairs seen per channel.
#[derive(Debug, Default)]
pub struct Tally {
    telemetry: BTreeMap<String, BTreeMap<u64, u64>>,
    events: BTreeMap<String, BTreeMap<u64, u64>>,
    /// Messages without a sequence number (heartbeats).
    pub unsequenced: u64,
}

impl Tally {
    /// One telemetry sample or event of `device`.
    pub fn add(&mut self, event: bool, device: &str, seq: u64) {
        let map = if event {
            &mut self.events
        } else {
            &mut self.telemetry
        };
        *map.entry(device.to_string())
            .or_default()
            .entry(seq)
            .or_default() += 1;
    }

    /// Compares with what was sent.
    pub fn against(&self, expected: &ExpectedSeqs) -> Delivery {
        let mut d = Delivery {
            sent: expected.with_seq() + expected.heartbeats,
            received: self.unsequenced,
            ..Delivery::default()
        };
        for (seen, want) in [
            (&self.telemetry, &expected.telemetry),
            (&self.events, &expected.events),
        ] {
            d.received += seen.values().flat_map(|m| m.values()).sum::<u64>();
            d.duplicates += seen
                .values()
                .flat_map(|m| m.values())
                .map(|n| n.saturating_sub(1))
                .sum::<u64>();
            let empty = BTreeMap::new();
            for (device, seqs) in want {
                let got = seen.get(device).unwrap_or(&empty);
                d.lost += seqs.iter().filter(|s| !got.contains_key(s)).count() as u64;
            }
        }
        d
    }
}

/// The devices of an expectation.
pub fn devices(expected: &ExpectedSeqs) -> BTreeSet<String> {
    expected
        .telemetry
        .keys()
        .chain(expected.events.keys())
        .cloned()
        .collect()
}
