//! The broker goes away (SIGTERM, persistence on) and comes back on the same port during
//! ingestion: the gateway reports itself unready, reconnects by itself into its persistent
//! session, and every message the broker acknowledged is stored exactly once.

// A test target: helpers outside #[test] functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::thread::sleep;
use std::time::{Duration, Instant};

use linli_tests::check::{expected, wait_all_stored};
use linli_tests::{Broker, Gateway, PubOptions, Publisher, seed, wait_until};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const SITE: &str = "brk";
const DEVICES: u64 = 10;
const MESSAGES: u64 = 10_000;
const RESTARTS: usize = 2;

#[test]
fn broker_restarts_during_ingest_lose_nothing() {
    let seed = seed();
    eprintln!("broker_restart: seed {seed} (LINLI_TEST_SEED={seed} replays it)");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let mut broker = Broker::start().unwrap();
    let gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
    // A persistent session with a stable id: after the broker restart, rumqttc retransmits what
    // was in flight and the broker still holds the session.
    let mut publisher =
        Publisher::connect(PubOptions::new(broker.port(), "brk-publisher")).unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();
    let tracker = publisher.tracker();

    let messages: Vec<(String, u64)> = (0..MESSAGES)
        .map(|i| (format!("meter-{:02}", i % DEVICES), 1 + i / DEVICES))
        .collect();
    let sender = {
        let messages = messages.clone();
        std::thread::spawn(move || -> anyhow::Result<Publisher> {
            for (i, (device, seq)) in messages.iter().enumerate() {
                let payload = json!({ "seq": seq, "values": { "flow_m3": i } });
                publisher.publish_json(SITE, device, "telemetry", &payload, false)?;
                // Spread the publishing over a few seconds so that both restarts fall in it.
                if i % 500 == 499 {
                    sleep(Duration::from_millis(100));
                }
            }
            Ok(publisher)
        })
    };

    let n = MESSAGES as usize;
    for k in 1..=RESTARTS {
        let point = n * k / (RESTARTS + 1) + rng.random_range(0..n / 10);
        wait_until(Duration::from_secs(60), "publishing progress", || {
            tracker.acked_count() >= point
        })
        .unwrap();
        let acked = tracker.acked_count();
        let stored = gw
            .metrics()
            .map(|m| m.labelled("linli_messages_received_total", "channel", "telemetry"))
            .unwrap_or(f64::NAN);
        broker.stop().unwrap();
        let t = Instant::now();
        // The gateway notices at once: the broker closed the connection.
        wait_until(Duration::from_secs(10), "/healthz to answer 503", || {
            gw.health() == Some(503)
        })
        .unwrap_or_else(|e| panic!("{e:#}; gateway log:\n{}", gw.log_tail(20)));
        let (status, body) = gw.get_status("/healthz").unwrap();
        assert_eq!(status, 503);
        assert_eq!(body["not_ready"], json!(["mqtt"]), "{body}");
        eprintln!(
            "broker_restart: broker stopped with {acked} acknowledged to the publisher and \
             {stored} stored by the gateway; /healthz 503 after {:.1?}",
            t.elapsed()
        );
        sleep(Duration::from_millis(rng.random_range(200..1_000)));
        broker.start_again().unwrap();
        let t = Instant::now();
        wait_until(
            Duration::from_secs(30),
            "/healthz to answer 200 again",
            || gw.health() == Some(200),
        )
        .unwrap_or_else(|e| panic!("{e:#}; gateway log:\n{}", gw.log_tail(20)));
        eprintln!(
            "broker_restart: restart #{k}: gateway healthy {:.1?} after the broker came back",
            t.elapsed()
        );
    }
    let publisher = sender.join().unwrap().unwrap();
    assert_eq!(publisher.published(), MESSAGES);
    tracker
        .wait_acked(n, Duration::from_secs(60))
        .expect("the broker acknowledges every message");
    eprintln!("broker_restart: publisher: {}", tracker.summary());

    let want = expected(messages.iter().map(|(d, s)| (d.as_str(), *s)));
    let (check, waited) =
        wait_all_stored(&gw, &want, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e:#}"));
    eprintln!(
        "broker_restart: all stored {waited:.1?} after the last PUBACK; {check}; total {:.1?}",
        started.elapsed()
    );
    assert!(check.exact(), "{check}");

    let m = gw.metrics().unwrap();
    assert!(
        m.sum("linli_mqtt_reconnects_total") >= RESTARTS as f64,
        "reconnects: {}",
        m.sum("linli_mqtt_reconnects_total")
    );
    assert_eq!(m.sum("linli_mqtt_connected"), 1.0);
    assert_eq!(m.sum("linli_messages_rejected_total"), 0.0);
    // One process throughout: its counter is exact.
    assert_eq!(
        m.labelled("linli_messages_received_total", "channel", "telemetry"),
        MESSAGES as f64
    );
    publisher.disconnect().unwrap();
}
