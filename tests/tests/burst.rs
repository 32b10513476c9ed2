//! "Bursts of thousands per second after an outage. The hub must never be the bottleneck": a
//! burst of 100,000 QoS 1 messages from 100 devices, published as fast as the broker takes
//! them, is stored in full and the gateway keeps making progress throughout.

// A test target: helpers outside #[test] functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use linli_tests::load::{LoadOptions, run_blocking};
use linli_tests::{Broker, Gateway, wait_for};

const SITE: &str = "burst";
const MESSAGES: u64 = 100_000;

#[test]
fn a_burst_of_100k_messages_is_stored_without_stalling() {
    let broker = Broker::start().unwrap();
    let gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
    let mut opts = LoadOptions::new(broker.port(), SITE, MESSAGES);
    opts.devices = 100;
    opts.client_id = "burst-loadgen".into();
    let started = Instant::now();
    let publisher = std::thread::spawn(move || run_blocking(&opts));

    // Progress is watched: no new stored message for 15 s is a stall, whatever the total time.
    let received = || {
        gw.metrics().map_or(0.0, |m| {
            m.labelled("linli_messages_received_total", "channel", "telemetry")
        }) as u64
    };
    let (mut last, mut last_change) = (0, Instant::now());
    let outcome = wait_for(Duration::from_secs(120), "every message stored", || {
        let now = received();
        if now >= MESSAGES {
            return Some(Ok(()));
        }
        if now != last {
            (last, last_change) = (now, Instant::now());
        } else if last_change.elapsed() > Duration::from_secs(15) {
            return Some(Err(now));
        }
        None
    });
    let load = publisher.join().unwrap().unwrap();
    let took = started.elapsed();
    eprintln!(
        "burst: published {} in {:.1}s ({:.0}/s); the gateway had stored {} after {took:.1?}",
        load.acked,
        load.seconds,
        load.rate,
        received()
    );
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(stuck)) => panic!(
            "ingest stalled at {stuck} of {MESSAGES} stored: no progress for 15 s \
             (/healthz {:?}); log:\n{}",
            gw.health(),
            gw.log_tail(10)
        ),
        Err(e) => panic!("{e:#}: {} of {MESSAGES} stored", received()),
    }
    let m = gw.metrics().unwrap();
    assert_eq!(m.sum("linli_messages_duplicate_total"), 0.0);
    assert_eq!(m.sum("linli_sequence_gaps_total"), 0.0);
}
