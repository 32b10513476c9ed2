//! Fills a store with telemetry of many devices, for memory and disk measurements:
//! `cargo run --release -p linli-gateway --example fill_store -- PATH SIZE_MB [DEVICES [DAYS [PER_DEVICE]]]`.
//!
//! Without `PER_DEVICE` it writes until the store reaches `SIZE_MB`, one sample per device and
//! minute from 30 days ago. With `PER_DEVICE` it writes exactly that many samples per device
//! (or stops at `SIZE_MB`), spread evenly over the last `DAYS` days. Prints the samples written,
//! the bytes on disk and the bytes per sample as one JSON line.

use std::time::Instant;

use linli_gateway::config::StoreConfig;
use linli_gateway::store::{Store, WriteSet};
use linli_protocols::{Value, Values};

const USAGE: &str = "usage: fill_store PATH SIZE_MB [DEVICES [DAYS [PER_DEVICE]]]";
const DAY_MS: u64 = 86_400_000;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or_else(|| anyhow::anyhow!(USAGE))?;
    let num = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok());
    let target_mb = num(2).unwrap_or(1_024);
    let devices = num(3).unwrap_or(20_000).max(1);
    let days = num(4).unwrap_or(30).max(1);
    let per_device = num(5);
    let (total, step_ms) = match per_device {
        Some(n) => (n * devices, (days * DAY_MS / n.max(1)).max(1)),
        None => (u64::MAX, 60_000),
    };
    let store = Store::open(&StoreConfig {
        path: path.into(),
        ..StoreConfig::default()
    })?;
    let started = Instant::now();
    let t0 = linli_gateway::now_ms() - days * DAY_MS;
    let (mut written, mut round) = (0u64, 0u64);
    while written < total && store.size_on_disk() < target_mb << 20 {
        let mut set = WriteSet::default();
        let batch = (total - written).min(10_000);
        for i in 0..batch {
            let n = written + i;
            let device = format!("dev-{:05}", n % devices);
            let seq = n / devices;
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
            let ts = t0 + seq * step_ms;
            set.sample(&device, ts, Some(seq), ts + 40, &values);
        }
        store.apply(set)?;
        written += batch;
        round += 1;
        if round % 50 == 0 {
            store.flush_sync()?;
        }
    }
    store.flush_sync()?;
    let bytes = store.size_on_disk();
    println!(
        "{{\"samples\": {written}, \"devices\": {devices}, \"bytes\": {bytes}, \"bytes_per_sample\": {:.1}, \"seconds\": {:.1}}}",
        bytes as f64 / written.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
