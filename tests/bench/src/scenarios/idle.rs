//! Scenario 6, an idle hub over a full store (issue #2's bar): `fill_store` writes 1 GB of
//! telemetry (30 days, 20,000 devices, registered), Linli starts on it and rests; then it starts
//! again with a 29-day retention, so its start-up pass deletes the oldest day as the daily pass of
//! a full store does, and rests again. Last, `fill_store --events-only` adds a daily test event
//! per device to the same store, and Linli starts with a 28-day retention and rests again. RSS is
//! sampled every second throughout.

use std::time::Duration;

use anyhow::{Context, Result};
use linli_tests::{Broker, Gateway};

use super::memory::{fill, stop};
use crate::Settings;
use crate::procfs::{RssSampler, dir_bytes, mem, mib};
use crate::report::{Goal, Section, f1, table};

/// The scenario's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Idle {
    /// Devices.
    pub devices: u64,
    /// Samples `fill_store` wrote, and its store's size on disk (MiB).
    pub filled: u64,
    /// Store size after the fill, MiB.
    pub store_mib: f64,
    /// Seconds `fill_store` took.
    pub fill_seconds: f64,
    /// How long each run rested before the reading, s.
    pub rest_s: u64,
    /// VmRSS at the end of the rest / the largest VmRSS sampled (MiB), first run.
    pub fresh: (f64, f64),
    /// The same for the run whose start-up pass deleted a day.
    pub after_retention: (f64, f64),
    /// Samples that pass deleted (`linli_retention_deleted_total{class="telemetry"}`).
    pub deleted: f64,
    /// Events `fill_store --events-only` added.
    pub filled_events: u64,
    /// The same as `fresh` for the run over the store with events, whose pass deleted a day of
    /// telemetry and the two oldest days of events.
    pub with_events: (f64, f64),
    /// Events that pass deleted (`linli_retention_deleted_total{class="events"}`).
    pub deleted_events: f64,
}

/// Runs the scenario.
pub fn run(s: &Settings) -> Result<Idle> {
    let devices = s.scale(20_000, 200);
    let size_mb = s.scale(1_024, 8);
    // Past the start-up retention pass, sled's relocation of pages after it, and two of the
    // once-a-minute heap trims.
    let rest = s.scale(Duration::from_secs(130), Duration::from_secs(3));
    let broker = Broker::start()?;
    let mut gw = Gateway::with_bin(s.linli.clone(), &broker.url(), "idle", "")?;
    eprintln!("idle: filling {size_mb} MB for {devices} devices");
    let filled = fill(s, &gw, size_mb, devices, 30, None, None)?;
    let store_mib = mib(dir_bytes(&gw.store_path())? / 1024);

    let fresh = rest_and_read(&mut gw, rest)?;
    stop(&mut gw)?;
    let config = std::fs::read_to_string(gw.config_path()).context("read linli.toml")?;
    let (after_retention, deleted) = rest_retaining(&mut gw, &config, "29d", "telemetry", rest)?;
    let events = fill(s, &gw, size_mb, devices, 30, None, Some("--events-only"))?;
    let (with_events, deleted_events) = rest_retaining(&mut gw, &config, "28d", "events", rest)?;
    Ok(Idle {
        devices,
        filled: filled["samples"].as_u64().unwrap_or(0),
        store_mib,
        fill_seconds: filled["seconds"].as_f64().unwrap_or(0.0),
        rest_s: rest.as_secs(),
        fresh,
        after_retention,
        deleted,
        filled_events: events["events"].as_u64().unwrap_or(0),
        with_events,
        deleted_events,
    })
}

/// Starts the hub on `config` with telemetry and event retentions of `days`, lets it rest, reads
/// its memory as [`rest_and_read`] does and what its pass deleted of `class`, and stops it.
fn rest_retaining(
    gw: &mut Gateway,
    config: &str,
    days: &str,
    class: &str,
    rest: Duration,
) -> Result<((f64, f64), f64)> {
    let store =
        format!("[store]\ntelemetry_retention = \"{days}\"\nevent_retention = \"{days}\"\n");
    std::fs::write(gw.config_path(), config.replacen("[store]\n", &store, 1))
        .context("write linli.toml")?;
    let memory = rest_and_read(gw, rest)?;
    let deleted = gw
        .metrics()?
        .labelled("linli_retention_deleted_total", "class", class);
    stop(gw)?;
    Ok((memory, deleted))
}

/// Starts the hub, lets it rest, and reads (VmRSS at the end, largest VmRSS sampled) in MiB.
fn rest_and_read(gw: &mut Gateway, rest: Duration) -> Result<(f64, f64)> {
    gw.start()?;
    let pid = gw.pid().context("linli has no pid")?;
    let sampler = RssSampler::start(pid, Duration::from_secs(1));
    std::thread::sleep(rest);
    let end = mem(pid)?.rss_kib;
    Ok((mib(end), mib(sampler.stop().max(end))))
}

/// The section for `RESULTS.md`.
pub fn section(m: &Idle) -> Section {
    let body = format!(
        "`fill_store` writes {filled} samples of {devices} registered devices over 30 days, a \
         day at a time as a live hub does ({store:.0} MiB on disk, {fill:.0} s). Linli starts on \
         that store with nothing publishing and rests {rest} s; VmRSS is sampled every second. \
         Then it is stopped and started again with a 29-day retention: its start-up pass deletes \
         the oldest day ({deleted:.0} samples), as the daily pass over a full store does, and it \
         rests again. Last, `fill_store --events-only` adds {filled_events} events to the same \
         store (a daily test per device), and Linli starts with a 28-day retention (its pass \
         deletes a day of telemetry and {deleted_events:.0} events) and rests again.\n\n{}",
        table(
            &["run", "VmRSS at rest (MiB)", "largest VmRSS sampled (MiB)"],
            &[
                vec!["fresh start".into(), f1(m.fresh.0), f1(m.fresh.1)],
                vec![
                    "start-up pass deleted a day".into(),
                    f1(m.after_retention.0),
                    f1(m.after_retention.1)
                ],
                vec![
                    "with a daily event per device, a day deleted".into(),
                    f1(m.with_events.0),
                    f1(m.with_events.1)
                ],
            ],
        ),
        filled = m.filled,
        devices = m.devices,
        store = m.store_mib,
        fill = m.fill_seconds,
        rest = m.rest_s,
        deleted = m.deleted,
        filled_events = m.filled_events,
        deleted_events = m.deleted_events,
    );
    let rss = m.fresh.0.max(m.after_retention.0);
    Section {
        title: "6. Idle over a full store".into(),
        body,
        goals: vec![
            Goal::new(
                &format!(
                    "RSS idle with a {:.0} MiB store ({} devices)",
                    m.store_mib, m.devices
                ),
                "< 64 MiB",
                format!("{} MiB", f1(rss)),
                rss < 64.0,
            ),
            Goal::new(
                "RSS idle, the same store with a daily event per device",
                "< 64 MiB",
                format!("{} MiB", f1(m.with_events.0)),
                m.with_events.0 < 64.0,
            ),
        ],
        loss_or_duplicates: false,
    }
}
