//! Scenario 5, the peer: Node-RED running the equivalent flow (MQTT in → JSON → threshold switch
//! → append to a file) and Linli given the same loads on the same broker in the same run: the
//! ceiling (as fast as the broker acknowledges) and fixed offered rates.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use linli_tests::load::{LoadOptions, run_blocking};
use linli_tests::{Broker, Gateway};

use crate::delivery::Delivery;
use crate::nodered_proc::{NodeRed, install};
use crate::procfs::{RssSampler, mem, mib};
use crate::report::{Goal, Section, f1, rate, ratio, table};
use crate::{Settings, hub};

/// One load as one consumer took it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Run {
    /// Offered rate (`None`: as fast as the broker acknowledges).
    pub offered: Option<u64>,
    /// Messages.
    pub messages: u64,
    /// Seconds the publisher took.
    pub publish_seconds: f64,
    /// Seconds from the first publish until every message was processed.
    pub seconds: f64,
    /// `messages / seconds`.
    pub rate: f64,
    /// What it processed.
    pub delivery: Delivery,
}

/// The scenario's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Peer {
    /// Node-RED's version.
    pub version: String,
    /// Node-RED's runs, ceiling first.
    pub nodered: Vec<Run>,
    /// Linli's runs, ceiling first.
    pub linli: Vec<Run>,
    /// Node-RED's largest VmRSS sampled, and VmHWM (MiB).
    pub nodered_rss: (f64, f64),
    /// Linli's largest VmRSS sampled, and VmHWM (MiB).
    pub linli_rss: (f64, f64),
}

/// Installs Node-RED if needed and runs the scenario.
pub fn run(s: &Settings) -> Result<Peer> {
    let (red, version) = install()?;
    let ceiling = s.scale(100_000, 2_000);
    let rates: Vec<u64> = s.scale(vec![1_000, 10_000], vec![500]);
    let seconds = s.scale(10, 2);
    let devices = s.scale(200, 20);
    let broker = Broker::start()?;
    let mut nr = NodeRed::start(&red, &broker, "nr")?;
    let mut gw = Gateway::with_bin(s.linli.clone(), &broker.url(), "nr-hub", "")?;
    gw.start()?;
    let nr_pid = nr.pid().context("node-red has no pid")?;
    let gw_pid = gw.pid().context("linli has no pid")?;
    let nr_sampler = RssSampler::start(nr_pid, Duration::from_millis(200));
    let gw_sampler = RssSampler::start(gw_pid, Duration::from_millis(200));

    let mut loads: Vec<(Option<u64>, u64)> = vec![(None, ceiling)];
    loads.extend(rates.iter().map(|&r| (Some(r), r * seconds)));
    let (mut nodered, mut linli) = (Vec::new(), Vec::new());
    for (n, &(offered, messages)) in loads.iter().enumerate() {
        let what = offered.map_or("the ceiling".to_string(), |r| format!("{r} msg/s"));
        let prefix = format!("p{n}-");
        let rate = offered.map(|r| r as f64);
        eprintln!("nodered: {what}, {messages} messages, Node-RED");
        let load = super::load(&broker, "nr", &prefix, messages, devices, rate);
        let base = nr.lines();
        let (t, publisher) = publish(&load);
        nr.wait_lines(base + messages, Duration::from_secs(900))?;
        let took = t.elapsed();
        let published = join(publisher)?;
        nodered.push(Run {
            offered,
            messages,
            publish_seconds: published,
            seconds: took.as_secs_f64(),
            rate: messages as f64 / took.as_secs_f64(),
            delivery: nr.check(&load.expected())?,
        });

        eprintln!("nodered: {what}, {messages} messages, Linli");
        let load = super::load(&broker, "nr-hub", &prefix, messages, devices, rate);
        let base = hub::stored(&gw);
        let (t, publisher) = publish(&load);
        hub::wait_stored(&gw, base + messages, Duration::from_secs(600))?;
        let took = t.elapsed();
        let published = join(publisher)?;
        linli.push(Run {
            offered,
            messages,
            publish_seconds: published,
            seconds: took.as_secs_f64(),
            rate: messages as f64 / took.as_secs_f64(),
            delivery: hub::readback(&gw, &load.expected())?,
        });
    }
    let (nr_max, gw_max) = (nr_sampler.stop(), gw_sampler.stop());
    let (nr_mem, gw_mem) = (mem(nr_pid)?, mem(gw_pid)?);
    Ok(Peer {
        version,
        nodered,
        linli,
        nodered_rss: (mib(nr_max), mib(nr_mem.hwm_kib)),
        linli_rss: (mib(gw_max), mib(gw_mem.hwm_kib)),
    })
}

type Publishing = std::thread::JoinHandle<Result<f64>>;

/// Starts publishing `load` in a thread; the start time and the thread (which returns the
/// seconds publishing took).
fn publish(load: &LoadOptions) -> (Instant, Publishing) {
    let load = load.clone();
    let t = Instant::now();
    let handle = std::thread::spawn(move || Ok(run_blocking(&load)?.seconds));
    (t, handle)
}

fn join(publisher: Publishing) -> Result<f64> {
    publisher
        .join()
        .map_err(|_| anyhow::anyhow!("the load thread panicked"))?
}

/// Linli's ceiling / Node-RED's.
pub fn ceiling_ratio(p: &Peer) -> f64 {
    match (p.linli.first(), p.nodered.first()) {
        (Some(l), Some(n)) if n.rate > 0.0 => l.rate / n.rate,
        _ => 0.0,
    }
}

/// The section for `RESULTS.md`.
pub fn section(p: &Peer) -> Section {
    let mut rows = Vec::new();
    for (l, n) in p.linli.iter().zip(&p.nodered) {
        let offered = l
            .offered
            .map_or("ceiling (as fast as acked)".into(), |r| rate(r as f64));
        for (name, r) in [("Node-RED", n), ("Linli", l)] {
            rows.push(vec![
                offered.clone(),
                name.to_string(),
                r.messages.to_string(),
                f1(r.publish_seconds),
                f1(r.seconds),
                rate(r.rate),
                f1((r.seconds - r.publish_seconds).max(0.0)),
                r.delivery.cell(),
            ]);
        }
    }
    let x = ceiling_ratio(p);
    let body = format!(
        "Node-RED {version} (npm, run with `node red.js --userDir <temp>`) with the flow `mqtt in` \
         (QoS 1, persistent session) → `json` → `switch` (temperature_c > 30, otherwise) → two \
         `file` nodes appending one line per message. Linli takes the same loads on another \
         site of the same broker. A consumer's rate is messages / time from the first publish \
         until the last message is processed (a line written; stored and PUBACKed); *lag* is how \
         long after the publisher finished that was. Node-RED acknowledges to the broker when a \
         message arrives, before the flow runs, and its file node does not fsync: its figures \
         are not durable ones, Linli's are.\n\n{}\n\
         **Ceiling ratio Linli / Node-RED: {}×.** Memory over the whole scenario: Node-RED VmRSS \
         max {} MiB (VmHWM {}), Linli VmRSS max {} MiB (VmHWM {}).\n",
        table(
            &[
                "offered msg/s",
                "consumer",
                "messages",
                "publish s",
                "done s",
                "msg/s",
                "lag s",
                "lost / dup"
            ],
            &rows,
        ),
        ratio(x),
        f1(p.nodered_rss.0),
        f1(p.nodered_rss.1),
        f1(p.linli_rss.0),
        f1(p.linli_rss.1),
        version = p.version,
    );
    Section {
        title: "5. Peer: Node-RED".into(),
        body,
        goals: vec![Goal::new(
            "Linli ceiling / Node-RED ceiling",
            "≥ 10×",
            format!("{}×", ratio(x)),
            x >= 10.0,
        )],
        loss_or_duplicates: p
            .linli
            .iter()
            .chain(&p.nodered)
            .any(|r| !r.delivery.exact()),
    }
}
