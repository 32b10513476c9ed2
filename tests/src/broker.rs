//! A real mosquitto on a free 127.0.0.1 port, with persistence in its own temporary directory.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::{free_port, port_open, signal, tail, temp_dir, wait_exit, wait_for};

/// How long mosquitto may take to open its port or to stop.
const STARTUP: Duration = Duration::from_secs(10);
const STOP: Duration = Duration::from_secs(15);

/// A mosquitto process. `Drop` kills it and removes its directory.
#[derive(Debug)]
pub struct Broker {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Broker {
    /// Starts mosquitto on a free port and waits until it accepts connections.
    pub fn start() -> Result<Broker> {
        let dir = temp_dir("linli-broker-")?;
        let path = dir.path().to_path_buf();
        let mut broker = Broker {
            dir: Some(dir),
            path,
            port: 0,
            child: None,
        };
        // Another process may take the port between our probe and mosquitto's bind: retry.
        let mut last = None;
        for _ in 0..3 {
            broker.port = free_port()?;
            match broker.launch() {
                Ok(()) => return Ok(broker),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("mosquitto did not start")))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `[mqtt] url` for a gateway config.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Its process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its log file.
    pub fn log_path(&self) -> PathBuf {
        self.path.join("mosquitto.log")
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Its persistence and log directory.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// SIGTERM (mosquitto saves its persistence database) and waits for the exit.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        signal(child.id(), "TERM")?;
        match wait_exit(&mut child, STOP) {
            Ok(_) => Ok(()),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e.context("mosquitto ignored SIGTERM; killed it"))
            }
        }
    }

    /// SIGKILL: mosquitto loses whatever it had not saved yet.
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("kill -9 mosquitto")?;
            child.wait().context("reap mosquitto")?;
        }
        Ok(())
    }

    /// Starts it again on the same port with the same persistence directory.
    pub fn start_again(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("mosquitto is still running; stop it first");
        }
        self.launch()
    }

    fn config_path(&self) -> PathBuf {
        self.path.join("mosquitto.conf")
    }

    fn write_config(&self) -> Result<()> {
        let dir = self.path.display();
        // Debian's defaults (max_queued_messages 1000, max_inflight_messages 20) silently drop
        // QoS 1 messages for an offline persistent session; 0 means unlimited in mosquitto 2.
        // Nagle off: a notification to a subscriber is one small packet that must leave now.
        let conf = format!(
            "listener {port} 127.0.0.1\n\
             allow_anonymous true\n\
             persistence true\n\
             persistence_location {dir}/\n\
             autosave_interval 5\n\
             max_queued_messages 0\n\
             max_queued_bytes 0\n\
             max_inflight_messages 1000\n\
             set_tcp_nodelay true\n\
             user root\n\
             log_dest file {dir}/mosquitto.log\n\
             log_type error\n\
             log_type warning\n\
             log_type notice\n\
             log_type information\n\
             connection_messages true\n\
             log_timestamp true\n\
             log_timestamp_format %H:%M:%S\n",
            port = self.port,
        );
        std::fs::write(self.config_path(), conf).context("write mosquitto.conf")
    }

    fn launch(&mut self) -> Result<()> {
        self.write_config()?;
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path.join("mosquitto.stderr"))
            .context("open mosquitto.stderr")?;
        let mut child = Command::new(mosquitto())
            .arg("-c")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("spawn mosquitto (is it installed?)")?;
        let port = self.port;
        // An open port alone is not proof: another process may hold it for a moment while
        // mosquitto fails to bind. mosquitto logs "running" once its listeners are open; the log
        // is appended across restarts, so one more such line than before.
        let log = self.log_path();
        let running = || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .matches(" running")
                .count()
        };
        let before = running();
        let up = wait_for(STARTUP, "mosquitto to accept connections", || {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(Err(status));
            }
            (port_open(port) && running() > before).then_some(Ok(()))
        });
        match up {
            Ok(Ok(())) => {
                self.child = Some(child);
                Ok(())
            }
            Ok(Err(status)) => bail!(
                "mosquitto exited with {status} on port {port}:\n{}\n{}",
                tail(&self.log_path(), 20),
                tail(&self.path.join("mosquitto.stderr"), 20)
            ),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e.context(format!("mosquitto on port {port}")))
            }
        }
    }
}

/// The mosquitto executable: on PATH, or Debian's /usr/sbin.
fn mosquitto() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/mosquitto");
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("mosquitto"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or(sbin)
}

impl Drop for Broker {
    fn drop(&mut self) {
        let log = self.log_path();
        crate::reap(&mut self.child, &mut self.dir, "mosquitto", &log, 40);
    }
}
