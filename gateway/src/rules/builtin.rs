//! The default alarm semantics of every built-in device kind, and how config rules merge in.

use linli_protocols::Severity;

use super::{Rule, Spec};
use crate::config::{Resolution, RuleConfig, RuleKind};

fn event(name: &str, devices: &str, event: &str, clear: Option<&str>, severity: Severity) -> Rule {
    Rule {
        name: name.into(),
        devices: devices.into(),
        severity,
        resolution: Resolution::Person,
        spec: Spec::Event {
            event: event.into(),
            clear: clear.map(Into::into),
        },
    }
}

/// `levels`: (raise above?, raise level, clear level).
fn threshold(
    name: &str,
    devices: &str,
    value: &str,
    levels: (bool, f64, f64),
    hold_ms: u64,
    severity: Severity,
) -> Rule {
    let (above, limit, clear) = levels;
    Rule {
        name: name.into(),
        devices: devices.into(),
        severity,
        resolution: Resolution::Auto,
        spec: Spec::Threshold {
            value: value.into(),
            above,
            limit,
            clear,
            hold_ms,
        },
    }
}

/// Built-in rules: a community gets sensible alarms with no rule configuration.
pub fn builtins() -> Vec<Rule> {
    use Severity::*;
    vec![
        event("sos", "care.*", "sos", Some("sos_cancel"), Critical),
        event("fall", "care.*", "fall", None, Critical),
        event(
            "smoke",
            "facility.*",
            "smoke",
            Some("smoke_clear"),
            Critical,
        ),
        event("gas", "facility.*", "gas", Some("gas_clear"), Critical),
        event(
            "water_leak",
            "facility.*",
            "water_leak",
            Some("water_leak_clear"),
            Major,
        ),
        event("door_forced", "access.*", "door_forced", None, Major),
        event("tamper", "*", "tamper", None, Major),
        event("device_fault", "*", "fault", Some("fault_clear"), Minor),
        Rule {
            resolution: Resolution::Auto,
            ..event(
                "door_held_open",
                "access.*",
                "door_held_open",
                Some("door_close"),
                Minor,
            )
        },
        Rule {
            name: "door_left_open".into(),
            devices: "access.*".into(),
            severity: Minor,
            resolution: Resolution::Auto,
            spec: Spec::HeldOpen {
                open: "door_open".into(),
                close: "door_close".into(),
                after_ms: 60_000,
            },
        },
        Rule {
            // GB 50396: an alarm after 5 consecutive wrong credentials.
            name: "denied_credentials".into(),
            devices: "access.*".into(),
            severity: Major,
            resolution: Resolution::Person,
            spec: Spec::Count {
                event: "access_denied".into(),
                count: 5,
                within_ms: 60_000,
            },
        },
        threshold(
            "tank_low",
            "facility.water_tank",
            "level_pct",
            (false, 20.0, 30.0),
            60_000,
            Major,
        ),
        threshold(
            "hydrant_pressure_low",
            "facility.hydrant",
            "pressure_mpa",
            (false, 0.15, 0.2),
            60_000,
            Major,
        ),
        threshold(
            "air_co2_high",
            "facility.air",
            "co2_ppm",
            (true, 1_500.0, 1_000.0),
            300_000,
            Minor,
        ),
        threshold(
            "manhole_tilt",
            "facility.manhole",
            "tilt_deg",
            (true, 15.0, 5.0),
            0,
            Major,
        ),
        threshold(
            "battery_low",
            "*",
            "battery_pct",
            (false, 20.0, 30.0),
            0,
            Warning,
        ),
        Rule {
            name: "device_offline".into(),
            devices: "*".into(),
            severity: Minor,
            resolution: Resolution::Auto,
            spec: Spec::Offline { care: Major },
        },
    ]
}

/// Built-ins with the configured rules applied: same name replaces, `enabled = false` removes.
pub fn merged(config: &[RuleConfig]) -> Vec<Rule> {
    let mut rules = builtins();
    for c in config {
        rules.retain(|r| r.name != c.name);
        if let Some(rule) = from_config(c) {
            rules.push(rule);
        }
    }
    rules
}

fn from_config(c: &RuleConfig) -> Option<Rule> {
    let kind = c.kind.filter(|_| c.enabled)?;
    let ms =
        |d: Option<crate::config::Dur>, default: u64| d.map_or(default, |d| d.0.as_millis() as u64);
    let spec = match kind {
        RuleKind::Event => Spec::Event {
            event: c.event.clone()?,
            clear: c.clear_event.clone(),
        },
        RuleKind::Count => Spec::Count {
            event: c.event.clone()?,
            count: c.count.unwrap_or(5),
            within_ms: ms(c.within, 60_000),
        },
        RuleKind::HeldOpen => Spec::HeldOpen {
            open: c.event.clone()?,
            close: c.clear_event.clone()?,
            after_ms: ms(c.hold, 60_000),
        },
        RuleKind::Threshold => match (c.above, c.below) {
            (Some(limit), None) => Spec::Threshold {
                value: c.value.clone()?,
                above: true,
                limit,
                clear: c.clear_below.unwrap_or(limit),
                hold_ms: ms(c.hold, 0),
            },
            (None, Some(limit)) => Spec::Threshold {
                value: c.value.clone()?,
                above: false,
                limit,
                clear: c.clear_above.unwrap_or(limit),
                hold_ms: ms(c.hold, 0),
            },
            _ => return None,
        },
    };
    let default_resolution = match kind {
        RuleKind::Event | RuleKind::Count => Resolution::Person,
        RuleKind::Threshold | RuleKind::HeldOpen => Resolution::Auto,
    };
    Some(Rule {
        name: c.name.clone(),
        devices: c.devices.clone(),
        severity: c.severity,
        resolution: c.resolve.unwrap_or(default_resolution),
        spec,
    })
}
