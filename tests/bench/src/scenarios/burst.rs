//! Scenario 3, burst after an outage: a backlog queued at the broker (unlimited queue) for an
//! offline session, drained by `mosquitto_sub -q 1` and by Linli started after the outage; the
//! drain rates, their ratio, and Linli's RSS while it drains.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use linli_tests::load::run_blocking;
use linli_tests::{Broker, Gateway};

use crate::delivery::Delivery;
use crate::procfs::{RssSampler, mem, mib};
use crate::report::{Goal, Section, f1, rate, ratio, table};
use crate::sub::{Sub, check_output, output_path, wait_exit};
use crate::{Settings, hub, scratch};

/// The scenario's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Burst {
    /// Messages queued.
    pub messages: u64,
    /// Devices.
    pub devices: u64,
    /// `mosquitto_sub`'s drain: seconds, rate, delivery.
    pub sub_seconds: f64,
    /// Messages per second.
    pub sub_rate: f64,
    /// What it received.
    pub sub: Delivery,
    /// Linli: seconds from process start until all stored.
    pub hub_seconds: f64,
    /// Messages per second, process start included.
    pub hub_rate: f64,
    /// What it stored.
    pub hub: Delivery,
    /// Largest VmRSS sampled during the drain (MiB).
    pub rss_max_mib: f64,
    /// VmHWM at the end of the drain (MiB).
    pub hwm_mib: f64,
    /// VmRSS once drained (MiB).
    pub rss_after_mib: f64,
}

/// Runs the scenario.
pub fn run(s: &Settings) -> Result<Burst> {
    let messages = s.scale(200_000, 3_000);
    let devices = s.scale(1_000, 30);
    let dir = scratch()?;
    let broker = Broker::start()?;

    eprintln!("burst: {messages} queued for mosquitto_sub");
    let site = "burst-sub";
    let load = super::load(&broker, site, "b-", messages, devices, None);
    let sub = Sub::new(&broker, site);
    sub.create_session()?;
    run_blocking(&load)?;
    let file = output_path(dir.path(), site);
    let t = Instant::now();
    let mut child = sub.spawn(messages, &file)?;
    wait_exit(&mut child, Duration::from_secs(600))?;
    let sub_time = t.elapsed();
    let sub_delivery = check_output(&file, &load.expected())?;

    eprintln!("burst: {messages} queued for linli");
    let site = "burst-hub";
    let mut gw = Gateway::with_bin(s.linli.clone(), &broker.url(), site, "")?;
    // The first start makes the persistent session and its subscription; then the outage.
    gw.start()?;
    let (status, _) = gw.terminate()?;
    if !status.success() {
        bail!("linli exited with {status}");
    }
    let load = super::load(&broker, site, "b-", messages, devices, None);
    run_blocking(&load)?;
    let t = Instant::now();
    gw.spawn()?;
    let pid = gw
        .pid()
        .ok_or_else(|| anyhow::anyhow!("linli has no pid"))?;
    let sampler = RssSampler::start(pid, Duration::from_millis(100));
    let drained = hub::wait_stored(&gw, messages, Duration::from_secs(600));
    let hub_time = t.elapsed();
    let rss_max = sampler.stop();
    drained?;
    let end = mem(pid)?;
    let hub_delivery = hub::readback(&gw, &load.expected())?;
    Ok(Burst {
        messages,
        devices,
        sub_seconds: sub_time.as_secs_f64(),
        sub_rate: messages as f64 / sub_time.as_secs_f64(),
        sub: sub_delivery,
        hub_seconds: hub_time.as_secs_f64(),
        hub_rate: messages as f64 / hub_time.as_secs_f64(),
        hub: hub_delivery,
        rss_max_mib: mib(rss_max.max(end.rss_kib)),
        hwm_mib: mib(end.hwm_kib),
        rss_after_mib: mib(end.rss_kib),
    })
}

/// The section for `RESULTS.md`.
pub fn section(b: &Burst) -> Section {
    let r = b.hub_rate / b.sub_rate;
    let body = format!(
        "{} messages from {} devices (realistic mix) published while the consumer is away; \
         mosquitto keeps them all (`max_queued_messages 0`, `max_queued_bytes 0`). Each \
         consumer's drain is timed from its process start until it has every message: \
         `mosquitto_sub -q 1 -c` resuming its session, and Linli started after its outage \
         (process start, store open and subscription included). RSS is sampled every 100 ms.\n\n{}\n\
         Linli during the drain: VmRSS max {} MiB, VmHWM {} MiB, VmRSS after {} MiB.\n",
        b.messages,
        b.devices,
        table(
            &[
                "consumer",
                "seconds",
                "msg/s",
                "ratio to mosquitto_sub",
                "lost / dup"
            ],
            &[
                vec![
                    "mosquitto_sub".into(),
                    f1(b.sub_seconds),
                    rate(b.sub_rate),
                    "1.00".into(),
                    b.sub.cell(),
                ],
                vec![
                    "Linli".into(),
                    f1(b.hub_seconds),
                    rate(b.hub_rate),
                    ratio(r),
                    b.hub.cell()
                ],
            ],
        ),
        f1(b.rss_max_mib),
        f1(b.hwm_mib),
        f1(b.rss_after_mib),
    );
    Section {
        title: "3. Burst after an outage".into(),
        body,
        goals: vec![Goal::new(
            "backlog drain / mosquitto_sub (DESIGN.md)",
            "≥ 0.80",
            ratio(r),
            r >= 0.8,
        )],
        loss_or_duplicates: !b.sub.exact() || !b.hub.exact(),
    }
}
