//! Invariant 3: a bad message never stops or slows the pipeline; it is counted by reason and kept
//! for `GET /api/v1/rejected`. The hub's own topics and the `cmd` channel are ignored, not
//! rejected.

// A test target: helpers outside #[test] functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "bad_input/cases.rs"]
mod cases;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cases::{Want, bad_payloads, cases};
use linli_tests::check::{expected, wait_all_stored};
use linli_tests::{Broker, Gateway, PubOptions, Publisher, wait_until};
use serde_json::{Value, json};

const SITE: &str = "bad";

/// Publishes a telemetry marker and waits until it is stored: the gateway handles messages in
/// order, so everything published before it has been handled too.
fn barrier(gw: &Gateway, publisher: &mut Publisher, marker: &str) -> Duration {
    let payload = json!({ "seq": 1, "values": { "marker": true } });
    publisher
        .publish_json(SITE, marker, "telemetry", &payload, false)
        .unwrap();
    wait_until(Duration::from_secs(30), "the marker to be stored", || {
        matches!(gw.device(marker), Ok(Some(_)))
    })
    .unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn every_bad_message_is_rejected_with_its_reason_and_every_good_one_is_stored() {
    let broker = Broker::start().unwrap();
    let gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
    let mut publisher =
        Publisher::connect(PubOptions::new(broker.port(), "bad-input-publisher")).unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();

    let cases = cases(SITE);
    let kinds = cases
        .iter()
        .filter(|c| matches!(c.want, Want::Rejected(_)))
        .count();
    assert!(kinds >= 30, "only {kinds} kinds of bad input");
    for c in &cases {
        publisher
            .publish_raw(&c.topic, c.payload.clone(), c.retain)
            .unwrap();
    }
    barrier(&gw, &mut publisher, "zz-marker");
    publisher
        .tracker()
        .wait_acked(cases.len() + 1, Duration::from_secs(10))
        .unwrap();

    // Rejected: each bad case by its (unique) topic, with the expected reason.
    let rejected = gw.rejected().unwrap();
    let by_topic: BTreeMap<&str, &Value> = rejected
        .iter()
        .map(|r| (r["topic"].as_str().unwrap_or_default(), r))
        .collect();
    assert_eq!(by_topic.len(), rejected.len(), "one rejection per topic");
    let mut failures = Vec::new();
    let mut want_reasons: BTreeMap<&str, f64> = BTreeMap::new();
    for c in &cases {
        let got = by_topic.get(c.topic.as_str());
        match (&c.want, got) {
            (Want::Rejected(reason), Some(r)) => {
                *want_reasons.entry(reason).or_default() += 1.0;
                if r["reason"] != *reason {
                    failures.push(format!(
                        "{}: reason {} ({}), want {reason}",
                        c.name, r["reason"], r["detail"]
                    ));
                }
                if r["size"] != c.payload.len() {
                    failures.push(format!(
                        "{}: size {} want {}",
                        c.name,
                        r["size"],
                        c.payload.len()
                    ));
                }
                let kept = r["payload"].as_str().unwrap_or_default().len();
                if kept > 1024 * 3 || (c.payload.len() > 1024 && r["truncated"] != true) {
                    failures.push(format!(
                        "{}: kept {kept} bytes, truncated {}",
                        c.name, r["truncated"]
                    ));
                }
            }
            (Want::Rejected(reason), None) => {
                *want_reasons.entry(reason).or_default() += 1.0;
                failures.push(format!(
                    "{}: not rejected (want {reason}) on {}",
                    c.name, c.topic
                ));
            }
            (_, Some(r)) => failures.push(format!(
                "{}: rejected as {} ({}) but should be {:?}",
                c.name, r["reason"], r["detail"], c.want
            )),
            (_, None) => {}
        }
    }

    // Stored: every good case's device exists and holds what was sent; ignored ones left no
    // trace at all.
    for c in &cases {
        let device = c.device.as_deref();
        match (&c.want, device) {
            (Want::Stored, Some(id)) => {
                if gw.device(id).unwrap().is_none() {
                    failures.push(format!("{}: device {id} unknown", c.name));
                    continue;
                }
                let series = match c.topic.rsplit('/').next() {
                    Some("telemetry") => gw.telemetry(id).unwrap(),
                    Some("event") => gw.get_all(&format!("/api/v1/devices/{id}/events")).unwrap(),
                    _ => continue,
                };
                if series.len() != 1 {
                    failures.push(format!("{}: {} items: {series:?}", c.name, series.len()));
                }
            }
            (Want::Ignored, Some(id)) => {
                if let Some(d) = gw.device(id).unwrap() {
                    failures.push(format!("{}: ignored topic created device {d}", c.name));
                }
            }
            _ => {}
        }
    }

    // Metrics: one count per rejection, by reason, and no reason counted that should not be.
    let m = gw.metrics().unwrap();
    let got_reasons = m.by_label("linli_messages_rejected_total", "reason");
    for reason in linli_protocols::RejectReason::ALL {
        let (want, got) = (
            want_reasons.get(reason.as_str()).copied().unwrap_or(0.0),
            got_reasons.get(reason.as_str()).copied().unwrap_or(-1.0),
        );
        if want != got {
            failures.push(format!("metric reason={reason}: {got}, want {want}"));
        }
    }
    let stored = cases.iter().filter(|c| c.want == Want::Stored).count() as f64 + 1.0;
    let received = m.sum("linli_messages_received_total");
    if received != stored {
        failures.push(format!(
            "linli_messages_received_total: {received}, want {stored}"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} problem(s):\n  {}\nrejected: {}",
        failures.len(),
        failures.join("\n  "),
        serde_json::to_string_pretty(&rejected).unwrap_or_default()
    );
    eprintln!(
        "bad_input: {} cases ({kinds} bad kinds) handled as expected",
        cases.len()
    );
}

#[test]
fn a_flood_of_bad_input_does_not_stop_or_slow_good_input() {
    let broker = Broker::start().unwrap();
    let gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
    let mut publisher =
        Publisher::connect(PubOptions::new(broker.port(), "flood-publisher")).unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();
    let tracker = publisher.tracker();
    const GOOD: u64 = 50;
    const BAD: usize = 1_000;

    // Baseline: good messages alone.
    let t = Instant::now();
    for seq in 1..=GOOD {
        let payload = json!({ "seq": seq, "values": { "v": seq } });
        publisher
            .publish_json(SITE, "good-1", "telemetry", &payload, false)
            .unwrap();
    }
    let want = expected((1..=GOOD).map(|s| ("good-1", s)));
    let (_, _) = wait_all_stored(&gw, &want, Duration::from_secs(30)).unwrap();
    let baseline = t.elapsed();

    // A burst of bad input, then good messages again.
    let bad = bad_payloads(SITE);
    let t = Instant::now();
    for i in 0..BAD {
        let (topic, payload) = &bad[i % bad.len()];
        publisher
            .publish_raw(topic, payload.clone(), false)
            .unwrap();
    }
    let burst = t.elapsed();
    let t = Instant::now();
    for seq in GOOD + 1..=2 * GOOD {
        let payload = json!({ "seq": seq, "values": { "v": seq } });
        publisher
            .publish_json(SITE, "good-1", "telemetry", &payload, false)
            .unwrap();
    }
    tracker
        .wait_acked(2 * GOOD as usize + BAD, Duration::from_secs(30))
        .unwrap();
    let acked = t.elapsed();
    wait_until(
        Duration::from_secs(30),
        "the good messages after the flood",
        || {
            gw.device("good-1")
                .ok()
                .flatten()
                .is_some_and(|d| d["messages"] == 2 * GOOD)
        },
    )
    .unwrap_or_else(|e| panic!("good messages after {BAD} bad ones: {e:#}"));
    let after_flood = t.elapsed();
    let want = expected((1..=2 * GOOD).map(|s| ("good-1", s)));
    let (check, _) = wait_all_stored(&gw, &want, Duration::from_secs(30)).unwrap();
    eprintln!(
        "bad_input: {GOOD} good messages stored in {baseline:.1?} alone; after {BAD} bad ones \
         (published in {burst:.1?}), {GOOD} good ones were acknowledged by the broker in \
         {acked:.1?} and stored {after_flood:.1?} after their first publish"
    );
    assert!(check.exact(), "{check}");
    // Generous: a measurement, not a benchmark; it only catches a stalled pipeline.
    assert!(
        after_flood < Duration::from_secs(20),
        "good messages took {after_flood:?} after a burst of bad ones"
    );

    let m = gw.metrics().unwrap();
    assert_eq!(m.sum("linli_messages_rejected_total"), BAD as f64);
    assert_eq!(
        m.labelled("linli_messages_received_total", "channel", "telemetry"),
        2.0 * GOOD as f64
    );
    // The rejected list pages with its cursor, oldest first, each one once.
    let all = gw
        .http()
        .get_all("/api/v1/rejected?limit=300", 100)
        .unwrap();
    assert_eq!(all.len(), BAD);
    let ids: Vec<u64> = all.iter().filter_map(|r| r["id"].as_u64()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids not increasing");
    assert_eq!(gw.health(), Some(200));
}

/// The gateway ignores an empty retained payload ("clears a retained announce or status; nothing
/// to keep"). But a broker forwards a publish to an established subscription with RETAIN 0
/// (MQTT 3.1.1 §3.3.1.3), so the hub sees the clearing of a retained announce or status as an
/// empty, non-retained payload while it is connected — and mosquitto never replays an empty
/// retained message on subscribe.
#[test]
fn clearing_a_retained_announce_or_status_is_not_a_rejection() {
    let broker = Broker::start().unwrap();
    let gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
    let mut publisher =
        Publisher::connect(PubOptions::new(broker.port(), "retain-publisher")).unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();
    let announce = json!({ "kind": "care.pir" });
    publisher
        .publish_json(SITE, "pir-1", "announce", &announce, true)
        .unwrap();
    publisher
        .publish_json(SITE, "pir-1", "status", &json!("online"), true)
        .unwrap();
    for channel in ["announce", "status"] {
        let topic = format!("linli/{SITE}/pir-1/{channel}");
        publisher.publish_raw(&topic, Vec::new(), true).unwrap();
    }
    barrier(&gw, &mut publisher, "zz-marker");
    let rejected = gw.rejected().unwrap();
    assert!(
        rejected.is_empty(),
        "clearing retained messages was rejected: {rejected:#?}"
    );
    let d = gw.device("pir-1").unwrap().expect("pir-1 registered");
    assert_eq!(d["kind"], "care.pir");
}

/// A payload far over the limit (2 MiB, above the gateway's MQTT packet limit) must be refused
/// like any oversize payload, and must not wedge the session: the broker redelivers an
/// unacknowledged message on every reconnect.
#[test]
fn a_huge_payload_does_not_wedge_ingest() {
    let broker = Broker::start().unwrap();
    let gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
    let mut publisher =
        Publisher::connect(PubOptions::new(broker.port(), "huge-publisher")).unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();
    let huge = format!("{{\"values\":{{\"s\":\"{}\"}}}}", "x".repeat(2 << 20));
    let topic = format!("linli/{SITE}/huge-1/telemetry");
    publisher
        .publish_raw(&topic, huge.clone().into_bytes(), false)
        .unwrap();
    let payload = json!({ "seq": 1, "values": { "v": 1 } });
    publisher
        .publish_json(SITE, "after-huge", "telemetry", &payload, false)
        .unwrap();
    publisher
        .tracker()
        .wait_acked(2, Duration::from_secs(10))
        .unwrap();
    let stored = wait_until(
        Duration::from_secs(15),
        "the message after the huge one",
        || matches!(gw.device("after-huge"), Ok(Some(_))),
    );
    let m = gw.metrics().unwrap();
    assert!(
        stored.is_ok(),
        "ingest wedged behind a {} byte payload: {:#}; reconnects {}; log:\n{}",
        huge.len(),
        stored.unwrap_err(),
        m.sum("linli_mqtt_reconnects_total"),
        gw.log_tail(8)
    );
    let rejected = gw.rejected().unwrap();
    assert_eq!(rejected.len(), 1, "{rejected:#?}");
    assert_eq!(rejected[0]["reason"], "oversize");
    assert_eq!(rejected[0]["size"], huge.len());
}
