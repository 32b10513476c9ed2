//! End-to-end test harness for Linli: real `mosquitto` and real `linli` processes, driven over
//! MQTT (rumqttc) and HTTP (ureq), all on 127.0.0.1.
//!
//! - [`Broker`]: a mosquitto with its own port, persistence directory and log.
//! - [`Gateway`]: the `linli` daemon with its own config, store and log; the binary is built
//!   once per test process from the current sources ([`linli_bin`]), or taken from `LINLI_BIN`.
//! - [`Publisher`]: a QoS 1 MQTT client that knows exactly which of its messages the broker
//!   acknowledged.
//! - [`webdriver`]: a headless Chromium driven over WebDriver, for the console's tests.
//! - [`load`]: the load generator shared by the `loadgen` and `ingest_rate` binaries.
//! - [`wait_for`] / [`wait_until`]: every wait is bounded in time and in iterations.
//!
//! Every process and temporary directory is owned by a value whose `Drop` kills and removes it,
//! so a panicking test leaves nothing behind; on panic the logs' tails are printed.

// Test tooling: a failed expectation here should stop the test with a message, and every
// fallible call in the harness returns `anyhow::Result` with context; the allowances cover the
// few places (locks, formatting) where a panic is the right answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker;
pub mod check;
mod gateway;
mod http;
mod linli_bin;
pub mod load;
mod publisher;
pub mod webdriver;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub use broker::Broker;
pub use gateway::Gateway;
pub use http::{Http, Metrics};
pub use linli_bin::{fill_store_bin, linli_bin, linli_bin_release};
pub use publisher::{PubOptions, Publisher, Tracker};

/// How often [`wait_for`] polls.
pub const POLL: Duration = Duration::from_millis(20);

/// Polls `probe` every [`POLL`] until it returns `Some`, for at most `deadline`. The error names
/// `what` and the time waited. The loop is bounded in iterations as well as in time.
pub fn wait_for<T>(deadline: Duration, what: &str, probe: impl FnMut() -> Option<T>) -> Result<T> {
    wait_for_every(deadline, POLL, what, probe)
}

/// [`wait_for`] with a polling interval of `every` (for expensive probes).
pub fn wait_for_every<T>(
    deadline: Duration,
    every: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T> {
    let started = Instant::now();
    let every = every.max(Duration::from_millis(1));
    let max_rounds = deadline.as_millis() / every.as_millis() + 2;
    for _ in 0..max_rounds {
        if let Some(v) = probe() {
            return Ok(v);
        }
        if started.elapsed() >= deadline {
            break;
        }
        std::thread::sleep(every);
    }
    bail!(
        "timed out after {:.1?} waiting for {what}",
        started.elapsed()
    )
}

/// Polls `condition` until it holds, for at most `deadline`; returns how long it took.
pub fn wait_until(
    deadline: Duration,
    what: &str,
    mut condition: impl FnMut() -> bool,
) -> Result<Duration> {
    let started = Instant::now();
    wait_for(deadline, what, || condition().then_some(()))?;
    Ok(started.elapsed())
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// It is picked below the kernel's ephemeral range when possible: a process restarted on the
/// same port (the broker, the gateway) must not find it taken by the local end of some
/// outgoing connection meanwhile. Otherwise the kernel picks one (bind to port 0).
pub fn free_port() -> Result<u16> {
    use rand::{Rng, SeedableRng};
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    if ephemeral_start > 12_000 {
        let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(
            clock ^ (u64::from(std::process::id()) << 32) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        for _ in 0..64 {
            let port = rng.random_range(10_000..ephemeral_start);
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// A seed for randomised tests: `LINLI_TEST_SEED` if set, else one derived from the clock.
/// Print it, so that a failure can be replayed.
pub fn seed() -> u64 {
    if let Some(s) = std::env::var("LINLI_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The last `lines` lines of a text file, or a note why it could not be read.
pub fn tail(path: &std::path::Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Sends `signal` (such as `TERM`) to `pid` with the `kill` command.
pub fn signal(pid: u32, signal: &str) -> Result<()> {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .context("run kill")?;
    if !status.success() {
        bail!("kill -{signal} {pid} failed: {status}");
    }
    Ok(())
}

/// Waits for `child` to exit, at most `deadline`.
pub fn wait_exit(
    child: &mut std::process::Child,
    deadline: Duration,
) -> Result<std::process::ExitStatus> {
    wait_for(deadline, "the process to exit", || {
        child.try_wait().ok().flatten()
    })
}

/// True when the test should keep its temporary directories (`LINLI_TEST_KEEP=1`).
pub fn keep_dirs() -> bool {
    std::env::var_os("LINLI_TEST_KEEP").is_some_and(|v| v != "0")
}

/// A fresh temporary directory with a recognisable prefix.
pub fn temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .context("create a temporary directory")
}

/// What every process owner does on drop: kill and reap the process, print the tail of its log
/// when the test is failing, and remove (or, with `LINLI_TEST_KEEP`, keep) its directory.
pub fn reap(
    child: &mut Option<std::process::Child>,
    dir: &mut Option<tempfile::TempDir>,
    name: &str,
    log: &std::path::Path,
    lines: usize,
) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
    if std::thread::panicking() {
        eprintln!(
            "---- {name} log ({}), last {lines} lines ----\n{}\n----",
            log.display(),
            tail(log, lines)
        );
    }
    if let Some(dir) = dir.take() {
        if keep_dirs() {
            eprintln!("keeping {}", dir.keep().display());
        }
    }
}
