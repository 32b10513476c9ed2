//! Fills a store with telemetry of many devices, for memory and disk measurements:
//! `cargo run --release -p linli-gateway --example fill_store -- PATH SIZE_MB [DEVICES]`.
//! Prints the samples written, the bytes on disk and the bytes per sample.

use std::time::Instant;

use linli_gateway::config::StoreConfig;
use linli_gateway::store::{Store, WriteSet};
use linli_protocols::{Value, Values};

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
    let t0 = linli_gateway::now_ms() - 30 * 86_400_000;
    let (mut written, mut round) = (0u64, 0u64);
    while store.size_on_disk() < target_mb << 20 {
        let mut set = WriteSet::default();
        for i in 0..10_000u64 {
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
            let ts = t0 + seq * 60_000;
            set.sample(&device, ts, Some(seq), ts + 40, &values);
        }
        store.apply(set)?;
        written += 10_000;
        round += 1;
        if round % 50 == 0 {
            store.flush_sync()?;
        }
    }
    store.flush_sync()?;
    let bytes = store.size_on_disk();
    println!(
        "{{\"samples\": {written}, \"devices\": {devices}, \"bytes\": {bytes}, \"bytes_per_sample\": {:.1}, \"seconds\": {:.1}}}",
        bytes as f64 / written as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
