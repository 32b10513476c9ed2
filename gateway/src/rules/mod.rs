//! Rule evaluation: pure functions of (state, input, now) → signals. No I/O, no clock.
//!
//! A [`Signal`] says "raise" or "clear" for a (rule, subject); the alarm book turns signals into
//! alarms, counts re-triggers and runs escalation.

mod builtin;
mod household;

use std::collections::{HashMap, HashSet, VecDeque};

use linli_protocols::{Message, Place, Severity, Value};

pub use builtin::{builtins, merged};
pub use household::{Household, HouseholdSnapshot};

use crate::config::Resolution;
use crate::store::{DeviceRecord, DeviceState};

/// What a rule is about: a device, or a household.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// One device.
    Device(String),
    /// A household.
    Household(String),
}

impl Subject {
    /// `device:ID` / `household:ID`.
    pub fn key(&self) -> String {
        match self {
            Subject::Device(id) => format!("device:{id}"),
            Subject::Household(id) => format!("household:{id}"),
        }
    }
}

/// Raise or clear an alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Rule name.
    pub rule: String,
    /// Subject.
    pub subject: Subject,
    /// True: the condition holds (raise or re-trigger); false: it cleared.
    pub raise: bool,
    /// Severity of the alarm.
    pub severity: Severity,
    /// Alarm class: the device kind, `care.household` for households, `unknown` if unannounced.
    pub class: String,
    /// Where.
    pub place: Place,
    /// Household the subject belongs to, if any.
    pub household: Option<String>,
    /// Who ends it.
    pub resolution: Resolution,
    /// When, ms.
    pub at: u64,
    /// What happened, for people.
    pub detail: String,
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Name, unique.
    pub name: String,
    /// Device kind pattern (`*`, `care.*`, `facility.smoke`).
    pub devices: String,
    /// Severity.
    pub severity: Severity,
    /// Who ends its alarms.
    pub resolution: Resolution,
    /// What it watches.
    pub spec: Spec,
}

/// What a rule watches.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// An event raises; another clears.
    Event {
        /// Raising event type.
        event: String,
        /// Clearing event type.
        clear: Option<String>,
    },
    /// A value beyond a limit for a while; clears past the clear level (hysteresis).
    Threshold {
        /// Value name.
        value: String,
        /// True: raise above `limit`; false: below.
        above: bool,
        /// Raise level.
        limit: f64,
        /// Clear level.
        clear: f64,
        /// How long the value must stay beyond the limit.
        hold_ms: u64,
    },
    /// `count` events within a window.
    Count {
        /// Event type.
        event: String,
        /// How many.
        count: u32,
        /// Window.
        within_ms: u64,
    },
    /// An opening not followed by a closing in time.
    HeldOpen {
        /// Opening event.
        open: String,
        /// Closing event.
        close: String,
        /// Allowed time.
        after_ms: u64,
    },
    /// The device went offline (3 missed heartbeats, or its LWT).
    Offline {
        /// Severity for care devices.
        care: Severity,
    },
}

/// True when `kind` matches `pattern` (`*`, `care.*`, or exact).
pub fn matches(pattern: &str, kind: &str) -> bool {
    pattern == "*"
        || pattern == kind
        || pattern
            .strip_suffix(".*")
            .is_some_and(|p| kind.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
}

/// Where a device is, for people.
pub fn place_of(d: &DeviceRecord) -> Place {
    d.location.as_ref().map_or_else(Place::default, |l| Place {
        building: l.building.clone(),
        unit: l.unit.clone(),
        floor: l.floor,
        room: l.room.clone(),
    })
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Timed {
    since: Option<u64>,
    raised: bool,
}

/// The state of one rule for one device, saved on every change so that a restart resumes a
/// threshold's `for` or an open door's clock where it was, and still clears what it raised.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RuleTimer {
    /// Rule name.
    pub rule: String,
    /// Device id.
    pub device: String,
    /// When the condition began (a value beyond its limit, a door opened), ms.
    pub since: Option<u64>,
    /// True once the rule raised its alarm for this condition.
    pub raised: bool,
    /// Event times inside a count rule's window, ms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<u64>,
    /// Where the door is and its kind (held-open rules, which raise from the clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door: Option<(Place, String)>,
}

impl RuleTimer {
    /// Nothing is running: the stored record can go.
    pub fn is_idle(&self) -> bool {
        self.since.is_none() && !self.raised && self.seen.is_empty()
    }
}

/// The rule engine and its small per-device state.
#[derive(Debug, Default)]
pub struct Engine {
    rules: Vec<Rule>,
    households: household::Households,
    thresholds: HashMap<(usize, String), Timed>,
    held: HashMap<(usize, String), (Timed, Place, String)>,
    counts: HashMap<(usize, String), VecDeque<u64>>,
    /// (rule, device) whose state changed since [`Engine::dirty_timers`].
    dirty: HashSet<(usize, String)>,
}

impl Engine {
    /// An engine with `rules` and households.
    pub fn new(rules: Vec<Rule>, households: Vec<Household>, utc_offset_s: i32) -> Self {
        Engine {
            rules,
            households: household::Households::new(households, utc_offset_s),
            ..Engine::default()
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    fn signal(
        &self,
        rule: &Rule,
        d: &DeviceRecord,
        raise: bool,
        now: u64,
        detail: String,
    ) -> Signal {
        Signal {
            rule: rule.name.clone(),
            subject: Subject::Device(d.id.clone()),
            raise,
            severity: rule.severity,
            class: d.kind.clone().unwrap_or_else(|| "unknown".into()),
            place: place_of(d),
            household: self.households.of_device(&d.id),
            resolution: rule.resolution,
            at: now,
            detail,
        }
    }

    /// Evaluates a stored message of `device` (its record already updated).
    pub fn on_message(&mut self, d: &DeviceRecord, message: &Message, now: u64) -> Vec<Signal> {
        let mut out = Vec::new();
        let kind = d.kind.as_deref().unwrap_or("unknown");
        for (i, rule) in self.rules.iter().enumerate() {
            if !matches(&rule.devices, kind) {
                continue;
            }
            match (&rule.spec, message) {
                (Spec::Event { event, clear }, Message::Event(e)) => {
                    if &e.kind == event {
                        out.push(self.signal(
                            rule,
                            d,
                            true,
                            now,
                            format!("{} from {}", e.kind, d.id),
                        ));
                    } else if clear.as_ref() == Some(&e.kind) {
                        out.push(self.signal(
                            rule,
                            d,
                            false,
                            now,
                            format!("{} from {}", e.kind, d.id),
                        ));
                    }
                }
                (
                    Spec::Count {
                        event,
                        count,
                        within_ms,
                    },
                    Message::Event(e),
                ) if &e.kind == event => {
                    self.dirty.insert((i, d.id.clone()));
                    let seen = self.counts.entry((i, d.id.clone())).or_default();
                    seen.push_back(now);
                    while seen.front().is_some_and(|&t| t + within_ms < now) {
                        seen.pop_front();
                    }
                    if seen.len() >= *count as usize {
                        seen.clear();
                        let detail = format!(
                            "{count} × {event} within {} s at {}",
                            within_ms / 1_000,
                            d.id
                        );
                        out.push(self.signal(rule, d, true, now, detail));
                    }
                }
                (Spec::HeldOpen { open, close, .. }, Message::Event(e)) => {
                    let key = (i, d.id.clone());
                    if &e.kind == open {
                        let entry = self
                            .held
                            .entry(key.clone())
                            .or_insert_with(|| (Timed::default(), place_of(d), kind.to_string()));
                        if entry.0.since.is_none() {
                            entry.0.since = Some(now);
                            self.dirty.insert(key);
                        }
                    } else if &e.kind == close {
                        if let Some((t, ..)) = self.held.remove(&key) {
                            self.dirty.insert(key);
                            if t.raised {
                                out.push(self.signal(
                                    rule,
                                    d,
                                    false,
                                    now,
                                    format!("{close} at {}", d.id),
                                ));
                            }
                        }
                    }
                }
                (
                    Spec::Threshold {
                        value,
                        above,
                        limit,
                        clear,
                        hold_ms,
                    },
                    Message::Telemetry(t),
                ) => {
                    let Some(v) = t.values.get(value).and_then(Value::as_f64) else {
                        continue;
                    };
                    let beyond = if *above { v > *limit } else { v < *limit };
                    let back = if *above { v <= *clear } else { v >= *clear };
                    let state = self.thresholds.entry((i, d.id.clone())).or_default();
                    let before = *state;
                    // The state changes here; the signal (which borrows the engine) goes after.
                    let mut signal = None;
                    if state.raised {
                        if back {
                            *state = Timed::default();
                            signal = Some((false, format!("{value} = {v}")));
                        }
                    } else if beyond {
                        let since = *state.since.get_or_insert(now);
                        if now - since >= *hold_ms {
                            state.raised = true;
                            let side = if *above { "above" } else { "below" };
                            signal = Some((true, format!("{value} = {v}, {side} {limit}")));
                        }
                    } else {
                        state.since = None;
                    }
                    if *state != before {
                        self.dirty.insert((i, d.id.clone()));
                    }
                    if let Some((raise, detail)) = signal {
                        out.push(self.signal(rule, d, raise, now, detail));
                    }
                }
                _ => {}
            }
        }
        out.extend(self.households.on_message(d, message, now));
        out
    }

    /// Evaluates a connection state change of `device`.
    pub fn on_state(&self, d: &DeviceRecord, now: u64) -> Vec<Signal> {
        let kind = d.kind.as_deref().unwrap_or("unknown");
        self.rules
            .iter()
            .filter(|r| matches(&r.devices, kind))
            .filter_map(|rule| {
                let Spec::Offline { care } = rule.spec else {
                    return None;
                };
                let offline = d.state == DeviceState::Offline;
                let mut s = self.signal(
                    rule,
                    d,
                    offline,
                    now,
                    format!("{} is {}", d.id, d.state.as_str()),
                );
                if matches("care.*", kind) {
                    s.severity = care;
                }
                Some(s)
            })
            .collect()
    }

    /// Evaluates what time alone can raise: doors left open, households gone quiet.
    pub fn tick(&mut self, now: u64) -> Vec<Signal> {
        let mut out = Vec::new();
        for ((i, id), (t, place, kind)) in &mut self.held {
            let (Some(since), false) = (t.since, t.raised) else {
                continue;
            };
            let Some(rule) = self.rules.get(*i) else {
                continue;
            };
            let Spec::HeldOpen { open, after_ms, .. } = &rule.spec else {
                continue;
            };
            if now.saturating_sub(since) >= *after_ms {
                t.raised = true;
                self.dirty.insert((*i, id.clone()));
                out.push(Signal {
                    rule: rule.name.clone(),
                    subject: Subject::Device(id.clone()),
                    raise: true,
                    severity: rule.severity,
                    class: kind.clone(),
                    place: place.clone(),
                    household: None,
                    resolution: rule.resolution,
                    at: now,
                    detail: format!("{open} at {id} for over {} s", after_ms / 1_000),
                });
            }
        }
        out.extend(self.households.tick(now));
        out
    }

    /// Away mode of a household until `until` (ms), or off with `None`. False if unknown.
    pub fn set_away(&mut self, household: &str, until: Option<u64>, now: u64) -> bool {
        self.households.set_away(household, until, now)
    }

    /// Rule states changed since the last call, for the store (an idle one means "delete").
    pub fn dirty_timers(&mut self) -> Vec<RuleTimer> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .filter_map(|(i, device)| {
                let key = (i, device);
                let mut timer = RuleTimer {
                    rule: self.rules.get(i)?.name.clone(),
                    device: key.1.clone(),
                    since: None,
                    raised: false,
                    seen: Vec::new(),
                    door: None,
                };
                if let Some(t) = self.thresholds.get(&key) {
                    (timer.since, timer.raised) = (t.since, t.raised);
                } else if let Some((t, place, kind)) = self.held.get(&key) {
                    (timer.since, timer.raised) = (t.since, t.raised);
                    timer.door = Some((place.clone(), kind.clone()));
                } else if let Some(seen) = self.counts.get(&key) {
                    timer.seen = seen.iter().copied().collect();
                }
                Some(timer)
            })
            .collect()
    }

    /// Restores rule states saved by [`Engine::dirty_timers`]; those of rules no longer
    /// configured (or now of another kind) are dropped.
    pub fn restore_timers(&mut self, saved: Vec<RuleTimer>) {
        for t in saved {
            let Some(i) = self.rules.iter().position(|r| r.name == t.rule) else {
                continue;
            };
            let key = (i, t.device);
            let timed = Timed {
                since: t.since,
                raised: t.raised,
            };
            match (&self.rules[i].spec, t.door) {
                (Spec::Threshold { .. }, _) => {
                    self.thresholds.insert(key, timed);
                }
                (Spec::HeldOpen { .. }, Some((place, kind))) => {
                    self.held.insert(key, (timed, place, kind));
                }
                (Spec::Count { .. }, _) => {
                    self.counts.insert(key, t.seen.into());
                }
                _ => {}
            }
        }
    }

    /// Household states changed since the last call, for the store.
    pub fn dirty_households(&mut self) -> Vec<HouseholdSnapshot> {
        self.households.dirty()
    }

    /// Restores household states saved by [`Engine::dirty_households`].
    pub fn restore_households(&mut self, saved: Vec<HouseholdSnapshot>) {
        self.households.restore(saved);
    }

    /// A household's current state.
    pub fn household(&self, id: &str) -> Option<HouseholdSnapshot> {
        self.households.snapshot(id)
    }
}

#[cfg(test)]
mod tests;
