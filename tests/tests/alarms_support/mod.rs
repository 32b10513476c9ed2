//! Shared by the alarm tests: a hub with staff, roles, areas and an escalation policy; an MQTT
//! listener for staff notifications; HTTP calls with bearer tokens.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use linli_tests::{Broker, Gateway, PubOptions, Publisher, wait_for};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

pub const SITE: &str = "sg";
pub const WANG: &str = "wang-token-0000000001"; // caretaker, building 3
pub const LI: &str = "li-token-00000000000001"; // caretaker, building 5
pub const SUN: &str = "sun-token-0000000000001"; // committee, everywhere
pub const ZHAO: &str = "zhao-token-000000000001"; // property duty, everywhere

/// Staff, an escalation policy for care alarms (caretaker at once, committee after `step2`),
/// and a senior living alone in 3-301 whose home goes quiet after `inactivity`.
pub fn config(step2: &str, inactivity: &str) -> String {
    format!(
        r#"
[[staff]]
id = "wang"
roles = ["caretaker"]
areas = ["building:3"]
token = "{WANG}"
lang = "en"
[[staff]]
id = "li"
roles = ["caretaker"]
areas = ["building:5"]
token = "{LI}"
[[staff]]
id = "sun"
roles = ["committee"]
token = "{SUN}"
[[staff]]
id = "zhao"
roles = ["property_duty"]
token = "{ZHAO}"
[[escalation]]
classes = ["care.*"]
steps = [ {{ after = "0s", notify = ["role:caretaker"] }}, {{ after = "{step2}", notify = ["role:committee"] }} ]
repeat = "1h"
ack_timeout = "1h"
[[household]]
id = "h-301"
living_alone = true
residents = ["王阿姨"]
devices = ["pir-301"]
inactivity = "{inactivity}"
location = {{ building = "3", room = "301" }}
"#
    )
}

/// Broker, hub, a device publisher and a staff-topic listener.
pub struct Hub {
    pub gw: Gateway,
    pub broker: Broker,
    pub devices: Publisher,
    pub staff: Listener,
}

impl Hub {
    pub fn start(extra: &str) -> Hub {
        let broker = Broker::start().unwrap();
        let gw = Gateway::launch(&broker.url(), SITE, extra).unwrap();
        let devices = Publisher::connect(PubOptions::new(broker.port(), "devices")).unwrap();
        devices.wait_connected(Duration::from_secs(10)).unwrap();
        let staff = Listener::start(broker.port(), &format!("linli/{SITE}/staff/+/notify"));
        Hub {
            gw,
            broker,
            devices,
            staff,
        }
    }

    /// Announces a device of `kind` in `building` and waits until the hub knows it.
    pub fn announce(&mut self, id: &str, kind: &str, building: &str) {
        let topic = format!("linli/{SITE}/{id}/announce");
        let body = json!({"kind": kind, "location": {"building": building, "room": "301"}});
        self.devices
            .publish_raw(&topic, body.to_string().into_bytes(), true)
            .unwrap();
        let gw = &self.gw;
        wait_for(Duration::from_secs(10), "the announce", || {
            (get(gw, SUN, &format!("/api/v1/devices/{id}")).0 == 200).then_some(())
        })
        .unwrap();
    }

    pub fn event(&mut self, id: &str, kind: &str) -> Instant {
        let topic = format!("linli/{SITE}/{id}/event");
        let sent = Instant::now();
        self.devices
            .publish_raw(
                &topic,
                json!({"type": kind}).to_string().into_bytes(),
                false,
            )
            .unwrap();
        sent
    }

    /// Publishes one telemetry reading and waits until the hub has stored it.
    pub fn reading(&mut self, id: &str, name: &str, value: f64) {
        let path = format!("/api/v1/devices/{id}/telemetry");
        let stored = |gw: &Gateway| {
            get(gw, SUN, &path).1["items"]
                .as_array()
                .map_or(0, Vec::len)
        };
        let before = stored(&self.gw);
        let topic = format!("linli/{SITE}/{id}/telemetry");
        let body = json!({ "values": { name: value } });
        self.devices
            .publish_raw(&topic, body.to_string().into_bytes(), false)
            .unwrap();
        let gw = &self.gw;
        wait_for(Duration::from_secs(10), "the reading stored", || {
            (stored(gw) > before).then_some(())
        })
        .unwrap();
    }

    /// Waits for the one alarm of `rule` visible to the committee.
    pub fn alarm(&self, rule: &str) -> Value {
        let gw = &self.gw;
        wait_for(Duration::from_secs(10), &format!("a {rule} alarm"), || {
            let (_, page) = get(gw, SUN, "/api/v1/alarms");
            page["items"]
                .as_array()?
                .iter()
                .find(|a| a["rule"] == rule)
                .cloned()
        })
        .unwrap_or_else(|e| panic!("{e:#}\n{}", self.gw.log_tail(40)))
    }
}

/// `GET` with a bearer token: (status, JSON body).
pub fn get(gw: &Gateway, token: &str, path: &str) -> (u16, Value) {
    call(gw, token, "GET", path, None)
}

/// `POST` of a JSON body with a bearer token.
pub fn post(gw: &Gateway, token: &str, path: &str, body: Value) -> (u16, Value) {
    call(gw, token, "POST", path, Some(body))
}

fn call(gw: &Gateway, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = gw.http().url(path);
    let auth = format!("Bearer {token}");
    let response = match body {
        None => agent.get(&url).header("Authorization", &auth).call(),
        Some(b) => agent.post(&url).header("Authorization", &auth).send_json(b),
    };
    let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A received staff notification.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub staff: String,
    pub body: Value,
}

/// Collects messages on a topic filter, in a thread of its own.
pub struct Listener {
    got: Arc<Mutex<Vec<Received>>>,
    client: Client,
}

impl Listener {
    pub fn start(port: u16, filter: &str) -> Listener {
        let mut options = MqttOptions::new(
            format!("listener-{}", std::process::id()),
            "127.0.0.1",
            port,
        );
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut connection) = Client::new(options, 64);
        client.subscribe(filter, QoS::AtLeastOnce).unwrap();
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let subscribed = Arc::new(Mutex::new(false));
        let (sink, flag) = (got.clone(), subscribed.clone());
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::SubAck(_))) => *flag.lock().unwrap() = true,
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let staff = p.topic.split('/').nth(3).unwrap_or_default().to_string();
                        let body = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                        sink.lock().unwrap().push(Received {
                            at: Instant::now(),
                            staff,
                            body,
                        });
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        wait_for(
            Duration::from_secs(10),
            "the listener's subscription",
            || subscribed.lock().unwrap().then_some(()),
        )
        .unwrap();
        Listener { got, client }
    }

    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits for a notification to `staff` about `alarm_id` at escalation `step`.
    pub fn wait(&self, staff: &str, alarm_rule: &str, step: u64, deadline: Duration) -> Received {
        wait_for(
            deadline,
            &format!("{staff} to be told of {alarm_rule} (step {step})"),
            || {
                self.all().into_iter().find(|r| {
                    r.staff == staff && r.body["rule"] == alarm_rule && r.body["step"] == step
                })
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}; received: {:?}", self.all()))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
    }
}
