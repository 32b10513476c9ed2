//! The device registry: who is out there, where, and whether it is alive. Pure: every method
//! takes the time as an argument; the ingest worker owns the registry and persists what changed.

use std::collections::{HashMap, HashSet};

use linli_protocols::{Message, StatusState, Value};

use crate::config::DeviceConfig;
use crate::ingest::dedup::{Seen, SeqWindow};
use crate::store::{DeviceRecord, DeviceSource, DeviceState, LastEvent, StateReason, WriteSet};

/// Heartbeats missed before a silent device counts as offline (telecare practice).
pub const MISSED_HEARTBEATS: u64 = 3;

/// Default heartbeat period of a kind, in seconds.
pub fn default_heartbeat_s(kind: Option<&str>) -> u32 {
    match kind.unwrap_or_default() {
        "access.gate" | "facility.elevator" => 60,
        "care.water_meter" => 1_800,
        "facility.smoke" | "facility.water_leak" | "facility.manhole" => 3_600,
        "facility.water_tank" | "facility.hydrant" => 600,
        _ => 300,
    }
}

/// What observing a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Observed {
    /// A repeated sequence number: do not store the message again.
    pub duplicate: bool,
    /// The device was not known before.
    pub registered: bool,
    /// Sequence numbers skipped (possible loss upstream).
    pub gap: u64,
    /// The connection state changed to this.
    pub became: Option<DeviceState>,
}

/// All devices, with their duplicate windows. Records and windows are boxed: a table sized for
/// 20,000 devices then holds pointers, not ~300-byte records in up to twice as many slots.
#[derive(Debug, Default)]
pub struct Registry {
    devices: HashMap<String, Box<DeviceRecord>>,
    windows: HashMap<String, Box<SeqWindow>>,
    dirty: HashSet<String>,
    dirty_windows: HashSet<String>,
    /// When this registry was loaded: silence is counted from here at the earliest, so a hub
    /// restart does not declare every device offline at once.
    started: u64,
}

impl Registry {
    /// Rebuilds the registry from the store and merges the configured devices.
    pub fn load(
        records: impl IntoIterator<Item = DeviceRecord>,
        windows: impl IntoIterator<Item = (String, Vec<u8>)>,
        configured: &[DeviceConfig],
        now: u64,
    ) -> Self {
        let mut r = Registry {
            devices: records
                .into_iter()
                .map(|d| (d.id.clone(), Box::new(d)))
                .collect(),
            windows: windows
                .into_iter()
                .filter_map(|(id, b)| Some((id, Box::new(SeqWindow::from_bytes(&b)?))))
                .collect(),
            started: now,
            ..Registry::default()
        };
        for c in configured {
            let heartbeat_s = c.heartbeat.map_or_else(
                || default_heartbeat_s(Some(&c.kind)),
                |h| u32::try_from(h.0.as_secs()).unwrap_or(u32::MAX),
            );
            let d = r.devices.entry(c.id.clone()).or_insert_with(|| {
                Box::new(DeviceRecord {
                    state: DeviceState::Offline,
                    state_reason: StateReason::NotHeard,
                    last_seen: None,
                    ..blank(&c.id, DeviceSource::Config, now)
                })
            });
            d.kind = Some(c.kind.clone());
            d.heartbeat_s = heartbeat_s;
            d.source = DeviceSource::Config;
            if c.location.is_some() {
                d.location = c.location.clone();
            }
            r.dirty.insert(c.id.clone());
        }
        r
    }

    /// One device.
    pub fn get(&self, id: &str) -> Option<&DeviceRecord> {
        self.devices.get(id).map(|d| &**d)
    }

    /// Updates the registry with a message received at `now`. `retained` messages are replays of
    /// the broker's memory, so they describe the device but do not prove it is alive.
    /// `redelivered` (MQTT DUP) messages far below the duplicate window are old ones the broker
    /// sends again after a crash, not a device that restarted its counter.
    pub fn observe(
        &mut self,
        id: &str,
        message: &Message,
        retained: bool,
        redelivered: bool,
        now: u64,
    ) -> Observed {
        let mut out = Observed::default();
        if let Some(seq) = message.seq() {
            let seen = match self.windows.get_mut(id) {
                Some(w) if redelivered && w.is_below(seq) => Seen::Duplicate,
                Some(w) => w.check(seq),
                None => {
                    self.windows
                        .insert(id.to_string(), Box::new(SeqWindow::new(seq)));
                    Seen::New { gap: 0 }
                }
            };
            self.dirty_windows.insert(id.to_string());
            match seen {
                Seen::Duplicate => out.duplicate = true,
                Seen::New { gap } => out.gap = gap,
                Seen::Restart => {}
            }
        }
        if !self.devices.contains_key(id) {
            let source = match message {
                Message::Announce(_) => DeviceSource::Announce,
                _ => DeviceSource::FirstMessage,
            };
            let mut d = blank(id, source, now);
            if retained {
                (d.state, d.state_reason, d.last_seen) =
                    (DeviceState::Offline, StateReason::NotHeard, None);
            }
            self.devices.insert(id.to_string(), Box::new(d));
            out.registered = true;
        }
        let Some(d) = self.devices.get_mut(id) else {
            return out;
        };
        self.dirty.insert(id.to_string());
        if out.duplicate {
            d.duplicates += 1;
            return out;
        }
        d.seq_gaps += out.gap;
        let before = d.state;
        match message {
            Message::Telemetry(t) => {
                if let Some(b) = t.values.get("battery_pct").and_then(Value::as_f64) {
                    d.battery_pct = Some(b);
                }
                for (name, value) in &t.values {
                    d.last_values.set(name, value);
                }
                alive(d, now, StateReason::Message);
            }
            Message::Event(e) => {
                d.last_event = Some(LastEvent {
                    kind: e.kind.clone(),
                    at: now,
                });
                alive(d, now, StateReason::Message);
            }
            Message::Status(s) => {
                d.battery_pct = s.battery_pct.or(d.battery_pct);
                d.rssi = s.rssi.or(d.rssi);
                d.fw = s.fw.clone().or(d.fw.take());
                d.last_seen = Some(now);
                let state = match s.state {
                    StatusState::Online => DeviceState::Online,
                    StatusState::Offline => DeviceState::Offline,
                };
                if d.state != state || d.state_reason == StateReason::NotHeard {
                    d.state = state;
                    d.state_reason = StateReason::Status;
                    d.state_since = now;
                }
            }
            Message::Announce(a) => {
                if d.source != DeviceSource::Config {
                    d.source = DeviceSource::Announce;
                    d.kind = Some(a.kind.clone());
                    d.location = a.location.clone().or(d.location.take());
                    d.heartbeat_s = a
                        .heartbeat_s
                        .unwrap_or_else(|| default_heartbeat_s(Some(&a.kind)));
                } else if d.location.is_none() {
                    d.location = a.location.clone();
                }
                d.model = a.model.clone().or(d.model.take());
                d.fw = a.fw.clone().or(d.fw.take());
                if !retained {
                    alive(d, now, StateReason::Message);
                }
            }
        }
        if matches!(message, Message::Telemetry(_) | Message::Event(_)) {
            d.messages += 1;
        }
        out.became = (d.state != before).then_some(d.state);
        out
    }

    /// Marks devices silent for [`MISSED_HEARTBEATS`] heartbeats offline; returns them.
    pub fn sweep(&mut self, now: u64) -> Vec<String> {
        let mut gone = Vec::new();
        for d in self.devices.values_mut() {
            let Some(last) = d.last_seen.map(|l| l.max(self.started)) else {
                continue;
            };
            let limit = MISSED_HEARTBEATS * u64::from(d.heartbeat_s) * 1_000;
            if d.state == DeviceState::Online && now.saturating_sub(last) > limit {
                d.state = DeviceState::Offline;
                d.state_reason = StateReason::Silence;
                d.state_since = now;
                self.dirty.insert(d.id.clone());
                gone.push(d.id.clone());
            }
        }
        gone
    }

    /// Moves every changed record and window into `set`.
    pub fn persist(&mut self, set: &mut WriteSet) {
        for id in self.dirty.drain() {
            if let Some(d) = self.devices.get(&id) {
                set.device(d);
            }
        }
        for id in self.dirty_windows.drain() {
            if let Some(w) = self.windows.get(&id) {
                set.window(&id, &w.to_bytes());
            }
        }
    }

    /// Devices per (kind family, state), with `silent` for offline by missed heartbeats; every
    /// combination is present, zero or not, so a gauge can be set from it.
    pub fn counts(&self) -> HashMap<(&'static str, &'static str), usize> {
        let mut counts: HashMap<_, usize> = crate::metrics::CLASSES
            .iter()
            .flat_map(|c| ["online", "offline", "silent"].map(|s| ((*c, s), 0)))
            .collect();
        for d in self.devices.values() {
            let state = match (d.state, d.state_reason) {
                (DeviceState::Online, _) => "online",
                (DeviceState::Offline, StateReason::Silence) => "silent",
                (DeviceState::Offline, _) => "offline",
            };
            *counts
                .entry((crate::metrics::class_label(d.kind.as_deref()), state))
                .or_default() += 1;
        }
        counts
    }
}

fn alive(d: &mut DeviceRecord, now: u64, reason: StateReason) {
    d.last_seen = Some(now);
    if d.state != DeviceState::Online {
        d.state = DeviceState::Online;
        d.state_reason = reason;
        d.state_since = now;
    }
}

impl DeviceRecord {
    /// A device first heard of at `now`, with nothing known about it yet.
    pub fn new(id: &str, source: DeviceSource, now: u64) -> DeviceRecord {
        blank(id, source, now)
    }
}

fn blank(id: &str, source: DeviceSource, now: u64) -> DeviceRecord {
    DeviceRecord {
        id: id.to_string(),
        kind: None,
        model: None,
        fw: None,
        location: None,
        source,
        heartbeat_s: default_heartbeat_s(None),
        state: DeviceState::Online,
        state_reason: StateReason::Message,
        state_since: now,
        first_seen: now,
        last_seen: Some(now),
        battery_pct: None,
        rssi: None,
        last_values: Default::default(),
        last_event: None,
        messages: 0,
        duplicates: 0,
        seq_gaps: 0,
    }
}

#[cfg(test)]
mod tests;
