//! Fills a store with the history of many devices, for memory and disk measurements:
//! `cargo run --release -p linli-gateway --example fill_store -- PATH SIZE_MB [DEVICES]`.
//! The samples (temperature and battery, one per device per interval) are spread over the last
//! 30 days, the interval chosen so that SIZE_MB holds them. History is written a stretch of time
//! at a time for a group of devices, as a hub that drained a backlog would; a hub ingesting live
//! rewrites each block as it grows, and sled reclaims those rewrites as it goes.
//! Prints the samples written, the bytes on disk and the bytes per sample.

use std::time::Instant;

use linli_gateway::config::StoreConfig;
use linli_gateway::store::{DeviceRecord, DeviceSource, Store, WriteSet};
use linli_protocols::{Value, Values};

/// Bytes a sample takes on disk, to choose the interval (measured: 40-50 after settling).
const BYTES_PER_SAMPLE_GUESS: u64 = 45;
const DAYS: u64 = 30;
/// Samples per device per write set, and devices per write set.
const STRETCH: u64 = 100;
const GROUP: u64 = 100;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("usage: fill_store PATH SIZE_MB [DEVICES]"))?;
    let target_mb: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1_024);
    let devices: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let store = Store::open(&StoreConfig {
        path: path.into(),
        ..StoreConfig::default()
    })?;
    let started = Instant::now();
    let per_device = ((target_mb << 20) / BYTES_PER_SAMPLE_GUESS / devices).max(1);
    let interval = DAYS * 86_400_000 / per_device;
    let t0 = linli_gateway::now_ms() - DAYS * 86_400_000;
    let mut written = 0u64;
    let mut seq0 = 0u64;
    'fill: while seq0 < per_device * 2 {
        for group in (0..devices).step_by(GROUP as usize) {
            if store.size_on_disk() >= target_mb << 20 {
                break 'fill;
            }
            let mut set = WriteSet::default();
            for d in group..(group + GROUP).min(devices) {
                let device = format!("dev-{d:05}");
                if seq0 == 0 {
                    let mut record = DeviceRecord::new(&device, DeviceSource::Announce, t0);
                    record.kind = Some("facility.air".into());
                    set.device(&record);
                }
                for seq in seq0..seq0 + STRETCH {
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
                    set.sample(&device, ts, Some(seq), ts + 40, &values);
                    written += 1;
                }
            }
            store.apply(set)?;
        }
        store.flush_sync()?;
        seq0 += STRETCH;
    }
    store.flush_sync()?;
    let bytes = store.size_on_disk();
    println!(
        "{{\"samples\": {written}, \"devices\": {devices}, \"interval_s\": {}, \"bytes\": {bytes}, \"bytes_per_sample\": {:.1}, \"seconds\": {:.1}}}",
        interval / 1000,
        bytes as f64 / written as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
