//! Scenario 1, the durable ingest ceiling: the same load (as fast as the broker acknowledges,
//! the realistic mix) consumed by `mosquitto_sub -q 1` and then by Linli (stored in sled, then
//! PUBACKed), alternately, on one broker. The ratio of their rates is the figure.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use linli_tests::load::run_blocking;
use linli_tests::{Broker, Gateway};

use crate::delivery::Delivery;
use crate::report::{Goal, Section, rate, ratio, table};
use crate::sub::{Sub, check_output, output_path, wait_exit};
use crate::{Settings, hub, median, scratch};

/// One round: the subscriber's and the hub's run of the same load.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Round {
    /// Messages per second `mosquitto_sub` received.
    pub sub_rate: f64,
    /// Messages per second Linli durably stored.
    pub hub_rate: f64,
    /// The publisher's acknowledged rate while each ran.
    pub pub_rate: (f64, f64),
    /// What each received.
    pub sub: Delivery,
    /// What Linli stored.
    pub hub: Delivery,
}

/// The scenario's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ingest {
    /// Messages per run.
    pub messages: u64,
    /// Devices.
    pub devices: u64,
    /// The rounds.
    pub rounds: Vec<Round>,
    /// Median of the rounds' hub / sub ratios.
    pub ratio: f64,
    /// Median Linli rate.
    pub hub_rate: f64,
}

/// Runs the scenario.
pub fn run(s: &Settings) -> Result<Ingest> {
    let messages = s.scale(200_000, 2_000);
    let devices = s.scale(200, 20);
    let rounds = s.scale(3, 1);
    let dir = scratch()?;
    let broker = Broker::start()?;
    let mut out = Vec::new();
    for r in 0..rounds {
        eprintln!("ingest: round {} of {rounds}", r + 1);
        // mosquitto_sub, its session made first so that it starts subscribed.
        let site = format!("ing-sub-{r}");
        let load = super::load(&broker, &site, "d-", messages, devices, None);
        let sub = Sub::new(&broker, &site);
        sub.create_session()?;
        let file = output_path(dir.path(), &site);
        let mut child = sub.spawn(messages, &file)?;
        sub.wait_connected(&broker, 2)?;
        let t = Instant::now();
        let sub_load = run_blocking(&load)?;
        wait_exit(&mut child, Duration::from_secs(600))?;
        let sub_time = t.elapsed();
        let sub_delivery = check_output(&file, &load.expected())?;

        // Linli, a fresh gateway and store per round.
        let site = format!("ing-hub-{r}");
        let load = super::load(&broker, &site, "d-", messages, devices, None);
        let mut gw = Gateway::with_bin(s.linli.clone(), &broker.url(), &site, "")?;
        gw.start()?;
        let t = Instant::now();
        let opts = load.clone();
        let publisher = std::thread::spawn(move || run_blocking(&opts));
        hub::wait_stored(&gw, messages, Duration::from_secs(600))?;
        let hub_time = t.elapsed();
        let hub_load = publisher
            .join()
            .map_err(|_| anyhow::anyhow!("the load thread panicked"))?
            .context("load for linli")?;
        let hub_delivery = hub::readback(&gw, &load.expected())?;
        out.push(Round {
            sub_rate: messages as f64 / sub_time.as_secs_f64(),
            hub_rate: messages as f64 / hub_time.as_secs_f64(),
            pub_rate: (sub_load.rate, hub_load.rate),
            sub: sub_delivery,
            hub: hub_delivery,
        });
    }
    let ratios: Vec<f64> = out.iter().map(|r| r.hub_rate / r.sub_rate).collect();
    let rates: Vec<f64> = out.iter().map(|r| r.hub_rate).collect();
    Ok(Ingest {
        messages,
        devices,
        ratio: median(&ratios),
        hub_rate: median(&rates),
        rounds: out,
    })
}

/// The section for `RESULTS.md`.
pub fn section(i: &Ingest) -> Section {
    let rows: Vec<Vec<String>> = i
        .rounds
        .iter()
        .enumerate()
        .map(|(n, r)| {
            vec![
                (n + 1).to_string(),
                rate(r.sub_rate),
                rate(r.hub_rate),
                ratio(r.hub_rate / r.sub_rate),
                format!("{} / {}", rate(r.pub_rate.0), rate(r.pub_rate.1)),
                r.sub.cell(),
                r.hub.cell(),
            ]
        })
        .collect();
    let body = format!(
        "{messages} QoS 1 messages from {devices} devices (telemetry, ~10 % events, 2 % \
         heartbeats), published as fast as mosquitto acknowledges. Each round runs the same load \
         once for `mosquitto_sub -q 1 -c` (time until it has printed all of them) and once for \
         a fresh Linli (time until `linli_messages_received_total` counts all of them: stored \
         in sled, flushed, then PUBACKed). Loss and duplicates are counted per (device, seq) \
         from mosquitto_sub's output and from Linli's stored telemetry and events read back \
         over the API.\n\n{}\n**Median ratio Linli / mosquitto_sub: {}** (Linli median {} msg/s).\n",
        table(
            &[
                "round",
                "mosquitto_sub msg/s",
                "Linli durable msg/s",
                "ratio",
                "publisher msg/s (sub / Linli)",
                "sub lost / dup",
                "Linli lost / dup",
            ],
            &rows,
        ),
        ratio(i.ratio),
        rate(i.hub_rate),
        messages = i.messages,
        devices = i.devices,
    );
    Section {
        title: "1. Durable ingest ceiling".into(),
        body,
        goals: vec![Goal::new(
            "durable ingest / mosquitto_sub",
            "≥ 0.90",
            ratio(i.ratio),
            i.ratio >= 0.9,
        )],
        loss_or_duplicates: i.rounds.iter().any(|r| !r.sub.exact() || !r.hub.exact()),
    }
}
