//! The README's first command: `linli demo` gives a living community within seconds, and Ctrl-C
//! stops it cleanly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use linli_tests::{free_port, linli_bin, signal, wait_exit, wait_for};
use serde_json::Value;

const COMMITTEE: &str = "demo-committee-sun";

fn get(port: u16, path: &str) -> Option<Value> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut r = agent
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("Authorization", format!("Bearer {COMMITTEE}"))
        .call()
        .ok()?;
    (r.status() == 200)
        .then(|| r.body_mut().read_json().ok())
        .flatten()
}

#[test]
fn the_demo_shows_live_alarms_within_30_s_and_stops_on_sigint() {
    let (http, mqtt) = (free_port().unwrap(), free_port().unwrap());
    let started = Instant::now();
    let mut child = Command::new(linli_bin().unwrap())
        .args([
            "demo",
            "--households",
            "300",
            "--http",
            &format!("127.0.0.1:{http}"),
        ])
        .args(["--mqtt-port", &mqtt.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The bar is 30 s (about 10 s measured here); the deadline is wider so that a loaded machine
    // does not fail the test, and the time is printed.
    let seen = wait_for(
        Duration::from_secs(60),
        "alarms and devices in the demo",
        || {
            let page = get(http, "/api/v1/alarms")?;
            let rules: Vec<String> = page["items"]
                .as_array()?
                .iter()
                .filter_map(|a| a["rule"].as_str().map(String::from))
                .collect();
            let devices = get(http, "/api/v1/devices?limit=10000")?["items"]
                .as_array()
                .map_or(0, Vec::len);
            (rules.len() >= 3 && rules.iter().any(|r| r == "sos") && devices >= 600)
                .then_some((rules, devices))
        },
    );
    signal(pid, "INT").unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let (alarms, devices) = seen.unwrap_or_else(|e| panic!("{e:#}"));
    eprintln!(
        "demo: {devices} devices and alarms {alarms:?} within {:?}",
        started.elapsed()
    );
    let status = status.unwrap_or_else(|e| {
        let _ = child.kill();
        panic!("{e:#}")
    });
    assert!(status.success(), "exit status {status}");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "process {pid} still there"
    );
    let store = std::env::temp_dir().join(format!("linli-demo-{pid}"));
    assert!(
        !store.exists(),
        "the demo store {} was not removed",
        store.display()
    );
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(
        out.contains(COMMITTEE) && out.contains(&format!("127.0.0.1:{http}")),
        "banner: {out}"
    );
}

#[test]
fn linli_simulate_feeds_a_real_broker_with_extra_load() {
    let broker = linli_tests::Broker::start().unwrap();
    let gw = linli_tests::Gateway::launch(&broker.url(), "sunny-garden", "").unwrap();
    let mut child = Command::new(linli_bin().unwrap())
        .args([
            "simulate",
            "--broker",
            &broker.url(),
            "--households",
            "100",
            "--seed",
            "3",
        ])
        .args(["--rate", "500"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let received = || {
        gw.metrics().map_or(0.0, |m| {
            m.labelled("linli_messages_received_total", "channel", "telemetry")
        })
    };
    let seen = wait_for(Duration::from_secs(30), "2,000 telemetry messages", || {
        let n = received();
        (n >= 2_000.0).then_some(n)
    });
    signal(child.id(), "INT").unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(10));
    seen.unwrap_or_else(|e| panic!("{e:#}: {} received", received()));
    assert!(status.unwrap().success());
    let devices = gw.get_all("/api/v1/devices").unwrap();
    assert!(
        devices.len() >= 200,
        "100 households announce at least 200 devices: {}",
        devices.len()
    );
}
