//! Linli's edge daemon. Data flows one way: [`ingest`] (MQTT in) → [`store`] (sled) → rules →
//! alarms → notify; [`api`] reads the store. [`app`] wires the stages together.

pub mod alarms;
pub mod api;
pub mod app;
pub mod config;
pub mod console;
#[cfg(feature = "demo")]
pub mod demo;
pub mod devices;
pub mod heap;
pub mod ingest;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod rules;
pub mod shutdown;
pub mod store;

/// Wall-clock time in ms since the epoch. Pure code takes time as an argument; only the edges
/// (ingest, timers) call this.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
