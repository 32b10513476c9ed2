//! The sampling loop: drivers → node state machine → publications, on its own thread.
//!
//! Pin reads and the I²C measurement block briefly, so they stay off the async runtime. The
//! loop hands each publication to the MQTT stage over a bounded channel and never waits for it:
//! a button must be read every poll even while the broker is away. When the channel is full
//! (hours of backlog with the broker unreachable) the newest message is dropped and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use linli_devices::{Node, Outgoing};
use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::{info, warn};

use crate::hardware::Hardware;
use crate::state::StateKeeper;

/// Wall-clock times before 2020 mean the board's clock is not set: `ts` is then left out.
const CLOCK_SET_AFTER_MS: u64 = 1_577_836_800_000;

/// One message ready for the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// Full topic.
    pub topic: String,
    /// JSON payload.
    pub payload: Vec<u8>,
    /// Retain flag.
    pub retain: bool,
}

impl Publication {
    /// The publication of `out` from `node`.
    pub fn of(node: &Node, out: &Outgoing) -> Self {
        Publication {
            topic: node.topic(out.channel),
            payload: out.payload(),
            retain: out.retain,
        }
    }
}

/// The wall clock in ms since the epoch, when it looks set.
pub fn epoch_ms() -> Option<u64> {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis();
    u64::try_from(ms)
        .ok()
        .filter(|ms| *ms >= CLOCK_SET_AFTER_MS)
}

/// Hardware, node and state file, advanced one poll at a time.
#[derive(Debug)]
pub struct Sampler {
    hw: Hardware,
    node: Node,
    state: Option<StateKeeper>,
}

impl Sampler {
    /// A sampler; the node learns the readings known before the first poll.
    pub fn new(hw: Hardware, mut node: Node, state: Option<StateKeeper>) -> Self {
        if let Some((name, value)) = hw.water_value() {
            node.set_value(name, value);
        }
        Sampler { hw, node, state }
    }

    /// One poll at node time `now_ms`: the messages to publish.
    pub fn tick(&mut self, now_ms: u64, epoch_ms: Option<u64>) -> Vec<Publication> {
        if let Some(epoch_ms) = epoch_ms {
            self.node.set_clock(now_ms, epoch_ms);
        }
        let sample = self.hw.poll(now_ms);
        for (name, value) in sample.values {
            self.node.set_value(name, value);
        }
        let mut out = Vec::new();
        for signal in sample.signals {
            info!(event = signal.kind(), "input event");
            out.push(self.node.event(now_ms, signal));
        }
        out.extend(self.node.poll(now_ms));
        if let Some(state) = &mut self.state {
            state.keep(now_ms, self.node.next_seq(), self.hw.water_ml());
        }
        out.iter().map(|o| Publication::of(&self.node, o)).collect()
    }

    /// Polls every `period` until `stop`, sending to `tx`; saves the state file at the end.
    pub fn run(mut self, period: Duration, tx: mpsc::Sender<Publication>, stop: Arc<AtomicBool>) {
        let start = Instant::now();
        let mut next = start;
        let mut dropped: u64 = 0;
        'poll: while !stop.load(Ordering::Relaxed) {
            let now_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            for p in self.tick(now_ms, epoch_ms()) {
                match tx.try_send(p) {
                    Ok(()) => {}
                    Err(TrySendError::Full(p)) => {
                        dropped += 1;
                        warn!(topic = %p.topic, dropped, "outbox full: message dropped");
                    }
                    Err(TrySendError::Closed(_)) => break 'poll,
                }
            }
            next += period;
            let now = Instant::now();
            match next.checked_duration_since(now) {
                Some(wait) => std::thread::sleep(wait),
                // Late (a slow I²C read): poll again at once and keep the pace from here.
                None => next = now,
            }
        }
        if let Some(state) = &mut self.state {
            if let Err(e) = state.finish(self.node.next_seq(), self.hw.water_ml()) {
                warn!(error = %e, "cannot save the state file at shutdown");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use linli_devices::NodeConfig;

    use super::*;
    use crate::config::Config;

    #[test]
    fn a_tick_turns_readings_into_a_stamped_heartbeat() {
        let dir = tempfile::tempdir().unwrap();
        let adc = dir.path().join("in_voltage0_raw");
        std::fs::write(&adc, "1900\n").unwrap();
        let config = Config::parse(&format!(
            "site = \"sg\"\ndevice_id = \"n1\"\nkind = \"care.pir\"\n\
             [battery]\npath = \"{}\"\nmv_per_unit = 2.0\n",
            adc.display()
        ))
        .unwrap();
        let hw = Hardware::open(&config, 0).unwrap();
        let node = Node::new(NodeConfig {
            site: "sg".into(),
            device_id: "n1".into(),
            kind: "care.pir".into(),
            model: None,
            fw: None,
            location: None,
            heartbeat_ms: 60_000,
            first_seq: 7,
        })
        .unwrap();
        let state = StateKeeper::start(dir.path().join("state"), 7, None).unwrap();
        let mut s = Sampler::new(hw, node, Some(state));
        let out = s.tick(5, Some(1_764_300_000_005));
        assert_eq!(
            out,
            [Publication {
                topic: "linli/sg/n1/telemetry".into(),
                payload: br#"{"ts":1764300000005,"seq":7,"values":{"battery_pct":60.0}}"#.to_vec(),
                retain: false,
            }]
        );
        assert!(
            s.tick(15, None).is_empty(),
            "no heartbeat before the period"
        );
    }
}
