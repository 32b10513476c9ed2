//! The `linli` daemon under test: its own config, store and log in a temporary directory.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::http::{Http, Metrics};
use crate::{free_port, signal, tail, temp_dir, wait_exit, wait_for};

/// How long a start may take until `/healthz` answers 200.
pub const STARTUP: Duration = Duration::from_secs(20);
/// How long a SIGTERM may take.
pub const STOP: Duration = Duration::from_secs(20);

/// A `linli run` process. `Drop` kills it and removes its directory.
#[derive(Debug)]
pub struct Gateway {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    bin: PathBuf,
    site: String,
    broker_url: String,
    extra: String,
    http: Http,
    child: Option<Child>,
    starts: u32,
}

impl Gateway {
    /// Prepares a gateway for site `site` on the broker at `broker_url` (`mqtt://127.0.0.1:P`);
    /// `extra` is appended to the generated TOML (`[[device]]` entries, say). Not started.
    pub fn new(broker_url: &str, site: &str, extra: &str) -> Result<Gateway> {
        Gateway::with_bin(crate::linli_bin()?, broker_url, site, extra)
    }

    /// Like [`Gateway::new`] with a given `linli` executable.
    pub fn with_bin(bin: PathBuf, broker_url: &str, site: &str, extra: &str) -> Result<Gateway> {
        let dir = temp_dir("linli-gateway-")?;
        let path = dir.path().to_path_buf();
        let gw = Gateway {
            dir: Some(dir),
            path,
            bin,
            site: site.to_string(),
            broker_url: broker_url.to_string(),
            extra: extra.to_string(),
            http: Http::new(free_port()?),
            child: None,
            starts: 0,
        };
        gw.write_config()?;
        Ok(gw)
    }

    /// [`Gateway::new`] then [`Gateway::start`].
    pub fn launch(broker_url: &str, site: &str, extra: &str) -> Result<Gateway> {
        let mut gw = Gateway::new(broker_url, site, extra)?;
        gw.start()?;
        Ok(gw)
    }

    /// The site id.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The HTTP client.
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The HTTP port.
    pub fn http_port(&self) -> u16 {
        self.http.port()
    }

    /// The config file.
    pub fn config_path(&self) -> PathBuf {
        self.path.join("linli.toml")
    }

    /// The store directory.
    pub fn store_path(&self) -> PathBuf {
        self.path.join("store")
    }

    /// The log file (stderr of every run, appended).
    pub fn log_path(&self) -> PathBuf {
        self.path.join("linli.log")
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log_path(), n)
    }

    /// The directory holding config, store and log.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// The running process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How many times it was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    fn write_config(&self) -> Result<()> {
        let toml = format!(
            "[site]\nid = \"{site}\"\n\n[mqtt]\nurl = \"{url}\"\n\n[store]\npath = \"{store}\"\n\n\
             [http]\nlisten = \"127.0.0.1:{port}\"\n\n{extra}\n",
            site = self.site,
            url = self.broker_url,
            store = self.store_path().display(),
            port = self.http.port(),
            extra = self.extra,
        );
        std::fs::write(self.config_path(), toml).context("write linli.toml")
    }

    /// Spawns the process without waiting for it to be ready.
    pub fn spawn(&mut self) -> Result<()> {
        // A process that exited by itself is reaped and forgotten.
        if let Some(child) = self.child.as_mut() {
            if matches!(child.try_wait(), Ok(Some(_))) {
                self.child = None;
            }
        }
        if self.child.is_some() {
            bail!("linli is already running");
        }
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .context("open linli.log")?;
        writeln!(
            log,
            "==== test harness: start #{} at {} ms ====",
            self.starts,
            crate::now_ms()
        )?;
        let child = Command::new(&self.bin)
            .arg("run")
            .arg("--config")
            .arg(self.config_path())
            .env("LINLI_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawn {}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Starts it and waits until `/healthz` answers 200. If the HTTP port was taken meanwhile,
    /// moves to another one and tries again.
    pub fn start(&mut self) -> Result<()> {
        for _ in 0..3 {
            self.spawn()?;
            match self.wait_healthy(STARTUP) {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let exited = self
                        .child
                        .as_mut()
                        .and_then(|c| c.try_wait().ok().flatten());
                    let log = self.log_tail(40);
                    if exited.is_some() && log.contains("cannot listen") {
                        self.child = None;
                        self.http.set_port(free_port()?);
                        self.write_config()?;
                        continue;
                    }
                    return Err(e.context(format!("linli did not become healthy; log:\n{log}")));
                }
            }
        }
        bail!("no free HTTP port for linli after 3 attempts")
    }

    /// Waits until `/healthz` answers 200; fails early if the process exits.
    pub fn wait_healthy(&mut self, deadline: Duration) -> Result<Duration> {
        let started = Instant::now();
        let http = self.http.clone();
        let child = self.child.as_mut();
        let Some(child) = child else {
            bail!("linli is not running");
        };
        let outcome = wait_for(deadline, "GET /healthz to answer 200", || {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(Err(status));
            }
            matches!(http.get_status("/healthz"), Ok((200, _))).then_some(Ok(()))
        })?;
        match outcome {
            Ok(()) => Ok(started.elapsed()),
            Err(status) => bail!("linli exited with {status} while starting"),
        }
    }

    /// The `/healthz` status code, or `None` when nothing answers.
    pub fn health(&self) -> Option<u16> {
        self.http.get_status("/healthz").ok().map(|(s, _)| s)
    }

    /// SIGKILL, and reap it.
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("kill -9 linli")?;
            child.wait().context("reap linli")?;
        }
        Ok(())
    }

    /// SIGTERM and wait for the exit (at most [`STOP`]); returns the exit status and how long
    /// the exit took. If it does not exit in time it is killed and this is an error.
    pub fn terminate(&mut self) -> Result<(ExitStatus, Duration)> {
        let Some(mut child) = self.child.take() else {
            bail!("linli is not running");
        };
        let started = Instant::now();
        signal(child.id(), "TERM")?;
        match wait_exit(&mut child, STOP) {
            Ok(status) => Ok((status, started.elapsed())),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e.context(format!(
                    "linli ignored SIGTERM for {STOP:?}; killed it. Log:\n{}",
                    self.log_tail(40)
                )))
            }
        }
    }

    /// Starts it again with the same config and store (kill it first if it is running).
    pub fn restart(&mut self) -> Result<()> {
        self.kill9()?;
        self.start()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// GET `path` as JSON; non-2xx is an error with status and body.
    pub fn get_json(&self, path: &str) -> Result<Value> {
        self.http.get_json(path)
    }

    /// GET `path`: status and JSON body.
    pub fn get_status(&self, path: &str) -> Result<(u16, Value)> {
        self.http.get_status(path)
    }

    /// Every item of a paged list endpoint.
    pub fn get_all(&self, path: &str) -> Result<Vec<Value>> {
        self.http.get_all(path, 10_000)
    }

    /// `/metrics`, parsed.
    pub fn metrics(&self) -> Result<Metrics> {
        self.http.metrics()
    }

    /// Every telemetry sample of `device`, oldest first, paging 10,000 at a time.
    pub fn telemetry(&self, device: &str) -> Result<Vec<Value>> {
        self.get_all(&format!("/api/v1/devices/{device}/telemetry?limit=10000"))
    }

    /// One device, or `None` on 404.
    pub fn device(&self, id: &str) -> Result<Option<Value>> {
        match self.get_status(&format!("/api/v1/devices/{id}"))? {
            (200, v) => Ok(Some(v)),
            (404, _) => Ok(None),
            (s, v) => bail!("GET /api/v1/devices/{id}: HTTP {s}: {v}"),
        }
    }

    /// Every rejected payload kept.
    pub fn rejected(&self) -> Result<Vec<Value>> {
        self.get_all("/api/v1/rejected?limit=10000")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let log = self.log_path();
        crate::reap(&mut self.child, &mut self.dir, "linli", &log, 60);
    }
}
