//! Alarms end to end, against a real mosquitto and the real `linli`: SOS → alarm → notification
//! on the staff topic; acknowledgement stops escalation; no acknowledgement → the next step after
//! its delay; SIGKILL between two steps → the next step still fires once, on time; household
//! inactivity and away mode; five denied credentials; role and area scoping of the API; a
//! threshold's duration and raised state across kill -9.

#[path = "alarms_support/mod.rs"]
mod support;

use std::time::Duration;

use linli_tests::{now_ms, wait_for};
use serde_json::json;
use support::{Hub, LI, SITE, SUN, WANG, ZHAO, config, get, post};

#[test]
fn sos_reaches_the_caretaker_of_its_building_and_escalates_until_acknowledged() {
    let mut hub = Hub::start(&config("3s", "12h"));
    hub.announce("sos-301", "care.sos_button", "3");
    let sent = hub.event("sos-301", "sos");
    let first = hub.staff.wait("wang", "sos", 0, Duration::from_secs(10));
    eprintln!("SOS publish → caretaker notified: {:?}", first.at - sent);
    assert_eq!(first.body["severity"], "critical");
    assert_eq!(first.body["place"]["building"], "3");
    assert!(
        first.body["key"].as_str().unwrap().ends_with(":wang"),
        "idempotency key: {}",
        first.body["key"]
    );
    // No acknowledgement: the committee is told at step 1, about 3 s later.
    let second = hub.staff.wait("sun", "sos", 1, Duration::from_secs(10));
    let gap = second.at - first.at;
    assert!(
        gap >= Duration::from_millis(2_500),
        "step 1 came {gap:?} after step 0, its delay is 3 s"
    );
    assert!(
        !hub.staff.all().iter().any(|r| r.staff == "li"),
        "the caretaker of building 5 is not told"
    );

    // Acknowledged: no more steps, no repeats; the retained alarm state says so.
    let alarm = hub.alarm("sos");
    let id = alarm["id"].as_str().unwrap().to_string();
    let (status, acked) = post(
        &hub.gw,
        WANG,
        &format!("/api/v1/alarms/{id}/ack"),
        json!({"note": "on my way"}),
    );
    assert_eq!(status, 200, "{acked}");
    assert_eq!(
        (acked["status"].as_str(), acked["acked_by"].as_str()),
        (Some("acknowledged"), Some("wang"))
    );
    let (status, again) = post(&hub.gw, SUN, &format!("/api/v1/alarms/{id}/ack"), json!({}));
    assert_eq!(status, 409, "{again}");
    // Care alarms need a note to be resolved.
    let (status, refused) = post(
        &hub.gw,
        WANG,
        &format!("/api/v1/alarms/{id}/resolve"),
        json!({}),
    );
    assert_eq!(
        (status, refused["error"].as_str()),
        (422, Some("note_required")),
        "{refused}"
    );
    let (status, resolved) = post(
        &hub.gw,
        WANG,
        &format!("/api/v1/alarms/{id}/resolve"),
        json!({"note": "visited, all well"}),
    );
    assert_eq!(
        (status, resolved["status"].as_str()),
        (200, Some("resolved")),
        "{resolved}"
    );
    let (_, one) = get(&hub.gw, SUN, &format!("/api/v1/alarms/{id}"));
    let what: Vec<&str> = one["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    for step in ["raised", "notified", "acknowledged", "resolved"] {
        assert!(what.contains(&step), "timeline {what:?} lacks {step}");
    }
    let (_, audit) = get(&hub.gw, SUN, &format!("/api/v1/audit?alarm_id={id}"));
    let actions: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert!(
        actions.contains(&("wang", "acknowledged")) && actions.contains(&("wang", "resolved")),
        "{actions:?}"
    );
    // A new SOS after resolution is a new alarm.
    hub.event("sos-301", "sos");
    wait_for(Duration::from_secs(10), "a second SOS alarm", || {
        let (_, page) = get(&hub.gw, SUN, "/api/v1/alarms?status=open");
        page["items"]
            .as_array()?
            .iter()
            .find(|a| a["rule"] == "sos" && a["id"] != id.as_str())
            .cloned()
    })
    .unwrap();
}

#[test]
fn an_acknowledgement_before_the_next_step_stops_escalation() {
    let mut hub = Hub::start(&config("3s", "12h"));
    hub.announce("sos-301", "care.sos_button", "3");
    hub.event("sos-301", "sos");
    hub.staff.wait("wang", "sos", 0, Duration::from_secs(10));
    let id = hub.alarm("sos")["id"].as_str().unwrap().to_string();
    // The caretaker acknowledges over MQTT, as a staff app would.
    let topic = format!("linli/{SITE}/staff/wang/ack");
    hub.devices
        .publish_raw(
            &topic,
            json!({"alarm_id": id, "note": "coming"})
                .to_string()
                .into_bytes(),
            false,
        )
        .unwrap();
    wait_for(Duration::from_secs(5), "the MQTT acknowledgement", || {
        let (_, a) = get(&hub.gw, WANG, &format!("/api/v1/alarms/{id}"));
        (a["status"] == "acknowledged").then_some(())
    })
    .unwrap();
    // Past the 3 s of step 1 and then some: the committee hears nothing.
    std::thread::sleep(Duration::from_secs(5));
    let told: Vec<String> = hub.staff.all().into_iter().map(|r| r.staff).collect();
    assert_eq!(told, ["wang"], "only the first step went out");
}

#[test]
fn a_kill_between_two_steps_still_fires_the_next_step_once_and_on_time() {
    let mut hub = Hub::start(&config("4s", "12h"));
    hub.announce("sos-301", "care.sos_button", "3");
    hub.event("sos-301", "sos");
    hub.staff.wait("wang", "sos", 0, Duration::from_secs(10));
    let raised_at = hub.alarm("sos")["raised_at"].as_u64().unwrap();
    hub.gw.kill9().unwrap();
    hub.gw.restart().unwrap();
    assert!(
        now_ms() < raised_at + 4_000,
        "the restart took past the step's time; the test proves nothing"
    );
    hub.staff.wait("sun", "sos", 1, Duration::from_secs(15));
    // Wait past when a duplicate would show, then count.
    std::thread::sleep(Duration::from_secs(2));
    let step1: Vec<_> = hub
        .staff
        .all()
        .into_iter()
        .filter(|r| r.body["step"] == 1)
        .collect();
    assert_eq!(
        step1.len(),
        1,
        "step 1 fired {} times: {step1:?}",
        step1.len()
    );
    // On time by the hub's own clock: its timeline entry for step 1, against raised + 4 s.
    let (_, alarm) = get(&hub.gw, SUN, "/api/v1/alarms?status=open");
    let timeline = alarm["items"][0]["timeline"].as_array().unwrap().clone();
    let fired = timeline
        .iter()
        .find(|e| e["what"] == "notified" && e["detail"].as_str().unwrap().starts_with("step 1"))
        .expect("step 1 in the timeline");
    let late = fired["at"].as_u64().unwrap() as i64 - (raised_at + 4_000) as i64;
    eprintln!("step 1 fired {late} ms after its time, across a kill -9");
    assert!(
        (0..=1_000).contains(&late),
        "step 1 fired {late} ms off its time"
    );
}

#[test]
fn a_kill_neither_restarts_a_thresholds_duration_nor_forgets_what_it_raised() {
    let rule = r#"
[[rule]]
name = "tank_low"
kind = "threshold"
devices = "facility.water_tank"
value = "level_pct"
below = 20
clear_above = 30
for = "3s"
"#;
    let mut hub = Hub::start(&format!("{}{rule}", config("1h", "12h")));
    hub.announce("tank-1", "facility.water_tank", "3");
    let began = now_ms();
    hub.reading("tank-1", "level_pct", 14.0);
    hub.gw.kill9().unwrap();
    hub.gw.restart().unwrap();
    assert!(
        now_ms() < began + 3_000,
        "the restart took past the rule's duration; the test proves nothing"
    );
    std::thread::sleep(Duration::from_millis(
        (began + 3_200).saturating_sub(now_ms()),
    ));
    // One reading after the duration: it raises only if the hub still knows when the level fell.
    hub.reading("tank-1", "level_pct", 13.0);
    let alarm = hub.alarm("tank_low");
    assert!(
        alarm["raised_at"].as_u64().unwrap() >= began + 3_000,
        "{alarm}"
    );
    assert_eq!(alarm["condition"], "active");

    hub.gw.kill9().unwrap();
    hub.gw.restart().unwrap();
    hub.reading("tank-1", "level_pct", 35.0);
    let id = alarm["id"].as_str().unwrap().to_string();
    let gw = &hub.gw;
    wait_for(Duration::from_secs(10), "the alarm to clear", || {
        let (_, a) = get(gw, SUN, &format!("/api/v1/alarms/{id}"));
        (a["condition"] == "cleared").then_some(())
    })
    .unwrap();
}

#[test]
fn household_inactivity_raises_a_wellness_check_and_away_mode_holds_it_back() {
    let mut hub = Hub::start(&config("1h", "4s"));
    hub.announce("pir-301", "care.pir", "3");
    // Away from now on: no alarm however quiet the home is.
    let until = now_ms() + 8_000;
    let (status, h) = post(
        &hub.gw,
        WANG,
        "/api/v1/households/h-301/away",
        json!({"until": until}),
    );
    assert_eq!(
        (status, h["away_until"].as_u64()),
        (200, Some(until)),
        "{h}"
    );
    let (_, list) = get(&hub.gw, WANG, "/api/v1/households");
    assert_eq!(
        list["items"][0]["residents"][0], "王阿姨",
        "a caretaker sees the resident's name"
    );
    let (_, list) = get(&hub.gw, ZHAO, "/api/v1/households");
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "property duty does not see care households"
    );
    std::thread::sleep(Duration::from_secs(6));
    let (_, page) = get(&hub.gw, SUN, "/api/v1/alarms");
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["rule"] != "inactivity"),
        "{page}"
    );
    // Back home (the window restarts at the return): 4 s later, the wellness check.
    let alarm = wait_for(Duration::from_secs(15), "the inactivity alarm", || {
        let (_, page) = get(&hub.gw, SUN, "/api/v1/alarms");
        page["items"]
            .as_array()?
            .iter()
            .find(|a| a["rule"] == "inactivity")
            .cloned()
    })
    .unwrap();
    assert!(
        alarm["raised_at"].as_u64().unwrap() >= until + 4_000,
        "raised before the window after the return"
    );
    assert_eq!(
        (alarm["household"].as_str(), alarm["severity"].as_str()),
        (Some("h-301"), Some("major"))
    );
    hub.staff
        .wait("wang", "inactivity", 0, Duration::from_secs(5));
    // Motion in the home clears the condition; a person still resolves it.
    hub.event("pir-301", "motion");
    wait_for(Duration::from_secs(5), "the condition to clear", || {
        let (_, a) = get(
            &hub.gw,
            SUN,
            &format!("/api/v1/alarms/{}", alarm["id"].as_str()?),
        );
        (a["condition"] == "cleared" && a["status"] == "open").then_some(())
    })
    .unwrap();
}

#[test]
fn five_denied_credentials_within_a_minute_raise_one_alarm() {
    let mut hub = Hub::start(&config("1h", "12h"));
    hub.announce("gate-2", "access.gate", "2");
    for _ in 0..4 {
        hub.event("gate-2", "access_denied");
    }
    hub.event("gate-2", "access_granted");
    std::thread::sleep(Duration::from_millis(800));
    let (_, page) = get(&hub.gw, SUN, "/api/v1/alarms");
    assert!(
        page["items"].as_array().unwrap().is_empty(),
        "four denials are not an alarm: {page}"
    );
    hub.event("gate-2", "access_denied");
    let alarm = hub.alarm("denied_credentials");
    assert_eq!(
        (alarm["severity"].as_str(), alarm["device_id"].as_str()),
        (Some("major"), Some("gate-2"))
    );
    // Property duty sees gate alarms; a caretaker does not.
    hub.staff
        .wait("zhao", "denied_credentials", 0, Duration::from_secs(5));
    let (status, _) = get(
        &hub.gw,
        WANG,
        &format!("/api/v1/alarms/{}", alarm["id"].as_str().unwrap()),
    );
    assert_eq!(status, 404);
}

#[test]
fn staff_see_and_act_only_within_their_roles_and_areas() {
    let mut hub = Hub::start(&config("1h", "12h"));
    hub.announce("sos-501", "care.sos_button", "5");
    hub.event("sos-501", "sos");
    let id = hub.alarm("sos")["id"].as_str().unwrap().to_string();
    // Building 5: li sees it; wang (building 3) gets 404, not 403, for reading and acting.
    let (status, _) = get(&hub.gw, LI, &format!("/api/v1/alarms/{id}"));
    assert_eq!(status, 200);
    for (method, path) in [
        ("GET", format!("/api/v1/alarms/{id}")),
        ("POST", format!("/api/v1/alarms/{id}/ack")),
    ] {
        let (status, body) = if method == "GET" {
            get(&hub.gw, WANG, &path)
        } else {
            post(&hub.gw, WANG, &path, json!({"note": "x"}))
        };
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("not_found")),
            "{method} {path}: {body}"
        );
    }
    let (_, list) = get(&hub.gw, WANG, "/api/v1/alarms");
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    let (_, devices) = get(&hub.gw, WANG, "/api/v1/devices");
    assert!(
        devices["items"].as_array().unwrap().is_empty(),
        "wang sees no building-5 device: {devices}"
    );
    let (status, _) = get(&hub.gw, ZHAO, &format!("/api/v1/alarms/{id}"));
    assert_eq!(status, 404, "property duty does not see care alarms");
    // No token, a wrong token: 401 with a JSON message.
    let (status, body) = get(&hub.gw, "not-a-token", "/api/v1/alarms");
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    // The acknowledgement is wang's only if it is in wang's area; li can.
    let (status, acked) = post(&hub.gw, LI, &format!("/api/v1/alarms/{id}/ack"), json!({}));
    assert_eq!(
        (status, acked["acked_by"].as_str()),
        (200, Some("li")),
        "{acked}"
    );
    // The audit trail shows li's action to the committee, and nothing of it to wang.
    let (_, audit) = get(&hub.gw, SUN, "/api/v1/audit");
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "li"),
        "{audit}"
    );
    let (_, audit) = get(&hub.gw, WANG, "/api/v1/audit");
    assert!(audit["items"].as_array().unwrap().is_empty(), "{audit}");
}

#[test]
fn the_live_stream_carries_alarm_changes_the_viewer_may_see() {
    use std::io::{BufRead, BufReader, Write};
    let mut hub = Hub::start(&config("1h", "12h"));
    hub.announce("sos-301", "care.sos_button", "3");
    hub.announce("sos-501", "care.sos_button", "5");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", hub.gw.http_port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /api/v1/alarms/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {WANG}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut lines = BufReader::new(stream).lines();
    // Headers first.
    let status = lines.next().unwrap().unwrap();
    assert!(status.contains("200"), "{status}");
    for line in lines.by_ref() {
        if line.unwrap().is_empty() {
            break;
        }
    }
    // Building 5 first (wang must not see it), then building 3.
    hub.event("sos-501", "sos");
    std::thread::sleep(Duration::from_millis(300));
    hub.event("sos-301", "sos");
    let mut data = None;
    for line in lines.take(200) {
        let line = line.expect("an SSE line within 10 s");
        if let Some(d) = line
            .strip_prefix("data: ")
            .or_else(|| line.strip_prefix("data:"))
        {
            data = Some(serde_json::from_str::<serde_json::Value>(d).unwrap());
            break;
        }
    }
    let alarm = data.expect("an alarm event");
    assert_eq!(
        (alarm["device_id"].as_str(), alarm["rule"].as_str()),
        (Some("sos-301"), Some("sos")),
        "{alarm}"
    );
}
