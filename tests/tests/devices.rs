//! The device registry over MQTT: announce, last will, return, silence, first message, filters.

// A test target: helpers outside #[test] functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use linli_tests::{Broker, Gateway, PubOptions, Publisher, wait_for};
use serde_json::{Value, json};

const SITE: &str = "devs";

/// Waits until device `id` satisfies `pred`; returns it.
fn wait_device(gw: &Gateway, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    wait_for(Duration::from_secs(15), what, || {
        let d = gw.device(id).ok().flatten()?;
        if pred(&d) {
            return Some(d);
        }
        last = d;
        None
    })
    .unwrap_or_else(|e| panic!("{id}: {e:#}; last seen as {last:#}"))
}

fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|d| d["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn announce_last_will_return_and_silence() {
    let broker = Broker::start().unwrap();
    let gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
    let id = "sos-302";
    let status = format!("linli/{SITE}/{id}/status");

    // The device's own connection, with `offline` as its retained last will.
    let mut opts = PubOptions::new(broker.port(), id);
    opts.clean_session = true;
    opts.keep_alive = Duration::from_secs(5);
    opts.last_will = Some((status.clone(), b"offline".to_vec(), true));
    let mut device = Publisher::connect(opts).unwrap();
    device.wait_connected(Duration::from_secs(10)).unwrap();

    let announce = json!({
        "kind": "care.sos_button", "model": "SB-1", "fw": "1.0.3", "heartbeat_s": 1,
        "location": { "building": "3", "unit": "2", "floor": 5, "room": "502" }
    });
    device
        .publish_json(SITE, id, "announce", &announce, true)
        .unwrap();
    device
        .publish_raw(&status, b"online".to_vec(), true)
        .unwrap();
    let d = wait_device(&gw, id, "the announce", |d| d["kind"] == "care.sos_button");
    assert_eq!(d["source"], "announce", "{d:#}");
    assert_eq!(d["placed"], true, "{d:#}");
    assert_eq!(d["heartbeat_s"], 1, "{d:#}");
    assert_eq!(d["model"], "SB-1");
    assert_eq!(d["location"]["building"], "3");
    assert_eq!(d["location"]["room"], "502");
    assert_eq!(d["location"]["floor"], 5);
    let d = wait_device(&gw, id, "online", |d| d["state"] == "online");
    assert_eq!(d["state"], "online");

    // Stay alive (heartbeat 1 s) with telemetry, then vanish without DISCONNECT: the broker
    // publishes the last will.
    device
        .publish_json(
            SITE,
            id,
            "telemetry",
            &json!({"seq": 1, "values": {"battery_pct": 90}}),
            false,
        )
        .unwrap();
    device
        .tracker()
        .wait_acked(3, Duration::from_secs(10))
        .unwrap();
    let vanished = Instant::now();
    device.abort();
    let d = wait_device(&gw, id, "offline by last will", |d| d["state"] == "offline");
    eprintln!(
        "devices: offline {:.1?} after the connection dropped",
        vanished.elapsed()
    );
    assert_eq!(d["state_reason"], "status", "{d:#}");
    assert_eq!(d["battery_pct"], 90.0, "{d:#}");

    // Back: any message brings it online again.
    let mut publisher =
        Publisher::connect(PubOptions::new(broker.port(), "sos-302-again")).unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();
    publisher
        .publish_json(
            SITE,
            id,
            "telemetry",
            &json!({"seq": 2, "values": {"battery_pct": 89}}),
            false,
        )
        .unwrap();
    let back = Instant::now();
    let d = wait_device(&gw, id, "online again", |d| d["state"] == "online");
    assert_eq!(d["state_reason"], "message", "{d:#}");

    // Silence for more than 3 heartbeats (3 s; the sweep runs every second).
    let d = wait_device(&gw, id, "offline by silence", |d| d["state"] == "offline");
    let silent = back.elapsed();
    eprintln!("devices: offline by silence {silent:.1?} after the last message");
    assert_eq!(d["state_reason"], "silence", "{d:#}");
    assert!(silent >= Duration::from_secs(3), "offline after {silent:?}");
    assert_eq!(d["messages"], 2, "{d:#}");
    publisher.disconnect().unwrap();
}

#[test]
fn first_message_registers_an_unplaced_device_and_filters_work() {
    let broker = Broker::start().unwrap();
    let extra = "[[device]]\nid = \"gate-1\"\nkind = \"access.gate\"\n\
                 location = { building = \"1\" }\n";
    let gw = Gateway::launch(&broker.url(), SITE, extra).unwrap();
    let mut publisher =
        Publisher::connect(PubOptions::new(broker.port(), "devs-publisher")).unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();

    let announce = json!({ "kind": "care.pir", "location": { "building": "3", "room": "101" } });
    publisher
        .publish_json(SITE, "pir-101", "announce", &announce, false)
        .unwrap();
    let announce = json!({ "kind": "care.pir", "location": { "building": "4" } });
    publisher
        .publish_json(SITE, "pir-401", "announce", &announce, false)
        .unwrap();
    publisher
        .publish_raw(
            &format!("linli/{SITE}/pir-401/status"),
            b"offline".to_vec(),
            false,
        )
        .unwrap();
    let event = json!({ "seq": 1, "type": "door_open" });
    publisher
        .publish_json(SITE, "stray-7", "event", &event, false)
        .unwrap();
    let d = wait_device(&gw, "stray-7", "the stray device", |_| true);
    assert_eq!(d["source"], "first_message", "{d:#}");
    assert_eq!(d["placed"], false, "{d:#}");
    assert_eq!(d["kind"], Value::Null, "{d:#}");
    assert_eq!(d["state"], "online", "{d:#}");
    assert_eq!(d["last_event"]["type"], "door_open", "{d:#}");
    let events = gw.get_json("/api/v1/devices/stray-7/events").unwrap();
    assert_eq!(events["items"][0]["type"], "door_open", "{events:#}");
    wait_device(&gw, "pir-401", "pir-401 offline", |d| {
        d["state"] == "offline"
    });
    // Configured, never heard from.
    let d = wait_device(&gw, "gate-1", "the configured device", |_| true);
    assert_eq!(d["source"], "config", "{d:#}");
    assert_eq!(d["state"], "offline", "{d:#}");
    assert_eq!(d["state_reason"], "not_heard", "{d:#}");
    assert_eq!(d["placed"], true, "{d:#}");

    let list = |q: &str| ids(&gw.get_json(&format!("/api/v1/devices{q}")).unwrap());
    assert_eq!(list(""), ["gate-1", "pir-101", "pir-401", "stray-7"]);
    assert_eq!(list("?state=online"), ["pir-101", "stray-7"]);
    assert_eq!(list("?state=offline"), ["gate-1", "pir-401"]);
    assert_eq!(list("?kind=care.pir"), ["pir-101", "pir-401"]);
    assert_eq!(list("?kind=access.gate"), ["gate-1"]);
    assert_eq!(list("?kind=care.pir&state=online"), ["pir-101"]);
    assert_eq!(list("?placed=false"), ["stray-7"]);
    assert_eq!(list("?building=3"), ["pir-101"]);
    assert_eq!(list("?kind=facility.smoke"), Vec::<String>::new());
    // Paging with the cursor.
    let all = gw.get_all("/api/v1/devices?limit=1").unwrap();
    assert_eq!(all.len(), 4);

    // Bad queries are 400 with a JSON error, unknown devices 404.
    let (status, body) = gw.get_status("/api/v1/devices?state=asleep").unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "bad_request");
    let (status, _) = gw.get_status("/api/v1/devices?limit=10001").unwrap();
    assert_eq!(status, 400);
    let (status, body) = gw.get_status("/api/v1/devices/nobody").unwrap();
    assert_eq!(status, 404, "{body}");
    let (status, _) = gw.get_status("/api/v1/devices/nobody/telemetry").unwrap();
    assert_eq!(status, 404);
}

/// `[[device]]` entries are "devices known before they announce themselves": the API lists them
/// as soon as the hub is up, not only once some message has made the registry write itself out.
#[test]
fn configured_devices_are_listed_before_any_message() {
    let broker = Broker::start().unwrap();
    let extra = "[[device]]\nid = \"gate-1\"\nkind = \"access.gate\"\n";
    let gw = Gateway::launch(&broker.url(), SITE, extra).unwrap();
    let listed = wait_for(
        Duration::from_secs(5),
        "gate-1 in GET /api/v1/devices",
        || gw.device("gate-1").ok().flatten(),
    );
    let list = gw.get_json("/api/v1/devices").unwrap();
    let d = listed.unwrap_or_else(|e| panic!("{e:#}; GET /api/v1/devices: {list}"));
    assert_eq!(d["source"], "config", "{d:#}");
    assert_eq!(d["state_reason"], "not_heard", "{d:#}");
}
