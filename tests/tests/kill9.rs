//! Invariant 1: a QoS 1 message is acknowledged to the broker only once it is durable, so a
//! `kill -9` at any moment loses nothing, and redeliveries are recognised as duplicates.

// A test target: helpers outside #[test] functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::thread::sleep;
use std::time::{Duration, Instant};

use linli_tests::check::{expected, wait_all_stored};
use linli_tests::{Broker, Gateway, PubOptions, Publisher, seed, wait_until};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const SITE: &str = "kill9";
const MESSAGES: u64 = 20_000;
const KILLS_WHILE_PUBLISHING: usize = 3;

/// 20,000 messages from 20 devices (1,000 each).
#[test]
fn kill_9_at_random_moments_loses_nothing_and_stores_nothing_twice() {
    kill_9_during_ingest(20);
}

/// 20,000 messages from one device queued at the broker while the gateway was down; the gateway
/// is killed three times while it drains them. Many of one device's messages may then be stored
/// but not yet acknowledged at the moment of a kill, so the redelivery after the restart reaches
/// far back into its sequence numbers: each must still be recognised as a duplicate.
#[test]
fn kill_9_while_draining_one_devices_backlog_stores_nothing_twice() {
    let seed = seed();
    eprintln!("kill9 backlog: seed {seed} (LINLI_TEST_SEED={seed} replays it)");
    let mut rng = StdRng::seed_from_u64(seed);
    let broker = Broker::start().unwrap();
    let mut gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
    let mut publisher =
        Publisher::connect(PubOptions::new(broker.port(), "kill9-backlog")).unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();
    gw.kill9().unwrap();
    for seq in 1..=MESSAGES {
        let payload = json!({ "seq": seq, "values": { "v": seq } });
        publisher
            .publish_json(SITE, "meter-1", "telemetry", &payload, false)
            .unwrap();
    }
    publisher
        .tracker()
        .wait_acked(MESSAGES as usize, Duration::from_secs(60))
        .unwrap();
    for k in 1..=3 {
        gw.start().unwrap();
        sleep(Duration::from_millis(rng.random_range(20..300)));
        let m = gw.metrics().unwrap();
        gw.kill9().unwrap();
        eprintln!(
            "kill9 backlog: kill #{k}: that process had stored {} and dropped {} duplicates",
            m.labelled("linli_messages_received_total", "channel", "telemetry"),
            m.sum("linli_messages_duplicate_total")
        );
    }
    gw.start().unwrap();
    let want = expected((1..=MESSAGES).map(|s| ("meter-1", s)));
    let (check, waited) = wait_all_stored(&gw, &want, Duration::from_secs(60)).unwrap();
    eprintln!("kill9 backlog: all stored {waited:.1?} after the last restart; {check}");
    assert!(check.exact(), "{check}");
    publisher.disconnect().unwrap();
}

fn kill_9_during_ingest(devices: u64) {
    let seed = seed();
    eprintln!(
        "kill9: {devices} device(s); seed {seed} (set LINLI_TEST_SEED={seed} to replay the kill \
         moments)"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let broker = Broker::start().unwrap();
    let mut gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
    let mut publisher = Publisher::connect(PubOptions::new(
        broker.port(),
        &format!("kill9-pub-{devices}"),
    ))
    .unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();
    let tracker = publisher.tracker();

    let messages: Vec<(String, u64)> = (0..MESSAGES)
        .map(|i| (format!("dev-{:02}", i % devices), 1 + i / devices))
        .collect();
    let sender = {
        let messages = messages.clone();
        std::thread::spawn(move || -> anyhow::Result<Publisher> {
            for (device, seq) in &messages {
                let payload = json!({ "seq": seq, "values": { "v": seq } });
                publisher.publish_json(SITE, device, "telemetry", &payload, false)?;
            }
            Ok(publisher)
        })
    };

    // Kill at random points of the publishing (by broker-acknowledged count) ...
    let n = MESSAGES as usize;
    let mut points: Vec<usize> = (0..KILLS_WHILE_PUBLISHING)
        .map(|_| rng.random_range(n / 20..n * 9 / 10))
        .collect();
    points.sort_unstable();
    let mut kills = 0;
    for point in points {
        wait_until(Duration::from_secs(120), "publishing progress", || {
            tracker.acked_count() >= point || sender.is_finished()
        })
        .unwrap();
        kill_and_restart(&mut gw, &mut rng, &tracker, &mut kills);
    }
    let publisher = sender.join().unwrap().unwrap();
    let published = publisher.published();
    assert_eq!(published, MESSAGES);
    // ... and once more while the gateway drains the broker's backlog.
    kill_and_restart(&mut gw, &mut rng, &tracker, &mut kills);

    let took = tracker
        .wait_acked(n, Duration::from_secs(60))
        .expect("the broker acknowledges every message");
    eprintln!(
        "kill9: broker acknowledged all {n} messages after {:.1?} more",
        took
    );
    assert_eq!(tracker.acked().len(), n, "{}", tracker.summary());

    let want = expected(messages.iter().map(|(d, s)| (d.as_str(), *s)));
    let (check, waited) = wait_all_stored(&gw, &want, Duration::from_secs(90))
        .unwrap_or_else(|e| panic!("after {kills} kills: {e:#}"));
    eprintln!(
        "kill9: all stored {waited:.1?} after the last restart; {check}; total {:.1?}",
        started.elapsed()
    );
    assert!(check.exact(), "after {kills} kills: {check}");

    // Counters restart with the process: the last one cannot have stored more than everything.
    let m = gw.metrics().unwrap();
    let received = m.labelled("linli_messages_received_total", "channel", "telemetry");
    let duplicates = m.sum("linli_messages_duplicate_total");
    eprintln!(
        "kill9: last process: received {received}, duplicates {duplicates}, gaps {}",
        m.sum("linli_sequence_gaps_total")
    );
    assert!(received <= MESSAGES as f64, "received {received}");
    assert_eq!(m.sum("linli_messages_rejected_total"), 0.0);

    // The registry's per-device counters are informative only: a kill between the sample
    // write and the registry write may leave them behind; print any difference.
    for device in want.keys() {
        let d = gw.device(device).unwrap().expect("device registered");
        if d["messages"].as_u64() != Some(MESSAGES / devices) {
            eprintln!(
                "kill9: note: {device} messages={} duplicates={} seq_gaps={}",
                d["messages"], d["duplicates"], d["seq_gaps"]
            );
        }
    }
    publisher.disconnect().unwrap();
}

fn kill_and_restart(
    gw: &mut Gateway,
    rng: &mut StdRng,
    tracker: &linli_tests::Tracker,
    kills: &mut u32,
) {
    sleep(Duration::from_millis(rng.random_range(0..200)));
    let acked = tracker.acked_count();
    // What this process did, read just before the kill (so, a lower bound).
    let so_far = gw.metrics().map_or_else(
        |e| format!("metrics unavailable: {e}"),
        |m| {
            format!(
                "it had stored {} and dropped {} duplicates",
                m.labelled("linli_messages_received_total", "channel", "telemetry"),
                m.sum("linli_messages_duplicate_total")
            )
        },
    );
    gw.kill9().unwrap();
    *kills += 1;
    // Stay down a little while the broker queues for the gateway's session.
    sleep(Duration::from_millis(rng.random_range(0..300)));
    let t = Instant::now();
    gw.start().unwrap();
    eprintln!(
        "kill9: kill #{kills} with {acked} acknowledged by the broker ({so_far}); \
         healthy again after {:.1?}",
        t.elapsed()
    );
}
