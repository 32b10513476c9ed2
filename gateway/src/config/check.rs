//! Cross-field checks of staff, households, escalation and rules.

use std::collections::HashSet;

use linli_protocols::{is_valid_id, is_valid_kind};

use super::load::{Problem, push};
use super::{
    Area, EscalationConfig, GridConfig, HouseholdConfig, QuietHours, RuleConfig, RuleKind,
    StaffConfig,
};

pub(super) fn people(
    staff: &[StaffConfig],
    grids: &[GridConfig],
    households: &[HouseholdConfig],
    problems: &mut Vec<Problem>,
) {
    let (mut ids, mut tokens) = (HashSet::new(), HashSet::new());
    for (i, s) in staff.iter().enumerate() {
        let key = |k: &str| format!("staff[{i}].{k}");
        if !is_valid_id(&s.id) {
            push(
                problems,
                &key("id"),
                format!("`{}` is not a valid id", s.id),
                "use 1 to 64 of A-Z a-z 0-9 _ . -",
            );
        } else if !ids.insert(s.id.as_str()) {
            push(
                problems,
                &key("id"),
                format!("`{}` is declared twice", s.id),
                "give each person one [[staff]] entry",
            );
        }
        if s.roles.is_empty() {
            push(
                problems,
                &key("roles"),
                "no roles".into(),
                "add at least one, e.g. roles = [\"caretaker\"]",
            );
        }
        if s.token.len() < 16 {
            push(
                problems,
                &key("token"),
                "shorter than 16 characters".into(),
                "use a long random token",
            );
        } else if !tokens.insert(s.token.as_str()) {
            push(
                problems,
                &key("token"),
                "the same token as another staff member".into(),
                "give each person their own token",
            );
        }
        for (j, a) in s.areas.iter().enumerate() {
            match Area::parse(a) {
                Err(e) => push(
                    problems,
                    &format!("staff[{i}].areas[{j}]"),
                    e,
                    "fix the area",
                ),
                Ok(Area::Grid(g)) if !grids.iter().any(|x| x.id == g) => push(
                    problems,
                    &format!("staff[{i}].areas[{j}]"),
                    format!("grid `{g}` is not declared"),
                    "add a [[grid]] with that id and its buildings",
                ),
                Ok(_) => {}
            }
        }
        if !["zh-CN", "en"].contains(&s.lang.as_str()) {
            push(
                problems,
                &key("lang"),
                format!("`{}` is not supported", s.lang),
                "use \"zh-CN\" or \"en\"",
            );
        }
    }
    let mut grid_ids = HashSet::new();
    for (i, g) in grids.iter().enumerate() {
        if !grid_ids.insert(g.id.as_str()) {
            push(
                problems,
                &format!("grid[{i}].id"),
                format!("`{}` is declared twice", g.id),
                "keep one [[grid]] per id",
            );
        }
        if g.buildings.is_empty() {
            push(
                problems,
                &format!("grid[{i}].buildings"),
                "empty".into(),
                "list the grid's buildings",
            );
        }
    }
    let mut household_ids = HashSet::new();
    for (i, h) in households.iter().enumerate() {
        let key = |k: &str| format!("household[{i}].{k}");
        if !is_valid_id(&h.id) {
            push(
                problems,
                &key("id"),
                format!("`{}` is not a valid id", h.id),
                "use 1 to 64 of A-Z a-z 0-9 _ . -",
            );
        } else if !household_ids.insert(h.id.as_str()) {
            push(
                problems,
                &key("id"),
                format!("`{}` is declared twice", h.id),
                "keep one [[household]] per id",
            );
        }
        if h.devices.is_empty() {
            push(
                problems,
                &key("devices"),
                "no devices".into(),
                "list the household's sensors",
            );
        }
        if let Some(q) = &h.quiet_hours {
            if let Err(e) = QuietHours::parse(q) {
                push(
                    problems,
                    &key("quiet_hours"),
                    e,
                    "write it like \"22:00-07:00\"",
                );
            }
        }
        if h.inactivity.0.as_secs() == 0 || h.water_window.0.as_secs() == 0 {
            push(
                problems,
                &key("inactivity"),
                "windows must be at least 1s".into(),
                "use \"12h\"",
            );
        }
        if h.min_water_m3.is_nan() || h.min_water_m3 < 0.0 {
            push(
                problems,
                &key("min_water_m3"),
                "must be zero or more".into(),
                "use 0.01",
            );
        }
    }
}

pub(super) fn escalation(
    policies: &[EscalationConfig],
    staff: &[StaffConfig],
    problems: &mut Vec<Problem>,
) {
    for (i, p) in policies.iter().enumerate() {
        let key = |k: &str| format!("escalation[{i}].{k}");
        if p.classes.is_empty() {
            push(
                problems,
                &key("classes"),
                "no classes".into(),
                "add e.g. classes = [\"care.*\"]",
            );
        }
        for c in &p.classes {
            if !valid_pattern(c) {
                push(
                    problems,
                    &key("classes"),
                    format!("`{c}` is not a class pattern"),
                    "write e.g. \"care.*\" or \"facility.smoke\"",
                );
            }
        }
        if p.steps.is_empty() {
            push(
                problems,
                &key("steps"),
                "no steps".into(),
                "add { after = \"0s\", notify = [\"role:caretaker\"] }",
            );
        }
        for (j, s) in p.steps.iter().enumerate() {
            if j > 0 && s.after < p.steps[j - 1].after {
                push(
                    problems,
                    &format!("escalation[{i}].steps[{j}].after"),
                    "earlier than the step before".into(),
                    "order steps by `after`",
                );
            }
            if s.notify.is_empty() {
                push(
                    problems,
                    &format!("escalation[{i}].steps[{j}].notify"),
                    "nobody to notify".into(),
                    "add a target such as \"role:caretaker\"",
                );
            }
            for t in &s.notify {
                if let Err(e) = check_target(t, staff) {
                    push(
                        problems,
                        &format!("escalation[{i}].steps[{j}].notify"),
                        e,
                        "use \"role:NAME\" or \"staff:ID\"",
                    );
                }
            }
        }
        if p.repeat.0.as_secs() < 1 {
            push(problems, &key("repeat"), "under 1s".into(), "use \"5m\"");
        }
        if p.ack_timeout.0.as_secs() < 1 {
            push(
                problems,
                &key("ack_timeout"),
                "under 1s".into(),
                "use \"30m\"",
            );
        }
    }
}

fn check_target(t: &str, staff: &[StaffConfig]) -> Result<(), String> {
    match t.split_once(':') {
        Some(("role", r)) => serde_json::from_value::<super::Role>(serde_json::Value::String(r.into()))
            .map(|_| ())
            .map_err(|_| format!("`{r}` is not a role (admin, committee, grid_worker, property_duty, security, caretaker, family, volunteer)")),
        Some(("staff", id)) if staff.iter().any(|s| s.id == id) => Ok(()),
        Some(("staff", id)) => Err(format!("no [[staff]] with id `{id}`")),
        _ => Err(format!("`{t}` is not a target")),
    }
}

/// `*`, a dotted kind, or a dotted prefix ending in `.*`.
pub fn valid_pattern(p: &str) -> bool {
    p == "*" || is_valid_kind(p.strip_suffix(".*").unwrap_or(p))
}

pub(super) fn rules(rules: &[RuleConfig], problems: &mut Vec<Problem>) {
    let mut names = HashSet::new();
    for (i, r) in rules.iter().enumerate() {
        let key = |k: &str| format!("rule[{i}].{k}");
        if !is_valid_id(&r.name) {
            push(
                problems,
                &key("name"),
                format!("`{}` is not a valid name", r.name),
                "use 1 to 64 of A-Z a-z 0-9 _ . -",
            );
        } else if !names.insert(r.name.as_str()) {
            push(
                problems,
                &key("name"),
                format!("rule `{}` is declared twice", r.name),
                "keep one [[rule]] per name",
            );
        }
        if !valid_pattern(&r.devices) {
            push(
                problems,
                &key("devices"),
                format!("`{}` is not a kind pattern", r.devices),
                "write e.g. \"facility.*\"",
            );
        }
        let Some(kind) = r.kind else {
            if r.enabled {
                push(
                    problems,
                    &key("kind"),
                    format!("rule `{}` has no kind", r.name),
                    "add kind = \"event\", \"threshold\", \"count\" or \"held_open\"",
                );
            }
            continue;
        };
        let mut need = |field: &str, present: bool| {
            if !present {
                push(
                    problems,
                    &key(field),
                    format!("a {kind:?} rule needs `{field}`").to_lowercase(),
                    &format!("add `{field}`"),
                );
            }
        };
        match kind {
            RuleKind::Event | RuleKind::Count => need("event", r.event.is_some()),
            RuleKind::HeldOpen => {
                need("event", r.event.is_some());
                need("clear_event", r.clear_event.is_some());
                need("for", r.hold.is_some());
            }
            RuleKind::Threshold => {
                need("value", r.value.is_some());
                if r.above.is_some() == r.below.is_some() {
                    push(
                        problems,
                        &key("above"),
                        "a threshold rule needs exactly one of `above` and `below`".into(),
                        "keep one of them",
                    );
                }
                if let (Some(above), Some(clear)) = (r.above, r.clear_below) {
                    if clear > above {
                        push(
                            problems,
                            &key("clear_below"),
                            format!("{clear} is above the raise level {above}"),
                            "clear at or below `above`",
                        );
                    }
                }
                if let (Some(below), Some(clear)) = (r.below, r.clear_above) {
                    if clear < below {
                        push(
                            problems,
                            &key("clear_above"),
                            format!("{clear} is below the raise level {below}"),
                            "clear at or above `below`",
                        );
                    }
                }
            }
        }
        if kind == RuleKind::Count && r.count.is_some_and(|c| c < 2) {
            push(
                problems,
                &key("count"),
                "under 2".into(),
                "use an event rule for single events, or count >= 2",
            );
        }
    }
}
