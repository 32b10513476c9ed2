//! `alarm_latency`: SOS publish → staff notification received on the MQTT staff topic, over many
//! SOS from distinct announced buttons, with background telemetry. Measured and printed, never
//! asserted.
//!
//! ```text
//! cargo run -p linli-tests --release --bin alarm_latency -- [--sos 1000] [--background 200] [--release]
//! ```
//!
//! `--background` is telemetry messages per second from 50 other devices; `--release` measures a
//! release `linli` (default: the debug build of the current sources, or `LINLI_BIN`).

// Test tooling: a failed step ends the measurement with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use linli_tests::{Broker, Gateway, linli_bin, linli_bin_release, wait_for};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;

const SITE: &str = "lat";

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let sos = arg("--sos", 1_000) as usize;
    let background = arg("--background", 200);
    let bin = if std::env::args().any(|a| a == "--release") {
        linli_bin_release()
    } else {
        linli_bin()
    }
    .unwrap();
    let broker = Broker::start().unwrap();
    let staff =
        "[[staff]]\nid = \"wang\"\nroles = [\"caretaker\"]\ntoken = \"latency-token-000001\"\n";
    let mut gw = Gateway::with_bin(bin.clone(), &broker.url(), SITE, staff).unwrap();
    gw.start().unwrap();

    let received: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut options = MqttOptions::new("latency-listener", "127.0.0.1", broker.port());
    options.set_keep_alive(Duration::from_secs(30));
    let (listener, mut events) = AsyncClient::new(options, 64);
    listener
        .subscribe(format!("linli/{SITE}/staff/+/notify"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let sink = received.clone();
    tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event {
                let body: serde_json::Value =
                    serde_json::from_slice(&p.payload).unwrap_or_default();
                if let Some(d) = body["device_id"].as_str() {
                    sink.lock()
                        .unwrap()
                        .entry(d.to_string())
                        .or_insert_with(Instant::now);
                }
            }
        }
    });

    let mut options = MqttOptions::new("latency-devices", "127.0.0.1", broker.port());
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(1_000);
    let (devices, mut loop_) = AsyncClient::new(options, 10_000);
    tokio::spawn(async move { while loop_.poll().await.is_ok() {} });
    for i in 0..sos {
        let body = json!({"kind": "care.sos_button", "location": {"building": "1"}});
        devices
            .publish(
                format!("linli/{SITE}/sos-{i}/announce"),
                QoS::AtLeastOnce,
                true,
                body.to_string(),
            )
            .await
            .unwrap();
    }
    let last = format!("/api/v1/devices/sos-{}", sos - 1);
    let auth = "latency-token-000001";
    wait_for(
        Duration::from_secs(60),
        "the buttons to be announced",
        || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let r = agent
                .get(gw.http().url(&last))
                .header("Authorization", format!("Bearer {auth}"))
                .call()
                .ok()?;
            (r.status() == 200).then_some(())
        },
    )
    .unwrap();

    // Background telemetry at the requested rate.
    let bg = devices.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let background_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let per_tick = (background / 100).max(1);
        let mut seq = 0u64;
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            tick.tick().await;
            for _ in 0..per_tick {
                seq += 1;
                let body = json!({"seq": seq / 50, "values": {"temperature_c": 21.5}});
                let _ = bg
                    .publish(
                        format!("linli/{SITE}/t-{}/telemetry", seq % 50),
                        QoS::AtLeastOnce,
                        false,
                        body.to_string(),
                    )
                    .await;
            }
        }
    });

    let mut sent = HashMap::new();
    for i in 0..sos {
        let id = format!("sos-{i}");
        sent.insert(id.clone(), Instant::now());
        devices
            .publish(
                format!("linli/{SITE}/{id}/event"),
                QoS::AtLeastOnce,
                false,
                json!({"type": "sos"}).to_string(),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.lock().unwrap().len() < sos && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = background_task.await;
    let got = received.lock().unwrap().clone();
    let mut ms: Vec<f64> = sent
        .iter()
        .filter_map(|(id, at)| {
            got.get(id)
                .map(|r| r.duration_since(*at).as_secs_f64() * 1_000.0)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1];
    println!(
        "{}",
        json!({
            "binary": bin.display().to_string(),
            "sos": sos,
            "notified": ms.len(),
            "background_msgs_per_s": background,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": ms.last(),
        })
    );
}
