//! A Linli node for Linux boards: GPIO lines and an I²C sensor, read through the
//! `linli-devices` drivers and node state machine, published to the hub over MQTT.
//!
//! Two stages joined by a bounded channel: the [`sampler`] thread polls the hardware every
//! ~10 ms and turns it into publications; the async [`mqtt`] stage publishes them with the last
//! will set and re-announces on every connection.

pub mod config;
pub mod hardware;
pub mod mqtt;
pub mod sampler;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use linli_devices::{Node, NodeConfig};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::config::{Config, ConfigError};
use crate::hardware::{Hardware, HardwareError};
use crate::sampler::{Publication, Sampler, epoch_ms};
use crate::state::StateKeeper;

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unreadable or wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A pin, bus or file named by the configuration is missing.
    #[error(transparent)]
    Hardware(#[from] HardwareError),
    /// The state file cannot be read or written.
    #[error("state_file: cannot use {}: {reason}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The identity was refused (the config checks make this unreachable).
    #[error("config: {0}")]
    Node(#[from] linli_devices::node::ConfigError),
    /// A thread or the runtime could not be started.
    #[error("cannot start: {0}")]
    Start(#[from] std::io::Error),
}

fn state_error(path: &Path, e: &std::io::Error) -> Error {
    Error::State {
        path: path.into(),
        reason: e.to_string(),
    }
}

/// Runs the node described by the file at `config_path` until SIGTERM or Ctrl-C.
pub fn run(config_path: &Path) -> Result<(), Error> {
    let config = Config::load(config_path)?;
    let persisted = match &config.state_file {
        Some(path) => state::load(path).map_err(|e| state_error(path, &e))?,
        None => None,
    };
    let start_ml = (config.water_meter.start_m3 * 1_000_000.0).round() as u64;
    let water_ml = persisted.and_then(|p| p.water_ml).unwrap_or(start_ml);
    let hw = Hardware::open(&config, water_ml)?;
    // Without a state file, the wall clock in ms is above every number a previous run used.
    let first_seq = persisted.map(|p| p.next_seq).or_else(epoch_ms).unwrap_or(0);
    let keeper = match &config.state_file {
        Some(path) => Some(
            StateKeeper::start(path.clone(), first_seq, hw.water_ml())
                .map_err(|e| state_error(path, &e))?,
        ),
        None => None,
    };
    let node = Node::new(NodeConfig {
        site: config.site.clone(),
        device_id: config.device_id.clone(),
        kind: config.kind.clone(),
        model: Some(config.model.clone()),
        fw: Some(env!("CARGO_PKG_VERSION").into()),
        location: config.location.as_ref().map(Into::into),
        heartbeat_ms: u32::try_from(config.heartbeat.0.as_millis()).unwrap_or(u32::MAX),
        first_seq,
    })?;
    let (host, port) =
        config::broker_address(&config.broker).map_err(|reason| ConfigError::Invalid {
            path: config_path.into(),
            problems: vec![format!("broker: {reason}")],
        })?;
    let goodbye = Publication::of(&node, &node.last_will());
    let hello = vec![
        Publication::of(&node, &node.online()),
        Publication::of(&node, &node.announce()),
    ];
    let options = mqtt::options(&config.client_id(), &host, port, &goodbye);
    info!(
        device_id = %config.device_id,
        broker = %config.broker,
        hardware = ?hw,
        first_seq,
        "node starting"
    );

    let (tx, rx) = mpsc::channel(mqtt::OUTBOX);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = Sampler::new(hw, node, keeper);
    let period = config.poll.0;
    let sampler_stop = Arc::clone(&stop);
    let sampler = std::thread::Builder::new()
        .name("sampler".into())
        .spawn(move || sampler.run(period, tx, sampler_stop))?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        mqtt::run(options, hello, goodbye, rx, shutdown).await;
        Ok::<(), std::io::Error>(())
    });
    stop.store(true, Ordering::Relaxed);
    if sampler.join().is_err() {
        warn!("the sampler thread panicked");
    }
    result?;
    Ok(())
}
