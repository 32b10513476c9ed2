//! Scenario 4, memory and disk: a store of 30 days of telemetry from 20,000 devices (written by
//! `linli-gateway`'s `fill_store` example through the store's public API), the 20,000 devices
//! registered over MQTT, then RSS at rest, bytes on disk per stored sample, and start-up time.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use linli_tests::load::{Mix, run_blocking};
use linli_tests::{Broker, Gateway, fill_store_bin};

use crate::procfs::{dir_bytes, mem, mib};
use crate::report::{Goal, Section, f1, table};
use crate::{Settings, hub};

/// The scenario's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Memory {
    /// Devices.
    pub devices: u64,
    /// Days of history.
    pub days: u64,
    /// Samples written by `fill_store`.
    pub filled: u64,
    /// Seconds `fill_store` took.
    pub fill_seconds: f64,
    /// Samples stored over MQTT afterwards (registering the devices).
    pub published: u64,
    /// Devices the hub reports (`linli_devices`).
    pub registered: f64,
    /// Seconds to `/healthz` 200 on the filled store, before and after registration.
    pub startup: (f64, f64),
    /// VmRSS / VmHWM (MiB) at rest after registering every device.
    pub rss_registered: (f64, f64),
    /// VmRSS / VmHWM (MiB) at rest after a restart on the full store.
    pub rss_restarted: (f64, f64),
    /// Store size on disk after the last stop.
    pub bytes: u64,
    /// `bytes / (filled + published)`.
    pub bytes_per_sample: f64,
}

/// Runs the scenario.
pub fn run(s: &Settings) -> Result<Memory> {
    let devices = s.scale(20_000, 200);
    let days = 30;
    let per_device = s.scale(72, 5);
    // At rest: past the hub's once-a-minute return of freed heap to the system.
    let settle = s.scale(Duration::from_secs(75), Duration::from_secs(1));
    let broker = Broker::start()?;
    let site = "mem";
    let mut gw = Gateway::with_bin(s.linli.clone(), &broker.url(), site, "")?;

    eprintln!("memory: filling {devices} devices × {per_device} samples over {days} days");
    let fill = fill(s, &gw, 1_000_000, devices, days, Some(per_device), None)?;
    let filled = fill["samples"].as_u64().unwrap_or(0);

    let t = Instant::now();
    gw.start()?;
    let first_start = t.elapsed().as_secs_f64();

    // Every device sends two samples: it is registered (unplaced) and its history goes on.
    let mut load = super::load(&broker, site, "dev-", devices * 2, devices, None);
    load.mix = Mix::TELEMETRY;
    load.first_seq = 1_000_000;
    run_blocking(&load)?;
    hub::wait_stored(&gw, devices * 2, Duration::from_secs(300))?;
    std::thread::sleep(settle);
    let registered = gw.metrics()?.sum("linli_devices");
    let pid = gw.pid().context("linli has no pid")?;
    let m1 = mem(pid)?;

    stop(&mut gw)?;
    let t = Instant::now();
    gw.start()?;
    let second_start = t.elapsed().as_secs_f64();
    std::thread::sleep(settle);
    let pid = gw.pid().context("linli has no pid")?;
    let m2 = mem(pid)?;
    stop(&mut gw)?;
    let bytes = dir_bytes(&gw.store_path())?;
    let samples = filled + devices * 2;
    Ok(Memory {
        devices,
        days,
        filled,
        fill_seconds: fill["seconds"].as_f64().unwrap_or(0.0),
        published: devices * 2,
        registered,
        startup: (first_start, second_start),
        rss_registered: (mib(m1.rss_kib), mib(m1.hwm_kib)),
        rss_restarted: (mib(m2.rss_kib), mib(m2.hwm_kib)),
        bytes,
        bytes_per_sample: bytes as f64 / samples.max(1) as f64,
    })
}

/// Stops the hub and checks it exited cleanly.
pub(crate) fn stop(gw: &mut Gateway) -> Result<()> {
    let (status, _) = gw.terminate()?;
    if !status.success() {
        bail!("linli exited with {status}");
    }
    Ok(())
}

/// Runs `fill_store` on the gateway's (not yet opened) store: up to `size_mb`, `per_device`
/// samples each or as many as fit; `flag` is one of `fill_store`'s (`--events-only`). Its JSON
/// line.
pub(crate) fn fill(
    s: &Settings,
    gw: &Gateway,
    size_mb: u64,
    devices: u64,
    days: u64,
    per_device: Option<u64>,
    flag: Option<&str>,
) -> Result<serde_json::Value> {
    let bin = fill_store_bin(!s.quick)?;
    let out = Command::new(&bin)
        .args(flag)
        .arg(gw.store_path())
        .args([size_mb, devices, days].map(|n| n.to_string()))
        .args(per_device.map(|n| n.to_string()))
        .output()
        .with_context(|| format!("run {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "fill_store failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| format!("fill_store printed {line:?}"))
}

/// The section for `RESULTS.md`.
pub fn section(m: &Memory) -> Section {
    let body = format!(
        "`fill_store` writes {filled} samples ({per} per device over {days} days, 2 values \
         each) for {devices} devices in {fill:.0} s; then Linli starts on that store, every \
         device sends 2 telemetry messages over MQTT (so {registered:.0} devices are registered), \
         and after {settle} of rest its memory is read from `/proc/<pid>/status`. Then it is \
         stopped (SIGTERM, store flushed), started again on the same store, read again at rest, \
         and stopped; the store directory's size is then divided by every sample it holds.\n\n{}",
        table(
            &["figure", "value"],
            &[
                vec![
                    "start-up on the filled store (ms to /healthz 200)".into(),
                    f1(m.startup.0 * 1e3)
                ],
                vec![
                    format!("start-up with {} registered devices (ms)", m.devices),
                    f1(m.startup.1 * 1e3)
                ],
                vec![
                    "VmRSS / VmHWM after registering (MiB)".into(),
                    format!("{} / {}", f1(m.rss_registered.0), f1(m.rss_registered.1))
                ],
                vec![
                    "VmRSS / VmHWM after a restart, at rest (MiB)".into(),
                    format!("{} / {}", f1(m.rss_restarted.0), f1(m.rss_restarted.1))
                ],
                vec![
                    "store on disk (MiB)".into(),
                    f1(m.bytes as f64 / 1_048_576.0)
                ],
                vec!["bytes per stored sample".into(), f1(m.bytes_per_sample)],
            ],
        ),
        filled = m.filled,
        per = m.filled / m.devices.max(1),
        days = m.days,
        devices = m.devices,
        fill = m.fill_seconds,
        registered = m.registered,
        settle = if m.devices >= 20_000 {
            "75 s (past the hub's once-a-minute heap trim)"
        } else {
            "1 s"
        },
    );
    let rss = m.rss_registered.0.max(m.rss_restarted.0);
    Section {
        title: "4. Memory and disk".into(),
        body,
        goals: vec![
            Goal::new(
                &format!("RSS at rest with {} devices", m.devices),
                "< 64 MiB",
                format!("{} MiB", f1(rss)),
                rss < 64.0,
            ),
            Goal::new(
                "bytes on disk per stored sample",
                "< 64",
                f1(m.bytes_per_sample),
                m.bytes_per_sample < 64.0,
            ),
        ],
        loss_or_duplicates: false,
    }
}
