//! The five scenarios of issue #8, and issue #2's idle bar.

pub mod burst;
pub mod idle;
pub mod ingest;
pub mod latency;
pub mod memory;
pub mod nodered;

use std::time::Duration;

use linli_tests::Broker;
use linli_tests::load::{LoadOptions, Mix};

/// The load of a scenario: `messages` from `devices` devices named `{prefix}NNNNN` on `site`, the
/// realistic mix, as fast as the broker acknowledges (`rate` `None`) or at `rate` per second.
pub fn load(
    broker: &Broker,
    site: &str,
    prefix: &str,
    messages: u64,
    devices: u64,
    rate: Option<f64>,
) -> LoadOptions {
    let mut o = LoadOptions::new(broker.port(), site, messages);
    o.devices = devices;
    o.prefix = prefix.into();
    o.rate = rate;
    o.mix = Mix::REALISTIC;
    o.client_id = format!("bench-load-{site}-{prefix}");
    o.timeout = Duration::from_secs(600);
    o
}
