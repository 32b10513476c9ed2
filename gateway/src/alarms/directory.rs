//! Who sees what, and who is told: roles, areas, escalation policies.

use std::collections::HashMap;

use linli_protocols::{Place, Severity};

use crate::config::{Area, Config, EscalationConfig, Role};
use crate::rules::matches;

/// A staff member, as the alarm logic needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// Staff id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Areas covered.
    pub areas: Vec<Area>,
    /// `zh-CN` or `en`.
    pub lang: String,
}

/// Staff and grids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Directory {
    /// Everyone.
    pub staff: Vec<Person>,
    /// Grid id → buildings.
    pub grids: HashMap<String, Vec<String>>,
}

impl Directory {
    /// From the configuration (already validated).
    pub fn from_config(config: &Config) -> Self {
        Directory {
            staff: config
                .staff
                .iter()
                .map(|s| Person {
                    id: s.id.clone(),
                    name: s.name.clone().unwrap_or_else(|| s.id.clone()),
                    roles: s.roles.clone(),
                    areas: s.areas.iter().filter_map(|a| Area::parse(a).ok()).collect(),
                    lang: s.lang.clone(),
                })
                .collect(),
            grids: config
                .grids
                .iter()
                .map(|g| (g.id.clone(), g.buildings.clone()))
                .collect(),
        }
    }

    /// One person.
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.staff.iter().find(|p| p.id == id)
    }

    /// True when `area` includes `place`. An unplaced alarm is only in `*`.
    pub fn covers(&self, area: &Area, place: &Place) -> bool {
        let building = place.building.as_deref();
        match area {
            Area::All => true,
            Area::Building(b) => building == Some(b),
            Area::Unit(b, u) => building == Some(b) && place.unit.as_deref() == Some(u),
            Area::Grid(g) => self
                .grids
                .get(g)
                .is_some_and(|bs| building.is_some_and(|b| bs.iter().any(|x| x == b))),
        }
    }

    /// True when `person` may see an alarm of `class` at `place`.
    pub fn sees(&self, person: &Person, class: &str, place: &Place) -> bool {
        let class_ok = person
            .roles
            .iter()
            .any(|r| r.classes().iter().any(|p| matches(p, class)));
        class_ok && person.areas.iter().any(|a| self.covers(a, place))
    }

    /// Staff ids a target names, for an alarm of `class` at `place`, in config order.
    pub fn resolve(&self, target: &Target, class: &str, place: &Place) -> Vec<String> {
        self.staff
            .iter()
            .filter(|p| match target {
                Target::Everyone => self.sees(p, class, place),
                Target::Role(role) => p.roles.contains(role) && self.sees(p, class, place),
                Target::Staff(id) => &p.id == id,
            })
            .map(|p| p.id.clone())
            .collect()
    }
}

/// Whom a step notifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Everyone whose roles and areas cover the alarm (the default with no policy).
    Everyone,
    /// A role, resolved by area and class.
    Role(Role),
    /// One person, always.
    Staff(String),
}

/// One escalation step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Delay from the start of the round, ms.
    pub after_ms: u64,
    /// Targets.
    pub targets: Vec<Target>,
}

/// An escalation policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Class patterns.
    pub classes: Vec<String>,
    /// Severities, or all.
    pub severities: Option<Vec<Severity>>,
    /// Steps, ordered by delay.
    pub steps: Vec<Step>,
    /// Repeat of the last step until acknowledged, ms; `None`: no repeat.
    pub repeat_ms: Option<u64>,
    /// Acknowledgement timeout, ms.
    pub ack_timeout_ms: u64,
}

impl Policy {
    /// With no policy: everyone concerned at once; critical and major repeat every 5 minutes.
    pub fn fallback(severity: Severity) -> Policy {
        Policy {
            classes: vec!["*".into()],
            severities: None,
            steps: vec![Step {
                after_ms: 0,
                targets: vec![Target::Everyone],
            }],
            repeat_ms: (severity <= Severity::Major).then_some(ms(crate::config::default_repeat())),
            ack_timeout_ms: ms(crate::config::default_ack_timeout()),
        }
    }

    /// From `[[escalation]]` (validated).
    pub fn from_config(c: &EscalationConfig) -> Policy {
        Policy {
            classes: c.classes.clone(),
            severities: c.severities.clone(),
            steps: c
                .steps
                .iter()
                .map(|s| Step {
                    after_ms: ms(s.after),
                    targets: s.notify.iter().filter_map(|t| parse_target(t)).collect(),
                })
                .collect(),
            repeat_ms: Some(ms(c.repeat)),
            ack_timeout_ms: ms(c.ack_timeout),
        }
    }

    /// True when this policy covers an alarm of `class` and `severity`.
    pub fn covers(&self, class: &str, severity: Severity) -> bool {
        self.classes.iter().any(|p| matches(p, class))
            && self
                .severities
                .as_ref()
                .is_none_or(|s| s.contains(&severity))
    }
}

fn ms(d: crate::config::Dur) -> u64 {
    u64::try_from(d.0.as_millis()).unwrap_or(u64::MAX)
}

fn parse_target(t: &str) -> Option<Target> {
    match t.split_once(':')? {
        ("role", r) => serde_json::from_value(serde_json::Value::String(r.into()))
            .ok()
            .map(Target::Role),
        ("staff", id) => Some(Target::Staff(id.into())),
        _ => None,
    }
}
