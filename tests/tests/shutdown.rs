//! Invariant 4: SIGTERM stops every task cleanly and flushes the store; and `linli check-config`
//! names every bad key.

// A test target: helpers outside #[test] functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use linli_tests::check::{expected, seq_check, wait_all_stored};
use linli_tests::{Broker, Gateway, PubOptions, Publisher, linli_bin, temp_dir, wait_until};
use serde_json::json;

const SITE: &str = "term";
const DEVICES: u64 = 5;

fn publish(publisher: &mut Publisher, seqs: std::ops::RangeInclusive<u64>) -> Vec<(String, u64)> {
    let mut sent = Vec::new();
    for seq in seqs {
        for d in 0..DEVICES {
            let device = format!("lift-{d}");
            let payload = json!({ "seq": seq, "values": { "floor": seq % 30 } });
            publisher
                .publish_json(SITE, &device, "telemetry", &payload, false)
                .unwrap();
            sent.push((device, seq));
        }
    }
    sent
}

#[test]
fn sigterm_exits_cleanly_and_a_restart_has_everything() {
    let broker = Broker::start().unwrap();
    let mut gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
    let mut publisher =
        Publisher::connect(PubOptions::new(broker.port(), "term-publisher")).unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();

    // 1. Idle: everything stored, then SIGTERM.
    let mut sent = publish(&mut publisher, 1..=400);
    let want = expected(sent.iter().map(|(d, s)| (d.as_str(), *s)));
    wait_all_stored(&gw, &want, Duration::from_secs(30)).unwrap();
    let (status, took) = gw.terminate().unwrap();
    eprintln!("shutdown: idle gateway exited with {status} after {took:.1?}");
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        gw.log_tail(20)
    );
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    let log = gw.log();
    assert!(
        log.contains("store flushed"),
        "no flush in the log:\n{}",
        gw.log_tail(20)
    );

    // 2. Busy: a backlog queued at the broker while the gateway was down; SIGTERM while it is
    // being drained. The exit is still clean and quick, and after the restart everything is
    // there exactly once.
    let more = publish(&mut publisher, 401..=4_400);
    publisher
        .tracker()
        .wait_acked(sent.len() + more.len(), Duration::from_secs(60))
        .unwrap();
    gw.start().unwrap();
    // What was stored before the first SIGTERM is all there at once (the backlog comes on top).
    let check = seq_check(&gw, &want).unwrap();
    assert!(
        check.complete() && check.duplicates.is_empty(),
        "right after the restart: {check}"
    );
    std::thread::sleep(Duration::from_millis(50));
    let m = gw.metrics().unwrap();
    let (status, took) = gw.terminate().unwrap();
    eprintln!(
        "shutdown: busy gateway (had stored {} of {} backlog messages) exited with {status} \
         after {took:.1?}",
        m.labelled("linli_messages_received_total", "channel", "telemetry"),
        more.len()
    );
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        gw.log_tail(20)
    );
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");

    sent.extend(more);
    let want = expected(sent.iter().map(|(d, s)| (d.as_str(), *s)));
    gw.start().unwrap();
    let (check, waited) = wait_all_stored(&gw, &want, Duration::from_secs(60)).unwrap();
    eprintln!(
        "shutdown: all {} stored {waited:.1?} after the restart",
        check.stored
    );
    assert!(check.exact(), "{check}");
    // The registry written on exit agrees with the samples.
    for d in 0..DEVICES {
        let id = format!("lift-{d}");
        wait_until(Duration::from_secs(5), "the registry to catch up", || {
            gw.device(&id)
                .ok()
                .flatten()
                .is_some_and(|v| v["messages"] == 4_400)
        })
        .unwrap_or_else(|e| panic!("{e:#}: {:#}", gw.device(&id).unwrap().unwrap_or_default()));
    }
    publisher.disconnect().unwrap();
}

#[test]
fn sigterm_without_a_broker_still_exits_promptly() {
    let mut broker = Broker::start().unwrap();
    let mut gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
    broker.stop().unwrap();
    wait_until(Duration::from_secs(10), "healthz 503", || {
        gw.health() == Some(503)
    })
    .unwrap();
    let (status, took) = gw.terminate().unwrap();
    eprintln!("shutdown: gateway without broker exited with {status} after {took:.1?}");
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
}

#[test]
fn check_config_exits_2_and_names_every_bad_key() {
    let dir = temp_dir("linli-check-").unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        r#"
nonsense = 1

[site]
id = "bad id!"

[mqtt]
url = "http://broker"
keep_alive = "1s"
max_payload = 10

[store]
cache_mb = 0
telemetry_retention = "10m"

[http]
listen = "not an address"

[[device]]
id = "hub"
kind = "Not A Kind"
heartbeat = "10ms"

[[device]]
id = "pir-1"
kind = "care.pir"
colour = "red"
"#,
    )
    .unwrap();
    let out = Command::new(linli_bin().unwrap())
        .arg("check-config")
        .arg(&bad)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    let keys = [
        "nonsense",
        "site.id",
        "mqtt.url",
        "mqtt.keep_alive",
        "mqtt.max_payload",
        "store.cache_mb",
        "store.telemetry_retention",
        "http.listen",
        "device[0].id",
        "device[0].kind",
        "device[0].heartbeat",
        "device[1].colour",
    ];
    let missing: Vec<_> = keys
        .iter()
        .filter(|k| !text.contains(&format!("- {k}:")))
        .collect();
    assert!(missing.is_empty(), "not named: {missing:?} in:\n{text}");

    // `run` refuses the same file with the same exit code and never starts.
    let out = Command::new(linli_bin().unwrap())
        .args(["run", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // A minimal good file passes.
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[site]\nid = \"sunny-garden\"\n[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\n",
    )
    .unwrap();
    let out = Command::new(linli_bin().unwrap())
        .arg("check-config")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

/// "`linli check-config FILE` validates it and lists every problem": a misspelt key must not
/// hide a bad value next to it in the same section.
#[test]
fn check_config_reports_bad_values_beside_an_unknown_key() {
    let dir = temp_dir("linli-check-").unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[site]\nid = \"ok\"\n[mqtt]\nurl = \"http://broker\"\nkeepalive = \"30s\"\n",
    )
    .unwrap();
    let out = Command::new(linli_bin().unwrap())
        .arg("check-config")
        .arg(&bad)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("- mqtt.keepalive:"), "{text}");
    assert!(
        text.contains("- mqtt.url:"),
        "the bad url is not reported:\n{text}"
    );
}
