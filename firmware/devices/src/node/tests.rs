use alloc::string::ToString;
use alloc::vec::Vec;

use linli_protocols::{DeviceTopic, Limits, decode};

use super::*;
use crate::Fault;

const SITE: &str = "sunny-garden";

fn config() -> NodeConfig {
    NodeConfig {
        site: SITE.into(),
        device_id: "sos-502".into(),
        kind: "care.sos_button".into(),
        model: Some("linli-node".into()),
        fw: Some("0.1.0".into()),
        location: Some(Location {
            building: Some("3".into()),
            unit: Some("2".into()),
            floor: Some(5),
            room: Some("502".into()),
        }),
        heartbeat_ms: 60_000,
        first_seq: 100,
    }
}

/// Decodes `out` exactly as the hub does: topic parsed for the site, payload decoded strictly.
fn hub_decode(node: &Node, out: &Outgoing) -> Message {
    let topic = node.topic(out.channel);
    let parsed = DeviceTopic::parse(SITE, &topic).unwrap();
    assert_eq!(parsed.channel, out.channel);
    decode(
        parsed.channel,
        parsed.device_id,
        &out.payload(),
        &Limits::default(),
    )
    .unwrap()
}

#[test]
fn sequence_numbers_increase_across_events_and_telemetry() {
    let mut node = Node::new(config()).unwrap();
    node.set_value("battery_pct", Value::Number(88.0));
    let outs = [
        node.event(10, Signal::Sos),
        node.poll(20).unwrap(),
        node.event(30, Signal::SosCancel),
        node.report(40),
    ];
    let seqs: Vec<Option<u64>> = outs.iter().map(|o| hub_decode(&node, o).seq()).collect();
    assert_eq!(seqs, [Some(100), Some(101), Some(102), Some(103)]);
    assert_eq!(node.next_seq(), 104);
    // Status and announce carry no sequence number and take none.
    let _ = (node.online(), node.announce(), node.last_will());
    assert_eq!(node.next_seq(), 104);
}

#[test]
fn heartbeats_come_every_period_and_restart_after_a_stall() {
    let mut node = Node::new(config()).unwrap();
    node.set_value("water_m3", Value::Number(12.375));
    let beats: Vec<u64> = [
        0, 59_999, 60_000, 125_000, 179_999, 180_000, 1_000_000, 1_059_999, 1_060_000,
    ]
    .into_iter()
    .filter(|t| node.poll(*t).is_some())
    .collect();
    // 125 000 is late for 120 000; the next stays on the 60 s grid. After the stall there is one
    // heartbeat, not a burst, and the grid restarts from it.
    assert_eq!(beats, [0, 60_000, 125_000, 180_000, 1_000_000, 1_060_000]);
}

#[test]
fn a_heartbeat_carries_the_latest_readings() {
    let mut node = Node::new(config()).unwrap();
    node.set_value("temperature_c", Value::Number(21.4));
    node.set_value("battery_pct", Value::Number(88.0));
    node.set_value("temperature_c", Value::Number(21.5));
    node.set_value("humidity_pct", Value::Number(f64::NAN)); // dropped: the hub refuses it
    let out = node.poll(0).unwrap();
    assert_eq!((out.channel, out.retain), (Channel::Telemetry, false));
    assert_eq!(
        out.payload(),
        br#"{"seq":100,"values":{"battery_pct":88.0,"temperature_c":21.5}}"#
    );
    let Message::Telemetry(t) = hub_decode(&node, &out) else {
        panic!("not telemetry")
    };
    assert_eq!(t.values.get("temperature_c"), Some(&Value::Number(21.5)));
}

#[test]
fn without_readings_the_heartbeat_is_an_online_status() {
    let mut node = Node::new(config()).unwrap();
    let out = node.poll(0).unwrap();
    assert_eq!((out.channel, out.retain), (Channel::Status, true));
    assert_eq!(out.payload(), br#"{"state":"online","fw":"0.1.0"}"#);
    assert!(matches!(
        hub_decode(&node, &out),
        Message::Status(Status {
            state: StatusState::Online,
            ..
        })
    ));
    assert_eq!(node.next_seq(), 100);
}

#[test]
fn events_are_stamped_once_the_clock_is_known() {
    let mut node = Node::new(config()).unwrap();
    let before = node.event(500, Signal::DoorOpen);
    assert_eq!(hub_decode(&node, &before).ts(), None);
    node.set_clock(1_000, 1_764_300_000_000);
    let out = node.event(1_500, Signal::Fault(Fault::StuckButton));
    assert_eq!(
        out.payload(),
        br#"{"ts":1764300000500,"seq":101,"type":"fault","data":{"reason":"stuck_button"}}"#
    );
    let Message::Event(e) = hub_decode(&node, &out) else {
        panic!("not an event")
    };
    assert_eq!((e.kind.as_str(), e.ts), ("fault", Some(1_764_300_000_500)));
    assert_eq!(
        e.data.get("reason"),
        Some(&Value::Text("stuck_button".to_string()))
    );
}

#[test]
fn every_signal_is_a_valid_event_for_the_hub() {
    let mut node = Node::new(config()).unwrap();
    for s in [
        Signal::Sos,
        Signal::SosCancel,
        Signal::Fault(Fault::StuckButton),
        Signal::FaultClear(Fault::StuckButton),
        Signal::DoorOpen,
        Signal::DoorClose,
        Signal::Motion,
        Signal::Smoke,
        Signal::SmokeClear,
        Signal::Test,
    ] {
        let out = node.event(0, s);
        let Message::Event(e) = hub_decode(&node, &out) else {
            panic!("not an event")
        };
        assert_eq!(e.kind, s.kind());
    }
}

#[test]
fn announce_and_last_will_have_the_contract_shape() {
    let node = Node::new(config()).unwrap();
    let announce = node.announce();
    assert_eq!(
        node.topic(announce.channel),
        "linli/sunny-garden/sos-502/announce"
    );
    assert!(announce.retain);
    assert_eq!(
        announce.payload(),
        br#"{"kind":"care.sos_button","model":"linli-node","fw":"0.1.0","location":{"building":"3","unit":"2","floor":5,"room":"502"},"heartbeat_s":60}"#
    );
    let Message::Announce(a) = hub_decode(&node, &announce) else {
        panic!("not an announce")
    };
    assert_eq!(a.location.and_then(|l| l.floor), Some(5));
    assert_eq!(a.heartbeat_s, Some(60));

    let will = node.last_will();
    assert_eq!(
        node.topic(will.channel),
        "linli/sunny-garden/sos-502/status"
    );
    assert!(will.retain);
    assert_eq!(will.payload(), br#""offline""#);
    assert!(matches!(
        hub_decode(&node, &will),
        Message::Status(Status {
            state: StatusState::Offline,
            ..
        })
    ));
}

#[test]
fn configs_the_hub_would_refuse_are_refused() {
    let with = |f: fn(&mut NodeConfig)| {
        let mut c = config();
        f(&mut c);
        Node::new(c).err()
    };
    assert_eq!(with(|c| c.site = "a b".into()), Some(ConfigError::BadSite));
    assert_eq!(
        with(|c| c.device_id = String::new()),
        Some(ConfigError::BadDeviceId)
    );
    assert_eq!(
        with(|c| c.device_id = "hub".into()),
        Some(ConfigError::ReservedDeviceId)
    );
    assert_eq!(with(|c| c.kind = "SOS".into()), Some(ConfigError::BadKind));
    assert_eq!(
        with(|c| c.heartbeat_ms = 0),
        Some(ConfigError::ZeroHeartbeat)
    );
    assert_eq!(with(|_| {}), None);
}
