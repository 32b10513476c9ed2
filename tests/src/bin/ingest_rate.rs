//! `ingest_rate`: measures sustained durable ingest (stored in sled, then PUBACKed) of the
//! `linli` gateway against what `mosquitto_sub -q 1` achieves on the same broker, in one run.
//! Performance is measured and printed, never asserted.
//!
//! ```text
//! cargo run -p linli-tests --release --bin ingest_rate -- [--messages 100000] [--devices 100] \
//!     [--connections 1] [--release]
//! LINLI_BIN=target/release/linli cargo run -p linli-tests --bin ingest_rate
//! ```
//!
//! `--release` builds and measures a release `linli`; `LINLI_BIN` measures a given binary; by
//! default the debug build of the current sources is measured. Four phases, each on its own
//! site so they cannot disturb each other:
//!
//! 1. live, `mosquitto_sub -c -q 1 -C N` (its session created beforehand) receives N messages
//!    while the load generator publishes them as fast as the broker acknowledges;
//! 2. live, the gateway: the time from the first publish until
//!    `linli_messages_received_total{channel="telemetry"}` reaches N;
//! 3. backlog drain, `mosquitto_sub`: N messages queued for its offline session, then the time
//!    from its start until it has them all;
//! 4. backlog drain, the gateway: the same with the gateway stopped while the load is published.

// Test tooling: a failed step ends the measurement with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use linli_tests::load::{LoadOptions, run_blocking};
use linli_tests::{Broker, Gateway, linli_bin, linli_bin_release, wait_for, wait_until};
use serde_json::json;

fn main() {
    if let Err(e) = run() {
        eprintln!("ingest_rate: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let (mut messages, mut devices, mut release) = (100_000u64, 100u64, false);
    let mut connections = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--messages" => messages = args.next().context("--messages N")?.parse()?,
            "--devices" => devices = args.next().context("--devices M")?.parse()?,
            "--connections" => connections = args.next().context("--connections K")?.parse()?,
            "--release" => release = true,
            other => bail!("unknown argument {other}; see the doc comment of ingest_rate.rs"),
        }
    }
    let bin = if release {
        linli_bin_release()?
    } else {
        linli_bin()?
    };
    let build = match std::env::var("LINLI_BIN") {
        Ok(b) => format!("LINLI_BIN={b}"),
        Err(_) if release => "release".into(),
        Err(_) => "debug".into(),
    };
    eprintln!(
        "ingest_rate: {messages} messages from {devices} devices; linli {build} ({})",
        bin.display()
    );
    let broker = Broker::start()?;
    let load = |site: &str, first_seq: u64| {
        let mut o = LoadOptions::new(broker.port(), site, messages);
        o.devices = devices;
        o.first_seq = first_seq;
        o.connections = connections;
        o.client_id = format!("loadgen-{site}-{first_seq}");
        o
    };

    // 1. Live, mosquitto_sub.
    let site = "rate-sub";
    create_session(&broker, site)?;
    let mut sub = spawn_sub(&broker, site, messages)?;
    wait_until(Duration::from_secs(10), "mosquitto_sub to connect", || {
        broker.log().matches(&format!(" as sub-{site} ")).count() >= 2
    })?;
    let t = Instant::now();
    let sub_load = run_blocking(&load(site, 1))?;
    wait_exit(&mut sub, Duration::from_secs(600))?;
    let sub_live = t.elapsed();
    eprintln!(
        "live: mosquitto_sub got {messages} in {sub_live:.2?} (publisher {:.0}/s)",
        sub_load.rate
    );

    // 2. Live, the gateway.
    let site = "rate-gw";
    let mut gw = Gateway::with_bin(bin, &broker.url(), site, "")?;
    gw.start()?;
    let t = Instant::now();
    let opts = load(site, 1);
    let publisher = std::thread::spawn(move || run_blocking(&opts));
    wait_received(&gw, messages)?;
    let gw_live = t.elapsed();
    let gw_load = publisher
        .join()
        .map_err(|_| anyhow::anyhow!("load thread"))??;
    eprintln!(
        "live: linli stored {messages} in {gw_live:.2?} (publisher {:.0}/s)",
        gw_load.rate
    );
    let batches = gw.metrics()?;

    // 3. Drain, mosquitto_sub.
    let site = "rate-drain";
    create_session(&broker, site)?;
    run_blocking(&load(site, 1))?;
    let t = Instant::now();
    let mut sub = spawn_sub(&broker, site, messages)?;
    wait_exit(&mut sub, Duration::from_secs(600))?;
    let sub_drain = t.elapsed();
    eprintln!("drain: mosquitto_sub got {messages} in {sub_drain:.2?}");

    // 4. Drain, the gateway (new sequence numbers, so that none is a duplicate).
    let (status, _) = gw.terminate()?;
    if !status.success() {
        bail!("linli exited with {status}");
    }
    run_blocking(&load("rate-gw", 1 + messages.div_ceil(devices)))?;
    let t = Instant::now();
    gw.spawn()?;
    wait_received(&gw, messages)?;
    let gw_drain = t.elapsed();
    eprintln!("drain: linli stored {messages} in {gw_drain:.2?} (including process start)");

    let rate = |d: Duration| messages as f64 / d.as_secs_f64();
    let report = json!({
        "linli": build,
        "messages": messages,
        "devices": devices,
        "publisher_connections": connections,
        "live": {
            "mosquitto_sub_per_s": rate(sub_live).round(),
            "linli_durable_per_s": rate(gw_live).round(),
            "ratio": (rate(gw_live) / rate(sub_live) * 1000.0).round() / 1000.0,
            "publisher_per_s": { "with_sub": sub_load.rate.round(), "with_linli": gw_load.rate.round() },
            "linli_batches": batches.sum("linli_store_batch_messages_count"),
        },
        "drain": {
            "mosquitto_sub_per_s": rate(sub_drain).round(),
            "linli_durable_per_s": rate(gw_drain).round(),
            "ratio": (rate(gw_drain) / rate(sub_drain) * 1000.0).round() / 1000.0,
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Creates the persistent session `sub-{site}` with its subscription, then disconnects.
fn create_session(broker: &Broker, site: &str) -> Result<()> {
    let mut child = sub_command(broker, site)
        .args(["-W", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("spawn mosquitto_sub")?;
    wait_exit(&mut child, Duration::from_secs(10))
}

/// `mosquitto_sub` resuming session `sub-{site}`, exiting after `n` messages.
fn spawn_sub(broker: &Broker, site: &str, n: u64) -> Result<Child> {
    sub_command(broker, site)
        .args(["-C", &n.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .context("spawn mosquitto_sub")
}

fn sub_command(broker: &Broker, site: &str) -> Command {
    let mut cmd = Command::new("mosquitto_sub");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-p",
        &broker.port().to_string(),
        "-q",
        "1",
        "-c",
    ])
    .args([
        "-i",
        &format!("sub-{site}"),
        "-t",
        &format!("linli/{site}/#"),
    ]);
    cmd
}

fn wait_exit(child: &mut Child, deadline: Duration) -> Result<()> {
    let result = wait_for(deadline, "mosquitto_sub to exit", || {
        child.try_wait().ok().flatten()
    });
    if result.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    result.map(|_| ())
}

/// Waits until the gateway has durably stored `n` telemetry messages (polling every 20 ms); an
/// error when it makes no progress for 15 s.
fn wait_received(gw: &Gateway, n: u64) -> Result<()> {
    let (mut last, mut since) = (0.0, Instant::now());
    let outcome = wait_for(
        Duration::from_secs(600),
        "linli to store every message",
        || {
            let now = gw.metrics().map_or(last, |m| {
                m.labelled("linli_messages_received_total", "channel", "telemetry")
            });
            if now >= n as f64 {
                return Some(Ok(()));
            }
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() > Duration::from_secs(15) {
                return Some(Err(now));
            }
            None
        },
    )?;
    match outcome {
        Ok(()) => Ok(()),
        Err(stuck) => bail!("linli stalled at {stuck} of {n} stored (no progress for 15 s)"),
    }
}
