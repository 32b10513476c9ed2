//! Wellness of seniors living alone: no activity for a window, or almost no water used. Quiet
//! hours and an away mode keep the usual false alarms (sleep, staying with family) out.

use std::collections::{HashMap, HashSet};

use linli_protocols::{Message, Place, Severity, Value};
use serde::{Deserialize, Serialize};

use super::{Signal, Subject};
use crate::config::{QuietHours, Resolution};
use crate::store::DeviceRecord;

/// Event types that show someone is up and about.
const ACTIVITY_EVENTS: [&str; 6] = [
    "motion",
    "door_open",
    "door_close",
    "check_in",
    "sos_cancel",
    "presence",
];
/// Telemetry flags that show the same.
const ACTIVITY_VALUES: [&str; 3] = ["motion", "occupancy", "presence"];
/// Cumulative water meter reading, m³.
const WATER: &str = "water_m3";
/// Water readings kept per household.
const MAX_WATER_SAMPLES: usize = 512;

/// A household, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    /// Id.
    pub id: String,
    /// Where.
    pub place: Place,
    /// Wellness rules apply only to residents living alone.
    pub living_alone: bool,
    /// Its devices.
    pub devices: Vec<String>,
    /// Inactivity window, ms.
    pub inactivity_ms: u64,
    /// Water window, ms.
    pub water_window_ms: u64,
    /// Least expected water use in the window.
    pub min_water_m3: f64,
    /// Local hours when quiet is expected.
    pub quiet: Option<QuietHours>,
}

/// What the hub remembers of a household across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseholdSnapshot {
    /// Household id.
    pub id: String,
    /// Last sign of activity, ms (0: not known yet).
    pub last_activity: u64,
    /// Away mode until, ms.
    pub away_until: Option<u64>,
    /// An inactivity alarm is raised.
    pub inactive: bool,
    /// A low-water alarm is raised.
    pub low_water: bool,
    /// `(time, reading)` of the water meter, oldest first.
    pub water: Vec<(u64, f64)>,
}

#[derive(Debug, Default)]
pub(super) struct Households {
    list: Vec<(Household, HouseholdSnapshot)>,
    by_device: HashMap<String, usize>,
    dirty: HashSet<usize>,
    utc_offset_s: i32,
}

impl Households {
    pub(super) fn new(list: Vec<Household>, utc_offset_s: i32) -> Self {
        let by_device = list
            .iter()
            .enumerate()
            .flat_map(|(i, h)| h.devices.iter().map(move |d| (d.clone(), i)))
            .collect();
        let list = list
            .into_iter()
            .map(|h| {
                let snap = HouseholdSnapshot {
                    id: h.id.clone(),
                    last_activity: 0,
                    away_until: None,
                    inactive: false,
                    low_water: false,
                    water: Vec::new(),
                };
                (h, snap)
            })
            .collect();
        Households {
            list,
            by_device,
            dirty: HashSet::new(),
            utc_offset_s,
        }
    }

    pub(super) fn of_device(&self, device: &str) -> Option<String> {
        self.by_device
            .get(device)
            .map(|&i| self.list[i].0.id.clone())
    }

    fn signal(h: &Household, rule: &str, raise: bool, now: u64, detail: String) -> Signal {
        Signal {
            rule: rule.into(),
            subject: Subject::Household(h.id.clone()),
            raise,
            severity: Severity::Major,
            class: "care.household".into(),
            place: h.place.clone(),
            household: Some(h.id.clone()),
            resolution: Resolution::Person,
            at: now,
            detail,
        }
    }

    pub(super) fn on_message(
        &mut self,
        d: &DeviceRecord,
        message: &Message,
        now: u64,
    ) -> Vec<Signal> {
        let Some(&i) = self.by_device.get(&d.id) else {
            return Vec::new();
        };
        let (h, s) = &mut self.list[i];
        let mut out = Vec::new();
        let mut active = match message {
            Message::Event(e) => ACTIVITY_EVENTS.contains(&e.kind.as_str()),
            Message::Telemetry(t) => ACTIVITY_VALUES.iter().any(|k| {
                matches!(t.values.get(*k), Some(Value::Bool(true)))
                    || t.values
                        .get(*k)
                        .and_then(Value::as_f64)
                        .is_some_and(|v| v > 0.0)
            }),
            _ => false,
        };
        if let Message::Telemetry(t) = message {
            if let Some(reading) = t.values.get(WATER).and_then(Value::as_f64) {
                let previous = s.water.last().map(|&(_, r)| r);
                if previous.is_some_and(|p| reading < p) {
                    s.water.clear(); // meter replaced or reset
                }
                active |= previous.is_some_and(|p| reading > p);
                s.water.push((now, reading));
                prune(&mut s.water, now.saturating_sub(h.water_window_ms));
                if s.low_water
                    && use_in_window(&s.water, now, h.water_window_ms)
                        .is_some_and(|u| u >= h.min_water_m3)
                {
                    s.low_water = false;
                    out.push(Self::signal(
                        h,
                        "low_water_use",
                        false,
                        now,
                        format!("water use resumed at {}", d.id),
                    ));
                }
                self.dirty.insert(i);
            }
        }
        if active {
            s.last_activity = now;
            self.dirty.insert(i);
            if s.inactive {
                s.inactive = false;
                out.push(Self::signal(
                    h,
                    "inactivity",
                    false,
                    now,
                    format!("activity at {}", d.id),
                ));
            }
        }
        out
    }

    pub(super) fn tick(&mut self, now: u64) -> Vec<Signal> {
        let local_minute =
            ((now / 1_000) as i64 + i64::from(self.utc_offset_s)).rem_euclid(86_400) as u32 / 60;
        let mut out = Vec::new();
        for (i, (h, s)) in self.list.iter_mut().enumerate() {
            if !h.living_alone {
                continue;
            }
            if s.last_activity == 0 {
                // First start: the window begins now rather than at the epoch.
                s.last_activity = now;
                self.dirty.insert(i);
            }
            match s.away_until {
                Some(until) if now < until => continue,
                Some(until) => {
                    // Back home: the window restarts at the return, not at the departure.
                    s.last_activity = s.last_activity.max(until);
                    s.away_until = None;
                    self.dirty.insert(i);
                }
                None => {}
            }
            let quiet = h.quiet.is_some_and(|q| q.contains(local_minute));
            if !s.inactive && !quiet && now.saturating_sub(s.last_activity) >= h.inactivity_ms {
                s.inactive = true;
                self.dirty.insert(i);
                let hours = (now - s.last_activity) as f64 / 3_600_000.0;
                out.push(Self::signal(
                    h,
                    "inactivity",
                    true,
                    now,
                    format!("no activity for {hours:.1} h"),
                ));
            }
            if !s.low_water {
                if let Some(used) = use_in_window(&s.water, now, h.water_window_ms) {
                    if used < h.min_water_m3 {
                        s.low_water = true;
                        self.dirty.insert(i);
                        let detail = format!(
                            "{used:.3} m³ of water in {} h",
                            h.water_window_ms / 3_600_000
                        );
                        out.push(Self::signal(h, "low_water_use", true, now, detail));
                    }
                }
            }
        }
        out
    }

    pub(super) fn set_away(&mut self, id: &str, until: Option<u64>, now: u64) -> bool {
        let Some(i) = self.list.iter().position(|(h, _)| h.id == id) else {
            return false;
        };
        let s = &mut self.list[i].1;
        if until.is_none() && s.away_until.is_some() {
            s.last_activity = s.last_activity.max(now);
        }
        s.away_until = until;
        self.dirty.insert(i);
        true
    }

    pub(super) fn dirty(&mut self) -> Vec<HouseholdSnapshot> {
        self.dirty.drain().map(|i| self.list[i].1.clone()).collect()
    }

    pub(super) fn restore(&mut self, saved: Vec<HouseholdSnapshot>) {
        for snap in saved {
            if let Some((_, s)) = self.list.iter_mut().find(|(h, _)| h.id == snap.id) {
                *s = snap;
            }
        }
    }

    pub(super) fn snapshot(&self, id: &str) -> Option<HouseholdSnapshot> {
        self.list
            .iter()
            .find(|(h, _)| h.id == id)
            .map(|(_, s)| s.clone())
    }
}

/// Keeps the samples inside the window plus the last one before it (the baseline).
fn prune(water: &mut Vec<(u64, f64)>, window_start: u64) {
    let before = water
        .iter()
        .take_while(|&&(t, _)| t <= window_start)
        .count();
    if before > 1 {
        water.drain(..before - 1);
    }
    if water.len() > MAX_WATER_SAMPLES {
        water.drain(..water.len() - MAX_WATER_SAMPLES);
    }
}

/// Water used over the window ending `now`; `None` until the history covers the whole window.
fn use_in_window(water: &[(u64, f64)], now: u64, window_ms: u64) -> Option<f64> {
    let start = now.checked_sub(window_ms)?;
    let baseline = water.iter().rev().find(|&&(t, _)| t <= start)?;
    let latest = water.last()?;
    Some(latest.1 - baseline.1)
}
