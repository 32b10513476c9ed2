//! `mosquitto_sub -q 1` as the reference consumer: a persistent session, `-C N` to exit after N
//! messages, every message written as `topic payload` so that loss and duplicates can be counted.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use linli_tests::load::ExpectedSeqs;
use linli_tests::{Broker, wait_for, wait_until};

use crate::delivery::{Delivery, Tally};

/// A `mosquitto_sub` client id and subscription on one broker.
#[derive(Debug, Clone)]
pub struct Sub {
    port: u16,
    client_id: String,
    topic: String,
}

impl Sub {
    /// Session `sub-{site}` subscribed to `linli/{site}/#`.
    pub fn new(broker: &Broker, site: &str) -> Sub {
        Sub {
            port: broker.port(),
            client_id: format!("sub-{site}"),
            topic: format!("linli/{site}/#"),
        }
    }

    /// Creates the persistent session with its subscription, then disconnects, so that the
    /// broker queues what is published meanwhile.
    pub fn create_session(&self) -> Result<()> {
        let mut child = self
            .command()
            .args(["-W", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawn mosquitto_sub (is mosquitto-clients installed?)")?;
        // `-W 1` ends it after a second with a timeout status: that is the point.
        let ended = wait_for(
            Duration::from_secs(10),
            "mosquitto_sub -W 1 to exit",
            || child.try_wait().ok().flatten(),
        );
        if ended.is_err() {
            let _ = child.kill();
            let _ = child.wait();
        }
        ended.map(|_| ())
    }

    /// Resumes the session and exits after `n` messages, written to `out`.
    pub fn spawn(&self, n: u64, out: &Path) -> Result<Child> {
        let file =
            std::fs::File::create(out).with_context(|| format!("create {}", out.display()))?;
        self.command()
            .args(["-C", &n.to_string(), "-F", "%t %p"])
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .context("spawn mosquitto_sub")
    }

    /// Waits until the broker logged the session's connection `times` times in all.
    pub fn wait_connected(&self, broker: &Broker, times: usize) -> Result<()> {
        let needle = format!(" as {} ", self.client_id);
        wait_until(Duration::from_secs(10), "mosquitto_sub to connect", || {
            broker.log().matches(&needle).count() >= times
        })?;
        Ok(())
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("mosquitto_sub");
        cmd.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-q",
            "1",
            "-c",
        ])
        .args(["-i", &self.client_id, "-t", &self.topic]);
        cmd
    }
}

/// Waits for `child` to exit (killing it after `deadline`).
pub fn wait_exit(child: &mut Child, deadline: Duration) -> Result<()> {
    let result = wait_for(deadline, "mosquitto_sub to exit", || {
        child.try_wait().ok().flatten()
    });
    if result.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let status = result?;
    if !status.success() {
        bail!("mosquitto_sub exited with {status}");
    }
    Ok(())
}

/// Counts what a `mosquitto_sub -F '%t %p'` output file holds against `expected`.
pub fn check_output(path: &Path, expected: &ExpectedSeqs) -> Result<Delivery> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut tally = Tally::default();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        let Some((topic, payload)) = line.split_once(' ') else {
            continue;
        };
        let mut parts = topic.split('/').skip(2);
        let (Some(device), Some(channel)) = (parts.next(), parts.next()) else {
            continue;
        };
        let seq = serde_json::from_str::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v["seq"].as_u64());
        match (channel, seq) {
            ("telemetry", Some(seq)) => tally.add(false, device, seq),
            ("event", Some(seq)) => tally.add(true, device, seq),
            _ => tally.unsequenced += 1,
        }
    }
    Ok(tally.against(expected))
}

/// A scratch file name for a subscriber's output.
pub fn output_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.txt"))
}
