use super::*;
use crate::config::{QuietHours, RuleConfig, RuleKind};
use crate::store::{DeviceSource, StateReason};
use linli_protocols::{Event, Location, Telemetry, Values};

fn device(id: &str, kind: &str) -> DeviceRecord {
    DeviceRecord {
        id: id.into(),
        kind: Some(kind.into()),
        model: None,
        fw: None,
        location: Some(Location {
            building: Some("3".into()),
            ..Location::default()
        }),
        source: DeviceSource::Announce,
        heartbeat_s: 60,
        state: DeviceState::Online,
        state_reason: StateReason::Message,
        state_since: 0,
        first_seen: 0,
        last_seen: Some(0),
        battery_pct: None,
        rssi: None,
        last_values: Default::default(),
        last_event: None,
        messages: 0,
        duplicates: 0,
        seq_gaps: 0,
    }
}

fn event(kind: &str) -> Message {
    Message::Event(Event {
        ts: None,
        seq: None,
        kind: kind.into(),
        data: Values::new(),
        device_id: None,
    })
}

fn reading(name: &str, v: f64) -> Message {
    Message::Telemetry(Telemetry {
        ts: None,
        seq: None,
        values: [(name.to_string(), Value::Number(v))].into(),
        device_id: None,
    })
}

fn brief(signals: &[Signal]) -> Vec<(String, bool)> {
    signals.iter().map(|s| (s.rule.clone(), s.raise)).collect()
}

fn engine() -> Engine {
    Engine::new(builtins(), Vec::new(), 8 * 3_600)
}

#[test]
fn patterns() {
    assert!(
        matches("*", "care.pir")
            && matches("care.*", "care.pir")
            && matches("care.pir", "care.pir")
    );
    assert!(
        !matches("care.*", "careless.pir")
            && !matches("care.*", "care")
            && !matches("facility.*", "care.pir")
    );
}

#[test]
fn sos_raises_critical_and_cancel_clears() {
    let mut e = engine();
    let sos = device("sos-1", "care.sos_button");
    let s = e.on_message(&sos, &event("sos"), 10);
    assert_eq!(brief(&s), [("sos".to_string(), true)]);
    assert_eq!(
        (s[0].severity, s[0].class.as_str(), s[0].resolution),
        (Severity::Critical, "care.sos_button", Resolution::Person)
    );
    assert_eq!(s[0].place.building.as_deref(), Some("3"));
    assert_eq!(
        brief(&e.on_message(&sos, &event("sos_cancel"), 20)),
        [("sos".to_string(), false)]
    );
    let gate = device("gate-1", "access.gate");
    assert!(
        e.on_message(&gate, &event("sos"), 30).is_empty(),
        "sos is a care rule"
    );
}

#[test]
fn five_denials_within_a_minute_raise_once() {
    let mut e = engine();
    let gate = device("gate-1", "access.gate");
    let mut raised = Vec::new();
    for t in [0, 10_000, 20_000, 30_000] {
        raised.extend(e.on_message(&gate, &event("access_denied"), t));
    }
    assert!(raised.is_empty());
    // The first denial falls out of the window: still four.
    assert!(
        e.on_message(&gate, &event("access_denied"), 61_000)
            .is_empty()
    );
    let s = e.on_message(&gate, &event("access_denied"), 62_000);
    assert_eq!(brief(&s), [("denied_credentials".to_string(), true)]);
    assert_eq!(s[0].severity, Severity::Major);
}

#[test]
fn threshold_needs_duration_and_clears_with_hysteresis() {
    let mut e = engine();
    let tank = device("tank-1", "facility.water_tank");
    assert!(
        e.on_message(&tank, &reading("level_pct", 15.0), 0)
            .is_empty()
    );
    assert!(
        e.on_message(&tank, &reading("level_pct", 14.0), 59_999)
            .is_empty()
    );
    assert_eq!(
        brief(&e.on_message(&tank, &reading("level_pct", 14.0), 60_000)),
        [("tank_low".to_string(), true)]
    );
    assert!(
        e.on_message(&tank, &reading("level_pct", 25.0), 61_000)
            .is_empty(),
        "between levels: no clear"
    );
    assert_eq!(
        brief(&e.on_message(&tank, &reading("level_pct", 31.0), 62_000)),
        [("tank_low".to_string(), false)]
    );
    // A dip shorter than the duration does not raise.
    assert!(
        e.on_message(&tank, &reading("level_pct", 10.0), 70_000)
            .is_empty()
    );
    assert!(
        e.on_message(&tank, &reading("level_pct", 50.0), 80_000)
            .is_empty()
    );
    assert!(
        e.on_message(&tank, &reading("level_pct", 10.0), 140_000)
            .is_empty()
    );
}

#[test]
fn a_restarted_engine_resumes_every_timer_from_the_saved_states() {
    let mut a = engine();
    let (tank, low, gate) = (
        device("tank-1", "facility.water_tank"),
        device("tank-2", "facility.water_tank"),
        device("gate-1", "access.gate"),
    );
    assert!(
        a.on_message(&tank, &reading("level_pct", 14.0), 0)
            .is_empty()
    );
    a.on_message(&low, &reading("level_pct", 14.0), 0);
    assert_eq!(
        brief(&a.on_message(&low, &reading("level_pct", 14.0), 60_000)),
        [("tank_low".to_string(), true)]
    );
    assert!(a.on_message(&gate, &event("door_open"), 0).is_empty());
    for t in [0, 10_000, 20_000, 30_000] {
        assert!(a.on_message(&gate, &event("access_denied"), t).is_empty());
    }
    let saved = a.dirty_timers();
    assert_eq!(saved.len(), 4, "{saved:?}");
    // A reading that changes no state writes nothing.
    a.on_message(&tank, &reading("level_pct", 13.0), 1_000);
    assert!(a.dirty_timers().is_empty());

    let mut b = engine();
    b.restore_timers(saved);
    assert_eq!(
        brief(&b.on_message(&tank, &reading("level_pct", 14.0), 60_000)),
        [("tank_low".to_string(), true)],
        "the minute below the limit counts from before the restart"
    );
    assert_eq!(
        brief(&b.tick(60_000)),
        [("door_left_open".to_string(), true)]
    );
    assert_eq!(
        brief(&b.on_message(&gate, &event("access_denied"), 40_000)),
        [("denied_credentials".to_string(), true)]
    );
    assert_eq!(
        brief(&b.on_message(&low, &reading("level_pct", 31.0), 70_000)),
        [("tank_low".to_string(), false)],
        "what was raised before the restart still clears"
    );
    let after = b.dirty_timers();
    assert!(after.iter().any(|t| t.device == "tank-2" && t.is_idle()));
}

#[test]
fn door_left_open_raises_on_tick_and_clears_on_close() {
    let mut e = engine();
    let gate = device("gate-1", "access.gate");
    assert!(e.on_message(&gate, &event("door_open"), 0).is_empty());
    assert!(e.tick(59_999).is_empty());
    assert_eq!(
        brief(&e.tick(60_000)),
        [("door_left_open".to_string(), true)]
    );
    assert!(e.tick(120_000).is_empty(), "raised once");
    let s = e.on_message(&gate, &event("door_close"), 130_000);
    assert!(brief(&s).contains(&("door_left_open".to_string(), false)));
}

#[test]
fn offline_is_major_for_care_devices() {
    let e = engine();
    let mut pir = device("pir-1", "care.pir");
    pir.state = DeviceState::Offline;
    let s = e.on_state(&pir, 5);
    assert_eq!(
        (s[0].rule.as_str(), s[0].raise, s[0].severity),
        ("device_offline", true, Severity::Major)
    );
    let mut smoke = device("smoke-1", "facility.smoke");
    smoke.state = DeviceState::Offline;
    assert_eq!(e.on_state(&smoke, 5)[0].severity, Severity::Minor);
    smoke.state = DeviceState::Online;
    assert!(!e.on_state(&smoke, 6)[0].raise);
}

#[test]
fn config_rules_replace_disable_and_add() {
    let rule = |name: &str| RuleConfig {
        name: name.into(),
        enabled: true,
        kind: None,
        devices: "*".into(),
        severity: Severity::Info,
        resolve: None,
        event: None,
        clear_event: None,
        value: None,
        above: None,
        below: None,
        clear_below: None,
        clear_above: None,
        hold: None,
        count: None,
        within: None,
    };
    let rules = merged(&[
        RuleConfig {
            enabled: false,
            ..rule("battery_low")
        },
        RuleConfig {
            kind: Some(RuleKind::Threshold),
            value: Some("temperature_c".into()),
            above: Some(60.0),
            ..rule("hot")
        },
        RuleConfig {
            kind: Some(RuleKind::Event),
            event: Some("sos".into()),
            devices: "care.*".into(),
            ..rule("sos")
        },
    ]);
    assert!(!rules.iter().any(|r| r.name == "battery_low"));
    assert_eq!(rules.iter().filter(|r| r.name == "sos").count(), 1);
    let mut e = Engine::new(rules, Vec::new(), 0);
    let t = device("t", "facility.air");
    assert_eq!(
        e.on_message(&t, &reading("temperature_c", 70.0), 0)[0].severity,
        Severity::Info
    );
    assert!(e.on_message(&t, &reading("battery_pct", 1.0), 0).is_empty());
}

fn household(quiet: Option<&str>) -> Household {
    Household {
        id: "h-301".into(),
        place: Place {
            building: Some("3".into()),
            ..Place::default()
        },
        living_alone: true,
        devices: vec!["pir-301".into(), "water-301".into()],
        inactivity_ms: 3_600_000,
        water_window_ms: 3_600_000,
        min_water_m3: 0.01,
        quiet: quiet.map(|q| QuietHours::parse(q).unwrap()),
    }
}

#[test]
fn inactivity_raises_after_the_window_and_motion_clears_it() {
    let mut e = Engine::new(Vec::new(), vec![household(None)], 0);
    let pir = device("pir-301", "care.pir");
    let t0 = 1_000_000_000_000; // any time of day: no quiet hours
    assert!(e.tick(t0).is_empty());
    assert!(e.tick(t0 + 3_599_999).is_empty());
    let s = e.tick(t0 + 3_600_000);
    assert_eq!(brief(&s), [("inactivity".to_string(), true)]);
    assert_eq!(
        (s[0].class.as_str(), &s[0].subject),
        ("care.household", &Subject::Household("h-301".into()))
    );
    assert!(e.tick(t0 + 7_200_000).is_empty(), "raised once");
    assert_eq!(
        brief(&e.on_message(&pir, &event("motion"), t0 + 7_300_000)),
        [("inactivity".to_string(), false)]
    );
}

#[test]
fn away_mode_and_quiet_hours_suppress_inactivity() {
    let mut e = Engine::new(Vec::new(), vec![household(Some("22:00-07:00"))], 0);
    let midnight = 1_764_288_000_000; // 2025-11-28 00:00 UTC
    assert!(e.tick(midnight - 7_200_000).is_empty()); // 22:00 start
    assert!(
        e.tick(midnight + 3 * 3_600_000).is_empty(),
        "03:00 is quiet"
    );
    assert_eq!(
        brief(&e.tick(midnight + 7 * 3_600_000)),
        [("inactivity".to_string(), true)]
    );

    let mut e = Engine::new(Vec::new(), vec![household(None)], 0);
    let t0 = midnight + 10 * 3_600_000;
    e.tick(t0);
    assert!(e.set_away("h-301", Some(t0 + 5 * 3_600_000), t0));
    assert!(e.tick(t0 + 4 * 3_600_000).is_empty(), "away");
    assert!(
        e.tick(t0 + 5 * 3_600_000).is_empty(),
        "back: window restarts at the return"
    );
    assert!(e.tick(t0 + 6 * 3_600_000 - 1).is_empty());
    assert_eq!(
        brief(&e.tick(t0 + 6 * 3_600_000)),
        [("inactivity".to_string(), true)]
    );
    assert!(!e.set_away("nobody", None, t0));
}

#[test]
fn low_water_use_over_the_window() {
    let mut e = Engine::new(Vec::new(), vec![household(None)], 0);
    let meter = device("water-301", "care.water_meter");
    let t0 = 1_000_000_000_000;
    e.on_message(&meter, &reading("water_m3", 10.000), t0);
    assert!(
        e.tick(t0 + 1_800_000).is_empty(),
        "history shorter than the window"
    );
    e.on_message(&meter, &reading("water_m3", 10.004), t0 + 3_000_000);
    let s = e.tick(t0 + 3_600_000);
    assert!(
        brief(&s).contains(&("low_water_use".to_string(), true)),
        "{s:?}"
    );
    let s = e.on_message(&meter, &reading("water_m3", 10.05), t0 + 3_700_000);
    assert!(
        brief(&s).contains(&("low_water_use".to_string(), false)),
        "{s:?}"
    );
    let saved = e.dirty_households();
    assert_eq!(saved.len(), 1);
    let mut again = Engine::new(Vec::new(), vec![household(None)], 0);
    again.restore_households(saved.clone());
    assert_eq!(again.household("h-301"), Some(saved[0].clone()));
}
