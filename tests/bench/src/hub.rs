//! Watching the Linli gateway: messages durably stored (from `/metrics`) and what it stored,
//! read back per device.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use linli_tests::load::ExpectedSeqs;
use linli_tests::{Gateway, wait_for};

use crate::delivery::{Delivery, Tally};

/// Longest time without a newly stored message before a wait gives up.
pub const STALL: Duration = Duration::from_secs(20);

/// `linli_messages_received_total`, every channel and class (0 if `/metrics` does not answer).
pub fn stored(gw: &Gateway) -> u64 {
    gw.metrics()
        .map_or(0.0, |m| m.sum("linli_messages_received_total"))
        .max(0.0) as u64
}

/// Waits until the gateway has durably stored `n` messages in all, polling every 20 ms; fails
/// after `deadline`, or when nothing new is stored for [`STALL`]. Returns the time waited.
pub fn wait_stored(gw: &Gateway, n: u64, deadline: Duration) -> Result<Duration> {
    let started = Instant::now();
    let (mut last, mut since) = (0, Instant::now());
    let outcome = wait_for(deadline, "linli to store every message", || {
        let now = stored(gw);
        if now >= n {
            return Some(Ok(()));
        }
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > STALL {
            return Some(Err(now));
        }
        None
    })?;
    match outcome {
        Ok(()) => Ok(started.elapsed()),
        Err(stuck) => bail!("linli stalled at {stuck} of {n} stored (no progress for {STALL:?})"),
    }
}

/// Reads back every device's telemetry and events and counts them against `expected`; heartbeats
/// are counted from `linli_messages_received_total{channel="status"}`.
pub fn readback(gw: &Gateway, expected: &ExpectedSeqs) -> Result<Delivery> {
    let mut tally = Tally::default();
    for (event, map, what) in [
        (false, &expected.telemetry, "telemetry"),
        (true, &expected.events, "events"),
    ] {
        for device in map.keys() {
            let path = format!("/api/v1/devices/{device}/{what}?limit=10000");
            for item in gw.get_all(&path)? {
                if let Some(seq) = item["seq"].as_u64() {
                    tally.add(event, device, seq);
                }
            }
        }
    }
    tally.unsequenced = gw
        .metrics()
        .map_or(0.0, |m| {
            m.labelled("linli_messages_received_total", "channel", "status")
        })
        .max(0.0) as u64;
    Ok(tally.against(expected))
}
