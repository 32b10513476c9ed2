//! Node-RED as a peer: installed with npm into `target/bench-cache/node-red` once, then run with
//! its own user directory, admin port and a flow equivalent to Linli's ingest: MQTT in (QoS 1,
//! persistent session) → JSON → switch on a temperature threshold → append to a file.

use std::fs::OpenOptions;
use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use linli_tests::load::{ExpectedSeqs, run_blocking};
use linli_tests::{Broker, free_port, temp_dir, wait_for, workspace_root};

use crate::delivery::{Delivery, Tally};

/// The npm package installed.
const PACKAGE: &str = "node-red@4";
/// Longest an npm install may take.
const INSTALL: Duration = Duration::from_secs(600);

/// Installs Node-RED under `target/bench-cache/node-red` unless it is there; returns `red.js`
/// and the installed version.
pub fn install() -> Result<(PathBuf, String)> {
    let cache = workspace_root()
        .join("target")
        .join("bench-cache")
        .join("node-red");
    let red = cache.join("node_modules").join("node-red").join("red.js");
    if !red.is_file() {
        std::fs::create_dir_all(&cache).with_context(|| format!("create {}", cache.display()))?;
        eprintln!("nodered: npm install {PACKAGE} into {}", cache.display());
        let mut child = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&cache)
            .arg(PACKAGE)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("run npm (is Node.js installed?)")?;
        let status = wait_for(INSTALL, "npm install node-red", || {
            child.try_wait().ok().flatten()
        });
        let status = match status {
            Ok(s) => s,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        if !status.success() || !red.is_file() {
            bail!("npm install {PACKAGE} failed ({status})");
        }
    }
    let manifest = std::fs::read_to_string(cache.join("node_modules/node-red/package.json"))
        .context("read node-red's package.json")?;
    let version = serde_json::from_str::<serde_json::Value>(&manifest)?["version"]
        .as_str()
        .unwrap_or("unknown")
        .to_string();
    Ok((red, version))
}

/// A running Node-RED with the bench flow. `Drop` kills it and removes its directory.
#[derive(Debug)]
pub struct NodeRed {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    child: Option<Child>,
    counter: LineCounter,
}

impl NodeRed {
    /// Starts Node-RED subscribed to `linli/{site}/+/+` on `broker`, and waits until a probe
    /// message goes through the flow.
    pub fn start(red: &Path, broker: &Broker, site: &str) -> Result<NodeRed> {
        let dir = temp_dir("linli-bench-nodered-")?;
        let path = dir.path().to_path_buf();
        let flows = path.join("flows.json");
        std::fs::write(&flows, flow(broker.port(), site, &path).to_string())
            .context("write flows.json")?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path.join("node-red.log"))
            .context("open node-red.log")?;
        let child = Command::new("node")
            .arg(red)
            .arg("--userDir")
            .arg(&path)
            .args(["--port", &free_port()?.to_string()])
            .arg(&flows)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawn node-red")?;
        let counter = LineCounter::new(vec![path.join("alarms.log"), path.join("data.log")]);
        let mut nr = NodeRed {
            dir: Some(dir),
            path,
            child: Some(child),
            counter,
        };
        nr.wait_flowing(broker, site)?;
        Ok(nr)
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Lines appended to the output files so far.
    pub fn lines(&mut self) -> u64 {
        self.counter.count()
    }

    /// Waits until `n` lines in all were written (at most `deadline`, failing after 20 s without
    /// a new line); the time waited.
    pub fn wait_lines(&mut self, n: u64, deadline: Duration) -> Result<Duration> {
        let started = Instant::now();
        let (mut last, mut since) = (0, Instant::now());
        let outcome = wait_for(deadline, "node-red to write every message", || {
            let now = self.lines();
            if now >= n {
                return Some(Ok(()));
            }
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() > Duration::from_secs(20) {
                return Some(Err(now));
            }
            None
        })?;
        match outcome {
            Ok(()) => Ok(started.elapsed()),
            Err(stuck) => bail!(
                "node-red stalled at {stuck} of {n} lines; log:\n{}",
                linli_tests::tail(&self.path.join("node-red.log"), 20)
            ),
        }
    }

    /// Counts what the output files hold against `expected` (lines of other loads are ignored
    /// by device id).
    pub fn check(&self, expected: &ExpectedSeqs) -> Result<Delivery> {
        let devices = crate::delivery::devices(expected);
        let mut tally = Tally::default();
        for file in &self.counter.files {
            let Ok(f) = std::fs::File::open(file) else {
                continue;
            };
            for line in std::io::BufReader::new(f).lines() {
                let v: serde_json::Value = serde_json::from_str(&line?).unwrap_or_default();
                let Some(device) = v["device_id"].as_str() else {
                    continue;
                };
                if !devices.contains(device) {
                    continue;
                }
                match v["seq"].as_u64() {
                    Some(seq) => tally.add(v.get("type").is_some(), device, seq),
                    None => tally.unsequenced += 1,
                }
            }
        }
        let mut d = tally.against(expected);
        d.received = d.received.min(d.sent + d.duplicates);
        Ok(d)
    }

    /// Publishes probe messages until one comes out of the flow (Node-RED subscribes a moment
    /// after it starts).
    fn wait_flowing(&mut self, broker: &Broker, site: &str) -> Result<()> {
        let started = Instant::now();
        for n in 0..30 {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                bail!(
                    "node-red exited with {status}:\n{}",
                    linli_tests::tail(&self.path.join("node-red.log"), 20)
                );
            }
            let before = self.lines();
            let probe = crate::scenarios::load(broker, site, &format!("probe{n}-"), 1, 1, None);
            run_blocking(&probe)?;
            if wait_for(Duration::from_secs(2), "the probe", || {
                (self.lines() > before).then_some(())
            })
            .is_ok()
            {
                return Ok(());
            }
        }
        bail!(
            "no message went through node-red in {:?}; log:\n{}",
            started.elapsed(),
            linli_tests::tail(&self.path.join("node-red.log"), 20)
        )
    }
}

impl Drop for NodeRed {
    fn drop(&mut self) {
        let log = self.path.join("node-red.log");
        linli_tests::reap(&mut self.child, &mut self.dir, "node-red", &log, 40);
    }
}

/// The flow: mqtt in → json → switch (temperature > 30, otherwise) → two file-append nodes.
fn flow(port: u16, site: &str, dir: &Path) -> serde_json::Value {
    let file = |id: &str, name: &str| {
        serde_json::json!({
            "id": format!("n-{id}"), "type": "file", "z": "n-tab", "name": name,
            "filename": dir.join(name).display().to_string(), "filenameType": "str",
            "appendNewline": true, "createDir": true, "overwriteFile": "false",
            "encoding": "none", "wires": [[]]
        })
    };
    serde_json::json!([
        { "id": "n-tab", "type": "tab", "label": "linli-bench" },
        {
            "id": "n-broker", "type": "mqtt-broker", "name": "bench",
            "broker": "127.0.0.1", "port": port.to_string(), "clientid": "nodered-bench",
            "autoConnect": true, "usetls": false, "protocolVersion": "4", "keepalive": "60",
            "cleansession": false, "autoUnsubscribe": false
        },
        {
            "id": "n-in", "type": "mqtt in", "z": "n-tab", "topic": format!("linli/{site}/+/+"),
            "qos": "1", "datatype": "utf8", "broker": "n-broker", "nl": false, "rap": true,
            "rh": 0, "inputs": 0, "wires": [["n-json"]]
        },
        {
            "id": "n-json", "type": "json", "z": "n-tab", "property": "payload", "action": "obj",
            "pretty": false, "wires": [["n-switch"]]
        },
        {
            "id": "n-switch", "type": "switch", "z": "n-tab",
            "property": "payload.values.temperature_c", "propertyType": "msg",
            "rules": [{ "t": "gt", "v": "30", "vt": "num" }, { "t": "else" }],
            "checkall": "false", "repair": false, "outputs": 2,
            "wires": [["n-alarms"], ["n-data"]]
        },
        file("alarms", "alarms.log"),
        file("data", "data.log")
    ])
}

/// Counts newlines appended to files, reading only what is new.
#[derive(Debug)]
struct LineCounter {
    files: Vec<PathBuf>,
    offsets: Vec<u64>,
    lines: u64,
}

impl LineCounter {
    fn new(files: Vec<PathBuf>) -> LineCounter {
        let offsets = vec![0; files.len()];
        LineCounter {
            files,
            offsets,
            lines: 0,
        }
    }

    fn count(&mut self) -> u64 {
        let mut buf = vec![0u8; 1 << 20];
        for (file, offset) in self.files.iter().zip(self.offsets.iter_mut()) {
            let Ok(mut f) = std::fs::File::open(file) else {
                continue;
            };
            if f.seek(SeekFrom::Start(*offset)).is_err() {
                continue;
            }
            // Bounded: at most 1 GiB per call.
            for _ in 0..1024 {
                let Ok(n) = f.read(&mut buf) else { break };
                if n == 0 {
                    break;
                }
                // Count complete lines only; a partial line is read again next time.
                let Some(last) = buf[..n].iter().rposition(|&b| b == b'\n') else {
                    break;
                };
                self.lines += buf[..=last].iter().filter(|&&b| b == b'\n').count() as u64;
                *offset += last as u64 + 1;
                if last + 1 < n {
                    break;
                }
            }
        }
        self.lines
    }
}
