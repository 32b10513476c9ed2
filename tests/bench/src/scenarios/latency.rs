//! Scenario 2, alarm latency under load: SOS from distinct configured buttons, one every 20 ms,
//! while background telemetry runs at a fixed rate; the time from each SOS publish until the
//! notification arrives on the MQTT staff topic and at a webhook receiver.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use linli_tests::load::run_blocking;
use linli_tests::{Broker, Gateway};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use crate::report::{Goal, Section, f1, rate, table};
use crate::webhook::Webhook;
use crate::{Settings, percentile};

const SITE: &str = "lat";
/// Time between two SOS.
const SOS_EVERY: Duration = Duration::from_millis(20);

/// Latencies of one channel at one background rate, in milliseconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Latency {
    /// Notifications received (of `sos` sent).
    pub received: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    fn of(sent: &HashMap<String, Instant>, got: &HashMap<String, Instant>) -> Latency {
        let mut ms: Vec<f64> = sent
            .iter()
            .filter_map(|(id, at)| {
                Some(got.get(id)?.saturating_duration_since(*at).as_secs_f64() * 1e3)
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        Latency {
            received: ms.len(),
            p50: percentile(&ms, 50.0),
            p99: percentile(&ms, 99.0),
            max: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// One background level.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Level {
    /// Background messages per second asked for.
    pub background: u64,
    /// Background messages per second the broker acknowledged.
    pub background_acked: f64,
    /// SOS sent.
    pub sos: usize,
    /// MQTT staff topic.
    pub mqtt: Latency,
    /// Webhook.
    pub webhook: Latency,
}

/// Runs the scenario at each background rate.
pub fn run(s: &Settings) -> Result<Vec<Level>> {
    let levels: Vec<u64> = s.scale(vec![1_000, 10_000], vec![200]);
    let sos = s.scale(300, 10);
    let hook = Webhook::start()?;
    let broker = Broker::start()?;
    let devices: String = (0..levels.len())
        .flat_map(|l| (0..sos).map(move |i| button(l, i)))
        .map(|id| {
            format!(
                "[[device]]\nid = \"{id}\"\nkind = \"care.sos_button\"\n\
                 location = {{ building = \"1\", unit = \"1\", room = \"101\" }}\n\n"
            )
        })
        .collect();
    let extra = format!(
        "[[staff]]\nid = \"duty-mqtt\"\nroles = [\"caretaker\"]\ntoken = \"bench-token-mqtt-000001\"\n\
         notify = [{{ mqtt = true }}]\n\n\
         [[staff]]\nid = \"duty-hook\"\nroles = [\"caretaker\"]\ntoken = \"bench-token-hook-000001\"\n\
         notify = [{{ webhook = \"{}\" }}]\n\n{devices}",
        hook.url()
    );
    let mut gw = Gateway::with_bin(s.linli.clone(), &broker.url(), SITE, &extra)?;
    gw.start()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("build a runtime")?;
    let mqtt_got: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    rt.block_on(listen(broker.port(), mqtt_got.clone()))?;
    let mut out = Vec::new();
    for (l, &background) in levels.iter().enumerate() {
        eprintln!("latency: {sos} SOS with {background} msg/s of background");
        let seconds = 1.0 + sos as f64 * SOS_EVERY.as_secs_f64() + 3.0;
        let load = super::load(
            &broker,
            SITE,
            &format!("bg{l}-"),
            (background as f64 * seconds) as u64,
            100,
            Some(background as f64),
        );
        let bg = std::thread::spawn(move || run_blocking(&load));
        std::thread::sleep(Duration::from_secs(1));
        let sent = rt.block_on(send_sos(broker.port(), l, sos))?;
        let background_acked = bg
            .join()
            .map_err(|_| anyhow::anyhow!("the background thread panicked"))?
            .context("background load")?
            .rate;
        // Whatever has not arrived 10 s after the background ended is counted as not received.
        let ids: Vec<String> = sent.keys().cloned().collect();
        let _ = linli_tests::wait_until(Duration::from_secs(10), "every notification", || {
            let m = mqtt_got.lock().unwrap_or_else(PoisonError::into_inner);
            let w = webhook_arrivals(&hook);
            ids.iter()
                .all(|id| m.contains_key(id) && w.contains_key(id))
        });
        let mqtt = mqtt_got
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        out.push(Level {
            background,
            background_acked,
            sos,
            mqtt: Latency::of(&sent, &mqtt),
            webhook: Latency::of(&sent, &webhook_arrivals(&hook)),
        });
    }
    Ok(out)
}

fn button(level: usize, i: usize) -> String {
    format!("sos-{level}-{i:03}")
}

/// First arrival per device id at the webhook.
fn webhook_arrivals(hook: &Webhook) -> HashMap<String, Instant> {
    let mut out = HashMap::new();
    for (at, body) in hook.hits() {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if let Some(d) = v["notification"]["device_id"].as_str() {
            out.entry(d.to_string()).or_insert(at);
        }
    }
    out
}

/// Subscribes to the staff topics and records the first notification per device id.
async fn listen(port: u16, got: Arc<Mutex<HashMap<String, Instant>>>) -> Result<()> {
    let mut options = MqttOptions::new("bench-staff-listener", "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = AsyncClient::new(options, 64);
    client
        .subscribe(format!("linli/{SITE}/staff/+/notify"), QoS::AtLeastOnce)
        .await
        .context("subscribe")?;
    // Wait for the SUBACK, so that no notification can come before the subscription.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.poll()).await {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => break,
            Ok(Ok(_)) => {}
            other => bail!("the staff listener did not subscribe: {other:?}"),
        }
    }
    tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event {
                let at = Instant::now();
                let body: serde_json::Value =
                    serde_json::from_slice(&p.payload).unwrap_or_default();
                if let Some(d) = body["device_id"].as_str() {
                    got.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(d.to_string())
                        .or_insert(at);
                }
            }
        }
    });
    Ok(())
}

/// Publishes one SOS per button of `level`, one every [`SOS_EVERY`]; returns when each was sent.
async fn send_sos(port: u16, level: usize, n: usize) -> Result<HashMap<String, Instant>> {
    let mut options = MqttOptions::new(format!("bench-sos-{level}"), "127.0.0.1", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(100);
    let (client, mut events) = AsyncClient::new(options, 100);
    let driver = tokio::spawn(async move {
        // Bounded by the abort below; a connection error ends it.
        while events.poll().await.is_ok() {}
    });
    let mut sent = HashMap::new();
    let mut tick = tokio::time::interval(SOS_EVERY);
    for i in 0..n {
        tick.tick().await;
        let id = button(level, i);
        let at = Instant::now();
        client
            .publish(
                format!("linli/{SITE}/{id}/event"),
                QoS::AtLeastOnce,
                false,
                r#"{"seq":1,"type":"sos"}"#.to_string(),
            )
            .await
            .context("publish an SOS")?;
        sent.insert(id, at);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = client.disconnect().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    driver.abort();
    Ok(sent)
}

/// The section for `RESULTS.md`.
pub fn section(levels: &[Level]) -> Section {
    let mut rows = Vec::new();
    for l in levels {
        for (channel, lat) in [("MQTT staff topic", &l.mqtt), ("webhook", &l.webhook)] {
            rows.push(vec![
                format!(
                    "{} ({} acked)",
                    rate(l.background as f64),
                    rate(l.background_acked)
                ),
                channel.to_string(),
                format!("{} / {}", lat.received, l.sos),
                f1(lat.p50),
                f1(lat.p99),
                f1(lat.max),
            ]);
        }
    }
    let body = format!(
        "SOS events from distinct configured buttons (`care.sos_button`), one every {} ms, while \
         background load (realistic mix, 100 devices) runs at the given rate. Latency is from \
         the SOS publish call to the notification's arrival: on `linli/lat/staff/+/notify` \
         (a subscriber in the bench) for one staff member, at the bench's webhook receiver for \
         another. Both are notified at once (no escalation policy).\n\n{}",
        SOS_EVERY.as_millis(),
        table(
            &[
                "background msg/s",
                "channel",
                "received",
                "p50 ms",
                "p99 ms",
                "max ms"
            ],
            &rows,
        )
    );
    let goals = levels
        .iter()
        .filter(|l| l.background >= 10_000)
        .flat_map(|l| {
            [("MQTT", &l.mqtt), ("webhook", &l.webhook)].map(|(name, lat)| {
                Goal::new(
                    &format!("SOS → {name} p99 at {} msg/s", rate(l.background as f64)),
                    "< 25 ms",
                    format!("{} ms", f1(lat.p99)),
                    lat.p99 < 25.0 && lat.received == l.sos,
                )
            })
        })
        .collect();
    Section {
        title: "2. Alarm latency under load".into(),
        body,
        goals,
        loss_or_duplicates: levels
            .iter()
            .any(|l| l.mqtt.received < l.sos || l.webhook.received < l.sos),
    }
}
