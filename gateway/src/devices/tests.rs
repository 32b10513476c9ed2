use super::*;
use linli_protocols::{Announce, Event, Location, Status, Telemetry, Values};

fn telemetry(seq: u64) -> Message {
    let values: Values = [("battery_pct".to_string(), Value::Number(77.0))].into();
    Message::Telemetry(Telemetry {
        ts: None,
        seq: Some(seq),
        values,
        device_id: None,
    })
}

fn status(state: StatusState) -> Message {
    Message::Status(Status {
        state,
        battery_pct: None,
        rssi: Some(-60),
        fw: None,
        device_id: None,
    })
}

fn announce(heartbeat_s: u32) -> Message {
    Message::Announce(Announce {
        kind: "care.sos_button".into(),
        model: Some("X1".into()),
        fw: None,
        location: Some(Location {
            building: Some("3".into()),
            ..Location::default()
        }),
        heartbeat_s: Some(heartbeat_s),
        device_id: None,
    })
}

#[test]
fn first_message_registers_an_unplaced_device() {
    let mut r = Registry::default();
    let o = r.observe("d1", &telemetry(1), false, false, 1_000);
    assert!(o.registered && !o.duplicate);
    let d = r.get("d1").unwrap();
    assert_eq!(
        (d.source, d.state, d.location.clone()),
        (DeviceSource::FirstMessage, DeviceState::Online, None)
    );
    assert_eq!(d.battery_pct, Some(77.0));
    assert_eq!(d.heartbeat_s, 300);
}

#[test]
fn duplicates_are_counted_not_stored() {
    let mut r = Registry::default();
    assert!(!r.observe("d1", &telemetry(1), false, false, 1).duplicate);
    assert!(r.observe("d1", &telemetry(1), false, false, 2).duplicate);
    assert_eq!(r.observe("d1", &telemetry(5), false, false, 3).gap, 3);
    let d = r.get("d1").unwrap();
    assert_eq!((d.messages, d.duplicates, d.seq_gaps), (2, 1, 3));
}

#[test]
fn announce_lwt_and_silence_drive_the_state() {
    let mut r = Registry::default();
    r.observe("sos", &announce(10), false, false, 0);
    let d = r.get("sos").unwrap();
    assert_eq!(
        (d.source, d.heartbeat_s, d.state),
        (DeviceSource::Announce, 10, DeviceState::Online)
    );
    assert_eq!(d.location.as_ref().unwrap().building.as_deref(), Some("3"));

    let o = r.observe("sos", &status(StatusState::Offline), false, false, 1_000);
    assert_eq!(o.became, Some(DeviceState::Offline));
    assert_eq!(r.get("sos").unwrap().state_reason, StateReason::Status);

    assert_eq!(
        r.observe("sos", &telemetry(1), false, false, 2_000).became,
        Some(DeviceState::Online)
    );
    assert!(
        r.sweep(2_000 + 30_000).is_empty(),
        "exactly 3 heartbeats is not yet silence"
    );
    assert_eq!(r.sweep(2_000 + 30_001), ["sos"]);
    let d = r.get("sos").unwrap();
    assert_eq!(
        (d.state, d.state_reason),
        (DeviceState::Offline, StateReason::Silence)
    );
    assert!(
        r.sweep(99_999_999).is_empty(),
        "an offline device is not swept twice"
    );
}

#[test]
fn a_retained_announce_does_not_prove_life() {
    let mut r = Registry::default();
    r.observe("old", &announce(10), true, false, 5);
    let d = r.get("old").unwrap();
    assert_eq!(
        (d.state, d.state_reason, d.last_seen),
        (DeviceState::Offline, StateReason::NotHeard, None)
    );
    assert!(r.sweep(1_000_000).is_empty());
}

#[test]
fn configured_devices_keep_their_configured_place() {
    let configured = [DeviceConfig {
        id: "gate-1".into(),
        kind: "access.gate".into(),
        location: Some(Location {
            building: Some("1".into()),
            ..Location::default()
        }),
        heartbeat: None,
    }];
    let mut r = Registry::load(Vec::new(), Vec::new(), &configured, 0);
    let d = r.get("gate-1").unwrap();
    assert_eq!((d.state, d.heartbeat_s), (DeviceState::Offline, 60));
    r.observe("gate-1", &announce(5), false, false, 10);
    let d = r.get("gate-1").unwrap();
    assert_eq!(d.location.as_ref().unwrap().building.as_deref(), Some("1"));
    assert_eq!(d.kind.as_deref(), Some("access.gate"));
    assert_eq!(d.state, DeviceState::Online);
    let ev = Message::Event(Event {
        ts: None,
        seq: None,
        kind: "access_denied".into(),
        data: Values::new(),
        device_id: None,
    });
    r.observe("gate-1", &ev, false, false, 20);
    assert_eq!(
        r.get("gate-1").unwrap().last_event.as_ref().unwrap().kind,
        "access_denied"
    );
}

#[test]
fn persist_writes_changed_records_once() {
    let mut r = Registry::default();
    r.observe("a", &telemetry(1), false, false, 1);
    r.observe("a", &telemetry(2), false, false, 2);
    let mut set = WriteSet::default();
    r.persist(&mut set);
    let mut again = WriteSet::default();
    r.persist(&mut again);
    assert!(again.is_empty());
}

#[test]
fn a_redelivery_far_below_the_window_is_a_duplicate_not_a_restart() {
    let mut r = Registry::default();
    for seq in 1..=3_000 {
        r.observe("m", &telemetry(seq), false, false, seq);
    }
    assert!(
        r.observe("m", &telemetry(5), false, true, 4_000).duplicate,
        "DUP=1 far below: already stored"
    );
    let restart = r.observe("m", &telemetry(5), false, false, 4_001);
    assert!(
        !restart.duplicate,
        "DUP=0 far below: the device restarted its counter"
    );
}
