//! Keeps the runner honest without being slow: the quick scenarios' plumbing at tiny scale
//! (ingest against mosquitto_sub, a burst after an outage, SOS latency over MQTT and webhook, an
//! idle hub whose retention deletes a day) against a debug `linli`, and `RESULTS.md` written.
//! Asserts on counts, never on speed.

// A test target.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use linli_bench::report::document;
use linli_bench::scenarios::{burst, idle, ingest, latency};
use linli_bench::{Settings, machine, notes};

#[test]
fn quick_scenarios_lose_nothing_and_write_a_report() {
    let settings = Settings::new(true, linli_tests::linli_bin().unwrap());

    let i = ingest::run(&settings).unwrap();
    for r in &i.rounds {
        assert!(r.sub.exact(), "mosquitto_sub: {:?}", r.sub);
        assert!(r.hub.exact(), "linli: {:?}", r.hub);
        assert_eq!(r.hub.received, r.hub.sent, "linli: {:?}", r.hub);
        assert_eq!(r.sub.received, r.sub.sent, "mosquitto_sub: {:?}", r.sub);
    }
    let b = burst::run(&settings).unwrap();
    assert!(b.hub.exact() && b.hub.received == b.hub.sent, "{:?}", b.hub);
    assert!(b.sub.exact() && b.sub.received == b.sub.sent, "{:?}", b.sub);
    assert!(b.hwm_mib > 0.0);
    let l = latency::run(&settings).unwrap();
    for level in &l {
        assert_eq!(level.mqtt.received, level.sos, "{level:?}");
        assert_eq!(level.webhook.received, level.sos, "{level:?}");
    }

    let quiet = idle::run(&settings).unwrap();
    // The 29-day retention deleted the oldest of 30 filled days, and nothing else; the 28-day one
    // the two oldest days of events.
    assert!(quiet.filled > 0 && quiet.deleted > 0.0, "{quiet:?}");
    assert!(quiet.deleted < quiet.filled as f64 / 10.0, "{quiet:?}");
    assert!(
        quiet.filled_events > 0 && quiet.deleted_events > 0.0,
        "{quiet:?}"
    );
    assert!(
        quiet.deleted_events < quiet.filled_events as f64 / 10.0,
        "{quiet:?}"
    );
    assert!(quiet.fresh.0 > 0.0 && quiet.after_retention.0 > 0.0 && quiet.with_events.0 > 0.0);

    let sections = vec![
        ingest::section(&i),
        latency::section(&l),
        burst::section(&b),
        idle::section(&quiet),
    ];
    assert!(sections.iter().all(|s| !s.loss_or_duplicates));
    let doc = document(
        &machine::header("test", None),
        &sections,
        &notes::for_missed(&sections),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("RESULTS.md");
    std::fs::write(&out, &doc).unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    for heading in [
        "## Goals",
        "## 1. Durable ingest ceiling",
        "## 2. Alarm latency",
        "## 3. Burst",
        "## 6. Idle",
    ] {
        assert!(
            written.contains(heading),
            "{heading} missing from:\n{written}"
        );
    }
    assert!(written.contains("| commit |"));
}
