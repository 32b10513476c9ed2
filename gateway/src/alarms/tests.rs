use std::collections::HashMap;

use linli_protocols::{Condition, Handling, Place, Severity};
use proptest::prelude::*;

use super::*;
use crate::config::{Area, Role};
use crate::rules::{Signal, Subject};

const MIN: u64 = 60_000;

fn person(id: &str, role: Role, area: &str) -> Person {
    Person {
        id: id.into(),
        name: id.into(),
        roles: vec![role],
        areas: vec![Area::parse(area).unwrap()],
        lang: "en".into(),
    }
}

fn directory() -> Directory {
    Directory {
        staff: vec![
            person("wang", Role::Caretaker, "building:3"),
            person("li", Role::Caretaker, "building:5"),
            person("zhao", Role::PropertyDuty, "*"),
            person("chen", Role::GridWorker, "grid:7"),
            person("sun", Role::Committee, "*"),
        ],
        grids: [("7".to_string(), vec!["3".to_string(), "4".to_string()])].into(),
    }
}

fn care_policy() -> Policy {
    Policy {
        classes: vec!["care.*".into()],
        severities: None,
        steps: vec![
            Step {
                after_ms: 0,
                targets: vec![Target::Role(Role::Caretaker)],
            },
            Step {
                after_ms: 2 * MIN,
                targets: vec![
                    Target::Role(Role::PropertyDuty),
                    Target::Role(Role::GridWorker),
                ],
            },
            Step {
                after_ms: 5 * MIN,
                targets: vec![Target::Role(Role::Committee)],
            },
        ],
        repeat_ms: Some(5 * MIN),
        ack_timeout_ms: 30 * MIN,
    }
}

fn book() -> Book {
    Book::new(vec![care_policy()], directory(), Vec::new(), 1)
}

fn sos(building: &str, raise: bool, at: u64) -> Signal {
    Signal {
        rule: "sos".into(),
        subject: Subject::Device(format!("sos-{building}")),
        raise,
        severity: Severity::Critical,
        class: "care.sos_button".into(),
        place: Place {
            building: Some(building.into()),
            ..Place::default()
        },
        household: None,
        resolution: Resolution::Person,
        at,
        detail: "sos".into(),
    }
}

fn told(fx: &Effects) -> Vec<&str> {
    fx.notifications
        .iter()
        .map(|n| n.staff_id.as_str())
        .collect()
}

#[test]
fn sos_notifies_the_caretaker_of_its_building_at_once() {
    let mut b = book();
    let fx = b.signal(&sos("3", true, 0), 0);
    assert_eq!(told(&fx), ["wang"]);
    let a = &fx.alarms[0];
    assert_eq!(
        (a.id.as_str(), a.status, a.condition, a.count),
        ("1", Handling::Open, Condition::Active, 1)
    );
    assert_eq!(a.escalation.next_at, Some(2 * MIN));
    assert!(
        fx.notifications[0]
            .body
            .title
            .starts_with("[CRITICAL] SOS · building 3")
    );
    assert_eq!(
        fx.audit
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["raised", "escalated"]
    );
}

#[test]
fn retrigger_counts_and_never_makes_a_second_alarm() {
    let mut b = book();
    b.signal(&sos("3", true, 0), 0);
    let fx = b.signal(&sos("3", true, 1_000), 1_000);
    assert_eq!(
        (
            fx.alarms.len(),
            fx.alarms[0].id.as_str(),
            fx.alarms[0].count
        ),
        (1, "1", 2)
    );
    assert!(fx.notifications.is_empty());
    assert_eq!(b.open().count(), 1);
}

#[test]
fn steps_fire_on_time_then_the_last_repeats_until_acknowledged() {
    let mut b = book();
    b.signal(&sos("3", true, 0), 0);
    assert!(b.tick(2 * MIN - 1).notifications.is_empty());
    // chen's grid 7 holds building 3; zhao is property duty but sees no care alarms.
    assert_eq!(told(&b.tick(2 * MIN)), ["chen"]);
    assert_eq!(told(&b.tick(5 * MIN)), ["sun"]);
    assert!(b.tick(10 * MIN - 1).notifications.is_empty());
    let fx = b.tick(10 * MIN);
    assert_eq!(told(&fx), ["sun"]);
    assert!(
        fx.notifications[0].body.key.ends_with(":2:1:sun"),
        "{}",
        fx.notifications[0].body.key
    );
    b.act("1", false, "sun", None, "api", 11 * MIN).unwrap();
    assert!(
        b.tick(40 * MIN).notifications.is_empty(),
        "acknowledged: no escalation before the timeout"
    );
}

#[test]
fn a_restart_fires_overdue_steps_once_each() {
    let mut b = book();
    let fx = b.signal(&sos("3", true, 0), 0);
    // The store hands the alarm back after a long outage.
    let mut again = Book::new(
        vec![care_policy()],
        directory(),
        fx.alarms.clone(),
        b.next_id(),
    );
    let fx = again.tick(6 * MIN);
    assert_eq!(told(&fx), ["chen", "sun"]);
    assert_eq!(fx.alarms[0].escalation.next_at, Some(11 * MIN));
    assert!(again.tick(6 * MIN + 1).notifications.is_empty());
}

#[test]
fn ack_timeout_reopens_and_escalates_again() {
    let mut b = book();
    b.signal(&sos("3", true, 0), 0);
    let fx = b
        .act("1", false, "wang", Some("on my way".into()), "mqtt", MIN)
        .unwrap();
    assert_eq!(
        (fx.alarms[0].status, fx.alarms[0].acked_by.as_deref()),
        (Handling::Acknowledged, Some("wang"))
    );
    assert!(matches!(
        b.act("1", false, "li", None, "api", MIN),
        Err(ActError::AlreadyAcknowledged { .. })
    ));
    assert!(b.tick(31 * MIN - 1).is_empty());
    let fx = b.tick(31 * MIN);
    assert_eq!(fx.alarms[0].status, Handling::Open);
    assert_eq!(fx.alarms[0].escalation.round, 1);
    assert_eq!(told(&fx), ["wang"]);
    assert!(
        fx.alarms[0]
            .timeline
            .iter()
            .any(|e| e.what == "ack_timeout")
    );
}

#[test]
fn care_alarms_need_a_note_and_a_new_trigger_makes_a_new_alarm() {
    let mut b = book();
    b.signal(&sos("3", true, 0), 0);
    assert_eq!(
        b.act("1", true, "wang", Some("  ".into()), "api", 1),
        Err(ActError::NoteRequired("1".into()))
    );
    b.signal(&sos("3", false, 2), 2);
    assert_eq!(
        b.get("1").map(|a| a.condition),
        Some(Condition::Cleared),
        "cancel clears, a person resolves"
    );
    let fx = b
        .act(
            "1",
            true,
            "wang",
            Some("visited, all well".into()),
            "api",
            3,
        )
        .unwrap();
    assert_eq!(
        (fx.alarms[0].status, fx.alarms[0].resolved_by.as_deref()),
        (Handling::Resolved, Some("wang"))
    );
    assert!(b.get("1").is_none());
    assert_eq!(
        b.act("1", false, "wang", None, "api", 4),
        Err(ActError::NotOpen("1".into()))
    );
    let fx = b.signal(&sos("3", true, 5), 5);
    assert_eq!(fx.alarms[0].id, "2");
}

#[test]
fn auto_alarms_resolve_themselves_when_cleared() {
    let mut b = book();
    let offline = |raise| Signal {
        rule: "device_offline".into(),
        resolution: Resolution::Auto,
        severity: Severity::Minor,
        class: "facility.smoke".into(),
        ..sos("5", raise, 0)
    };
    let fx = b.signal(&offline(true), 0);
    assert_eq!(told(&fx), ["zhao", "sun"], "no policy: everyone concerned");
    let fx = b.signal(&offline(false), 10);
    assert_eq!(
        (fx.alarms[0].status, fx.alarms[0].resolved_by.as_deref()),
        (Handling::Resolved, Some("system"))
    );
    assert_eq!(b.open().count(), 0);
    assert!(b.tick(u64::MAX / 2).is_empty(), "minor: no repeat");
}

#[derive(Debug, Clone)]
enum Input {
    Signal { building: u8, rule: u8, raise: bool },
    Ack { id: u8, by: u8 },
    Resolve { id: u8 },
    Advance { ms: u64 },
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        (0u8..2, 0u8..2, any::<bool>()).prop_map(|(building, rule, raise)| Input::Signal {
            building,
            rule,
            raise
        }),
        (1u8..6, 0u8..3).prop_map(|(id, by)| Input::Ack { id, by }),
        (1u8..6).prop_map(|id| Input::Resolve { id }),
        (0u64..20 * MIN).prop_map(|ms| Input::Advance { ms }),
    ]
}

proptest! {
    /// No sequence of inputs reopens a resolved alarm, makes two open alarms for one (rule,
    /// subject), or escalates an acknowledged alarm before its acknowledgement timeout.
    #[test]
    fn lifecycle_invariants(inputs in proptest::collection::vec(input(), 1..80)) {
        let mut b = book();
        let mut now = 0u64;
        let mut resolved: Vec<String> = Vec::new();
        let mut acked_until: HashMap<String, u64> = HashMap::new();
        for i in inputs {
            let fx = match i {
                Input::Signal { building, rule, raise } => {
                    let mut s = sos(if building == 0 { "3" } else { "5" }, raise, now);
                    if rule == 1 {
                        s.rule = "fall".into();
                    }
                    b.signal(&s, now)
                }
                Input::Ack { id, by } => b.act(&id.to_string(), false, ["wang", "li", "sun"][by as usize], None, "api", now).unwrap_or_default(),
                Input::Resolve { id } => b.act(&id.to_string(), true, "sun", Some("done".into()), "api", now).unwrap_or_default(),
                Input::Advance { ms } => {
                    now += ms;
                    b.tick(now)
                }
            };
            for a in &fx.alarms {
                prop_assert!(!resolved.contains(&a.id), "alarm {} changed after it was resolved", a.id);
                match a.status {
                    Handling::Resolved => resolved.push(a.id.clone()),
                    Handling::Acknowledged => {
                        acked_until.insert(a.id.clone(), a.acked_at.unwrap() + 30 * MIN);
                    }
                    Handling::Open => {
                        acked_until.remove(&a.id);
                    }
                }
            }
            for n in &fx.notifications {
                if let Some(&until) = acked_until.get(&n.body.alarm_id) {
                    prop_assert!(now >= until, "alarm {} escalated at {now} while acknowledged until {until}", n.body.alarm_id);
                }
            }
            let mut keys: Vec<String> = b.open().map(|a| format!("{}|{:?}", a.rule, a.subject)).collect();
            let n = keys.len();
            keys.sort();
            keys.dedup();
            prop_assert_eq!(keys.len(), n, "two open alarms for one (rule, subject)");
        }
    }
}
