use super::*;
use crate::{Location, Value};
use alloc::vec::Vec;
use proptest::prelude::*;

fn d(channel: Channel, payload: &str) -> Result<Message, Reject> {
    decode(channel, "dev-1", payload.as_bytes(), &Limits::default())
}

fn reason(channel: Channel, payload: &str) -> RejectReason {
    d(channel, payload).expect_err(payload).reason
}

#[test]
fn decodes_the_contract_examples() {
    let t = d(
        Channel::Telemetry,
        r#"{"ts": 1764300000123, "seq": 17, "values": {"temperature_c": 21.4, "battery_pct": 88}}"#,
    )
    .unwrap();
    let Message::Telemetry(t) = t else {
        panic!("not telemetry")
    };
    assert_eq!((t.ts, t.seq), (Some(1_764_300_000_123), Some(17)));
    assert_eq!(t.values["temperature_c"], Value::Number(21.4));

    let e = d(
        Channel::Event,
        r#"{"type": "sos", "data": {"button": "red", "long": true}}"#,
    )
    .unwrap();
    assert!(matches!(e, Message::Event(ref e) if e.kind == "sos" && e.data.len() == 2));

    for p in ["online", "\"online\"", " online\n"] {
        assert!(matches!(
            d(Channel::Status, p),
            Ok(Message::Status(Status {
                state: StatusState::Online,
                ..
            }))
        ));
    }
    let s = d(
        Channel::Status,
        r#"{"state": "offline", "battery_pct": 80, "rssi": -70, "fw": "1.2.0"}"#,
    )
    .unwrap();
    assert!(matches!(
        s,
        Message::Status(Status {
            state: StatusState::Offline,
            rssi: Some(-70),
            ..
        })
    ));

    let a = d(Channel::Announce, r#"{"kind": "care.sos_button", "model": "X1", "location": {"building": 3, "unit": "2", "floor": 5, "room": "502"}}"#).unwrap();
    let Message::Announce(a) = a else {
        panic!("not announce")
    };
    assert_eq!(
        a.location,
        Some(Location {
            building: Some("3".into()),
            unit: Some("2".into()),
            floor: Some(5),
            room: Some("502".into())
        })
    );
}

#[test]
fn classifies_every_kind_of_bad_payload() {
    use Channel::*;
    use RejectReason::*;
    let cases: &[(Channel, &str, RejectReason)] = &[
        (Telemetry, "", Malformed),
        (Telemetry, "{", Malformed),
        (Telemetry, "not json", Malformed),
        (Telemetry, "{\"values\": {\"a\": 1}} trailing", Malformed),
        (
            Telemetry,
            "{\"values\": {\"a\": 1}, \"values\": {}}",
            Malformed,
        ),
        (Telemetry, "[1, 2]", WrongType),
        (Telemetry, "42", WrongType),
        (Telemetry, "{\"values\": [1]}", WrongType),
        (
            Telemetry,
            "{\"values\": {\"a\": {\"nested\": 1}}}",
            WrongType,
        ),
        (Telemetry, "{\"values\": {\"a\": null}}", WrongType),
        (
            Telemetry,
            "{\"ts\": \"yesterday\", \"values\": {\"a\": 1}}",
            WrongType,
        ),
        (Telemetry, "{\"seq\": -1, \"values\": {\"a\": 1}}", BadValue),
        (Telemetry, "{\"ts\": 1}", MissingField),
        (Telemetry, "{\"values\": {}}", BadValue),
        (Telemetry, "{\"values\": {\"bad name\": 1}}", BadValue),
        (Telemetry, "{\"values\": {\"a\": 1e999}}", Malformed),
        (
            Telemetry,
            "{\"values\": {\"a\": 1}, \"device_id\": \"dev-2\"}",
            IdentityMismatch,
        ),
        (Event, "{\"data\": {}}", MissingField),
        (Event, "{\"type\": \"s o s\"}", BadValue),
        (Event, "{\"type\": 7}", WrongType),
        (Status, "maybe", Malformed),
        (Status, "{\"state\": \"sleeping\"}", BadValue),
        (
            Status,
            "{\"state\": \"online\", \"battery_pct\": 140}",
            BadValue,
        ),
        (Announce, "{\"kind\": \"Care SOS\"}", BadValue),
        (Announce, "{\"model\": \"x\"}", MissingField),
        (
            Announce,
            "{\"kind\": \"care.pir\", \"location\": {\"floor\": \"five\"}}",
            WrongType,
        ),
        (Cmd, "{}", UnknownChannel),
    ];
    for (channel, payload, want) in cases {
        assert_eq!(reason(*channel, payload), *want, "{channel} {payload}");
    }
    let long = alloc::format!("{{\"values\": {{\"a\": \"{}\"}}}}", "x".repeat(300));
    assert_eq!(reason(Telemetry, &long), BadValue);
    let big = alloc::format!("{{\"values\": {{\"a\": \"{}\"}}}}", "x".repeat(70_000));
    assert_eq!(reason(Telemetry, &big), Oversize);
    let deep = alloc::format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(reason(Telemetry, &deep), WrongType);
    let deep_obj = alloc::format!("{{\"values\": {}", "{\"a\":".repeat(10_000));
    assert!(d(Telemetry, &deep_obj).is_err());
    assert_eq!(
        decode(
            Telemetry,
            "d",
            b"{\"values\": {\"a\": \"\xff\"}}",
            &Limits::default()
        )
        .unwrap_err()
        .reason,
        Malformed
    );
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-1.0e12f64..1.0e12).prop_map(Value::Number),
        any::<bool>().prop_map(Value::Bool),
        "\\PC{0,40}".prop_map(Value::Text),
    ]
}

fn arb_values() -> impl Strategy<Value = Values> {
    proptest::collection::btree_map("[A-Za-z0-9_.-]{1,16}", arb_value(), 1..8)
}

proptest! {
    #[test]
    fn telemetry_round_trips(ts in proptest::option::of(any::<u64>()), seq in proptest::option::of(any::<u64>()), values in arb_values()) {
        let t = crate::Telemetry { ts, seq, values, device_id: None };
        let bytes = serde_json::to_vec(&t).unwrap();
        prop_assert_eq!(decode(Channel::Telemetry, "dev-1", &bytes, &Limits::default()), Ok(Message::Telemetry(t)));
    }

    #[test]
    fn event_round_trips(kind in "[a-z_]{1,20}", data in proptest::collection::btree_map("[a-z]{1,8}", arb_value(), 0..4)) {
        let e = crate::Event { ts: Some(1), seq: Some(2), kind, data, device_id: Some("dev-1".into()) };
        let bytes = serde_json::to_vec(&e).unwrap();
        prop_assert_eq!(decode(Channel::Event, "dev-1", &bytes, &Limits::default()), Ok(Message::Event(e)));
    }

    #[test]
    fn no_bytes_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512), c in 0usize..5) {
        let _ = decode(Channel::ALL[c], "dev-1", &bytes, &Limits::default());
    }

    #[test]
    fn no_json_shaped_input_panics_the_decoder(
        s in "[{}\\[\\]\":,0-9a-z_ .eE+-]{0,200}",
        c in 0usize..5,
    ) {
        let _ = decode(Channel::ALL[c], "dev-1", s.as_bytes(), &Limits::default());
    }

    #[test]
    fn mutated_valid_payloads_never_panic(values in arb_values(), cuts in proptest::collection::vec(any::<usize>(), 1..4)) {
        let t = crate::Telemetry { ts: Some(5), seq: Some(6), values, device_id: None };
        let mut bytes: Vec<u8> = serde_json::to_vec(&t).unwrap();
        for cut in cuts {
            if !bytes.is_empty() {
                let i = cut % bytes.len();
                bytes[i] = bytes[i].wrapping_add(1);
            }
        }
        let _ = decode(Channel::Telemetry, "dev-1", &bytes, &Limits::default());
    }
}
