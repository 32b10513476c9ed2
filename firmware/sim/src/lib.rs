//! A deterministic simulated community: households (some seniors living alone, with daily
//! rhythms of motion, doors and water use), gates with morning and evening peaks, smoke detectors,
//! water meters, lifts and facility sensors, and rare incidents. The same seed and the same step
//! times give the same message stream.
//!
//! The simulator does no I/O: [`Community::step`] returns the messages due; the caller publishes
//! them (the `linli demo` command, the load tools).

mod behaviour;
mod layout;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::SeedableRng;
use rand::rngs::StdRng;

pub use layout::{Device, Household};

/// One MQTT message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Full topic.
    pub topic: String,
    /// JSON payload.
    pub payload: Vec<u8>,
    /// Retained (announce, status).
    pub retain: bool,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Site id (topic level).
    pub site: String,
    /// Households (default 2,000).
    pub households: usize,
    /// Share of households with a senior living alone (default 0.12).
    pub living_alone_share: f64,
    /// Random seed.
    pub seed: u64,
    /// Scripted incidents in the first minute (SOS, denials, leak, forced door, a quiet home),
    /// so that a demo shows alarms at once.
    pub scripted: bool,
    /// Stamp messages with the simulated time (`ts`); leave off when time is accelerated.
    pub stamp: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            site: "sunny-garden".into(),
            households: 2_000,
            living_alone_share: 0.12,
            seed: 1,
            scripted: true,
            stamp: false,
        }
    }
}

/// The simulated community.
#[derive(Debug)]
pub struct Community {
    config: SimConfig,
    devices: Vec<Device>,
    households: Vec<Household>,
    queue: BinaryHeap<Reverse<(u64, usize)>>,
    rng: StdRng,
    start: u64,
    script: Vec<(u64, behaviour::Incident)>,
    next_loaded: usize,
}

impl Community {
    /// Lays out the community; simulated time starts at `start_ms`.
    pub fn new(config: SimConfig, start_ms: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let (devices, households) = layout::build(&config, &mut rng);
        let mut queue = BinaryHeap::new();
        for (i, d) in devices.iter().enumerate() {
            // Spread first reports over the first heartbeat, so start-up is not one burst.
            let first = behaviour::first_due(d, &mut rng);
            queue.push(Reverse((start_ms + first, i)));
        }
        let script = if config.scripted {
            behaviour::script(&devices, &households)
        } else {
            Vec::new()
        };
        Community {
            config,
            devices,
            households,
            queue,
            rng,
            start: start_ms,
            script,
            next_loaded: 0,
        }
    }

    /// Moves the simulated start to `start_ms`, before any step: scheduled traffic and the
    /// scripted incidents count from there.
    pub fn restart_clock(&mut self, start_ms: u64) {
        let shift = start_ms.saturating_sub(self.start);
        self.queue = self
            .queue
            .drain()
            .map(|std::cmp::Reverse((t, i))| std::cmp::Reverse((t + shift, i)))
            .collect();
        self.start = start_ms;
    }

    /// `n` extra telemetry messages at simulated time `now_ms`, from the devices in turn: load on
    /// top of the community's own traffic (`--rate`).
    pub fn load(&mut self, n: usize, now_ms: u64) -> Vec<Outgoing> {
        (0..n)
            .map(|_| {
                self.next_loaded = (self.next_loaded + 1) % self.devices.len().max(1);
                behaviour::load(&self.config, &mut self.devices[self.next_loaded], now_ms)
            })
            .collect()
    }

    /// Every device.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// Every household.
    pub fn households(&self) -> &[Household] {
        &self.households
    }

    /// Retained announces of every device.
    pub fn announces(&self) -> Vec<Outgoing> {
        self.devices
            .iter()
            .map(|d| behaviour::announce(&self.config.site, d))
            .collect()
    }

    /// Messages due up to simulated time `now_ms`, in time order.
    pub fn step(&mut self, now_ms: u64) -> Vec<Outgoing> {
        let mut out = Vec::new();
        while let Some(&(at, incident)) = self.script.first() {
            if self.start + at > now_ms {
                break;
            }
            self.script.remove(0);
            out.extend(behaviour::incident(
                &self.config,
                &mut self.devices,
                incident,
                self.start + at,
            ));
        }
        while let Some(&Reverse((due, i))) = self.queue.peek() {
            if due > now_ms {
                break;
            }
            self.queue.pop();
            let (messages, next) =
                behaviour::tick(&self.config, &mut self.devices[i], due, &mut self.rng);
            out.extend(messages);
            if let Some(next) = next {
                self.queue.push(Reverse((due + next.max(1), i)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
