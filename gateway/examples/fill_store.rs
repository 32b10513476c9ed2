//! Fills a store with the history of many devices, for memory and disk measurements:
//! `cargo run --release -p linli-gateway --example fill_store -- [--daily-event | --events-only] PATH SIZE_MB [DEVICES [DAYS [PER_DEVICE]]]`.
//!
//! Each device gets `PER_DEVICE` samples (temperature and battery) spread evenly over the last
//! `DAYS` days (30), with `--daily-event` a `self_test` event on each day it has samples (as care
//! devices send their daily test alarm), and is registered. `--events-only` adds those events to a
//! store filled before with the same arguments, and nothing else. Without `PER_DEVICE`, as many as `SIZE_MB` holds; writing
//! stops at `SIZE_MB` in any case. History is written a UTC day at a time, that day for every
//! device before the next, as a live hub writes it (so sled's segments hold one day each, as they
//! would after a month of live ingest); a live hub also rewrites each block as it grows, and sled
//! reclaims those rewrites as it goes. Prints the samples and events written, the bytes on disk and
//! the bytes per sample as one JSON line.

use std::time::Instant;

use linli_gateway::config::StoreConfig;
use linli_gateway::store::{DeviceRecord, DeviceSource, EventRecord, Store, WriteSet};
use linli_protocols::{Value, Values};

const USAGE: &str =
    "usage: fill_store [--daily-event | --events-only] PATH SIZE_MB [DEVICES [DAYS [PER_DEVICE]]]";
const DAY_MS: u64 = 86_400_000;
/// Bytes a sample takes on disk, to size `PER_DEVICE` from `SIZE_MB` (measured: 27.5 for 20,000
/// devices; a little more than the truth, so that the store comes out at about `SIZE_MB`).
const BYTES_PER_SAMPLE_GUESS: u64 = 28;
/// Devices per write set.
const GROUP: u64 = 100;

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().collect();
    let events_only = args.iter().any(|a| a == "--events-only");
    let daily_event = events_only || args.iter().any(|a| a == "--daily-event");
    args.retain(|a| a != "--daily-event" && a != "--events-only");
    let path = args.get(1).ok_or_else(|| anyhow::anyhow!(USAGE))?;
    let num = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok());
    let target_mb = num(2).unwrap_or(1_024);
    let devices = num(3).unwrap_or(20_000).max(1);
    let days = num(4).unwrap_or(30).max(1);
    let per_device = num(5)
        .unwrap_or((target_mb << 20) / BYTES_PER_SAMPLE_GUESS / devices)
        .max(1);
    let interval = (days * DAY_MS / per_device).max(1);
    let store = Store::open(&StoreConfig {
        path: path.into(),
        ..StoreConfig::default()
    })?;
    let started = Instant::now();
    let t0 = linli_gateway::now_ms() - days * DAY_MS;
    let (mut written, mut events) = (0u64, 0u64);
    // Sample `seq` of device `d` is stamped `t0 + seq * interval + d % 1000`; a day takes the
    // sequences whose stamps fall in it.
    let first_seq = |d: u64, at: u64| (at.saturating_sub(t0 + d % 1000)).div_ceil(interval);
    'fill: for day in t0 / DAY_MS..=(t0 + per_device * interval + 1000) / DAY_MS {
        let (from, to) = (day * DAY_MS, (day + 1) * DAY_MS);
        for group in (0..devices).step_by(GROUP as usize) {
            if !events_only && store.size_on_disk() >= target_mb << 20 {
                break 'fill;
            }
            let mut set = WriteSet::default();
            for d in group..(group + GROUP).min(devices) {
                let device = format!("dev-{d:05}");
                if first_seq(d, from) == 0 && !events_only {
                    let mut record = DeviceRecord::new(&device, DeviceSource::Announce, t0);
                    record.kind = Some("facility.air".into());
                    set.device(&record);
                }
                let today = first_seq(d, from)..first_seq(d, to).min(per_device);
                if let Some(seq) = today.clone().next().filter(|_| daily_event) {
                    let ts = t0 + seq * interval + d % 1000;
                    let event = EventRecord {
                        ts,
                        seq: Some(seq),
                        recv: ts + 40,
                        kind: "self_test".into(),
                        data: Values::new(),
                    };
                    set.event(&device, event);
                    events += 1;
                }
                for seq in today.filter(|_| !events_only) {
                    let n = d + seq;
                    let values: Values = [
                        (
                            "temperature_c".to_string(),
                            Value::Number(20.0 + (n % 100) as f64 / 10.0),
                        ),
                        (
                            "battery_pct".to_string(),
                            Value::Number((100 - n % 50) as f64),
                        ),
                    ]
                    .into();
                    let ts = t0 + seq * interval + d % 1000;
                    set.sample(&device, ts, Some(seq), ts + 40, values);
                    written += 1;
                }
            }
            store.apply(set)?;
        }
        store.flush_sync()?;
    }
    store.flush_sync()?;
    let bytes = store.size_on_disk();
    println!(
        "{{\"samples\": {written}, \"events\": {events}, \"devices\": {devices}, \"interval_s\": {}, \"bytes\": {bytes}, \"bytes_per_sample\": {:.1}, \"seconds\": {:.1}}}",
        interval / 1000,
        bytes as f64 / written.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
